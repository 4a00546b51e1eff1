package control_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

func TestHealthAndSpecs(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	a := k.Control("GET", "/_sandbox/health", nil)
	if a.Status != 200 || a.Str("status") != "ok" {
		t.Fatalf("health = %d %s", a.Status, a.Raw)
	}
	doc := k.Control("GET", "/_sandbox/openapi/wechat.yaml", nil)
	if doc.Status != 200 || !strings.Contains(string(doc.Raw), "operationId: getAccessToken") {
		t.Errorf("wechat.yaml not served: %d", doc.Status)
	}
	if a := k.Control("GET", "/_sandbox/openapi/nope.yaml", nil); a.Status != 404 {
		t.Errorf("unknown document: status %d", a.Status)
	}
}

func TestClockVerbs(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	a := k.Control("POST", "/_sandbox/clock", `{"advance":"2h"}`)
	if got := a.JSON["unix"]; got != float64(k.Start.Add(2*time.Hour).Unix()) {
		t.Errorf("after advance 2h: unix = %v", got)
	}
	a = k.Control("POST", "/_sandbox/clock", `{"set":"2027-01-01T00:00:00+08:00"}`)
	if a.Str("now") != "2026-12-31T16:00:00Z" {
		t.Errorf("after set: now = %q", a.Str("now"))
	}
	for _, body := range []string{`{"advance":"soon"}`, `{"advance":"-1h"}`, `{"set":"yesterday"}`, `{}`, `{"advance":"1h","set":"2027-01-01T00:00:00Z"}`, `{"advance":3}`, `{"speed":2}`,
		`{"real":true,"advance":"1h"}`, `{"real":true,"set":"2027-01-01T00:00:00Z"}`, `{"real":"yes"}`, `{"real":false}`,
		`{"freeze":true,"advance":"1h"}`, `{"freeze":false,"real":true}`, `{"freeze":"yes"}`, `{"freeze":null}`} {
		before := k.Now()
		if a := k.Control("POST", "/_sandbox/clock", body); a.Status != 400 {
			t.Errorf("clock %s: status %d, want 400", body, a.Status)
		}
		if !k.Now().Equal(before) || !k.Control("GET", "/_sandbox/clock", nil).JSON["frozen"].(bool) {
			t.Errorf("clock %s moved the clock", body)
		}
	}
}

// TestClockBackToRealTime: {"real":true} returns a frozen and moved clock to wall time, running.
func TestClockBackToRealTime(t *testing.T) {
	t.Parallel()
	k := testkit.New(t) // frozen, in 2026
	k.Control("POST", "/_sandbox/clock", `{"advance":"1000h"}`)
	before := time.Now().UTC().Truncate(time.Second)
	a := k.Control("POST", "/_sandbox/clock", `{"real":true}`)
	if a.Status != 200 || a.JSON["frozen"] != false {
		t.Fatalf("real: %d %s, want 200 and a running clock", a.Status, a.Raw)
	}
	now, err := time.Parse(time.RFC3339Nano, a.Str("now"))
	if err != nil {
		t.Fatal(err)
	}
	if after := time.Now().UTC(); now.Before(before) || now.After(after) {
		t.Errorf("clock after real = %s, want wall time, between %s and %s", now, before, after)
	}
	// A running clock moved since comes back too: the offset is gone, not kept.
	k.Control("POST", "/_sandbox/clock", `{"set":"2020-01-01T00:00:00Z"}`)
	before = time.Now().UTC()
	k.Control("POST", "/_sandbox/clock", `{"real":true}`)
	if now, after := k.Now(), time.Now().UTC(); now.Before(before.Truncate(time.Microsecond)) || now.After(after) {
		t.Errorf("clock after set 2020 and real = %s, want wall time, between %s and %s", now, before, after)
	}
}

