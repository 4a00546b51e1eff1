package sandbox_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// platformEntries returns the keys and values of the stored state under prefix.
func platformEntries(k *testkit.Kit, prefix string) []string {
	k.T().Helper()
	snap := k.Control(http.MethodGet, "/_sandbox/state", nil)
	var out []string
	for _, it := range snap.JSON["entries"].([]any) {
		e := it.(map[string]any)
		if key := e["key"].(string); strings.HasPrefix(key, prefix) {
			value, _ := json.Marshal(e["value"])
			raw, _ := json.Marshal(e["raw"])
			out = append(out, key+"="+string(value)+string(raw))
		}
	}
	return out
}

// TestOnePlatformResetLeavesNothingOfThatPlatform uses each platform, quota counters included,
// then resets it alone: what is stored for it is then exactly what a fresh sandbox stores, and the
// other platform keeps what it had.
func TestOnePlatformResetLeavesNothingOfThatPlatform(t *testing.T) {
	t.Parallel()
	fresh := testkit.New(t)
	k := testkit.New(t)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	if a := k.Post("/cgi-bin/qrcode/create", tok, `{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":7}}}`); a.Str("ticket") == "" {
		t.Fatalf("qrcode/create: %s", a)
	}
	if used := k.Post("/cgi-bin/openapi/quota/get", tok, `{"cgi_path":"/cgi-bin/token"}`).JSON.Get("quota", "used"); used != float64(1) {
		t.Fatalf("token quota used = %v, want 1", used)
	}
	// Every stored key belongs to a platform, so that a platform's reset can find it.
	for _, e := range platformEntries(k, "") {
		if !strings.HasPrefix(e, "wechat:") && !strings.HasPrefix(e, "jincheng:") {
			t.Errorf("stored key of no platform: %.80s", e)
		}
	}
	session := k.Do(http.MethodPost, "/jincheng/admin/v1/login", map[string]string{"account": testkit.JinchengVendor, "password": testkit.JinchengPassword})
	if session.Status != http.StatusOK {
		t.Fatalf("portal login: %s", session)
	}
	for _, platform := range []string{"wechat", "jincheng"} {
		other := map[string]string{"wechat": "jincheng:", "jincheng": "wechat:"}[platform]
		kept := platformEntries(k, other)
		if a := k.Control(http.MethodPost, "/_sandbox/reset", map[string]string{"platform": platform}); a.Status != http.StatusOK {
			t.Fatalf("reset %s: %s", platform, a)
		}
		if got, want := platformEntries(k, platform+":"), platformEntries(fresh, platform+":"); !slices.Equal(got, want) {
			gone, added := diff(want, got)
			t.Errorf("after a reset of %s its state differs from a fresh one's: missing %q, left over %q", platform, gone, added)
		}
		if got := platformEntries(k, other); !slices.Equal(got, kept) {
			t.Errorf("a reset of %s changed the other platform's state", platform)
		}
	}
	tok = k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	if used := k.Post("/cgi-bin/openapi/quota/get", tok, `{"cgi_path":"/cgi-bin/token"}`).JSON.Get("quota", "used"); used != float64(1) {
		t.Errorf("token quota used after a reset and one token = %v, want 1", used)
	}
}

func diff(want, got []string) (missing, extra []string) {
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return missing, extra
}

// TestOnePlatformResetAfterARestartMakesNewIDs creates apps around a restart and one-platform
// resets: no generated id repeats, so no creation collides with an app made before.
func TestOnePlatformResetAfterARestartMakesNewIDs(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	seen := map[string]bool{}
	create := func(k *testkit.Kit) {
		t.Helper()
		a := k.Control(http.MethodPost, "/_sandbox/wechat/apps", `{"type":"mini_program"}`)
		if a.Status != http.StatusCreated {
			t.Fatalf("create an app: %s", a)
		}
		if id := a.Str("appid"); seen[id] {
			t.Errorf("appid %s was generated before", id)
		} else {
			seen[id] = true
		}
	}
	for run := range 3 {
		sb, err := sandbox.New(sandbox.WithStorePath(path))
		if err != nil {
			t.Fatal(err)
		}
		k := testkit.Wrap(t, sandboxtest.Serve(t, sb))
		if run > 0 {
			create(k) // right after the restart
		}
		if a := k.Control(http.MethodPost, "/_sandbox/reset", `{"platform":"jincheng"}`); a.Status != http.StatusOK {
			t.Fatalf("reset jincheng: %s", a)
		}
		create(k)
		if err := sb.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestResetWorldAnswersLikeAFreshOne leaves faults, quota windows and deliveries behind, resets,
// and then makes the same requests as a fresh sandbox: the answers and the state are the same
// bytes, fault ids included.
func TestResetWorldAnswersLikeAFreshOne(t *testing.T) {
	t.Parallel()
	script := func(k *testkit.Kit) string {
		var b strings.Builder
		b.Write(k.Control(http.MethodPost, "/_sandbox/faults", `{"path":"/cgi-bin/qrcode/create","errcode":45009,"times":1}`).Raw)
		tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
		b.WriteString(tok)
		b.Write(k.Post("/cgi-bin/qrcode/create", tok, `{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":1}}}`).Raw)
		b.Write(k.Post("/cgi-bin/qrcode/create", tok, `{"action_name":"QR_SCENE","expire_seconds":60,"action_info":{"scene":{"scene_id":2}}}`).Raw)
		b.Write(k.Control(http.MethodGet, "/_sandbox/faults", nil).Raw)
		b.WriteString(k.StateHash())
		return b.String()
	}
	fresh := script(testkit.New(t))
	k := testkit.New(t)
	script(k)
	k.Control(http.MethodPost, "/_sandbox/faults", `{"path":"/cgi-bin/token","latency_ms":1}`)
	if a := k.Control(http.MethodPost, "/_sandbox/reset", nil); a.Status != http.StatusOK {
		t.Fatalf("reset: %s", a)
	}
	if again := script(k); again != fresh {
		t.Errorf("after a reset the same requests answered differently:\nfresh %s\nreset %s", fresh, again)
	}
}
