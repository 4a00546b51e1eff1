package sandbox_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// sseEvent is one server-sent event.
type sseEvent struct{ name, id, data string }

// openStream opens GET /_sandbox/requests/stream?query and returns its events as they come.
func openStream(t *testing.T, k *testkit.Kit, query, lastID string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, k.Srv.URL+"/_sandbox/requests/stream?"+query, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := k.Srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 64)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = line[len("event: "):]
			case strings.HasPrefix(line, "id: "):
				ev.id = line[len("id: "):]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[len("data: "):]
			}
		}
	}()
	return out
}

func nextEvent(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sseEvent{}
}

// TestRequestStream follows the journal: the kept entries that match come first, then each new
// one; a reset says so; Last-Event-ID resumes after what the client saw; filters apply.
func TestRequestStream(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	bad := func() {
		k.Do(http.MethodGet, testkit.APIHost+"/cgi-bin/token?grant_type=client_credential&appid=x&secret=y", nil)
	}
	bad()
	k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	events := openStream(t, k, "path=/cgi-bin/token&errcode=40013", "")
	first := nextEvent(t, events)
	var e struct {
		Seq     uint64
		Path    string
		Errcode int
		Reason  string
	}
	if err := json.Unmarshal([]byte(first.data), &e); err != nil || first.name != "entry" || e.Errcode != 40013 || e.Reason == "" {
		t.Fatalf("first event = %+v (%v)", first, err)
	}
	bad()
	live := nextEvent(t, events)
	if live.name != "entry" || !strings.Contains(live.data, `"errcode":40013`) || live.id == first.id {
		t.Fatalf("live event = %+v", live)
	}
	if a := k.Control(http.MethodPost, "/_sandbox/reset", nil); a.Status != http.StatusOK {
		t.Fatalf("reset: %s", a)
	}
	if ev := nextEvent(t, events); ev.name != "reset" {
		t.Fatalf("after a reset: %+v, want the reset event", ev)
	}
	bad()
	if ev := nextEvent(t, events); ev.name != "entry" || !strings.Contains(ev.data, `"errcode":40013`) {
		t.Fatalf("after the reset: %+v", ev)
	}

	// A client resuming after seq 1 gets only what came later.
	bad()
	resumed := openStream(t, k, "path=/cgi-bin/token", "1")
	ev := nextEvent(t, resumed)
	if ev.id == "1" || ev.name != "entry" {
		t.Errorf("resumed stream began with %+v", ev)
	}
	k.RefusedCode("stream errcode filter", 400, "invalid", func() testkit.Answer {
		return k.Control(http.MethodGet, "/_sandbox/requests/stream?errcode=abc", nil)
	})
}

// TestConsoleToken: with an admin token, the console asks for it; ?token= with the right one
// sets the cookie that every guarded route then accepts, a wrong one sets nothing.
func TestConsoleToken(t *testing.T) {
	t.Parallel()
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithAdminToken("tok-c")))
	c := k.Srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(path, cookie string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, k.Srv.URL+path, nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "citysandbox_admin", Value: cookie})
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := get("/_sandbox/console/", ""); r.StatusCode != 401 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("console without the token: %d %s, want the 401 page", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if r := get("/_sandbox/console/?token=wrong", ""); r.StatusCode != 401 || len(r.Cookies()) != 0 {
		t.Errorf("a wrong token: %d, cookies %v", r.StatusCode, r.Cookies())
	}
	r := get("/_sandbox/console/?token=tok-c", "")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/_sandbox/console/" || len(r.Cookies()) != 1 || !r.Cookies()[0].HttpOnly {
		t.Fatalf("the right token: %d %s %v", r.StatusCode, r.Header.Get("Location"), r.Cookies())
	}
	if r := get("/_sandbox/clock", r.Cookies()[0].Value); r.StatusCode != 200 {
		t.Errorf("clock with the cookie: %d", r.StatusCode)
	}
	if r := get("/_sandbox/clock", "wrong"); r.StatusCode != 401 {
		t.Errorf("clock with a wrong cookie: %d", r.StatusCode)
	}
}
