package sandbox_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// FuzzRequestPath sends arbitrary methods, paths, queries and bodies through the whole pipeline
// (routing, validation, authentication, quotas, handlers): every answer must be a well-formed
// JSON envelope or a documented non-JSON answer, never a 5xx, a panic or an internal error.
// WeChat answers an internal error as HTTP 200 errcode -1 (the review family: -10008), so the
// property also reads the answer and the request's journal entry, which records the reason.
// Each input starts from the same fresh sandbox: an input may install faults, move the clock or
// reset, and must not decide what the next one sees.
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
		{"POST", "/_sandbox/faults", `{"path":"/cgi-bin/token","errcode":-1}`},
		{"POST", "/_sandbox/reset", `{"seed":7,"clock":"2027-01-01T00:00:00Z"}`},
	} {
		f.Add(seed.method, seed.target, []byte(seed.body))
	}
	spec, err := sandbox.LoadSpec()
	if err != nil {
		f.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(strings.ToUpper(method), "http://sandbox"+target, bytes.NewReader(body))
		if err != nil {
			return // not a request any client could send
		}
		sb, err := sandbox.New(sandbox.WithLoadedSpec(spec), sandbox.WithSeed(1), sandbox.WithFrozenClock(start))
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		h := sb.Handler()
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
		// The request's own journal entry: the sandbox was fresh, so it is the only request entry.
		list := httptest.NewRecorder()
		h.ServeHTTP(list, httptest.NewRequest(http.MethodGet, "/_sandbox/requests", nil))
		var journal struct {
			Requests []struct {
				Platform string `json:"platform"`
				Errcode  int    `json:"errcode"`
				Reason   string `json:"reason"`
				Fault    string `json:"fault"`
				Event    string `json:"event"`
			} `json:"requests"`
		}
		if err := json.Unmarshal(list.Body.Bytes(), &journal); err != nil {
			t.Fatalf("the journal: %v: %s", err, list.Body.Bytes())
		}
		var answer struct {
			Errcode *int   `json:"errcode"`
			Errmsg  string `json:"errmsg"`
		}
		systemError := ct == testkit.WeChatContentType && json.Unmarshal(rec.Body.Bytes(), &answer) == nil &&
			answer.Errcode != nil && *answer.Errcode == -1 && strings.HasPrefix(answer.Errmsg, "system error")
		for _, e := range journal.Requests {
			if e.Event != "" {
				continue
			}
			internal := e.Platform == "wechat" && (systemError || e.Errcode == -1 || e.Errcode == -10008)
			if internal && e.Fault == "" || strings.HasPrefix(e.Reason, "panic: ") {
				t.Errorf("%s %s: an internal error (%s), journaled as errcode %d: %s", method, target, rec.Body.Bytes(), e.Errcode, e.Reason)
			}
		}
	})
}
