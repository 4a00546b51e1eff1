package sandbox_test

import (
	"go/parser"
	gotoken "go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDependencyOwnership checks the house rule that each third-party library has one owning
// package, that cmd/ imports only package sandbox, and that the leaf packages import no
// third-party code.
func TestDependencyOwnership(t *testing.T) {
	const module = "github.com/citysandbox/citysandbox/"
	owners := map[string]string{ // import path prefix -> the one directory allowed to import it
		"github.com/tidwall/buntdb":             "sandbox/internal/store",
		"github.com/getkin/kin-openapi":         "sandbox/internal/spec",
		"github.com/brianvoe/gofakeit":          "sandbox/internal/fixture",
		"gopkg.in/yaml.v3":                      "sandbox/internal/yamldoc",
		"github.com/skip2/go-qrcode":            "sandbox/internal/qrimage",
		"github.com/chromedp/chromedp":          "", // tests only: checked below
		"github.com/makiuchi-d/gozxing":         "",
		"github.com/gin-gonic/gin":              "*",                         // the HTTP layer: several packages
		"github.com/tidwall/gjson":              "sandbox/internal/scenario", // JSON paths in expectations
		"github.com/santhosh-tekuri/jsonschema": "",                          // tests only: scenario.schema.json
	}
	pure := []string{"sandbox/internal/apierr", "sandbox/internal/clock", "sandbox/internal/quota", "sandbox/internal/seeded", "sandbox/internal/journal"}
	root := ".."
	fset := gotoken.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		dir := filepath.ToSlash(filepath.Dir(rel))
		isTest := strings.HasSuffix(path, "_test.go")
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		file, err := parser.ParseFile(fset, path, src, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(dir, "cmd/") && strings.HasPrefix(p, module) && p != module+"sandbox" && !isTest {
				t.Errorf("%s imports %s: cmd/ may import only package sandbox", rel, p)
			}
			if !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") || strings.HasPrefix(p, module) {
				continue // standard library or our own
			}
			for _, leaf := range pure {
				if dir == leaf && !isTest {
					t.Errorf("%s imports %s: %s must import no third-party code", rel, p, leaf)
				}
			}
			for prefix, owner := range owners {
				if !strings.HasPrefix(p, prefix) || owner == "*" {
					continue
				}
				if owner == "" && !isTest {
					t.Errorf("%s imports %s, which only tests may use", rel, p)
				}
				if owner != "" && dir != owner && !isTest {
					t.Errorf("%s imports %s, which belongs to %s", rel, p, owner)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
