package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// dockerfile returns the repository's Dockerfile with continuation lines joined.
func dockerfile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\\\n", " ")
}

// goLine returns go.mod's go version as numbers.
func goLine(t *testing.T) []int {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return versionNumbers(m[1:])
}

func versionNumbers(parts []string) []int {
	var v []int
	for _, p := range parts {
		n, _ := strconv.Atoi(p) // "" (no patch) is 0
		v = append(v, n)
	}
	for len(v) < 3 {
		v = append(v, 0)
	}
	return v
}

func less(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// TestDockerfile checks the image's build file for what no docker engine here can: fully
// qualified base images, a builder whose Go satisfies go.mod, VERSION and COMMIT passed to the
// -X names "citysandbox version" prints (TestVersionFromLdflags builds with the same names),
// OCI labels, a non-root user, and a HEALTHCHECK that names no address of its own, so that it
// follows CITYSANDBOX_ADDR.
func TestDockerfile(t *testing.T) {
	df := dockerfile(t)
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM lines %q", froms)
	}
	qualified := regexp.MustCompile(`^[a-z0-9.-]+\.[a-z]+(:\d+)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$`)
	for _, f := range froms {
		if !qualified.MatchString(f[1]) {
			t.Errorf("FROM %s: want a fully qualified image (registry/repository:tag)", f[1])
		}
	}
	builder := regexp.MustCompile(`^docker\.io/library/golang:(\d+)\.(\d+)(?:\.(\d+))?[-\w]*$`).FindStringSubmatch(froms[0][1])
	if builder == nil {
		t.Fatalf("builder %s: want docker.io/library/golang:<version>", froms[0][1])
	}
	if gomod, have := goLine(t), versionNumbers(builder[1:]); less(have, gomod) && !(builder[3] == "" && have[0] == gomod[0] && have[1] == gomod[1]) {
		t.Errorf("builder Go %v is older than go.mod's go %v", have, gomod)
	}
	for _, want := range []string{
		"ARG VERSION", "ARG COMMIT", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}",
		"org.opencontainers.image.title=", "org.opencontainers.image.source=",
		`org.opencontainers.image.version="${VERSION}"`, `org.opencontainers.image.revision="${COMMIT}"`,
		"USER 65532:65532", "CITYSANDBOX_ADDR=0.0.0.0:8844",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The labels are in the final stage, whose ARGs must be declared again to be seen.
	final := df[strings.LastIndex(df, "\nFROM "):]
	for _, want := range []string{"ARG VERSION", "ARG COMMIT", "LABEL "} {
		if !strings.Contains(final, want) {
			t.Errorf("the final stage lacks %q", want)
		}
	}
	hc := regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD (\[.*\])`).FindStringSubmatch(df)
	if hc == nil {
		t.Fatal("no HEALTHCHECK … CMD [...]")
	}
	if hc[1] != `["/citysandbox", "healthcheck"]` {
		t.Errorf("HEALTHCHECK CMD %s: want [\"/citysandbox\", \"healthcheck\"], which reads CITYSANDBOX_ADDR (a --url or --addr would not follow it)", hc[1])
	}
}

// TestHealthcheckFollowsAddr: with the image's environment, CITYSANDBOX_ADDR on an unspecified
// host, healthcheck asks that port on loopback.
func TestHealthcheckFollowsAddr(t *testing.T) {
	c := startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", ":memory:")
	port := c.URL[strings.LastIndex(c.URL, ":")+1:]
	var out bytes.Buffer
	t.Setenv("CITYSANDBOX_ADDR", "0.0.0.0:"+port)
	if err := run(context.Background(), []string{"healthcheck"}, &out, &out); err != nil || !strings.Contains(out.String(), `"status":"ok"`) {
		t.Errorf("healthcheck with CITYSANDBOX_ADDR=0.0.0.0:%s: %v %s", port, err, out.String())
	}
	t.Setenv("CITYSANDBOX_ADDR", "127.0.0.1:1")
	if err := run(context.Background(), []string{"healthcheck", "--timeout", "2s"}, &out, &out); err == nil {
		t.Error("healthcheck passed with CITYSANDBOX_ADDR naming a port nobody serves")
	}
}

// TestGoModAsksForTheOldestGo: go.mod's go line is the newest go line among the dependencies
// (the oldest release that can build them; go vet's stdversion check refuses standard-library
// API newer than it), written as a release (1.N.0), not a patch release it would force on
// every embedder.
func TestGoModAsksForTheOldestGo(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.GoVersion}}", "all").Output()
	if err != nil {
		t.Skipf("go list -m all: %v", err)
	}
	gomod := goLine(t)
	newest := []int{0, 0, 0}
	for _, line := range strings.Fields(string(out))[1:] { // the first is the main module
		if v := versionNumbers(strings.SplitN(line, ".", 3)); less(newest, v) {
			newest = v
		}
	}
	if less(newest, gomod) || less(gomod, newest) {
		t.Errorf("go.mod says go %v; the newest dependency needs %v: ask for that (unless the code needs newer, then say so here)", gomod, newest)
	}
}
