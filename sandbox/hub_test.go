package sandbox_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/jincheng"
	"github.com/citysandbox/citysandbox/scenarios"
)

// Fixture credentials (fixtures/wechat.yaml).
const (
	fixtureAppID  = "wx5a1d0c0e00000001"
	fixtureSecret = "5a1d0c0e5a1d0c0e5a1d0c0e00000001"
)

var hubStart = time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*60*60))

// wallClock is a hand-moved wall clock for a hub's bookkeeping.
type wallClock struct {
	mu sync.Mutex
	at time.Time
}

func (w *wallClock) Now() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.at }

func (w *wallClock) Advance(d time.Duration) { w.mu.Lock(); defer w.mu.Unlock(); w.at = w.at.Add(d) }

// testHub is a hub served on loopback, every response of every sandbox in it checked against the
// OpenAPI documents.
type testHub struct {
	t       testing.TB
	hub     *sandbox.Hub
	url     string
	closers []func()
}

func newTestHub(t testing.TB, opts ...sandbox.Option) *testHub {
	t.Helper()
	th := &testHub{t: t}
	base := []sandbox.Option{
		sandbox.WithLoadedSpec(sharedSpec(t)), sandbox.WithFrozenClock(hubStart),
		sandbox.WithResponseValidation(func(op string, err error) {
			if err != nil {
				t.Errorf("response of %s breaks the spec: %v", op, err)
			}
		}),
	}
	hub, err := sandbox.NewHub(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	th.hub = hub
	srv := httptest.NewServer(hub.Handler())
	th.url = srv.URL
	t.Cleanup(func() {
		srv.Close()
		if err := hub.Close(); err != nil {
			t.Errorf("close hub: %v", err)
		}
	})
	return th
}

var sharedSpec = func() func(testing.TB) *sandbox.Spec {
	var once sync.Once
	var spec *sandbox.Spec
	var err error
	return func(t testing.TB) *sandbox.Spec {
		once.Do(func() { spec, err = sandbox.LoadSpec() })
		if err != nil {
			t.Fatal(err)
		}
		return spec
	}
}()

// answer is a decoded response.
type answer struct {
	Status int
	Body   []byte
	JSON   map[string]any
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.Status, a.Body) }

func (a answer) str(key string) string { s, _ := a.JSON[key].(string); return s }

func (a answer) num(key string) int { n, _ := a.JSON[key].(float64); return int(n) }

