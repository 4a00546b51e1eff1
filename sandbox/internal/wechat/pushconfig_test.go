package wechat_test

import (
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// echoReceiver answers WeChat's handshake by echoing echostr (when the signature is right for
// token) and every POST with "success"; it counts the requests it got.
func echoReceiver(t *testing.T, token string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		q := r.URL.Query()
		if r.Method == http.MethodGet {
			if q.Get("signature") != sha1Sorted(token, q.Get("timestamp"), q.Get("nonce")) {
				io.WriteString(w, "bad signature")
				return
			}
			io.WriteString(w, q.Get("echostr"))
			return
		}
		io.WriteString(w, "success")
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestPushConfigHandshake(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	app := k.App(sandbox.WeChatAppSpec{Type: "mini_program"})
	recv, hits := echoReceiver(t, "Token123")
	path := "/_sandbox/wechat/apps/" + app.AppID + "/push"

	got := k.Control(http.MethodPut, path, map[string]any{"url": recv.URL + "/wx", "token": "Token123", "format": "xml", "mode": "safe"})
	if got.Status != http.StatusOK {
		t.Fatalf("PUT push = %s, want 200", got)
	}
	if hits.Load() != 1 {
		t.Errorf("receiver got %d requests, want the 1 handshake", hits.Load())
	}
	if key := got.Str("encoding_aes_key"); len(key) != 43 || got.Str("format") != "xml" || got.Str("mode") != "safe" {
		t.Errorf("saved config = %s; want a generated 43-character key, xml, safe", got.Raw)
	}
	a, _ := k.Srv.WeChat().App(app.AppID)
	if a.Token != "Token123" || a.EncodingAESKey != got.Str("encoding_aes_key") {
		t.Errorf("app token/key = %q/%q, want the configuration's", a.Token, a.EncodingAESKey)
	}
	again := k.Control(http.MethodGet, path, nil)
	if again.Status != http.StatusOK || again.Str("url") != recv.URL+"/wx" {
		t.Errorf("GET push = %s, want the saved configuration", again)
	}
	list := k.Control(http.MethodGet, "/_sandbox/wechat/push/deliveries?appid="+app.AppID, nil)
	if d, _ := list.JSON["deliveries"].([]any); list.Status != http.StatusOK || len(d) != 0 {
		t.Errorf("deliveries = %s, want 200 and none (a handshake is not a delivery)", list)
	}
}

func TestPushConfigRefusals(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	app := k.App(sandbox.WeChatAppSpec{Type: "mini_program"})
	good, _ := echoReceiver(t, "Token123")
	wrongEcho := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "success") }))
	t.Cleanup(wrongEcho.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	path := "/_sandbox/wechat/apps/" + app.AppID + "/push"
	tests := []struct {
		name       string
		path       string
		body       map[string]any
		wantStatus int
		wantCode   string
	}{
		{"receiver does not echo", path, map[string]any{"url": wrongEcho.URL, "token": "Token123"}, 422, "push_verification_failed"},
		{"receiver checks another token", path, map[string]any{"url": good.URL, "token": "Other456"}, 422, "push_verification_failed"},
		{"receiver down", path, map[string]any{"url": closed.URL, "token": "Token123"}, 422, "push_verification_failed"},
		{"not http", path, map[string]any{"url": "ftp://127.0.0.1/x", "token": "Token123"}, 400, "invalid_push_config"},
		{"short token", path, map[string]any{"url": good.URL, "token": "ab"}, 400, "Invalid"},
		{"bad key", path, map[string]any{"url": good.URL, "token": "Token123", "encoding_aes_key": "short"}, 400, "Invalid"},
		{"bad mode", path, map[string]any{"url": good.URL, "token": "Token123", "mode": "aes"}, 400, "Invalid"},
		{"unknown field", path, map[string]any{"url": good.URL, "token": "Token123", "secret": "x"}, 400, "Invalid"},
		{"unknown app", "/_sandbox/wechat/apps/wx0000000000000000/push", map[string]any{"url": good.URL, "token": "Token123"}, 404, "app_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := k.For(t)
			// A refusal after the handshake still called the receiver, and the journal says so.
			var handshake []string
			if tt.wantCode == "push_verification_failed" {
				handshake = []string{"push_verify"}
			}
			k.UnchangedExcept(handshake, func() {
				got := k.Control(http.MethodPut, tt.path, tt.body)
				if got.Status != tt.wantStatus || !strings.EqualFold(got.Code(), tt.wantCode) {
					t.Errorf("PUT = %s, want %d %s", got, tt.wantStatus, tt.wantCode)
				}
			})
		})
	}
	if got := k.Control(http.MethodGet, path, nil); got.Status != http.StatusNotFound {
		t.Errorf("GET push after refusals = %s, want 404 push_not_configured", got)
	}
}

// sha1Sorted is WeChat's signature, written here from the reference rather than taken from the
// sandbox: sha1 of the sorted parts, joined.
func sha1Sorted(parts ...string) string {
	s := append([]string(nil), parts...)
	sort.Strings(s)
	sum := sha1.Sum([]byte(strings.Join(s, "")))
	return hex.EncodeToString(sum[:])
}

func TestDeliveriesListRefusesBadLimit(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	for _, q := range []string{"limit=-1", "limit=ten"} {
		k.Unchanged(func() {
			got := k.Control(http.MethodGet, "/_sandbox/wechat/push/deliveries?"+q, nil)
			if got.Status != http.StatusBadRequest || got.Code() != "invalid_filter" {
				t.Errorf("deliveries?%s = %s, want 400 invalid_filter", q, got)
			}
		})
	}
	if got := k.Control(http.MethodGet, "/_sandbox/wechat/apps/wx0000000000000000/push", nil); got.Status != http.StatusNotFound {
		t.Errorf("GET push of an unknown app = %s, want 404", got)
	}
}
