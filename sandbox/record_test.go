package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// integratorSuite is what an integrator's test suite might send: it creates an app, gets and
// uses tokens, moves the clock, hits errors. Values it reuses come from earlier answers, as a
// real client's would.
func integratorSuite(t *testing.T, base string) {
	t.Helper()
	c := &http.Client{}
	do := func(method, path, body string) string {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	field := func(body, name string) string {
		_, rest, ok := strings.Cut(body, `"`+name+`":"`)
		if !ok {
			t.Fatalf("no %s in %s", name, body)
		}
		v, _, _ := strings.Cut(rest, `"`)
		return v
	}
	app := do("POST", "/_sandbox/wechat/apps", `{"type":"mini_program","tier":"test"}`)
	appid, secret := field(app, "appid"), field(app, "secret")
	tok := field(do("GET", "/cgi-bin/token?grant_type=client_credential&appid="+appid+"&secret="+secret, ""), "access_token")
	do("POST", "/cgi-bin/openapi/quota/get?access_token="+tok, `{"cgi_path":"/cgi-bin/token"}`)
	stable := field(do("POST", "/cgi-bin/stable_token", `{"grant_type":"client_credential","appid":"`+appid+`","secret":"`+secret+`"}`), "access_token")
	do("POST", "/cgi-bin/openapi/quota/get?access_token="+stable, `{"cgi_path":"/cgi-bin/stable_token"}`)
	for range 3 {
		do("GET", "/cgi-bin/token?grant_type=client_credential&appid=wx5a1d0c0e00000001&secret=wrong", "")
	}
	rid := field(do("POST", "/cgi-bin/stable_token", ""), "errmsg") // 44002, with a rid
	_ = rid
	do("GET", "/_sandbox/health", "") // an observation: not recorded
	do("POST", "/_sandbox/clock", `{"advance":"2h"}`)
	do("POST", "/cgi-bin/openapi/quota/get?access_token="+tok, `{"cgi_path":"/cgi-bin/token"}`) // 42001
	do("GET", "/_sandbox/wechat/apps/"+appid, "")
	do("POST", "/cgi-bin/clear_quota?access_token="+stable, `{"appid":"`+appid+`"}`)
	do("GET", "/_sandbox/requests?limit=2", "")
}

// record runs the integrator suite against a recording sandbox and returns the scenario.
func record(t *testing.T, pinHashes bool, opts ...sandbox.Option) []byte {
	t.Helper()
	rec := &sandbox.Recorder{Name: "integrator suite", PinHashes: pinHashes}
	sb, err := sandbox.New(append([]sandbox.Option{sandbox.WithRecorder(rec), sandbox.WithFrozenClock(time.Date(2026, 5, 1, 1, 0, 0, 0, time.UTC)), sandbox.WithSeed(9)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	ts := httptest.NewServer(sb.Handler())
	t.Cleanup(ts.Close)
	integratorSuite(t, ts.URL)
	if got, want := rec.Len(), 14; got != want {
		t.Errorf("recorded %d requests, want %d (health is not recorded)", got, want)
	}
	out, err := rec.Scenario()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func replay(t *testing.T, name string, data []byte) (*sandbox.ScenarioResult, error) {
	t.Helper()
	srv := sandboxtest.New(t)
	target := sandbox.ScenarioTarget{URL: srv.URL, Client: srv.Client(), StateHash: srv.StateHash, WaitPushes: srv.WaitPushes}
	return sandbox.RunScenario(context.Background(), target, name, data, nil)
}

func TestRecordingReplays(t *testing.T) {
	t.Parallel()
	data := record(t, false)
	text := string(data)
	for _, want := range []string{
		"seed: 9", "clock: \"2026-05-01T01:00:00Z\"",
		"appid: ${appid}", "access_token: ${access_token}", // captured and reused
		"advance: 2h", "repeat: 3", // the clock move, the folded identical calls
		"$regex: ", // the rid in a message
	} {
		if !strings.Contains(text, want) {
			t.Errorf("recording lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "/_sandbox/health") {
		t.Errorf("the recording holds the health probe:\n%s", text)
	}
	if _, err := replay(t, "recorded.yaml", data); err != nil {
		t.Fatalf("replaying a fresh recording: %v\n\n%s", err, text)
	}
	// Tokens never appear literally: each is captured where it was issued and referred to.
	if tok := regexp.MustCompile(`[0-9]{2}_[A-Za-z0-9_-]{128}`).FindString(text); tok != "" {
		t.Errorf("the recording holds a literal token %s:\n%s", tok, text)
	}
}

func TestRecordingWithHashesReplaysAndNamesDivergence(t *testing.T) {
	t.Parallel()
	data := record(t, true)
	text := string(data)
	if n := strings.Count(text, "state_hash: "); n != 14 {
		t.Errorf("recording pins %d state hashes, want 14", n)
	}
	first, err := replay(t, "pinned.yaml", data)
	if err != nil {
		t.Fatalf("replaying a recording with pinned hashes: %v\n\n%s", err, text)
	}
	second, err := replay(t, "pinned.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if d := sandbox.CompareScenarioRuns(first, second); d != nil {
		t.Errorf("two replays differ: %s", d)
	}
	// Changing the recorded clock move makes that step's answer differ: the replay names it.
	changed := strings.Replace(text, "advance: 2h", "advance: 3h", 1)
	_, err = replay(t, "changed.yaml", []byte(changed))
	var f *sandbox.ScenarioFailure
	if !errors.As(err, &f) {
		t.Fatalf("replay of a changed recording = %v, want a failure", err)
	}
	if f.Step.Action != "POST /_sandbox/clock" || !strings.Contains(err.Error(), "response diverged") {
		t.Errorf("divergence reported at %s (%s): %v; want the advance step", f.Step.Label(""), f.Step.Action, err)
	}
}

func TestContractReport(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	c := srv.Client()
	get := func(url string) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post := func(url, body string) {
		t.Helper()
		resp, err := c.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	const cred = "appid=wx5a1d0c0e00000001&secret=5a1d0c0e5a1d0c0e5a1d0c0e00000001"
	get("https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&" + cred)
	get("https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx5a1d0c0e00000001&secret=bad")
	get("https://api.weixin.qq.com/cgi-bin/token?grant_type=password&" + cred)
	post("https://api.weixin.qq.com/cgi-bin/stable_token", `{"grant_type":"client_credential","appid":"wx5a1d0c0e00000001","secret":"5a1d0c0e5a1d0c0e5a1d0c0e00000001","extra":1}`)
	get("https://api.weixin.qq.com/cgi-bin/no_such_api")
	post(srv.URL+"/_sandbox/reset", `{}`) // a reset keeps the counts
	post(srv.URL+"/_sandbox/clock", `{"advance":"1m"}`)

	r := srv.Contract().Called()
	if r.Calls != 5 || r.OperationsCalled != 2 {
		t.Errorf("calls %d, operations called %d; want 5 and 2", r.Calls, r.OperationsCalled)
	}
	for _, op := range r.Operations {
		switch op.Operation {
		case "getAccessToken":
			if op.Calls != 3 || op.Succeeded != 1 {
				t.Errorf("getAccessToken calls %d succeeded %d, want 3 and 1", op.Calls, op.Succeeded)
			}
			var got []string
			for _, rc := range op.Received {
				got = append(got, fmt.Sprintf("%d×%d", rc.Errcode, rc.Count))
			}
			if strings.Join(got, " ") != "40002×1 40125×1" {
				t.Errorf("getAccessToken received %v, want 40002×1 40125×1", got)
			}
			if !slices.Contains(op.NeverReceived, 40013) || slices.Contains(op.NeverReceived, 40125) {
				t.Errorf("getAccessToken never received %v: want 40013 in it and not 40125", op.NeverReceived)
			}
			if len(op.ValidationFailures) != 1 || !strings.Contains(op.ValidationFailures[0].Reason, `parameter "grant_type"`) {
				t.Errorf("getAccessToken validation failures %+v, want the grant_type reason", op.ValidationFailures)
			}
		case "getStableAccessToken":
			if op.Calls != 1 || len(op.ValidationFailures) != 1 || !strings.Contains(op.ValidationFailures[0].Reason, "extra") {
				t.Errorf("getStableAccessToken %+v, want one call failing validation on the extra field", op)
			}
			if len(op.Received) != 1 || op.Received[0].Errcode != 40097 {
				t.Errorf("getStableAccessToken received %+v, want 40097", op.Received)
			}
		default:
			t.Errorf("unexpected operation %s in a called-only report", op.Operation)
		}
	}
	if len(r.Unrouted) != 1 || r.Unrouted[0].Path != "/cgi-bin/no_such_api" {
		t.Errorf("unrouted = %+v", r.Unrouted)
	}
	if all := srv.Contract(); all.OperationsTotal != len(all.Operations) || all.OperationsTotal < 7 {
		t.Errorf("full report lists %d of %d operations", len(all.Operations), all.OperationsTotal)
	}

	// Over HTTP: the same report, and DELETE starts a new one.
	resp, err := c.Get(srv.URL + "/_sandbox/contract?called=true")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"errcodes_never_received"`) {
		t.Errorf("GET /_sandbox/contract = %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/_sandbox/contract", nil)
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("DELETE /_sandbox/contract: %v", err)
	}
	if r := srv.Contract().Called(); r.Calls != 0 || len(r.Operations) != 0 {
		t.Errorf("after DELETE the report has %d calls", r.Calls)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"getAccessToken  GET /cgi-bin/token", "errcodes received: 40002×1, 40125×1", "documented errcodes never received: ", "failed validation ×1: parameter \"grant_type\"", "no such API: GET /cgi-bin/no_such_api ×1"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

// TestResetWithSeedAndClockIsAFreshSandbox checks what replays rely on: POST /_sandbox/reset
// with a seed and a clock leaves exactly the state of a sandbox started with them.
func TestResetWithSeedAndClockIsAFreshSandbox(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 1, 1, 0, 0, 0, time.UTC)
	fresh, err := sandbox.New(sandbox.WithSeed(9), sandbox.WithFrozenClock(at))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	want, err := fresh.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	srv := sandboxtest.New(t) // seed 1, another time
	before, _ := srv.StateHash()
	resp, err := srv.Client().Post(srv.URL+"/_sandbox/reset", "application/json", strings.NewReader(`{"seed":9,"clock":"2026-05-01T09:00:00+08:00"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got, _ := srv.StateHash()
	if got != want || got == before {
		t.Errorf("state after reset {seed 9, clock} = %s, fresh sandbox with them = %s (before: %s)", got, want, before)
	}
	if now := srv.Now(); !now.Equal(at) {
		t.Errorf("clock after reset = %s, want %s", now, at)
	}

	// Refusals change nothing.
	for _, body := range []string{`{"seed":9,"platform":"wechat"}`, `{"clock":"yesterday"}`, `{"seed":-1}`} {
		resp, err := srv.Client().Post(srv.URL+"/_sandbox/reset", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("reset %s = %d, want 400", body, resp.StatusCode)
		}
		if h, _ := srv.StateHash(); h != got {
			t.Errorf("refused reset %s changed the state", body)
		}
	}
}