func (a answer) errorCode() string {
	e, _ := a.JSON["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// do sends a request to the hub; host, when set, replaces the Host header.
func (th *testHub) do(method, path, host string, header http.Header, body string) answer {
	th.t.Helper()
	a, err := th.try(method, path, host, header, body)
	if err != nil {
		th.t.Fatal(err)
	}
	return a
}

func (th *testHub) try(method, path, host string, header http.Header, body string) (answer, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, th.url+path, rd)
	if err != nil {
		return answer{}, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{Status: resp.StatusCode, Body: b}
	_ = json.Unmarshal(b, &a.JSON)
	return a, nil
}

func (th *testHub) create(body string) answer {
	th.t.Helper()
	a := th.do("POST", "/_sandbox/namespaces", "", nil, body)
	if a.Status != http.StatusCreated {
		th.t.Fatalf("POST /_sandbox/namespaces %s = %s, want 201", body, a)
	}
	return a
}

// token asks for the fixture service account's token under prefix (a namespace's or "").
func (th *testHub) token(prefix, host string) string {
	th.t.Helper()
	a := th.do("GET", prefix+"/cgi-bin/token?grant_type=client_credential&appid="+fixtureAppID+"&secret="+fixtureSecret, host, nil, "")
	tok := a.str("access_token")
	if tok == "" {
		th.t.Fatalf("token under %q (host %q) = %s", prefix, host, a)
	}
	return tok
}

func (th *testHub) stateHash(srv *sandbox.Server) string {
	th.t.Helper()
	h, err := srv.StateHash()
	if err != nil {
		th.t.Fatal(err)
	}
	return h
}

func (th *testHub) namespace(name string) *sandbox.Server {
	th.t.Helper()
	srv, ok := th.hub.Namespace(name)
	if !ok {
		th.t.Fatalf("no namespace %q", name)
	}
	return srv
}

// TestHubNamespaceAnswersAsASandbox creates a namespace and uses it by path prefix and by host:
// its own seed and clock, the WeChat and Jincheng platforms and its control plane, all apart
// from the default sandbox.
func TestHubNamespaceAnswersAsASandbox(t *testing.T) {
	th := newTestHub(t)
	created := th.create(`{"name":"ci-4711","seed":7,"clock":"2026-05-01T09:00:00+08:00","ttl":"2h"}`)
	if created.str("path") != "/ns/ci-4711" || created.str("url") != th.url+"/ns/ci-4711" || created.num("seed") != 7 || created.str("ttl") != "2h0m0s" {
		t.Errorf("created = %s", created)
	}
	host := strings.TrimPrefix(th.url, "http://")
	if got, want := created.str("host"), "ci-4711.ns."+host; got != want {
		t.Errorf("host = %q, want %q", got, want)
	}
	if got := th.do("GET", "/ns/ci-4711/_sandbox/clock", "", nil, ""); !strings.HasPrefix(got.str("now"), "2026-05-01T01:00:00") {
		t.Errorf("namespace clock = %s, want 2026-05-01T01:00:00Z", got)
	}
	if got := th.do("GET", "/_sandbox/clock", "", nil, ""); !strings.HasPrefix(got.str("now"), "2026-03-02T02:00:00") {
		t.Errorf("default clock = %s, want the hub's start", got)
	}

	// A token issued through the path works through the host, and not at the root.
	tok := th.token("/ns/ci-4711", "")
	quota := `{"cgi_path":"/cgi-bin/token"}`
	if a := th.do("POST", "/cgi-bin/openapi/quota/get?access_token="+tok, "ci-4711.ns.localhost", nil, quota); a.num("errcode") != 0 {
		t.Errorf("the namespace's token on its host = %s, want errcode 0", a)
	}
	if a := th.do("POST", "/cgi-bin/openapi/quota/get?access_token="+tok, "", nil, quota); a.num("errcode") != 40001 {
		t.Errorf("the namespace's token at the root = %s, want 40001", a)
	}
	if a := th.do("POST", "/ns/ci-4711/cgi-bin/openapi/quota/get?access_token="+tok, "", nil, quota); a.str("errmsg") != "ok" {
		t.Errorf("quota/get in the namespace = %s", a)
	}

	// Seeds differ, so the worlds do: the same app creation gives other ids.
	app := `{"type":"official_account"}`
	inNS := th.do("POST", "/ns/ci-4711/_sandbox/wechat/apps", "", nil, app)
	atRoot := th.do("POST", "/_sandbox/wechat/apps", "", nil, app)
	if inNS.Status != 201 || atRoot.Status != 201 || inNS.str("appid") == atRoot.str("appid") {
		t.Errorf("apps: namespace %s, root %s: want two apps with other ids", inNS, atRoot)
	}
	if a := th.do("GET", "/_sandbox/wechat/apps/"+inNS.str("appid"), "", nil, ""); a.Status != 404 {
		t.Errorf("the namespace's app at the root = %s, want 404", a)
	}
	if a := th.do("GET", "/_sandbox/wechat/apps/"+inNS.str("appid"), "ci-4711.ns.example.test:8844", nil, ""); a.Status != 200 {
		t.Errorf("the namespace's app on its host = %s, want 200", a)
	}

	// Jincheng lives in the namespace too.
	login := `{"account":"demo-vendor","password":"demo-password-2020"}`
	if a := th.do("POST", "/ns/ci-4711/jincheng/admin/v1/login", "", nil, login); a.JSON["success"] != true {
		t.Errorf("Jincheng login in the namespace = %s", a)
	}
	page := th.do("GET", "/ns/ci-4711/jincheng/app/?env=test", "", nil, "")
	if page.Status != 200 || !strings.Contains(string(page.Body), `href="open?service=`) {
		t.Errorf("the simulated app page in the namespace = %d; its links must stay relative, inside the prefix", page.Status)
	}

	// Its journal has its requests, the root's has the root's.
	journal := th.do("GET", "/ns/ci-4711/_sandbox/requests?path=/cgi-bin/token", "", nil, "")
	if n := len(journal.JSON["requests"].([]any)); n != 1 {
		t.Errorf("namespace journal has %d token requests, want 1: %s", n, journal)
	}
	if j := th.do("GET", "/_sandbox/requests?path=/cgi-bin/token", "", nil, ""); len(j.JSON["requests"].([]any)) != 0 {
		t.Errorf("root journal has token requests: %s", j)
	}
}

// TestHubNamespacesNeverSeeEachOther runs two namespaces with other clocks, seeds and faults at
// once: a clock move, a fault and a reset in one leave the other's state hash and answers as
// they were.
func TestHubNamespacesNeverSeeEachOther(t *testing.T) {
	th := newTestHub(t)
	th.create(`{"name":"alpha","seed":3,"clock":"2026-03-02T10:00:00+08:00"}`)
	th.create(`{"name":"beta","seed":4,"clock":"2027-01-01T00:00:00Z"}`)
	alpha, beta := th.namespace("alpha"), th.namespace("beta")
	betaTok := th.token("/ns/beta", "")
	betaHash := th.stateHash(beta)
	rootHash := th.stateHash(th.hub.Default())
	betaNow := beta.Now()

	// Beta's clients keep calling while alpha is moved, faulted and reset.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var betaErr error
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			a, err := th.try("GET", "/ns/beta/_sandbox/clock", "", nil, "")
			if err == nil && (a.Status != 200 || !strings.HasPrefix(a.str("now"), "2027-01-01T00:00:00")) {
				err = fmt.Errorf("beta's clock during alpha's changes = %s", a)
			}
			if err != nil {
				betaErr = err
				return
			}
		}
	})
	for range 5 {
		alphaTok := th.token("/ns/alpha", "")
		if a := th.do("POST", "/ns/alpha/_sandbox/clock", "", nil, `{"advance":"3h"}`); a.Status != 200 {
			t.Fatalf("advance alpha = %s", a)
		}
		if a := th.do("POST", "/ns/alpha/cgi-bin/openapi/quota/get?access_token="+alphaTok, "", nil, `{"cgi_path":"/cgi-bin/token"}`); a.num("errcode") != 42001 {
			t.Errorf("alpha's token 3 h later = %s, want 42001", a)
		}
		if a := th.do("POST", "/ns/alpha/_sandbox/faults", "", nil, `{"path":"/cgi-bin/token","errcode":-1}`); a.Status != 201 {
			t.Fatalf("fault in alpha = %s", a)
		}
		if a := th.do("GET", "/ns/alpha/cgi-bin/token?grant_type=client_credential&appid="+fixtureAppID+"&secret="+fixtureSecret, "", nil, ""); a.num("errcode") != -1 {
			t.Errorf("alpha's faulted token = %s, want -1", a)
		}
		if a := th.do("POST", "/ns/alpha/_sandbox/reset", "", nil, `{"seed":9,"clock":"2026-04-01T00:00:00Z"}`); a.Status != 200 {
			t.Fatalf("reset alpha = %s", a)
		}
	}
	close(stop)
	wg.Wait()
	if betaErr != nil {
		t.Error(betaErr)
	}

	if got := th.stateHash(beta); got != betaHash {
		t.Errorf("beta's state hash moved from %s to %s", betaHash, got)
	}
	if got := th.stateHash(th.hub.Default()); got != rootHash {
		t.Errorf("the root's state hash moved from %s to %s", rootHash, got)
	}
	if !beta.Now().Equal(betaNow) {
		t.Errorf("beta's clock moved from %s to %s", betaNow, beta.Now())
	}
	if a := th.do("GET", "/ns/beta/cgi-bin/token?grant_type=client_credential&appid="+fixtureAppID+"&secret="+fixtureSecret, "", nil, ""); a.str("access_token") == "" {
		t.Errorf("beta's token with alpha's fault active = %s, want a token", a)
	}
	// Alpha's 15 hours did not pass in beta: its first token, superseded a moment ago, still
	// has its 5 minutes of grace.
	if a := th.do("POST", "/ns/beta/cgi-bin/openapi/quota/get?access_token="+betaTok, "", nil, `{"cgi_path":"/cgi-bin/token"}`); a.num("errcode") != 0 {
		t.Errorf("beta's first token = %s, want errcode 0", a)
	}
	if a := th.do("GET", "/ns/beta/_sandbox/faults", "", nil, ""); len(a.JSON["faults"].([]any)) != 0 {
		t.Errorf("beta's faults = %s, want none", a)
	}
	if alpha.Now().Equal(beta.Now()) {
		t.Errorf("alpha and beta share a clock: %s", alpha.Now())
	}
}

