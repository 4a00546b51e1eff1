package wechat_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
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

func controlDo(t *testing.T, srv *sandboxtest.Server, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: answer %s is not JSON: %v", method, path, raw, err)
	}
	return resp.StatusCode, out
}

func newMiniProgram(t *testing.T, srv *sandboxtest.Server) *sandbox.WeChatApp {
	t.Helper()
	app, err := srv.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "mini_program"})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func TestPushConfigHandshake(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	app := newMiniProgram(t, srv)
	recv, hits := echoReceiver(t, "Token123")
	path := "/_sandbox/wechat/apps/" + app.AppID + "/push"

	status, got := controlDo(t, srv, http.MethodPut, path, map[string]any{"url": recv.URL + "/wx", "token": "Token123", "format": "xml", "mode": "safe"})
	if status != http.StatusOK {
		t.Fatalf("PUT push = %d %v, want 200", status, got)
	}
	if hits.Load() != 1 {
		t.Errorf("receiver got %d requests, want the 1 handshake", hits.Load())
	}
	if key, _ := got["encoding_aes_key"].(string); len(key) != 43 || got["format"] != "xml" || got["mode"] != "safe" {
		t.Errorf("saved config = %v; want a generated 43-character key, xml, safe", got)
	}
	a, _ := srv.WeChat().App(app.AppID)
	if a.Token != "Token123" || a.EncodingAESKey != got["encoding_aes_key"] {
		t.Errorf("app token/key = %q/%q, want the configuration's", a.Token, a.EncodingAESKey)
	}
	status, again := controlDo(t, srv, http.MethodGet, path, nil)
	if status != http.StatusOK || again["url"] != recv.URL+"/wx" {
		t.Errorf("GET push = %d %v, want the saved configuration", status, again)
	}
	status, list := controlDo(t, srv, http.MethodGet, "/_sandbox/wechat/push/deliveries?appid="+app.AppID, nil)
	if d, _ := list["deliveries"].([]any); status != http.StatusOK || len(d) != 0 {
		t.Errorf("deliveries = %d %v, want 200 and none (a handshake is not a delivery)", status, list)
	}
}

func TestPushConfigRefusals(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	app := newMiniProgram(t, srv)
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
			before, _ := srv.StateHash()
			status, got := controlDo(t, srv, http.MethodPut, tt.path, tt.body)
			code := ""
			if e, ok := got["error"].(map[string]any); ok {
				code, _ = e["code"].(string)
			}
			if status != tt.wantStatus || !strings.EqualFold(code, tt.wantCode) {
				t.Errorf("PUT = %d %v, want %d %s", status, got, tt.wantStatus, tt.wantCode)
			}
			if after, _ := srv.StateHash(); after != before {
				t.Error("a refused configuration changed the state")
			}
		})
	}
	if status, got := controlDo(t, srv, http.MethodGet, path, nil); status != http.StatusNotFound {
		t.Errorf("GET push after refusals = %d %v, want 404 push_not_configured", status, got)
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
	srv := sandboxtest.New(t)
	for _, q := range []string{"limit=-1", "limit=ten"} {
		unchanged(t, srv, func() {
			status, got := controlDo(t, srv, http.MethodGet, "/_sandbox/wechat/push/deliveries?"+q, nil)
			if e, _ := got["error"].(map[string]any); status != http.StatusBadRequest || e["code"] != "invalid_filter" {
				t.Errorf("deliveries?%s = %d %v, want 400 invalid_filter", q, status, got)
			}
		})
	}
	if status, got := controlDo(t, srv, http.MethodGet, "/_sandbox/wechat/apps/wx0000000000000000/push", nil); status != http.StatusNotFound {
		t.Errorf("GET push of an unknown app = %d %v, want 404", status, got)
	}
}
