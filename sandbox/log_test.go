package sandbox_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// jsonLog collects a JSON handler's lines (pushes log from their own goroutines) and reads them
// back decoded.
type jsonLog struct{ logBuffer }

// lines decodes every line written so far; a line that is no JSON object fails the test.
func (b *jsonLog) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// find returns the lines with message msg whose fields include want (compared as JSON
// renders them: numbers as float64).
func (b *jsonLog) find(t *testing.T, msg string, want map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
next:
	for _, l := range b.lines(t) {
		if l["msg"] != msg {
			continue
		}
		for k, v := range want {
			if l[k] != v {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// one is find that wants exactly one line.
func (b *jsonLog) one(t *testing.T, msg string, want map[string]any) map[string]any {
	t.Helper()
	got := b.find(t, msg, want)
	if len(got) != 1 {
		t.Fatalf("%d lines %q with %v, want 1; the log:\n%s", len(got), msg, want, b.String())
	}
	return got[0]
}

func loggedKit(t *testing.T, level slog.Level) (*testkit.Kit, *jsonLog) {
	buf := &jsonLog{}
	logger := slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level}))
	return testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithLogger(logger))), buf
}

// TestRequestLogLine: a refused token request logs one line at info with what the journal says
// of it — method, path, appid, status, errcode, the precise reason, the rid — and a duration.
func TestRequestLogLine(t *testing.T) {
	t.Parallel()
	k, buf := loggedKit(t, slog.LevelInfo)
	a := k.Do(http.MethodGet, testkit.TokenURL(testkit.ServiceAppID, "not-the-secret"), nil)
	k.WantErrcode(a, 40125)
	entries := k.Control(http.MethodGet, "/_sandbox/requests?path=/cgi-bin/token", nil)
	list, _ := entries.JSON["requests"].([]any)
	if len(list) != 1 {
		t.Fatalf("journal: %s", entries)
	}
	entry := list[0].(map[string]any)
	reason, _ := entry["reason"].(string)
	if reason == "" {
		t.Fatalf("the journal entry has no reason: %v", entry)
	}
	line := buf.one(t, "request", map[string]any{"path": "/cgi-bin/token"})
	for k, want := range map[string]any{
		"level": "INFO", "method": "GET", "appid": testkit.ServiceAppID, "status": float64(200),
		"errcode": float64(40125), "reason": reason, "rid": entry["id"], "op": "getAccessToken",
	} {
		if line[k] != want {
			t.Errorf("line %s = %v, want %v (line %v)", k, line[k], want, line)
		}
	}
	if !strings.Contains(a.Str("errmsg"), line["rid"].(string)) {
		t.Errorf("rid %v is not the errmsg's %q", line["rid"], a.Str("errmsg"))
	}
	if d, ok := line["duration"].(float64); !ok || d <= 0 {
		t.Errorf("duration = %v, want a positive number of nanoseconds", line["duration"])
	}
	// The control plane's own requests are logged too (they have no rid).
	buf.one(t, "request", map[string]any{"path": "/_sandbox/requests", "status": float64(200)})
}

// TestWarnLevelQuietsRequests: at warn, requests, clock moves and resets write no line.
func TestWarnLevelQuietsRequests(t *testing.T) {
	t.Parallel()
	k, buf := loggedKit(t, slog.LevelWarn)
	k.WantErrcode(k.Do(http.MethodGet, testkit.TokenURL(testkit.ServiceAppID, "not-the-secret"), nil), 40125)
	k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	if a := k.Control(http.MethodPost, "/_sandbox/clock", map[string]any{"advance": "1h"}); a.Status != http.StatusOK {
		t.Fatalf("clock: %s", a)
	}
	if a := k.Control(http.MethodPost, "/_sandbox/reset", map[string]any{"platform": "jincheng"}); a.Status != http.StatusOK {
		t.Fatalf("reset: %s", a)
	}
	for _, msg := range []string{"request", "clock moved", "reset"} {
		if got := buf.find(t, msg, nil); len(got) != 0 {
			t.Errorf("%d %q lines at warn: %v", len(got), msg, got)
		}
	}
}