// TestHubScenariosReplayInANamespace replays every shipped scenario in two namespaces and at the
// root of a hub, all three at once: each namespace gives the same answers and state hashes, step
// by step, as the root does.
func TestHubScenariosReplayInANamespace(t *testing.T) {
	names, err := fs.Glob(scenarios.FS, "*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, name := range names {
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			t.Parallel()
			data, err := fs.ReadFile(scenarios.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			th := newTestHub(t)
			th.create(`{"name":"one"}`)
			th.create(`{"name":"two"}`)
			targets := map[string]sandbox.ScenarioTarget{
				"root": {URL: th.url, StateHash: th.hub.Default().StateHash, WaitPushes: th.hub.Default().WaitPushes},
				"one":  {URL: th.url + "/ns/one", StateHash: th.namespace("one").StateHash, WaitPushes: th.namespace("one").WaitPushes},
				"two":  {URL: th.url + "/ns/two/", StateHash: th.namespace("two").StateHash, WaitPushes: th.namespace("two").WaitPushes},
			}
			results := map[string]*sandbox.ScenarioResult{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for where, target := range targets {
				wg.Go(func() {
					res, err := sandbox.RunScenario(context.Background(), target, name, data, nil)
					if err != nil {
						t.Errorf("in %s: %v", where, err)
					}
					mu.Lock()
					results[where] = res
					mu.Unlock()
				})
			}
			wg.Wait()
			for _, where := range []string{"one", "two"} {
				if results[where] == nil || results["root"] == nil {
					continue
				}
				if d := sandbox.CompareScenarioRuns(results["root"], results[where]); d != nil {
					t.Errorf("in namespace %s the scenario differs from the root: %s", where, d)
				}
			}
		})
	}
}