// TestClockFreeze: {"freeze":true} stops a running clock where it is; {"freeze":false} makes it
// run on from the instant it stands at, keeping the offset a move gave it while frozen.
func TestClockFreeze(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	k.Control("POST", "/_sandbox/clock", `{"real":true}`)
	before := time.Now().UTC().Truncate(time.Microsecond)
	a := k.Control("POST", "/_sandbox/clock", `{"freeze":true}`)
	after := time.Now().UTC()
	if a.Status != 200 || a.JSON["frozen"] != true {
		t.Fatalf("freeze: %s, want 200 and a frozen clock", a)
	}
	at, err := time.Parse(time.RFC3339Nano, a.Str("now"))
	if err != nil {
		t.Fatal(err)
	}
	if at.Before(before) || at.After(after) {
		t.Errorf("frozen at %s, want the wall time of the freeze, between %s and %s", at, before, after)
	}
	if g := k.Control("GET", "/_sandbox/clock", nil); g.Str("now") != a.Str("now") || g.JSON["frozen"] != true {
		t.Errorf("clock after freeze = %s, want it standing at %s", g, a.Str("now"))
	}
	// Freezing a frozen clock leaves it where it stands.
	if again := k.Control("POST", "/_sandbox/clock", `{"freeze":true}`); again.Str("now") != a.Str("now") {
		t.Errorf("second freeze moved the clock: %s → %s", a.Str("now"), again.Str("now"))
	}
	// Set a day back while frozen, then thaw: it runs on from there, a day behind wall time.
	day := at.Add(-24 * time.Hour)
	k.Control("POST", "/_sandbox/clock", `{"set":"`+day.Format(time.RFC3339Nano)+`"}`)
	wallBefore := time.Now().UTC()
	th := k.Control("POST", "/_sandbox/clock", `{"freeze":false}`)
	if th.Status != 200 || th.JSON["frozen"] != false {
		t.Fatalf("unfreeze: %s, want 200 and a running clock", th)
	}
	now := k.Now()
	ran := time.Now().UTC().Sub(wallBefore) // the clock ran at most this long since the thaw
	if d := now.Sub(day); d < -time.Microsecond || d > ran {
		t.Errorf("after unfreeze now = %s, want it running on from %s (at most %s later)", now, day, ran)
	}
}

func TestJournalFilters(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	k.Do("GET", testkit.TokenURL(testkit.ServiceAppID, strings.Repeat("0", 32)), nil)
	k.Do("POST", "/cgi-bin/stable_token", `{`)
	a := k.Control("GET", "/_sandbox/requests?path=/cgi-bin/token&errcode=40125", nil)
	reqs := a.JSON["requests"].([]any)
	if len(reqs) != 1 || reqs[0].(map[string]any)["appid"] != testkit.ServiceAppID {
		t.Fatalf("filtered journal = %s", a.Raw)
	}
	bad := k.Control("GET", "/_sandbox/requests?errcode=47001", nil).JSON["requests"].([]any)
	if len(bad) != 1 || !strings.Contains(bad[0].(map[string]any)["validation_error"].(string), "not valid JSON") {
		t.Errorf("validation reason not journaled: %v", bad)
	}
	if n := len(k.Control("GET", "/_sandbox/requests?path=/cgi-bin/*&appid="+testkit.ServiceAppID, nil).JSON["requests"].([]any)); n != 2 {
		t.Errorf("prefix+appid filter: %d entries, want 2", n)
	}
	if a := k.Control("GET", "/_sandbox/requests?errcode=abc", nil); a.Status != 400 {
		t.Errorf("bad filter: %d", a.Status)
	}
}

