package control_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

func TestHealthAndSpecs(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	a := do(t, srv, "GET", "/_sandbox/health", nil)
	if a.status != 200 || a.str("status") != "ok" {
		t.Fatalf("health = %d %s", a.status, a.raw)
	}
	doc := do(t, srv, "GET", "/_sandbox/openapi/wechat.yaml", nil)
	if doc.status != 200 || !strings.Contains(string(doc.raw), "operationId: getAccessToken") {
		t.Errorf("wechat.yaml not served: %d", doc.status)
	}
	if a := do(t, srv, "GET", "/_sandbox/openapi/nope.yaml", nil); a.status != 404 {
		t.Errorf("unknown document: status %d", a.status)
	}
}

func TestClockVerbs(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	a := do(t, srv, "POST", "/_sandbox/clock", `{"advance":"2h"}`)
	if got := a.json["unix"]; got != float64(sandboxtest.DefaultStart().Add(2*time.Hour).Unix()) {
		t.Errorf("after advance 2h: unix = %v", got)
	}
	a = do(t, srv, "POST", "/_sandbox/clock", `{"set":"2027-01-01T00:00:00+08:00"}`)
	if a.str("now") != "2026-12-31T16:00:00Z" {
		t.Errorf("after set: now = %q", a.str("now"))
	}
	for _, body := range []string{`{"advance":"soon"}`, `{"advance":"-1h"}`, `{"set":"yesterday"}`, `{}`, `{"advance":"1h","set":"2027-01-01T00:00:00Z"}`, `{"advance":3}`, `{"speed":2}`} {
		before := srv.Now()
		if a := do(t, srv, "POST", "/_sandbox/clock", body); a.status != 400 {
			t.Errorf("clock %s: status %d, want 400", body, a.status)
		}
		if !srv.Now().Equal(before) {
			t.Errorf("clock %s moved the clock", body)
		}
	}
}

func TestCreateAppDefaultsAndRefusals(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	a := do(t, srv, "POST", "/_sandbox/wechat/apps", `{"type":"official_account"}`)
	if a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	if a.json["verified"] != true || a.str("subject_type") != "enterprise" || a.str("tier") != "production" || a.str("service_type") != "service" {
		t.Errorf("defaults = %s", a.raw)
	}
	for key, pattern := range map[string]string{"appid": `^wx[0-9a-f]{16}$`, "secret": `^[0-9a-f]{32}$`, "original_id": `^gh_[0-9a-f]{12}$`} {
		if !matches(pattern, a.str(key)) {
			t.Errorf("%s = %q does not match %s", key, a.str(key), pattern)
		}
	}
	token(t, srv, a.str("appid"), a.str("secret"))
	comp := do(t, srv, "POST", "/_sandbox/wechat/apps", `{"type":"component"}`)
	if comp.str("component_appid") == "" || len(comp.str("encoding_aes_key")) != 43 || comp.str("token") == "" {
		t.Errorf("component app lacks its credentials: %s", comp.raw)
	}
	for _, body := range []string{
		`{"type":"bank"}`, `{}`, `{"type":"mini_program","tier":"gold"}`, `{"type":"mini_program","appid":"wx123"}`,
		`{"type":"mini_program","subject_type":"alien"}`, `{"type":"mini_program","service_type":"service"}`,
		`{"type":"mini_program","ip_whitelist":["not-an-ip"]}`, `{"type":"mini_program","colour":"red"}`, `not json`, ``,
		`{"type":"mini_program","appid":"` + miniAppID + `"}`,
	} {
		unchanged(t, srv, func() {
			if a := do(t, srv, "POST", "/_sandbox/wechat/apps", body); a.status < 400 || a.status >= 500 || a.json["error"] == nil {
				t.Errorf("create %s: %d %s, want a 4xx error object", body, a.status, a.raw)
			}
		})
	}
	if a := do(t, srv, "GET", "/_sandbox/wechat/apps/wx0000000000000000", nil); a.status != 404 {
		t.Errorf("unknown app: %d", a.status)
	}
}

func matches(pattern, s string) bool {
	return len(s) > 0 && mustRegexp(pattern).MatchString(s)
}

func TestAppInspectionShowsTokensAndQuota(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	tok := token(t, srv, serviceAppID, serviceSecret)
	a := do(t, srv, "GET", "/_sandbox/wechat/apps/"+serviceAppID, nil)
	toks := a.json["tokens"].([]any)
	if len(toks) != 1 || toks[0].(map[string]any)["access_token"] != tok {
		t.Errorf("tokens = %v", toks)
	}
	if q := a.json["quota_today"].([]any); len(q) != 1 || q[0].(map[string]any)["used"] != float64(1) {
		t.Errorf("quota_today = %v", q)
	}
	p := do(t, srv, "PATCH", "/_sandbox/wechat/apps/"+serviceAppID, `{"tier":"test","verified":false}`)
	if p.str("tier") != "test" || p.json["verified"] != false {
		t.Errorf("patch: %s", p.raw)
	}
	unchanged(t, srv, func() {
		if a := do(t, srv, "PATCH", "/_sandbox/wechat/apps/"+serviceAppID, `{"tier":"bronze"}`); a.status != 400 {
			t.Errorf("bad patch: %d", a.status)
		}
	})
}

