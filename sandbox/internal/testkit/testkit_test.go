package testkit_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// recorder is a test that keeps its failures instead of failing, so that a test can check what
// the kit reports.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) report() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errors, "\n")
}

// TestUnchangedSeesWhatTheStoreHashDoesNot checks the kit's refusal check on changes that leave
// the stored state as it was: a fault used up, a journal event, a clock move. Each must be
// reported, and a refusal that changes nothing must not be.
func TestUnchangedSeesWhatTheStoreHashDoesNot(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	if a := k.Control(http.MethodPost, "/_sandbox/faults", map[string]any{"path": "/cgi-bin/openapi/rid/get", "errcode": -1, "times": 2}); a.Status != http.StatusCreated {
		t.Fatalf("%s, want 201", a)
	}
	code := k.Post("/cgi-bin/qrcode/create", tok, map[string]any{"action_name": "QR_LIMIT_STR_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_str": "meta"}}}).Str("url")
	// A follower's scan journals the SCAN event and stores nothing (the first scan follows).
	scanAsAlice := map[string]any{"url": code, "user": "alice"}
	if a := k.Control(http.MethodPost, "/_sandbox/wechat/scan", scanAsAlice); a.Status != http.StatusOK {
		t.Fatalf("%s, want 200", a)
	}
	for _, tc := range []struct {
		name, want string
		change     func(k *testkit.Kit)
	}{
		{"a refusal that changes nothing", "", func(k *testkit.Kit) {
			k.WantErrcode(k.Post("/cgi-bin/openapi/quota/get", tok, `{"cgi_path":"/nothing"}`), 76021)
		}},
		{"a fault used", "1 hits, 1 remaining", func(k *testkit.Kit) {
			k.WantErrcode(k.Post("/cgi-bin/openapi/rid/get", tok, `{"rid":"00000000-00000000-00000000"}`), -1)
		}},
		{"a journal event", " scan appid=", func(k *testkit.Kit) {
			if a := k.Control(http.MethodPost, "/_sandbox/wechat/scan", scanAsAlice); a.Status != http.StatusOK {
				t.Fatalf("%s, want 200", a)
			}
		}},
		{"a clock move", "clock frozen at", func(k *testkit.Kit) { k.Advance(1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			before := k.StateHash()
			k.For(rec).Unchanged(func() { tc.change(k.For(t)) })
			if k.StateHash() != before {
				t.Fatal("the change touched the store: it cannot show what the store hash misses")
			}
			got := rec.report()
			if tc.want == "" && got != "" {
				t.Errorf("Unchanged reported %q for a refusal that changed nothing", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("Unchanged reported %q, want a change naming %q", got, tc.want)
			}
		})
	}
}
