package sandbox_test

import (
	"bytes"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// TestRecordsWithALifetimeAreForgottenOnTheClock makes one record of each kind the WeChat core
// keeps for a while — tokens, a temporary QR code, a medium, a push delivery, day and month
// quota counters — and moves the clock past every lifetime: none is left, while what has no
// lifetime (the app, its permanent code) stays.
func TestRecordsWithALifetimeAreForgottenOnTheClock(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	k.Token(testkit.ServiceAppID, testkit.ServiceSecret) // and one superseded
	if a := k.Post("/cgi-bin/qrcode/create", tok, `{"action_name":"QR_SCENE","expire_seconds":60,"action_info":{"scene":{"scene_id":9}}}`); a.Str("ticket") == "" {
		t.Fatalf("temporary code: %s", a)
	}
	if a := k.Post("/cgi-bin/qrcode/create", tok, `{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":9}}}`); a.Str("ticket") == "" {
		t.Fatalf("permanent code: %s", a)
	}
	mini := k.Token(testkit.MiniAppID, testkit.MiniSecret)
	if a := k.Upload(mini, "image", "media", onePixelPNG(t)); a.Str("media_id") == "" {
		t.Fatalf("media upload: %s", a)
	}
	rcv := testkit.NewReceiver(t, testkit.MiniAppID, "tok123", strings.Repeat("k", 43), "json", "plaintext")
	if a := k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+testkit.MiniAppID+"/push", rcv.PushConfig()); a.Status != http.StatusOK {
		t.Fatalf("push config: %s", a)
	}
	if a := k.Control(http.MethodPost, "/_sandbox/wechat/reviews", map[string]any{"appid": testkit.MiniAppID, "score": 1}); a.Status >= 300 {
		t.Fatalf("review: %s", a)
	}
	rcv.Wait(1)
	lasting := []string{"wechat:token:", "wechat:qrcode:code:", "wechat:media:", "wechat:push:delivery:"}
	for _, prefix := range lasting {
		if len(k.StoredKeys(prefix)) == 0 {
			t.Fatalf("no record under %s to see forgotten", prefix)
		}
	}
	kept := append(k.StoredKeys("wechat:app:"), k.StoredKeys("wechat:qrcode:perm:")...)

	k.Advance(40 * 24 * time.Hour)
	for _, prefix := range lasting {
		if left := k.StoredKeys(prefix); len(left) > 1 || len(left) == 1 && prefix != "wechat:qrcode:code:" {
			t.Errorf("40 days on, still stored under %s: %v", prefix, left)
		}
	}
	for _, key := range k.StoredKeys("wechat:quota:") {
		if strings.Contains(key, ":day:") || strings.Contains(key, ":month:") {
			t.Errorf("40 days on, a counter of a window past is still stored: %s", key)
		}
	}
	if now := append(k.StoredKeys("wechat:app:"), k.StoredKeys("wechat:qrcode:perm:")...); strings.Join(now, " ") != strings.Join(kept, " ") {
		t.Errorf("records without a lifetime changed: %v, want %v", now, kept)
	}
	// The permanent code is the one code left, and it still shows.
	if codes := k.StoredKeys("wechat:qrcode:code:"); len(codes) != 1 {
		t.Errorf("codes 40 days on: %v, want the permanent one", codes)
	}
}

func onePixelPNG(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestTokenCallsLeaveAlmostNothingBehind makes many token calls and a few reads, then moves the
// clock 3 hours: of the records they added, at most 1 % is left (the current token and the
// counters of the day).
func TestTokenCallsLeaveAlmostNothingBehind(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	app := k.App(sandbox.WeChatAppSpec{Type: "official_account", Tier: "unlimited"})
	before := len(k.StoredKeys(""))
	const calls = 2000
	var tok string
	for range calls {
		tok = k.AppToken(app)
	}
	k.WantErrcode(k.Post("/cgi-bin/openapi/quota/get", tok, `{"cgi_path":"/cgi-bin/token"}`), 0)
	grown := len(k.StoredKeys("")) - before
	k.Advance(3 * time.Hour)
	left := len(k.StoredKeys("")) - before
	if share := float64(left) / calls; share > 0.01 {
		t.Errorf("%d token calls added %d records; 3 hours on %d are left (%.2f %%), want at most 1 %%", calls, grown, left, 100*share)
	}
}