// TestJournalPaging: before and after are cursors on seq, limit a page's size, control=false
// leaves the control plane's requests out.
func TestJournalPaging(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	for range 7 {
		k.Do("GET", testkit.TokenURL(testkit.ServiceAppID, strings.Repeat("0", 32)), nil)
		k.Control("GET", "/_sandbox/health", nil)
	}
	seqs := func(q string) []int {
		t.Helper()
		a := k.Control("GET", "/_sandbox/requests?"+q, nil)
		if a.Status != 200 {
			t.Fatalf("requests?%s: %s", q, a)
		}
		var out []int
		for _, e := range a.JSON["requests"].([]any) {
			m := e.(map[string]any)
			if m["platform"] == "control" {
				t.Errorf("requests?%s holds a control entry: %v", q, m)
			}
			out = append(out, int(m["seq"].(float64)))
		}
		return out
	}
	all := seqs("control=false")
	if len(all) != 7 {
		t.Fatalf("control=false: %v, want the 7 token requests", all)
	}
	page := seqs("control=false&limit=3")
	older := seqs("control=false&limit=3&before=" + strconv.Itoa(page[0]))
	newer := seqs("control=false&after=" + strconv.Itoa(older[len(older)-1]))
	if fmt.Sprint(page) != fmt.Sprint(all[4:]) || fmt.Sprint(older) != fmt.Sprint(all[1:4]) || fmt.Sprint(newer) != fmt.Sprint(all[4:]) {
		t.Errorf("pages: newest %v, older %v, newer again %v; all %v", page, older, newer, all)
	}
	for _, q := range []string{"before=abc", "after=-1", "control=maybe"} {
		name, _, _ := strings.Cut(q, "=")
		if a := k.Control("GET", "/_sandbox/requests?"+q, nil); a.Status != 400 || !strings.Contains(string(a.Raw), `\"`+name+`\"`) {
			t.Errorf("requests?%s: %s, want a 400 naming %s", q, a, name)
		}
	}
}

func TestJournalIsCapped(t *testing.T) {
	t.Parallel()
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithJournalSize(5)))
	for range 8 {
		k.Control("GET", "/_sandbox/health", nil)
	}
	if n := k.Control("GET", "/_sandbox/requests", nil).JSON["count"]; n != float64(5) {
		t.Errorf("journal holds %v entries, want the cap 5", n)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	f := k.Control("POST", "/_sandbox/faults", `{"path":"/cgi-bin/token","errcode":-1,"times":2}`)
	if f.Status != 201 {
		t.Fatalf("add fault: %d %s", f.Status, f.Raw)
	}
	k.WantErrcode(k.Do("GET", testkit.TokenURL(testkit.ServiceAppID, testkit.ServiceSecret), nil), -1)
	k.WantErrcode(k.Do("GET", testkit.TokenURL(testkit.ServiceAppID, testkit.ServiceSecret), nil), -1)
	k.Token(testkit.ServiceAppID, testkit.ServiceSecret) // the fault is used up

	// An appid fault reaches calls made with that app's token.
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	k.Control("POST", "/_sandbox/faults", `{"appid":"`+testkit.ServiceAppID+`","errcode":45009}`)
	k.WantErrcode(k.Probe(tok), 45009)
	if faults := k.Control("GET", "/_sandbox/faults", nil).JSON["faults"].([]any); len(faults) != 1 || faults[0].(map[string]any)["hits"] != float64(1) {
		t.Errorf("faults = %v", faults)
	}
	k.Control("DELETE", "/_sandbox/faults", nil)
	k.WantErrcode(k.Probe(tok), 0)

	// A dropped connection is an error at the client, not an answer. (Go's client retries an
	// idempotent request once on a reused connection, so the fault stays until deleted.)
	k.Control("POST", "/_sandbox/faults", `{"path":"/_sandbox/health","drop":true}`)
	if _, err := k.Srv.Client().Get(k.Srv.URL + "/_sandbox/health"); err == nil {
		t.Error("a dropped connection answered")
	}
	k.Control("DELETE", "/_sandbox/faults", nil)
	for _, body := range []string{`{}`, `{"path":"/x"}`, `{"path":"/x","errcode":1,"probability":2}`} {
		if a := k.Control("POST", "/_sandbox/faults", body); a.Status != 400 {
			t.Errorf("fault %s: %d, want 400", body, a.Status)
		}
	}
	if a := k.Control("DELETE", "/_sandbox/faults?id=fault-99", nil); a.Status != 404 {
		t.Errorf("delete unknown fault: %d", a.Status)
	}
	// An empty id deletes nothing (a shell variable left unset must not clear every fault).
	k.Control("POST", "/_sandbox/faults", `{"path":"/cgi-bin/token","errcode":-1}`)
	k.RefusedCode("an empty id", 400, "invalid_fault", func() testkit.Answer { return k.Control("DELETE", "/_sandbox/faults?id=", nil) })
	if faults := k.Control("GET", "/_sandbox/faults", nil).JSON["faults"].([]any); len(faults) != 1 {
		t.Errorf("after DELETE ?id= the faults are %v, want the one", faults)
	}
}