// refusalCase is a request that names a namespace it cannot reach.
type refusalCase struct {
	name, method, path, host string
	// status and check say what the answer must be: the platform's unknown-path answer.
	status int
	check  func(answer) bool
	// inJournal is what the root's journal entry for it must mention.
	inJournal string
}

func wechatUnknown(a answer) bool { return a.num("errcode") == 40066 }
func jinchengUnknown(a answer) bool {
	return a.JSON["success"] == false && a.str("errorCode") == "NOT-FOUND"
}
func controlUnknown(a answer) bool { return a.errorCode() != "" }

// TestHubRefusesWhatNamesNoNamespace sends requests for unknown, deleted and malformed
// namespaces: each gets the platform's unknown-path answer in that platform's envelope, is
// journaled at the root with the name, and changes nothing: no state, no namespace, no file.
func TestHubRefusesWhatNamesNoNamespace(t *testing.T) {
	dir := t.TempDir()
	th := newTestHub(t, sandbox.WithNamespaceDir(filepath.Join(dir, "ns")))
	th.create(`{"name":"kept"}`)
	th.create(`{"name":"gone"}`)
	if a := th.do("DELETE", "/_sandbox/namespaces/gone", "", nil, ""); a.Status != 200 {
		t.Fatalf("delete = %s", a)
	}
	token := "/cgi-bin/token?grant_type=client_credential&appid=" + fixtureAppID + "&secret=" + fixtureSecret
	cases := []refusalCase{
		{"unknown, WeChat", "GET", "/ns/nope" + token, "", 200, wechatUnknown, `"nope"`},
		{"unknown, Jincheng", "POST", "/ns/nope/jincheng/admin/v1/login", "", 404, jinchengUnknown, `"nope"`},
		{"unknown, control plane", "GET", "/ns/nope/_sandbox/clock", "", 404, controlUnknown, `"nope"`},
		{"unknown, by host", "GET", token, "nope.ns.localhost", 200, wechatUnknown, `"nope"`},
		{"deleted", "GET", "/ns/gone" + token, "", 200, wechatUnknown, `"gone"`},
		{"deleted, by host", "GET", "/_sandbox/clock", "gone.ns.localhost:8844", 404, controlUnknown, `"gone"`},
		{"dot-dot", "GET", "/ns/../cgi-bin/token", "", 200, wechatUnknown, `".."`},
		{"dot-dot, control plane", "POST", "/ns/../_sandbox/reset", "", 404, controlUnknown, `".."`},
		{"encoded slash", "GET", "/ns/kept%2F..%2F" + token, "", 200, wechatUnknown, "percent-encoded"},
		{"encoded name", "GET", "/ns/%6Bept" + token, "", 200, wechatUnknown, "percent-encoded"},
		{"upper case", "GET", "/ns/Kept" + token, "", 200, wechatUnknown, `"Kept"`},
		{"too long", "GET", "/ns/" + strings.Repeat("a", 64) + token, "", 200, wechatUnknown, "not a namespace name"},
		{"empty name", "GET", "/ns//cgi-bin/token", "", 200, wechatUnknown, "not a namespace name"},
		{"bad host name", "GET", token, "a_b.ns.localhost", 200, wechatUnknown, "names no namespace"},
	}
	root := th.hub.Default()
	kept := th.namespace("kept")
	before := []string{th.stateHash(root), th.stateHash(kept)}
	files := dirFiles(t, dir)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := th.do(tc.method, tc.path, tc.host, nil, "")
			if a.Status != tc.status || !tc.check(a) {
				t.Errorf("%s %s (host %q) = %s, want %d and the platform's unknown-path answer", tc.method, tc.path, tc.host, a, tc.status)
			}
			j := th.do("GET", "/_sandbox/requests?limit=1", "", nil, "")
			entries, _ := j.JSON["requests"].([]any)
			if len(entries) != 1 {
				t.Fatalf("journal = %s", j)
			}
			e, _ := entries[0].(map[string]any)
			reason, _ := e["reason"].(string)
			path, _ := e["path"].(string)
			if !strings.Contains(reason, tc.inJournal) || !strings.HasPrefix(path, "/ns/") {
				t.Errorf("root journal entry %v: want its /ns/ path and %s in its reason", e, tc.inJournal)
			}
		})
	}
	after := []string{th.stateHash(root), th.stateHash(kept)}
	if !slices.Equal(before, after) {
		t.Errorf("state hashes (root, kept) moved from %v to %v", before, after)
	}
	if got := dirFiles(t, dir); !slices.Equal(got, files) {
		t.Errorf("files moved from %v to %v", files, got)
	}
	list := th.do("GET", "/_sandbox/namespaces", "", nil, "")
	if spaces := list.JSON["namespaces"].([]any); len(spaces) != 1 {
		t.Errorf("namespaces = %s, want kept only", list)
	}
}

