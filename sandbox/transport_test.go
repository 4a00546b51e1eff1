package sandbox_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// TestNoFrameworkAnswers: a trailing slash, a path in another case or an unknown path is an
// unknown path in the platform's own envelope on every platform — never a redirect, never HTML
// or text/plain — and no answer's headers repeat a credential.
func TestNoFrameworkAnswers(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	for _, tc := range []struct {
		method, target string
		status         int
		ct, code       string // code: the errcode or the symbolic code
	}{
		{http.MethodPost, testkit.APIHost + "/cgi-bin/qrcode/create/?access_token=" + tok, 200, testkit.WeChatContentType, "40066"},
		{http.MethodGet, testkit.APIHost + "/cgi-bin/token/?grant_type=client_credential&appid=" + testkit.ServiceAppID + "&secret=" + testkit.ServiceSecret, 200, testkit.WeChatContentType, "40066"},
		{http.MethodGet, testkit.APIHost + "/cgi-bin/Token?grant_type=client_credential&appid=" + testkit.ServiceAppID + "&secret=" + testkit.ServiceSecret, 200, testkit.WeChatContentType, "40066"},
		{http.MethodGet, testkit.MPHost + "/cgi-bin/componentloginpage/", 200, testkit.WeChatContentType, "40066"},
		{http.MethodGet, "/jincheng/admin/v1/apps/", 404, "application/json; charset=utf-8", "NOT-FOUND"},
		{http.MethodGet, "/jincheng/app", 404, "application/json; charset=utf-8", "NOT-FOUND"},
		{http.MethodGet, "/jincheng/Admin/v1/apps", 404, "application/json; charset=utf-8", "NOT-FOUND"},
		{http.MethodGet, "/_sandbox/health/", 404, "application/json; charset=utf-8", "not_found"},
		{http.MethodGet, "/_sandbox/openapi", 404, "application/json; charset=utf-8", "not_found"},
		{http.MethodGet, "/_sandbox//health", 404, "application/json; charset=utf-8", "not_found"},
	} {
		a := k.Do(tc.method, tc.target, nil)
		code := a.Code()
		if code == "" && a.JSON != nil {
			code = strconv.Itoa(a.Errcode())
		}
		if a.Status != tc.status || a.Header.Get("Content-Type") != tc.ct || code != tc.code || a.Header.Get("Location") != "" {
			t.Errorf("%s %s = %d %q Location %q %s, want %d %q with %s", tc.method, tc.target, a.Status, a.Header.Get("Content-Type"), a.Header.Get("Location"), a.Raw, tc.status, tc.ct, tc.code)
		}
		for name, vs := range a.Header {
			for _, v := range vs {
				if strings.Contains(v, testkit.ServiceSecret) || strings.Contains(v, tok) {
					t.Errorf("%s %s: header %s repeats a credential: %q", tc.method, tc.target, name, v)
				}
			}
		}
	}
}

// TestWrongMethodOnAPage: a page (HTML, an image) answers its wrong method with HTTP 405 in the
// platform's envelope; an API keeps WeChat's HTTP 200 with 43001 or 43002.
func TestWrongMethodOnAPage(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	for _, tc := range []struct {
		method, target string
		status         int
		errcode        int
		code           string
	}{
		{http.MethodPost, testkit.MPHost + "/cgi-bin/componentloginpage", 405, 43001, ""},
		{http.MethodPost, testkit.MPHost + "/safe/bindcomponent", 405, 43001, ""},
		{http.MethodDelete, testkit.MPHost + "/cgi-bin/showqrcode?ticket=x", 405, 43001, ""},
		{http.MethodPost, "/jincheng/app/", 405, 0, "METHOD-NOT-ALLOWED"},
		{http.MethodGet, testkit.APIHost + "/cgi-bin/qrcode/create", 200, 43002, ""},
		{http.MethodPost, testkit.APIHost + "/wxa/getshowwxaitem", 200, 43001, ""},
		{http.MethodPut, "/_sandbox/health", 405, 0, "invalid"},
	} {
		a := k.Do(tc.method, tc.target, nil)
		if a.Status != tc.status || a.Errcode() != tc.errcode || a.Code() != tc.code || a.JSON == nil {
			t.Errorf("%s %s = %d %s, want %d with errcode %d / code %q in the envelope", tc.method, tc.target, a.Status, a.Raw, tc.status, tc.errcode, tc.code)
		}
	}
}