func TestFaultProbabilityIsSeeded(t *testing.T) {
	t.Parallel()
	outcomes := func() string {
		k := testkit.New(t)
		k.Control("POST", "/_sandbox/faults", `{"path":"/cgi-bin/token","errcode":-1,"probability":0.5}`)
		var b strings.Builder
		for range 40 {
			if k.Do("GET", testkit.TokenURL(testkit.ServiceAppID, testkit.ServiceSecret), nil).Errcode() == -1 {
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
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithAdminToken("s3cret")))
	if a := k.Control("GET", "/_sandbox/health", nil); a.Status != 200 {
		t.Errorf("health needs no token: %d", a.Status)
	}
	k.Unchanged(func() {
		if a := k.Control("POST", "/_sandbox/wechat/apps", `{"type":"mini_program"}`); a.Status != 401 {
			t.Errorf("no token: %d, want 401", a.Status)
		}
	})
	req, _ := http.NewRequest("GET", k.Srv.URL+"/_sandbox/clock", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	if resp, err := k.Srv.Client().Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("wrong token: %v %v", resp, err)
	}
	req.Header.Set("Authorization", "Bearer s3cret")
	if resp, err := k.Srv.Client().Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("right token: %v %v", resp, err)
	}
	// WeChat's own API is not behind the admin token.
	k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
}

// TestAdminTokenGuardsEverythingButThePlatforms sends requests without the admin token to every
// kind of route it guards — control verbs, unknown control paths, a wrong method, a bad body,
// the simulated 晋来办 app's pages and API — and each answers 401 before any other check;
// the platforms' own APIs answer as always, and a browser may give the token as a Basic
// password.
func TestAdminTokenGuardsEverythingButThePlatforms(t *testing.T) {
	t.Parallel()
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithAdminToken("s3cret")))
	k.Unchanged(func() {
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/_sandbox/wechat/apps", ""},
			{"GET", "/_sandbox/no/such/route", ""},        // would be 404
			{"DELETE", "/_sandbox/clock", ""},             // would be 405
			{"POST", "/_sandbox/wechat/apps", "not json"}, // would be 400
			{"GET", "/_sandbox", ""},
			{"GET", "/jincheng/app/", ""}, // every citizen's name and mobile
			{"GET", "/jincheng/app/open?service=S90000001", ""},
			{"POST", "/jincheng/app/api/ticket", `{"service":"S90000001","persona":"x","env":"test"}`},
			{"POST", "/jincheng/app/api/titleCheck", `{}`},
		} {
			a := k.Do(r.method, r.path, r.body)
			if a.Status != http.StatusUnauthorized || testkit.Dig(a.JSON, "error", "code") != "unauthorized" || a.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s without the token: %d %s, want 401 unauthorized", r.method, r.path, a.Status, a.Raw)
			}
		}
	})
	bearer := http.Header{"Authorization": {"Bearer s3cret"}}
	if a := k.DoHeader("GET", "/jincheng/app/", bearer, nil); a.Status != http.StatusOK {
		t.Errorf("the app page with the token: %d", a.Status)
	}
	basic := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("anyone:s3cret"))}}
	if a := k.DoHeader("GET", "/jincheng/app/", basic, nil); a.Status != http.StatusOK {
		t.Errorf("the app page with the token as a Basic password: %d", a.Status)
	}
	if a := k.DoHeader("GET", "/_sandbox/no/such/route", bearer, nil); a.Status != http.StatusNotFound {
		t.Errorf("an unknown control route with the token: %d, want 404", a.Status)
	}
	// The platforms keep their own credentials.
	if a := k.Do("POST", "/jincheng/admin/v1/login", map[string]string{"account": testkit.JinchengVendor, "password": testkit.JinchengPassword}); a.Status != http.StatusOK {
		t.Errorf("the Jincheng portal without the admin token: %s", a)
	}
	k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
}