func TestJournalFilters(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	token(t, srv, serviceAppID, serviceSecret)
	do(t, srv, "GET", tokenURL(serviceAppID, strings.Repeat("0", 32)), nil)
	do(t, srv, "POST", "/cgi-bin/stable_token", `{`)
	a := do(t, srv, "GET", "/_sandbox/requests?path=/cgi-bin/token&errcode=40125", nil)
	reqs := a.json["requests"].([]any)
	if len(reqs) != 1 || reqs[0].(map[string]any)["appid"] != serviceAppID {
		t.Fatalf("filtered journal = %s", a.raw)
	}
	bad := do(t, srv, "GET", "/_sandbox/requests?errcode=47001", nil).json["requests"].([]any)
	if len(bad) != 1 || !strings.Contains(bad[0].(map[string]any)["validation_error"].(string), "not valid JSON") {
		t.Errorf("validation reason not journaled: %v", bad)
	}
	if n := len(do(t, srv, "GET", "/_sandbox/requests?path=/cgi-bin/*&appid="+serviceAppID, nil).json["requests"].([]any)); n != 2 {
		t.Errorf("prefix+appid filter: %d entries, want 2", n)
	}
	if a := do(t, srv, "GET", "/_sandbox/requests?errcode=abc", nil); a.status != 400 {
		t.Errorf("bad filter: %d", a.status)
	}
}

func TestJournalIsCapped(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t, sandboxtest.WithSandboxOptions(sandbox.WithJournalSize(5)))
	for range 8 {
		do(t, srv, "GET", "/_sandbox/health", nil)
	}
	if n := do(t, srv, "GET", "/_sandbox/requests", nil).json["count"]; n != float64(5) {
		t.Errorf("journal holds %v entries, want the cap 5", n)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	f := do(t, srv, "POST", "/_sandbox/faults", `{"path":"/cgi-bin/token","errcode":-1,"times":2}`)
	if f.status != 201 {
		t.Fatalf("add fault: %d %s", f.status, f.raw)
	}
	wantErrcode(t, do(t, srv, "GET", tokenURL(serviceAppID, serviceSecret), nil), -1)
	wantErrcode(t, do(t, srv, "GET", tokenURL(serviceAppID, serviceSecret), nil), -1)
	token(t, srv, serviceAppID, serviceSecret) // the fault is used up

	// An appid fault reaches calls made with that app's token.
	tok := token(t, srv, serviceAppID, serviceSecret)
	do(t, srv, "POST", "/_sandbox/faults", `{"appid":"`+serviceAppID+`","errcode":45009}`)
	wantErrcode(t, quotaGet(t, srv, tok), 45009)
	if faults := do(t, srv, "GET", "/_sandbox/faults", nil).json["faults"].([]any); len(faults) != 1 || faults[0].(map[string]any)["hits"] != float64(1) {
		t.Errorf("faults = %v", faults)
	}
	do(t, srv, "DELETE", "/_sandbox/faults", nil)
	wantErrcode(t, quotaGet(t, srv, tok), 0)

	// A dropped connection is an error at the client, not an answer. (Go's client retries an
	// idempotent request once on a reused connection, so the fault stays until deleted.)
	do(t, srv, "POST", "/_sandbox/faults", `{"path":"/_sandbox/health","drop":true}`)
	if _, err := srv.Client().Get(srv.URL + "/_sandbox/health"); err == nil {
		t.Error("a dropped connection answered")
	}
	do(t, srv, "DELETE", "/_sandbox/faults", nil)
	for _, body := range []string{`{}`, `{"path":"/x"}`, `{"path":"/x","errcode":1,"probability":2}`} {
		if a := do(t, srv, "POST", "/_sandbox/faults", body); a.status != 400 {
			t.Errorf("fault %s: %d, want 400", body, a.status)
		}
	}
	if a := do(t, srv, "DELETE", "/_sandbox/faults?id=fault-99", nil); a.status != 404 {
		t.Errorf("delete unknown fault: %d", a.status)
	}
}

