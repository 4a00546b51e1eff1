package sandbox_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// indexRoutes maps "METHOD path" to the summary of each route an index lists, and the document
// that lists it.
func indexRoutes(t *testing.T, a testkit.Answer) (map[string]string, map[string]string) {
	t.Helper()
	docs, _ := a.JSON["documents"].([]any)
	if len(docs) == 0 {
		t.Fatalf("index without documents: %s", a)
	}
	summaries, owner := map[string]string{}, map[string]string{}
	for _, d := range docs {
		doc := d.(map[string]any)
		routes, _ := doc["routes"].([]any)
		for _, r := range routes {
			route := r.(map[string]any)
			key := route["method"].(string) + " " + route["path"].(string)
			summaries[key], owner[key] = route["summary"].(string), doc["name"].(string)
		}
	}
	return summaries, owner
}

// TestIndex: GET /_sandbox/ lists WeChat's, Jincheng's and the control plane's routes with
// their summaries, by document, with links to the specs and the console; a browser gets the
// same as a page. GET /jincheng/ lists Jincheng's alone.
func TestIndex(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	a := k.Control(http.MethodGet, "/_sandbox/", nil)
	if a.Status != http.StatusOK {
		t.Fatalf("index: %s", a)
	}
	summaries, owner := indexRoutes(t, a)
	for key, doc := range map[string]string{
		"GET /cgi-bin/token":                      "wechat",
		"POST /jincheng/admin/v1/login":           "jincheng",
		"POST /_sandbox/clock":                    "sandbox",
		"GET /_sandbox/":                          "sandbox",
		"POST /jincheng/{env}/sso/v1/getUserInfo": "jincheng",
	} {
		if owner[key] != doc || summaries[key] == "" {
			t.Errorf("%s: in %q with summary %q, want listed in %s with a summary", key, owner[key], summaries[key], doc)
		}
	}
	if !strings.Contains(summaries["GET /cgi-bin/token"], "token") {
		t.Errorf("the token route's summary = %q", summaries["GET /cgi-bin/token"])
	}
	links, _ := a.JSON["links"].(map[string]any)
	if links["console"] != "/_sandbox/console/" || links["specs"] != "/_sandbox/openapi/" {
		t.Errorf("links = %v", links)
	}
	for _, d := range a.JSON["documents"].([]any) {
		spec := d.(map[string]any)["spec"].(string)
		if got := k.Control(http.MethodGet, spec, nil); got.Status != http.StatusOK || !strings.HasPrefix(string(got.Raw), "openapi:") {
			t.Errorf("GET %s (the index's spec link) = %d", spec, got.Status)
		}
	}
	page := k.DoHeader(http.MethodGet, "/_sandbox/", http.Header{"Accept": {"text/html,application/xhtml+xml"}}, nil)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Raw), "<code>/cgi-bin/token</code>") || !strings.Contains(string(page.Raw), `href="/_sandbox/console/"`) {
		t.Errorf("index page: %d %.300s", page.Status, page.Raw)
	}
	j := k.Do(http.MethodGet, "/jincheng/", nil)
	if j.Status != http.StatusOK {
		t.Fatalf("/jincheng/: %s", j)
	}
	js, jowner := indexRoutes(t, j)
	if jowner["POST /jincheng/admin/v1/login"] != "jincheng" || js["GET /cgi-bin/token"] != "" || js["POST /_sandbox/clock"] != "" {
		t.Errorf("/jincheng/ lists %v", jowner)
	}
}

// TestIndexGuarded: with an admin token, GET /_sandbox/ answers 401 without it, whatever the
// Accept header, and the index with it.
func TestIndexGuarded(t *testing.T) {
	t.Parallel()
	const admin = "index-secret"
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithAdminToken(admin)))
	for _, accept := range []string{"", "text/html"} {
		if a := k.DoHeader(http.MethodGet, "/_sandbox/", http.Header{"Accept": {accept}}, nil); a.Status != http.StatusUnauthorized {
			t.Errorf("index without the token (Accept %q): %s, want 401", accept, a)
		}
	}
	if a := k.DoHeader(http.MethodGet, "/_sandbox/", http.Header{"Authorization": {"Bearer wrong"}}, nil); a.Status != http.StatusUnauthorized {
		t.Errorf("index with a wrong token: %s, want 401", a)
	}
	a := k.DoHeader(http.MethodGet, "/_sandbox/", http.Header{"Authorization": {"Bearer " + admin}}, nil)
	if summaries, _ := indexRoutes(t, a); a.Status != http.StatusOK || summaries["GET /cgi-bin/token"] == "" {
		t.Errorf("index with the token: %s", a)
	}
}