func TestResetAndSnapshot(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	fresh, _ := k.Srv.StateHash()
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	snap := k.Control("GET", "/_sandbox/state", nil)
	if k.Control("POST", "/_sandbox/reset", nil).Status != 200 {
		t.Fatal("reset failed")
	}
	if h, _ := k.Srv.StateHash(); h != fresh {
		t.Error("reset did not return to the fixtures")
	}
	k.WantErrcode(k.Probe(tok), 40001)
	restored := k.Control("PUT", "/_sandbox/state", snap.Raw) // the snapshot sent back as it came
	if restored.Str("hash") != snap.Str("hash") {
		t.Errorf("restore hash %s, want %s", restored.Str("hash"), snap.Str("hash"))
	}
	k.WantErrcode(k.Probe(tok), 0)
	k.Unchanged(func() {
		if a := k.Control("PUT", "/_sandbox/state", `{"entries":"nope"}`); a.Status != 400 {
			t.Errorf("bad snapshot: %d", a.Status)
		}
	})
	if a := k.Control("POST", "/_sandbox/reset", `{"platform":"mars"}`); a.Status != 400 {
		t.Errorf("reset of an unknown platform: %d", a.Status)
	}
}

// TestHostMapVerbs: hosts are mapped to local addresses only, listed in order, removed one by
// one, and the map is not part of the stored state (a reset keeps it).
func TestHostMapVerbs(t *testing.T) {
	t.Parallel()
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithResolve("b.citytest.cn=127.0.0.1:9002")))
	before := k.StateHash()
	if a := k.Control("PUT", "/_sandbox/hosts/A.CityTest.cn", `{"addr":"10.0.0.5:8080"}`); a.Status != 200 || a.Str("host") != "a.citytest.cn" {
		t.Fatalf("put: %s", a)
	}
	for body, code := range map[string]string{
		`{"addr":"8.8.8.8:80"}`: "invalid_host_mapping", `{"addr":"localhost:80"}`: "invalid_host_mapping",
		`{"addr":"127.0.0.1"}`: "invalid_host_mapping", `{}`: "invalid", `{"addr":null}`: "invalid",
	} {
		k.RefusedCode("put "+body, 400, code, func() testkit.Answer { return k.Control("PUT", "/_sandbox/hosts/c.citytest.cn", body) })
	}
	k.RefusedCode("an address as the host", 400, "invalid_host_mapping", func() testkit.Answer {
		return k.Control("PUT", "/_sandbox/hosts/127.0.0.1", `{"addr":"127.0.0.1:80"}`)
	})
	if h := k.StateHash(); h != before {
		t.Error("mapping a host changed the stored state")
	}
	if a := k.Control("POST", "/_sandbox/reset", `{}`); a.Status != 200 {
		t.Fatalf("reset: %s", a)
	}
	a := k.Control("GET", "/_sandbox/hosts", nil)
	if got := string(a.Raw); got != `{"hosts":[{"host":"a.citytest.cn","addr":"10.0.0.5:8080"},{"host":"b.citytest.cn","addr":"127.0.0.1:9002"}]}` {
		t.Errorf("hosts after a reset = %s", got)
	}
	if a := k.Control("DELETE", "/_sandbox/hosts/a.citytest.cn", nil); a.Status != 200 {
		t.Errorf("delete: %s", a)
	}
	if a := k.Control("DELETE", "/_sandbox/hosts/a.citytest.cn", nil); a.Status != 404 || a.Code() != "host_not_mapped" {
		t.Errorf("delete again: %s", a)
	}
	if got := k.Srv.HostMappings(); len(got) != 1 || got[0].Host != "b.citytest.cn" {
		t.Errorf("HostMappings() = %+v", got)
	}
}