func TestFaultProbabilityIsSeeded(t *testing.T) {
	t.Parallel()
	outcomes := func() string {
		srv := sandboxtest.New(t)
		do(t, srv, "POST", "/_sandbox/faults", `{"path":"/cgi-bin/token","errcode":-1,"probability":0.5}`)
		var b strings.Builder
		for range 40 {
			if do(t, srv, "GET", tokenURL(serviceAppID, serviceSecret), nil).errcode() == -1 {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	first, second := outcomes(), outcomes()
	if first != second {
		t.Errorf("same seed, different faults:\n%s\n%s", first, second)
	}
	if !strings.Contains(first, "x") || !strings.Contains(first, ".") {
		t.Errorf("probability 0.5 gave %s", first)
	}
}

func TestAdminToken(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t, sandboxtest.WithSandboxOptions(sandbox.WithAdminToken("s3cret")))
	if a := do(t, srv, "GET", "/_sandbox/health", nil); a.status != 200 {
		t.Errorf("health needs no token: %d", a.status)
	}
	unchanged(t, srv, func() {
		if a := do(t, srv, "POST", "/_sandbox/wechat/apps", `{"type":"mini_program"}`); a.status != 401 {
			t.Errorf("no token: %d, want 401", a.status)
		}
	})
	req, _ := http.NewRequest("GET", srv.URL+"/_sandbox/clock", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	if resp, err := srv.Client().Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("wrong token: %v %v", resp, err)
	}
	req.Header.Set("Authorization", "Bearer s3cret")
	if resp, err := srv.Client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("right token: %v %v", resp, err)
	}
	// WeChat's own API is not behind the admin token.
	token(t, srv, serviceAppID, serviceSecret)
}

func TestResetAndSnapshot(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	fresh, _ := srv.StateHash()
	tok := token(t, srv, serviceAppID, serviceSecret)
	snap := do(t, srv, "GET", "/_sandbox/state", nil)
	if do(t, srv, "POST", "/_sandbox/reset", nil).status != 200 {
		t.Fatal("reset failed")
	}
	if h, _ := srv.StateHash(); h != fresh {
		t.Error("reset did not return to the fixtures")
	}
	wantErrcode(t, quotaGet(t, srv, tok), 40001)
	restored := do(t, srv, "PUT", "/_sandbox/state", snap.raw) // the snapshot sent back as it came
	if restored.str("hash") != snap.str("hash") {
		t.Errorf("restore hash %s, want %s", restored.str("hash"), snap.str("hash"))
	}
	wantErrcode(t, quotaGet(t, srv, tok), 0)
	unchanged(t, srv, func() {
		if a := do(t, srv, "PUT", "/_sandbox/state", `{"entries":"nope"}`); a.status != 400 {
			t.Errorf("bad snapshot: %d", a.status)
		}
	})
	if a := do(t, srv, "POST", "/_sandbox/reset", `{"platform":"mars"}`); a.status != 400 {
		t.Errorf("reset of an unknown platform: %d", a.status)
	}
}

func TestSameSeedSameBytes(t *testing.T) {
	t.Parallel()
	run := func() string {
		srv := sandboxtest.New(t)
		var b strings.Builder
		app := do(t, srv, "POST", "/_sandbox/wechat/apps", `{"type":"mini_program"}`)
		b.Write(app.raw)
		b.Write(do(t, srv, "GET", tokenURL(app.str("appid"), app.str("secret")), nil).raw)
		b.Write(do(t, srv, "GET", tokenURL(app.str("appid"), "x"), nil).raw)
		b.Write(do(t, srv, "POST", "/cgi-bin/stable_token", stableBody(serviceAppID, serviceSecret, false)).raw)
		h, _ := srv.StateHash()
		b.WriteString(h)
		return b.String()
	}
	if first, second := run(), run(); first != second {
		t.Errorf("two runs differ:\n%s\n%s", first, second)
	}
}

func TestUnknownPathAndWrongMethod(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	unchanged(t, srv, func() {
		wantErrcode(t, do(t, srv, "GET", "/cgi-bin/no/such/api", nil), 40066)
		wantErrcode(t, do(t, srv, "GET", "/cgi-bin/stable_token", nil), 43002)
		wantErrcode(t, do(t, srv, "PUT", "/cgi-bin/clear_quota", "{}"), 43002)
		if a := do(t, srv, "GET", "/_sandbox/nothing", nil); a.status != 404 || a.json["error"] == nil {
			t.Errorf("unknown control route: %d %s", a.status, a.raw)
		}
	})
}

func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() *sandbox.Server {
		s, err := sandbox.New(sandbox.WithStorePath(path))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	app, err := s.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	base := "http://" + (<-addrc).String()
	resp, err := http.Get(base + "/cgi-bin/token?grant_type=client_credential&appid=" + app.AppID + "&secret=" + app.Secret)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("no state on disk: %v", err)
	}
	s2 := open()
	defer s2.Close()
	again, err := s2.WeChat().App(app.AppID)
	if err != nil || again == nil || again.Secret != app.Secret {
		t.Fatalf("app lost across restart: %v %v", again, err)
	}
	srv := sandboxtest.Serve(t, s2)
	a := do(t, srv, "POST", srv.URL+"/cgi-bin/openapi/quota/get?access_token="+tok.AccessToken, `{"cgi_path":"/cgi-bin/token"}`)
	wantErrcode(t, a, 0)
	if used := a.json["quota"].(map[string]any)["used"]; used != float64(1) {
		t.Errorf("quota counter after restart = %v, want 1", used)
	}
}

func TestFixtureAppsGetTheCreationDefaults(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	app, err := srv.WeChat().App(serviceAppID)
	if err != nil || app == nil {
		t.Fatal(app, err)
	}
	if !app.Verified || app.Tier != "production" {
		t.Errorf("fixture service account: verified=%v tier=%q, want the defaults (verified, production)", app.Verified, app.Tier)
	}
}
