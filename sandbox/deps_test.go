package sandbox_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/citysandbox/citysandbox"

// owners maps each third-party library (an import path prefix) to the one directory of this
// module allowed to import it: "*" lets several packages import it (gin, the HTTP layer), ""
// lets only tests import it.
var owners = map[string]string{
	"github.com/tidwall/buntdb":             "sandbox/internal/store",
	"github.com/getkin/kin-openapi":         "sandbox/internal/spec",
	"github.com/brianvoe/gofakeit":          "sandbox/internal/fixture",
	"gopkg.in/yaml.v3":                      "sandbox/internal/yamldoc",
	"github.com/skip2/go-qrcode":            "sandbox/internal/qrimage",
	"github.com/chromedp/chromedp":          "",                         // tests only: the Jincheng app page in a browser
	"github.com/makiuchi-d/gozxing":         "sandbox/internal/qrimage", // reading QR codes back (the scan by image)
	"github.com/gin-gonic/gin":              "*",
	"github.com/tidwall/gjson":              "sandbox/internal/scenario", // JSON paths in expectations
	"github.com/go-json-experiment/json":    "sandbox/internal/jsonenc",  // the faster decoder, with encoding/json's semantics
	"github.com/santhosh-tekuri/jsonschema": "",                          // tests only: scenario.schema.json
}

// leaves are the packages that reach no third-party code, but through the library's owner.
var leaves = []string{"sandbox/internal/apierr", "sandbox/internal/clock", "sandbox/internal/quota", "sandbox/internal/seeded", "sandbox/internal/journal"}

// goPackage is what go list -json says of a package.
type goPackage struct {
	ImportPath string
	Standard   bool
	Imports    []string
}

// packageGraph is the import graph of the module's non-test code and everything it depends on.
type packageGraph map[string]*goPackage

// loadGraph runs go list -deps -json over the module (test files are not part of it).
func loadGraph(t *testing.T) packageGraph {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-deps", "-json", "./...")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json ./...: %v\n%s", err, stderr.Bytes())
	}
	g := packageGraph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		g[p.ImportPath] = &p
	}
	return g
}

func ours(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

func dir(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func (g packageGraph) thirdParty(path string) bool {
	p := g[path]
	return p != nil && !p.Standard && !ours(path)
}

// route shows an import path, the module's packages by their directories.
func route(via []string) string {
	shown := make([]string, len(via))
	for i, p := range via {
		shown[i] = p
		if ours(p) {
			shown[i] = dir(p)
		}
	}
	return strings.Join(shown, " → ")
}

// library returns the owners entry a third-party package belongs to, or "" for none.
func library(path string) string {
	for lib := range owners {
		if path == lib || strings.HasPrefix(path, lib+"/") {
			return lib
		}
	}
	return ""
}

// reach walks the imports from one of the module's packages and returns, for every
// third-party package it arrives at that want names, the path that led there. It goes on through
// the module's packages except those skip names, and through third-party packages of no listed
// library (a wrapper that brings a listed library in), but not into a listed library: what a
// library imports is its own business, not this module's.
func (g packageGraph) reach(from string, skip, want func(path string) bool) map[string][]string {
	found := map[string][]string{}
	seen := map[string]bool{from: true}
	queue := [][]string{{from}}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		for _, imp := range g[path[len(path)-1]].Imports {
			if seen[imp] || g[imp] == nil || g[imp].Standard {
				continue
			}
			seen[imp] = true
			next := append(slices.Clone(path), imp)
			switch {
			case ours(imp):
				if !skip(imp) {
					queue = append(queue, next)
				}
			case want(imp):
				found[imp] = next
			case library(imp) == "":
				queue = append(queue, next)
			}
		}
	}
	return found
}

// TestDependencyOwnership checks the house rules on third-party code, following imports through
// the module's own packages: each library is imported, directly or through other packages of
// this module, only by its owner (so a package that reaches buntdb through another one that is
// not the store breaks the rule as that one does); tests-only libraries are reached by no
// non-test code; every library the module's code imports has an entry; cmd/ imports only
// package sandbox; and the leaf packages reach no third-party code but through its owner.
func TestDependencyOwnership(t *testing.T) {
	g := loadGraph(t)
	var pkgs []string
	for path := range g {
		if ours(path) {
			pkgs = append(pkgs, path)
		}
	}
	slices.Sort(pkgs)
	if !slices.Contains(pkgs, module+"/sandbox/internal/store") {
		t.Fatalf("go list found no sandbox/internal/store among %d packages: the check checks nothing", len(pkgs))
	}
	isOwner := func(q string) bool {
		for _, o := range owners {
			if o == dir(q) {
				return true
			}
		}
		return false
	}
	for _, p := range pkgs {
		for _, imp := range g[p].Imports {
			if g.thirdParty(imp) && library(imp) == "" {
				t.Errorf("%s imports %s, a library with no entry in the owners table", dir(p), imp)
			}
			if strings.HasPrefix(dir(p), "cmd/") && ours(imp) && imp != module+"/sandbox" {
				t.Errorf("%s imports %s: cmd/ may import only package sandbox", dir(p), imp)
			}
		}
		for _, lib := range slices.Sorted(maps.Keys(owners)) {
			owner := owners[lib]
			if owner == "*" || owner == dir(p) {
				continue
			}
			// The owner's imports of its library are the sanctioned way in: do not walk through it.
			found := g.reach(p, func(q string) bool { return owner != "" && dir(q) == owner }, func(q string) bool { return library(q) == lib })
			for _, target := range slices.Sorted(maps.Keys(found)) {
				via := found[target]
				if owner == "" {
					t.Errorf("%s reaches %s, which only tests may use: %s", dir(p), target, route(via))
				} else {
					t.Errorf("%s reaches %s, which belongs to %s, not through it: %s", dir(p), target, owner, route(via))
				}
			}
		}
		if slices.Contains(leaves, dir(p)) {
			found := g.reach(p, isOwner, g.thirdParty)
			for _, target := range slices.Sorted(maps.Keys(found)) {
				via := found[target]
				t.Errorf("%s reaches %s: a leaf reaches no third-party code but through the library's owner: %s", dir(p), target, route(via))
			}
		}
	}
}
