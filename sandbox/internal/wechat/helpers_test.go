package wechat_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// Fixture credentials (fixtures/wechat.yaml).
const (
	serviceAppID  = "wx5a1d0c0e00000001"
	serviceSecret = "5a1d0c0e5a1d0c0e5a1d0c0e00000001"
	miniAppID     = "wx5a1d0c0e00000002"
)

// answer is a decoded HTTP answer.
type answer struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (a answer) errcode() int {
	v, ok := a.json["errcode"].(float64)
	if !ok {
		return 0
	}
	return int(v)
}

func (a answer) str(key string) string {
	s, _ := a.json[key].(string)
	return s
}

func do(t testing.TB, srv *sandboxtest.Server, method, url string, body any) answer {
	t.Helper()
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
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	if !strings.HasPrefix(url, "http") {
		url = srv.URL + url
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.json); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v\n%s", method, url, err, raw)
		}
	}
	return a
}

// wantErrcode fails unless the answer is WeChat's envelope with errcode want.
func wantErrcode(t testing.TB, a answer, want int) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", a.status, a.raw)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json; encoding=utf-8" {
		t.Errorf("Content-Type = %q, want WeChat's", ct)
	}
	if got := a.errcode(); got != want {
		t.Fatalf("errcode = %d, want %d (body %s)", got, want, a.raw)
	}
}

// token fetches an access token for appid/secret.
func token(t testing.TB, srv *sandboxtest.Server, appid, secret string) string {
	t.Helper()
	a := do(t, srv, "GET", "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid="+appid+"&secret="+secret, nil)
	tok := a.str("access_token")
	if tok == "" {
		t.Fatalf("no token: %s", a.raw)
	}
	return tok
}

// newApp creates an app through the Go twin of the control verb.
func newApp(t testing.TB, srv *sandboxtest.Server, spec sandbox.WeChatAppSpec) *sandbox.WeChatApp {
	t.Helper()
	app, err := srv.WeChat().CreateApp(spec)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// unchanged runs fn and fails if it changed the stored state.
func unchanged(t testing.TB, srv *sandboxtest.Server, fn func()) {
	t.Helper()
	before, err := srv.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	fn()
	after, err := srv.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("state changed by a refused request")
	}
}

func mustRegexp(p string) *regexp.Regexp { return regexp.MustCompile(p) }