// TestHubRefusesBadNamespaces creates namespaces with bad names, duplicate names, bad ttls and
// clocks: each refused with a 4xx, nothing created, no file outside (or inside) the directory.
func TestHubRefusesBadNamespaces(t *testing.T) {
	dir := t.TempDir()
	th := newTestHub(t, sandbox.WithNamespaceDir(filepath.Join(dir, "ns")))
	th.create(`{"name":"taken"}`)
	files := dirFiles(t, dir)
	for _, tc := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"name":"../escape"}`, 400, ""},
		{`{"name":"a/b"}`, 400, ""},
		{`{"name":"UPPER"}`, 400, ""},
		{`{"name":""}`, 400, ""},
		{`{"name":"` + strings.Repeat("x", 64) + `"}`, 400, ""},
		{`{"name":"taken"}`, 409, "namespace_exists"},
		{`{"name":"fine","ttl":"soon"}`, 400, "invalid_namespace"},
		{`{"name":"fine","ttl":"-1h"}`, 400, "invalid_namespace"},
		{`{"name":"fine","clock":"tomorrow"}`, 400, ""},
		{`{"name":"fine","seed":-1}`, 400, ""},
		{`{"name":"fine","extra":1}`, 400, ""},
	} {
		a := th.do("POST", "/_sandbox/namespaces", "", nil, tc.body)
		if a.Status != tc.status || a.errorCode() == "" || (tc.code != "" && a.errorCode() != tc.code) {
			t.Errorf("POST %s = %s, want %d %s", tc.body, a, tc.status, tc.code)
		}
	}
	for _, path := range []string{"/_sandbox/namespaces/Bad", "/_sandbox/namespaces/..", "/_sandbox/namespaces/a%2Fb"} {
		if a := th.do("PUT", path, "", nil, ""); a.Status/100 != 4 || a.errorCode() == "" {
			t.Errorf("PUT %s = %s, want a 4xx refusal", path, a)
		}
	}
	if a := th.do("DELETE", "/_sandbox/namespaces/nope", "", nil, ""); a.Status != 404 || a.errorCode() != "namespace_not_found" {
		t.Errorf("DELETE an unknown namespace = %s, want 404 namespace_not_found", a)
	}
	if a := th.do("GET", "/_sandbox/namespaces/..", "", nil, ""); a.Status != 404 {
		t.Errorf("GET /_sandbox/namespaces/.. = %s, want 404", a)
	}
	if got := dirFiles(t, dir); !slices.Equal(got, files) {
		t.Errorf("files moved from %v to %v", files, got)
	}
	if spaces, _ := th.hub.Namespaces(); len(spaces) != 1 {
		t.Errorf("namespaces = %v, want taken only", spaces)
	}
	// Inside a namespace, and in a sandbox of its own, namespaces are not managed.
	if a := th.do("POST", "/ns/taken/_sandbox/namespaces", "", nil, `{"name":"inner"}`); a.Status != 404 || a.errorCode() != "no_namespaces" {
		t.Errorf("nested creation = %s, want 404 no_namespaces", a)
	}
}

// dirFiles lists every file under dir, relative to it.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHubNamespacesSurviveARestart creates namespaces in a directory, changes them, closes the
// hub and opens another on the same files: the same namespaces, state hashes, clocks, seeds,
// ttls and faults.
func TestHubNamespacesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	opts := []sandbox.Option{sandbox.WithNamespaceDir(filepath.Join(dir, "ns")), sandbox.WithStorePath(filepath.Join(dir, "root.db"))}
	first := newHubOn(t, opts...)
	first.create(`{"name":"frozen","seed":5,"clock":"2026-06-01T08:00:00Z","ttl":"30m"}`)
	first.create(`{"name":"running"}`)
	first.do("POST", "/ns/frozen/_sandbox/wechat/apps", "", nil, `{"type":"mini_program"}`)
	first.do("POST", "/ns/frozen/_sandbox/clock", "", nil, `{"advance":"26h"}`)
	first.do("POST", "/ns/frozen/_sandbox/faults", "", nil, `{"path":"/cgi-bin/token","errcode":45009}`)
	first.token("/ns/running", "")
	first.do("POST", "/ns/running/_sandbox/clock", "", nil, `{"advance":"48h"}`)
	want := map[string]string{"frozen": first.stateHash(first.namespace("frozen")), "running": first.stateHash(first.namespace("running"))}
	frozenAt := first.namespace("frozen").Now()
	first.close()

	second := newHubOn(t, opts...)
	spaces, err := second.hub.Namespaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(spaces) != 2 || spaces[0].Name != "frozen" || spaces[1].Name != "running" {
		t.Fatalf("namespaces after the restart = %+v", spaces)
	}
	for name, hash := range want {
		if got := second.stateHash(second.namespace(name)); got != hash {
			t.Errorf("%s: state hash %s after the restart, want %s", name, got, hash)
		}
	}
	if f := spaces[0]; !f.ClockFrozen || !f.Clock.Equal(frozenAt) || f.Seed != 5 || f.TTL != 30*time.Minute {
		t.Errorf("frozen after the restart = %+v, want its clock at %s, seed 5, ttl 30m", f, frozenAt)
	}
	if r := spaces[1]; r.ClockFrozen || r.Clock.Sub(time.Now()) < 47*time.Hour {
		t.Errorf("running after the restart = %+v, want a running clock two days ahead", r)
	}
	token := "/cgi-bin/token?grant_type=client_credential&appid=" + fixtureAppID + "&secret=" + fixtureSecret
	if a := second.do("GET", "/ns/frozen"+token, "", nil, ""); a.num("errcode") != 45009 {
		t.Errorf("frozen's fault after the restart = %s, want 45009", a)
	}
	second.do("DELETE", "/_sandbox/namespaces/frozen", "", nil, "")
	second.close()
	// A damaged file (a creation cut short) leaves its namespace out, not the others.
	if err := os.WriteFile(filepath.Join(dir, "ns", "damaged.db"), []byte("*2\r\n$3\r\nnot a command\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	third := newHubOn(t, opts...)
	if spaces, _ := third.hub.Namespaces(); len(spaces) != 1 || spaces[0].Name != "running" {
		t.Errorf("namespaces after a deletion and a restart = %+v, want running only", spaces)
	}
	third.create(`{"name":"damaged"}`) // the name is free: its new world replaces the file
	if got := dirFiles(t, filepath.Join(dir, "ns")); slices.ContainsFunc(got, func(f string) bool { return strings.HasPrefix(f, "frozen") }) {
		t.Errorf("files of a deleted namespace remain: %v", got)
	}
}

// newHubOn is a served hub that the test closes itself (close), as a restart does.
func newHubOn(t *testing.T, opts ...sandbox.Option) *testHub {
	t.Helper()
	hub, err := sandbox.NewHub(append([]sandbox.Option{sandbox.WithLoadedSpec(sharedSpec(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub.Handler())
	th := &testHub{t: t, hub: hub, url: srv.URL}
	th.closers = append(th.closers, srv.Close)
	t.Cleanup(th.close)
	return th
}

func (th *testHub) close() {
	for _, c := range th.closers {
		c()
	}
	th.closers = nil
	if th.hub != nil {
		if err := th.hub.Close(); err != nil {
			th.t.Errorf("close hub: %v", err)
		}
		th.hub = nil
	}
}

// TestHubRemovesIdleNamespaces drives the hub's wall clock: a namespace goes once unused for its
// ttl, whatever its own (frozen) clock says, and a request in time keeps it.
func TestHubRemovesIdleNamespaces(t *testing.T) {
	dir := t.TempDir()
	wall := &wallClock{at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	th := newTestHub(t, sandbox.WithWallClock(wall.Now), sandbox.WithNamespaceDir(dir), sandbox.WithNamespaceTTL(24*time.Hour))
	th.create(`{"name":"short","ttl":"1h"}`)
	th.create(`{"name":"default-ttl"}`)
	th.create(`{"name":"busy","ttl":"1h"}`)
	if d, _ := th.hub.DescribeNamespace("default-ttl"); d.TTL != 24*time.Hour {
		t.Errorf("default-ttl's ttl = %s, want the hub's 24h", d.TTL)
	}
	for range 3 {
		wall.Advance(40 * time.Minute)
		if a := th.do("GET", "/ns/busy/_sandbox/clock", "", nil, ""); a.Status != 200 {
			t.Fatalf("busy after 40 min = %s", a)
		}
	}
	// Two hours of wall time on: short is gone, busy (used 0 min ago) and default-ttl stay.
	if got := th.hub.RemoveIdle(); !slices.Equal(got, []string{"short"}) {
		t.Errorf("removed %v, want [short]", got)
	}
	if a := th.do("GET", "/ns/short/_sandbox/clock", "", nil, ""); a.Status != 404 {
		t.Errorf("short after its ttl = %s, want 404", a)
	}
	if slices.ContainsFunc(dirFiles(t, dir), func(f string) bool { return strings.HasPrefix(f, "short") }) {
		t.Errorf("short's files remain")
	}
	// Past its ttl, a namespace is gone for the next request even before a sweep.
	wall.Advance(time.Hour)
	if a := th.do("GET", "/ns/busy/_sandbox/clock", "", nil, ""); a.Status != 404 {
		t.Errorf("busy an hour unused = %s, want 404", a)
	}
	wall.Advance(22 * time.Hour)
	list := th.do("GET", "/_sandbox/namespaces", "", nil, "")
	if spaces := list.JSON["namespaces"].([]any); len(spaces) != 0 {
		t.Errorf("namespaces a day later = %s, want none", list)
	}
}

// TestHubCapsNamespaces refuses a namespace past --max-namespaces, and admits one again after a
// deletion.
func TestHubCapsNamespaces(t *testing.T) {
	th := newTestHub(t, sandbox.WithMaxNamespaces(2))
	th.create(`{}`)
	second := th.create(`{}`)
	if !strings.HasPrefix(second.str("name"), "ns-") || len(second.str("name")) != 19 {
		t.Errorf("generated name %q, want ns- and 16 characters", second.str("name"))
	}
	a := th.do("POST", "/_sandbox/namespaces", "", nil, `{"name":"third"}`)
	if a.Status != 409 || a.errorCode() != "namespace_limit" {
		t.Errorf("a third namespace = %s, want 409 namespace_limit", a)
	}
	if list := th.do("GET", "/_sandbox/namespaces", "", nil, ""); list.num("max") != 2 || len(list.JSON["namespaces"].([]any)) != 2 {
		t.Errorf("list = %s", list)
	}
	th.do("DELETE", "/_sandbox/namespaces/"+second.str("name"), "", nil, "")
	// PUT names the namespace in the path, for proxies that route by it.
	if a := th.do("PUT", "/_sandbox/namespaces/third", "", nil, `{"seed":3}`); a.Status != 201 || a.str("name") != "third" || a.num("seed") != 3 {
		t.Errorf("PUT /_sandbox/namespaces/third = %s, want 201", a)
	}
	if a := th.do("PUT", "/_sandbox/namespaces/third", "", nil, ""); a.Status != 409 {
		t.Errorf("PUT an existing namespace = %s, want 409", a)
	}
}

// TestHubAdminToken guards creating, listing and deleting namespaces, not using them.
func TestHubAdminToken(t *testing.T) {
	th := newTestHub(t, sandbox.WithAdminToken("s3cret"))
	admin := http.Header{"Authorization": {"Bearer s3cret"}}
	if a := th.do("POST", "/_sandbox/namespaces", "", nil, `{"name":"open"}`); a.Status != 401 {
		t.Errorf("create without the token = %s, want 401", a)
	}
	if _, ok := th.hub.Namespace("open"); ok {
		t.Fatal("a refused creation created the namespace")
	}
	if a := th.do("POST", "/_sandbox/namespaces", "", admin, `{"name":"open"}`); a.Status != 201 {
		t.Fatalf("create with the token = %s", a)
	}
	if a := th.do("POST", "/ns/open/_sandbox/clock", "", nil, `{"advance":"1h"}`); a.Status != 200 {
		t.Errorf("the namespace's control plane without a token = %s, want 200", a)
	}
	if a := th.do("GET", "/_sandbox/clock", "", nil, ""); a.Status != 401 {
		t.Errorf("the root's control plane without the token = %s, want 401", a)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if a := th.do(m, "/_sandbox/namespaces/open", "", nil, ""); a.Status != 401 {
			t.Errorf("%s a namespace without the token = %s, want 401", m, a)
		}
	}
	if a := th.do("DELETE", "/_sandbox/namespaces/open", "", admin, ""); a.Status != 200 {
		t.Errorf("delete with the token = %s", a)
	}
}

// TestHubDeletesUnderLoad deletes a namespace while requests to it are in flight: each request
// gets a whole answer, from the namespace or the unknown-namespace refusal, never a failure.
func TestHubDeletesUnderLoad(t *testing.T) {
	th := newTestHub(t)
	th.create(`{"name":"busy"}`)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for range 50 {
				a, err := th.try("GET", "/ns/busy/cgi-bin/token?grant_type=client_credential&appid="+fixtureAppID+"&secret="+fixtureSecret, "", nil, "")
				if err == nil && a.str("access_token") == "" && a.num("errcode") != 40066 {
					err = fmt.Errorf("answer during deletion: %s", a)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	time.Sleep(time.Millisecond)
	if err := th.hub.DeleteNamespace("busy"); err != nil {
		t.Error(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSandboxWithoutHubServesNoNamespaces: a sandbox of its own answers the namespace verbs and
// /ns/ paths as what it has not.
func TestSandboxWithoutHubServesNoNamespaces(t *testing.T) {
	s, err := sandbox.New(sandbox.WithLoadedSpec(sharedSpec(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	th := &testHub{t: t, url: srv.URL}
	if a := th.do("GET", "/_sandbox/namespaces", "", nil, ""); a.Status != 404 || a.errorCode() != "no_namespaces" {
		t.Errorf("GET /_sandbox/namespaces = %s, want 404 no_namespaces", a)
	}
	if a := th.do("GET", "/ns/x/cgi-bin/token", "", nil, ""); a.num("errcode") != 40066 {
		t.Errorf("GET /ns/x/cgi-bin/token = %s, want 40066", a)
	}
}

// TestHubThroughTheForwardProxy serves a hub as citysandbox serve does: a client that reaches
// https://api.weixin.qq.com through the listener's forward proxy gets the root there, and a
// namespace under its prefix; the namespace shows the hub's one CA.
func TestHubThroughTheForwardProxy(t *testing.T) {
	hub, err := sandbox.NewHub(sandbox.WithLoadedSpec(sharedSpec(t)), sandbox.WithFrozenClock(hubStart))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		hub.Close()
	})
	if _, err := hub.CreateNamespace(sandbox.NamespaceSpec{Name: "proxied", Clock: hubStart.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ca, err := hub.Default().CA()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM)
	proxyURL, _ := url.Parse("http://" + ln.Addr().String())
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: roots}}}
	get := func(u string) (int, []byte) {
		t.Helper()
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if _, b := get("https://api.weixin.qq.com/ns/proxied/_sandbox/clock"); !strings.Contains(string(b), "2026-03-02T03:00:00Z") {
		t.Errorf("the namespace's clock through the proxy = %s, want its own", b)
	}
	if _, b := get("https://api.weixin.qq.com/_sandbox/clock"); !strings.Contains(string(b), "2026-03-02T02:00:00Z") {
		t.Errorf("the root's clock through the proxy = %s", b)
	}
	if status, b := get("https://api.weixin.qq.com/ns/proxied/_sandbox/ca.pem"); status != 200 || string(b) != string(ca.PEM) {
		t.Errorf("the namespace's CA = %d %.60s, want the hub's", status, b)
	}
}

// TestHubJinchengSignaturesInANamespace: a signed Jincheng call reached through a namespace's
// prefix is accepted whether the client signed the path it sent or the platform's path, and
// refused when signed over any other path.
func TestHubJinchengSignaturesInANamespace(t *testing.T) {
	th := newTestHub(t)
	th.create(`{"name":"signed"}`)
	const appCode, secret = "JLB9000000001", "jlb-demo-secret-0001-do-not-use-in-production"
	const inner = "/jincheng/test/sso/v1/ticketValidation"
	body := `{"ticket":"ST-not-issued"}`
	ms := hubStart.UnixMilli()
	for i, tc := range []struct {
		signed string
		ok     bool
	}{
		{inner, true},
		{"/ns/signed" + inner, true},
		{"/ns/other" + inner, false},
		{"/jincheng/prod/sso/v1/ticketValidation", false},
	} {
		sr := jincheng.SignedRequest{Method: "POST", Path: tc.signed, AppCode: appCode, Timestamp: strconv.FormatInt(ms, 10), Nonce: fmt.Sprintf("nonce-namespace-%d", i), Body: []byte(body)}
		header := http.Header{
			jincheng.HeaderAppCode: {appCode}, jincheng.HeaderTimestamp: {sr.Timestamp}, jincheng.HeaderNonce: {sr.Nonce},
			jincheng.HeaderMethod: {jincheng.SignatureMethod}, jincheng.HeaderSignature: {jincheng.Sign(secret, sr)},
		}
		a := th.do("POST", "/ns/signed"+inner, "", header, body)
		accepted := a.Status == 200 && strings.HasPrefix(a.str("errorCode"), "SSO-TICKET")
		if accepted != tc.ok || (!tc.ok && a.str("errorCode") != "GW-INVALID-SIGNATURE") {
			t.Errorf("signed over %s: %s, want accepted=%v", tc.signed, a, tc.ok)
		}
	}
}