// TestEventLogLines: a clock move (by the control verb and by the Go twin), a reset, a fault
// firing and a push delivery each write their line.
func TestEventLogLines(t *testing.T) {
	t.Parallel()
	k, buf := loggedKit(t, slog.LevelInfo)

	if a := k.Control(http.MethodPost, "/_sandbox/clock", map[string]any{"advance": "2h"}); a.Status != http.StatusOK {
		t.Fatalf("clock: %s", a)
	}
	buf.one(t, "clock moved", map[string]any{"move": "advance", "by": float64(2 * time.Hour), "frozen": true})
	k.SetTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	buf.one(t, "clock moved", map[string]any{"move": "set", "now": "2030-01-02T03:04:05Z"})
	if a := k.Control(http.MethodPost, "/_sandbox/clock", map[string]any{"real": true}); a.Status != http.StatusOK {
		t.Fatalf("clock: %s", a)
	}
	buf.one(t, "clock moved", map[string]any{"move": "real", "frozen": false})

	if a := k.Control(http.MethodPost, "/_sandbox/reset", map[string]any{"platform": "jincheng"}); a.Status != http.StatusOK {
		t.Fatalf("reset: %s", a)
	}
	buf.one(t, "reset", map[string]any{"platform": "jincheng"})
	if err := k.Srv.Reset(); err != nil {
		t.Fatal(err)
	}
	buf.one(t, "reset", map[string]any{"platform": "all"})

	f := k.Control(http.MethodPost, "/_sandbox/faults", map[string]any{"path": "/cgi-bin/token", "errcode": 45009, "times": 1})
	if f.Status != http.StatusCreated || f.Str("id") == "" {
		t.Fatalf("fault: %s", f)
	}
	k.WantErrcode(k.Do(http.MethodGet, testkit.TokenURL(testkit.ServiceAppID, testkit.ServiceSecret), nil), 45009)
	buf.one(t, "fault fired", map[string]any{"fault": f.Str("id"), "path": "/cgi-bin/token", "errcode": float64(45009)})
	buf.one(t, "request", map[string]any{"path": "/cgi-bin/token", "fault": f.Str("id"), "errcode": float64(45009)})

	rcv := testkit.NewReceiver(t, testkit.ServiceAppID, "logtok", strings.Repeat("l", 43), "json", "plaintext")
	if a := k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+testkit.ServiceAppID+"/push", rcv.PushConfig()); a.Status != http.StatusOK {
		t.Fatalf("push config: %s", a)
	}
	buf.one(t, "push URL verification", map[string]any{"url": rcv.URL + "/wechat", "outcome": "verified"})
	if a := k.Control(http.MethodPost, "/_sandbox/wechat/apps/"+testkit.ServiceAppID+"/followers", map[string]any{"user": "bob"}); a.Status != http.StatusCreated {
		t.Fatalf("follow: %s", a)
	}
	rcv.Wait(1)
	k.WaitPushes()
	buf.one(t, "push", map[string]any{
		"url": rcv.URL + "/wechat", "event": "subscribe", "appid": testkit.ServiceAppID,
		"outcome": "delivered", "status": float64(200), "attempt": float64(1), "level": "INFO",
	})
}

// TestNamespaceLogLines: a namespace's lines carry its name; the default sandbox's carry none.
func TestNamespaceLogLines(t *testing.T) {
	t.Parallel()
	buf := &jsonLog{}
	th := newTestHub(t, sandbox.WithLogger(slog.New(slog.NewJSONHandler(buf, nil))))
	th.create(`{"name":"team-a"}`)
	th.token("/ns/team-a", "")
	th.token("", "")
	ns := buf.one(t, "request", map[string]any{"path": "/cgi-bin/token", "namespace": "team-a"})
	if ns["appid"] != fixtureAppID {
		t.Errorf("namespace line = %v", ns)
	}
	var plain int
	for _, l := range buf.find(t, "request", map[string]any{"path": "/cgi-bin/token"}) {
		if _, named := l["namespace"]; !named {
			plain++
		}
	}
	if plain != 1 {
		t.Errorf("%d lines of the default sandbox's token request without a namespace, want 1:\n%s", plain, buf)
	}
}
