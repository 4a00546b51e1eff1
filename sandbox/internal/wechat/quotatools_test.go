package wechat_test

import (
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

func TestQuotaGetReportsUse(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	app := k.App(sandbox.WeChatAppSpec{Type: "official_account", Tier: "test"})
	tok := k.Token(app.AppID, app.Secret)
	k.Token(app.AppID, app.Secret)
	a := k.Post("/cgi-bin/openapi/quota/get", tok, `{"cgi_path":"/cgi-bin/token"}`)
	k.WantErrcode(a, 0)
	q := a.JSON["quota"].(map[string]any)
	if q["daily_limit"] != float64(200) || q["used"] != float64(2) || q["remain"] != float64(198) {
		t.Errorf("quota = %v, want daily_limit 200 (test tier), used 2, remain 198", q)
	}
	stable := k.Post("/cgi-bin/openapi/quota/get", tok, `{"cgi_path":"/cgi-bin/stable_token"}`)
	if rl := stable.JSON["rate_limit"].(map[string]any); rl["call_count"] != float64(1000) || rl["refresh_second"] != float64(60) {
		t.Errorf("stable_token rate_limit = %v, want 1000 a minute for a test-tier app", rl)
	}
}

func TestQuotaToolErrors(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	for _, tc := range []struct {
		name, path, body string
		want             int
	}{
		{"quota/get unknown path", "/cgi-bin/openapi/quota/get", `{"cgi_path":"/cgi-bin/nothing"}`, 76021},
		{"quota/get sns path", "/cgi-bin/openapi/quota/get", `{"cgi_path":"/sns/jscode2session"}`, 76022},
		{"quota/get with a host", "/cgi-bin/openapi/quota/get", `{"cgi_path":"https://api.weixin.qq.com/cgi-bin/token"}`, 76003},
		{"quota/get no cgi_path", "/cgi-bin/openapi/quota/get", `{}`, 76003},
		{"quota/get empty body", "/cgi-bin/openapi/quota/get", ``, 44002},
		{"quota/clear unknown path", "/cgi-bin/openapi/quota/clear", `{"cgi_path":"/x"}`, 76021},
		{"clear_quota another appid", "/cgi-bin/clear_quota", `{"appid":"` + testkit.MiniAppID + `"}`, 40013},
		{"clear_quota no appid", "/cgi-bin/clear_quota", `{}`, 41002},
		{"rid/get malformed", "/cgi-bin/openapi/rid/get", `{"rid":"nope"}`, 76002},
		{"rid/get unknown", "/cgi-bin/openapi/rid/get", `{"rid":"00000000-00000000-00000000"}`, 76001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() { k.WantErrcode(k.Post(tc.path, tok, tc.body), tc.want) })
		})
	}
}

func TestClearQuotaRestoresAndIsLimitedToTenAMonth(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	app := k.App(sandbox.WeChatAppSpec{Type: "official_account", Tier: "test"})
	tok := ""
	for range 200 {
		tok = k.Token(app.AppID, app.Secret)
	}
	k.WantErrcode(k.Do("GET", testkit.TokenURL(app.AppID, app.Secret), nil), 45009)
	body := `{"appid":"` + app.AppID + `"}`
	k.WantErrcode(k.Post("/cgi-bin/clear_quota", tok, body), 0)
	tok = k.Token(app.AppID, app.Secret)
	for i := 2; i <= 5; i++ {
		k.WantErrcode(k.Post("/cgi-bin/clear_quota", tok, body), 0)
	}
	// v2 shares the budget: five more with the secret make ten.
	for range 5 {
		k.WantErrcode(k.Do("POST", "/cgi-bin/clear_quota/v2?appid="+app.AppID+"&appsecret="+app.Secret, nil), 0)
	}
	k.Unchanged(func() {
		k.WantErrcode(k.Post("/cgi-bin/clear_quota", tok, body), 48006)
		k.WantErrcode(k.Do("POST", "/cgi-bin/clear_quota/v2", `{"appid":"`+app.AppID+`","appsecret":"`+app.Secret+`"}`), 48006)
	})
	// A new calendar month (Beijing time) gives the budget back.
	k.SetTime(time.Date(2026, 4, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	tok = k.Token(app.AppID, app.Secret)
	k.WantErrcode(k.Post("/cgi-bin/clear_quota", tok, body), 0)
}

func TestClearQuotaV2Errors(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	for _, tc := range []struct {
		name, query string
		want        int
	}{
		{"appid missing", "appsecret=" + testkit.ServiceSecret, 41002},
		{"appsecret missing", "appid=" + testkit.ServiceAppID, 41004},
		{"appid unknown", "appid=wx0000000000000000&appsecret=" + testkit.ServiceSecret, 40013},
		{"wrong secret", "appid=" + testkit.ServiceAppID + "&appsecret=" + strings.Repeat("1", 32), 40125},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() { k.WantErrcode(k.Do("POST", "/cgi-bin/clear_quota/v2?"+tc.query, nil), tc.want) })
		})
	}
}

func TestClearOneAPIQuota(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	app := k.App(sandbox.WeChatAppSpec{Type: "official_account", Tier: "test"})
	tok := ""
	for range 200 {
		tok = k.Token(app.AppID, app.Secret)
	}
	k.WantErrcode(k.Post("/cgi-bin/openapi/quota/clear", tok, `{"cgi_path":"/cgi-bin/token"}`), 0)
	used := k.Post("/cgi-bin/openapi/quota/get", tok, `{"cgi_path":"/cgi-bin/token"}`).JSON["quota"].(map[string]any)["used"]
	if used != float64(0) {
		t.Errorf("used after quota/clear = %v, want 0", used)
	}
	for range 49 {
		k.WantErrcode(k.Post("/cgi-bin/openapi/quota/clear", tok, `{"cgi_path":"/cgi-bin/token"}`), 0)
	}
	k.Unchanged(func() {
		k.WantErrcode(k.Post("/cgi-bin/openapi/quota/clear", tok, `{"cgi_path":"/cgi-bin/token"}`), 48006)
	})
}

func TestRidGet(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	failed := k.Post("/cgi-bin/openapi/quota/get", tok, `{"cgi_path":"/nope"}`)
	rid := failed.Str("errmsg")[strings.LastIndex(failed.Str("errmsg"), " ")+1:]
	k.Advance(time.Hour)
	a := k.Post("/cgi-bin/openapi/rid/get", tok, `{"rid":"`+rid+`"}`)
	k.WantErrcode(a, 0)
	req := a.JSON["request"].(map[string]any)
	if req["invoke_time"] != float64(k.Now().Add(-time.Hour).Unix()) {
		t.Errorf("invoke_time = %v, want the sandbox time of the call", req["invoke_time"])
	}
	if req["request_url"] != "access_token="+tok || req["request_body"] != `{"cgi_path":"/nope"}` || req["response_body"] != string(failed.Raw) {
		t.Errorf("request = %v", req)
	}
	if req["client_ip"] != "127.0.0.1" {
		t.Errorf("client_ip = %v", req["client_ip"])
	}
	// Another account may not read it.
	mp := k.App(sandbox.WeChatAppSpec{Type: "mini_program"})
	k.WantErrcode(k.Post("/cgi-bin/openapi/rid/get", k.Token(mp.AppID, mp.Secret), `{"rid":"`+rid+`"}`), 76003)
	// After 7 days it is gone.
	k.Advance(7 * 24 * time.Hour)
	tok = k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	k.WantErrcode(k.Post("/cgi-bin/openapi/rid/get", tok, `{"rid":"`+rid+`"}`), 76001)
}
