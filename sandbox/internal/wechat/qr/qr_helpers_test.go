package qr_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// qrEnv is a sandbox for the QR families' black-box tests, with small helpers around its client.
type qrEnv struct {
	t   testing.TB
	srv *sandboxtest.Server
}

func newQREnv(t testing.TB) *qrEnv {
	t.Helper()
	return &qrEnv{t: t, srv: sandboxtest.New(t)}
}

// app creates an app; tier defaults to unlimited so that the 5-a-second limit of the QR-jump
// APIs does not get in the way of tests about something else.
func (e *qrEnv) app(s sandbox.WeChatAppSpec) *sandbox.WeChatApp {
	e.t.Helper()
	if s.Tier == "" {
		s.Tier = "unlimited"
	}
	a, err := e.srv.WeChat().CreateApp(s)
	if err != nil {
		e.t.Fatalf("CreateApp(%+v): %v", s, err)
	}
	return a
}

func (e *qrEnv) serviceAccount() *sandbox.WeChatApp {
	return e.app(sandbox.WeChatAppSpec{Type: "official_account", ServiceType: "service"})
}

func (e *qrEnv) miniProgram() *sandbox.WeChatApp {
	released := true
	return e.app(sandbox.WeChatAppSpec{Type: "mini_program", Released: &released})
}

// token fetches an access token for a.
func (e *qrEnv) token(a *sandbox.WeChatApp) string {
	e.t.Helper()
	q := url.Values{"grant_type": {"client_credential"}, "appid": {a.AppID}, "secret": {a.Secret}}
	_, body := e.do(http.MethodGet, "https://api.weixin.qq.com/cgi-bin/token?"+q.Encode(), nil)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		e.t.Fatalf("token for %s: %s", a.AppID, body)
	}
	return out.AccessToken
}

// do sends a request; body, when not nil, is JSON-encoded unless it is a string or []byte.
func (e *qrEnv) do(method, u string, body any) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	if strings.HasPrefix(u, "/") {
		u = e.srv.URL + u
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, out
}

// wx calls a WeChat API with a token and returns the decoded JSON answer.
func (e *qrEnv) wx(method, path, token string, body any) map[string]any {
	e.t.Helper()
	u := "https://api.weixin.qq.com" + path
	if token != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "access_token=" + url.QueryEscape(token)
	}
	resp, raw := e.do(method, u, body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s %s: status %d: %s", method, path, resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
	return out
}

// post calls a POST WeChat API.
func (e *qrEnv) post(path, token string, body any) map[string]any {
	e.t.Helper()
	return e.wx(http.MethodPost, path, token, body)
}

// ctl calls a control-plane verb and decodes its answer.
func (e *qrEnv) ctl(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	resp, raw := e.do(method, path, body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
	return resp.StatusCode, out
}

func (e *qrEnv) hash() string {
	e.t.Helper()
	h, err := e.srv.StateHash()
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// advance moves the clock one second on, past the 5-a-second windows.
func (e *qrEnv) advance(d time.Duration) { e.srv.Advance(d) }

// refused sends a request that must fail with code and leave the state as it was.
func (e *qrEnv) refused(path, token string, body any, code int) map[string]any {
	e.t.Helper()
	before := e.hash()
	out := e.post(path, token, body)
	if got := errcode(out); got != code {
		e.t.Errorf("POST %s %v: errcode %d (%v), want %d", path, body, got, out["errmsg"], code)
	}
	if after := e.hash(); after != before {
		e.t.Errorf("POST %s %v: refused with %d but the state changed", path, body, code)
	}
	return out
}

// ok checks a plain success.
func (e *qrEnv) ok(path, token string, body any) map[string]any {
	e.t.Helper()
	out := e.post(path, token, body)
	if got := errcode(out); got != 0 || out["errmsg"] != "ok" {
		e.t.Fatalf("POST %s %v: %v, want errcode 0 ok", path, body, out)
	}
	return out
}

// patchState rewrites stored values through the control plane's snapshot verbs, the way a test
// prepares a state that would take too many requests to reach.
func (e *qrEnv) patchState(values map[string]string) {
	e.t.Helper()
	status, snap := e.ctl(http.MethodGet, "/_sandbox/state", nil)
	if status != http.StatusOK {
		e.t.Fatalf("GET state: %d", status)
	}
	entries := snap["entries"].([]any)
	for k, v := range values {
		found := false
		for _, it := range entries {
			m := it.(map[string]any)
			if m["key"] == k {
				m["value"] = json.RawMessage(v)
				found = true
			}
		}
		if !found {
			entries = append(entries, map[string]any{"key": k, "value": json.RawMessage(v)})
		}
	}
	if status, out := e.ctl(http.MethodPut, "/_sandbox/state", map[string]any{"entries": entries}); status != http.StatusOK {
		e.t.Fatalf("PUT state: %d %v", status, out)
	}
}

func errcode(m map[string]any) int {
	f, _ := m["errcode"].(float64)
	return int(f)
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sameKeys(m map[string]any, want ...string) bool {
	slices.Sort(want)
	return reflect.DeepEqual(keys(m), want)
}
