package sandbox_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// FuzzRequestPath sends arbitrary methods, paths, queries and bodies through the whole pipeline
// (routing, validation, authentication, quotas, handlers): every answer must be a well-formed
// JSON envelope or a documented non-JSON answer, never a 5xx or a panic.
func FuzzRequestPath(f *testing.F) {
	for _, seed := range []struct{ method, target, body string }{
		{"GET", "/cgi-bin/token?grant_type=client_credential&appid=" + testkit.ServiceAppID + "&secret=" + testkit.ServiceSecret, ""},
		{"POST", "/cgi-bin/stable_token", `{"grant_type":"client_credential","appid":"` + testkit.ServiceAppID + `","secret":"` + testkit.ServiceSecret + `","force_refresh":true}`},
		{"POST", "/cgi-bin/openapi/quota/get?access_token=86_x", `{"cgi_path":"/cgi-bin/token"}`},
		{"POST", "/cgi-bin/clear_quota/v2?appid=" + testkit.ServiceAppID, `{"appsecret":1}`},
		{"POST", "/_sandbox/wechat/apps", `{"type":"mini_program","tier":"test"}`},
		{"POST", "/_sandbox/clock", `{"advance":"1h"}`},
		{"PATCH", "/_sandbox/wechat/apps/" + testkit.MiniAppID, `{"released":false}`},
		{"DELETE", "/cgi-bin/token", `[]`},
		{"GET", "/%zz", ""},
	} {
		f.Add(seed.method, seed.target, []byte(seed.body))
	}
	sb, err := sandbox.New(sandbox.WithSeed(1))
	if err != nil {
		f.Fatal(err)
	}
	defer sb.Close()
	h := sb.Handler()
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(strings.ToUpper(method), "http://sandbox"+target, bytes.NewReader(body))
		if err != nil {
			return // not a request any client could send
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: status %d: %s", method, target, rec.Code, rec.Body.Bytes())
		}
		ct := rec.Header().Get("Content-Type")
		if strings.HasPrefix(ct, "application/json") && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: invalid JSON: %s", method, target, rec.Body.Bytes())
		}
		if rec.Code == http.StatusOK && ct == "" && rec.Body.Len() > 0 {
			t.Fatalf("%s %s: an answer without a Content-Type", method, target)
		}
	})
}