// TestBodyTextIsUTF8: a JSON body that is not UTF-8 — bytes, half a surrogate pair, or a
// declared charset — is refused on every platform instead of being stored with U+FFFD.
func TestBodyTextIsUTF8(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.Token(testkit.MiniAppID, testkit.MiniSecret)
	bodies := map[string]struct {
		body    []byte
		charset string
	}{
		"a byte that is not UTF-8": {[]byte("\"caf\xe9\""), ""},
		"a lone high surrogate":    {[]byte(`"a\ud83d"`), ""},
		"a lone low surrogate":     {[]byte(`"a\udc00b"`), ""},
		"a GBK charset":            {[]byte(`"晋城"`), "gbk"},
	}
	for name, b := range bodies {
		t.Run(name, func(t *testing.T) {
			k := k.For(t)
			h := http.Header{"Content-Type": {"application/json"}}
			if b.charset != "" {
				h.Set("Content-Type", "application/json; charset="+b.charset)
			}
			with := func(before, after string) []byte { return append(append([]byte(before), b.body...), after...) }
			k.Unchanged(func() {
				a := k.DoHeader(http.MethodPost, testkit.APIHost+"/wxa/updateshowwxaitem?access_token="+tok, h, with(`{"wxa_subscribe_biz_flag":1,"appid":`, `}`))
				k.WantErrcode(a, 47001)
				if a := k.DoHeader(http.MethodPost, "/jincheng/admin/v1/login", h, with(`{"account":`, `,"password":"x"}`)); a.Status != 400 || a.Code() != "INVALID-PARAMETER" {
					t.Errorf("Jincheng: %s, want 400 INVALID-PARAMETER", a)
				}
				if a := k.DoHeader(http.MethodPost, "/_sandbox/wechat/apps", h, with(`{"type":"mini_program","name":`, `}`)); a.Status != 400 || a.Code() != "invalid" {
					t.Errorf("control plane: %s, want 400 invalid", a)
				}
			})
		})
	}
	// A well-formed pair and a UTF-8 charset are text like any other.
	a := k.DoHeader(http.MethodPost, "/_sandbox/wechat/apps", http.Header{"Content-Type": {"application/json; charset=UTF-8"}}, `{"type":"mini_program","name":"晋城\ud83d\ude00"}`)
	if a.Status != http.StatusCreated || a.Str("name") != "晋城😀" {
		t.Errorf("a surrogate pair: %s, want 201 with the emoji", a)
	}
}

// TestNullIsNotADefault: null for a field the spec does not declare nullable is refused, also
// where the field has a default; the stored configuration stays as it was.
func TestNullIsNotADefault(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	rcv := testkit.NewReceiver(t, testkit.MiniAppID, "tok123", "", "json", "plaintext")
	if a := k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+testkit.MiniAppID+"/push", map[string]any{"url": rcv.URL, "token": "tok123"}); a.Status != 200 {
		t.Fatalf("push config: %s", a)
	}
	for _, body := range []string{
		`{"url":"` + rcv.URL + `","token":"tok123","format":null}`,
		`{"url":"` + rcv.URL + `","token":"tok123","mode":null}`,
		`{"url":null,"token":"tok123"}`,
		`null`,
	} {
		k.RefusedCode(body, 400, "invalid", func() testkit.Answer {
			return k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+testkit.MiniAppID+"/push", body)
		})
	}
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	k.Refused("/cgi-bin/qrcode/create", tok, `{"expire_seconds":null,"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":1}}}`, 40053)
	k.Refused("/cgi-bin/qrcode/create", tok, `null`, 40097)
}

// TestQueryValuesAreNotTrimmed: a padded credential is a wrong credential; only the numbers
// clients are known to pad (getwxamplinkforshow's page) are read trimmed.
func TestQueryValuesAreNotTrimmed(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	for _, q := range []string{
		"grant_type=client_credential&appid=" + testkit.ServiceAppID + "&secret=" + testkit.ServiceSecret + "%20",
		"grant_type=client_credential&appid=%20" + testkit.ServiceAppID + "&secret=" + testkit.ServiceSecret,
		"grant_type=client_credential%20&appid=" + testkit.ServiceAppID + "&secret=" + testkit.ServiceSecret,
	} {
		k.Unchanged(func() {
			a := k.Do(http.MethodGet, testkit.APIHost+"/cgi-bin/token?"+q, nil)
			if a.Str("access_token") != "" || a.Errcode() == 0 {
				t.Errorf("token?%s = %s, want a refusal", q, a)
			}
		})
	}
	tok := k.Token(testkit.MiniAppID, testkit.MiniSecret)
	k.WantErrcode(k.API(http.MethodGet, "/wxa/getwxamplinkforshow?page=%200&num=%2020", tok, nil), 0)
}

// TestComponentPushConfigSaysXMLSafe: a third-party platform's authorization events are XML in
// safe mode, and its push configuration says so; another format or mode is refused.
func TestComponentPushConfigSaysXMLSafe(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := k.Control(http.MethodPost, "/_sandbox/wechat/apps", map[string]any{"type": "component"})
	appid, token, key := comp.Str("appid"), comp.Str("token"), comp.Str("encoding_aes_key")
	rcv := testkit.NewReceiver(t, appid, token, key, "xml", "safe")
	put := k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+appid+"/push", map[string]any{"url": rcv.URL, "token": token})
	if put.Status != 200 || put.Str("format") != "xml" || put.Str("mode") != "safe" {
		t.Fatalf("put: %s, want format xml and mode safe", put)
	}
	if get := k.Control(http.MethodGet, "/_sandbox/wechat/apps/"+appid+"/push", nil); get.Str("format") != "xml" || get.Str("mode") != "safe" {
		t.Errorf("get: %s", get)
	}
	for _, body := range []map[string]any{
		{"url": rcv.URL, "token": token, "format": "json"},
		{"url": rcv.URL, "token": token, "mode": "plaintext"},
	} {
		k.RefusedCode("component push config", 400, "invalid_push_config", func() testkit.Answer {
			return k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+appid+"/push", body)
		})
	}
	// The ticket push is what the configuration says.
	if a := k.Control(http.MethodPost, "/_sandbox/wechat/components/"+appid+"/ticket", nil); a.Status != 200 {
		t.Fatalf("ticket: %s", a)
	}
	if ev := rcv.Wait(1)[0]; ev.Str("InfoType") != "component_verify_ticket" {
		t.Errorf("push = %s", ev.Plain)
	}
}
