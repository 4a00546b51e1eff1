package jincheng_test

import (
	"encoding/json"
	"testing"
)

// BenchmarkFlow measures the whole single sign-on flow — a launch, a signed ticketValidation and
// a signed getUserInfo over real HTTP — in flows per second, next to an authenticated WeChat read
// (POST /cgi-bin/openapi/quota/get with an access token) on the same machine in the same run.
//
//	go test -run '^$' -bench Flow -benchtime 2s ./sandbox/internal/jincheng/
func BenchmarkFlow(b *testing.B) {
	b.Run("jincheng_sso_flow", func(b *testing.B) {
		e := newEnv(b)
		for b.Loop() {
			ticket := e.mustLaunch(fxTesting, fxTester, "test")
			r := e.exchange(demoApp, "test", ticket)
			if r.Body["success"] != true {
				b.Fatalf("exchange: %s", r.Raw)
			}
			u := e.signed(demoApp, "POST", "/jincheng/test/sso/v1/getUserInfo", nil, map[string]string{"token": r.str("token")})
			if u.Body["success"] != true {
				b.Fatalf("getUserInfo: %s", u.Raw)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
	})
	b.Run("wechat_quota_get", func(b *testing.B) {
		e := newEnv(b)
		tok := e.request("GET", "/cgi-bin/token?grant_type=client_credential&appid=wx5a1d0c0e00000001&secret=5a1d0c0e5a1d0c0e5a1d0c0e00000001", nil, nil)
		var t struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(tok.Raw, &t); err != nil || t.AccessToken == "" {
			b.Fatalf("token: %s", tok.Raw)
		}
		body := []byte(`{"cgi_path":"/cgi-bin/stable_token"}`)
		for b.Loop() {
			r := e.request("POST", "/cgi-bin/openapi/quota/get?access_token="+t.AccessToken, body, nil)
			if r.Status != 200 || r.Body["errcode"] != float64(0) {
				b.Fatalf("quota/get: %s", r.Raw)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
	})
}
