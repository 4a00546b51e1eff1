package wechat_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

func tokenURL(appid, secret string) string {
	return "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=" + appid + "&secret=" + secret
}

// quotaGet is an authenticated read used to probe whether a token works.
func quotaGet(t testing.TB, srv *sandboxtest.Server, tok string) answer {
	t.Helper()
	return do(t, srv, "POST", "https://api.weixin.qq.com/cgi-bin/openapi/quota/get?access_token="+tok, `{"cgi_path":"/cgi-bin/token"}`)
}

func TestGetAccessTokenShape(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	a := do(t, srv, "GET", tokenURL(serviceAppID, serviceSecret), nil)
	if a.status != 200 || a.header.Get("Content-Type") != "application/json; encoding=utf-8" {
		t.Fatalf("status %d, Content-Type %q", a.status, a.header.Get("Content-Type"))
	}
	if _, has := a.json["errcode"]; has {
		t.Errorf("token answer carries errcode: %s", a.raw)
	}
	if got := a.json["expires_in"]; got != float64(7200) {
		t.Errorf("expires_in = %v, want 7200", got)
	}
	if tok := a.str("access_token"); !regexp.MustCompile(`^[0-9]{2}_[A-Za-z0-9_-]{128}$`).MatchString(tok) {
		t.Errorf("access_token %q is not of WeChat's shape", tok)
	}
	wantErrcode(t, quotaGet(t, srv, a.str("access_token")), 0)
}

func TestTokenSupersededKeepsWorkingFiveMinutes(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	old := token(t, srv, serviceAppID, serviceSecret)
	srv.Advance(time.Minute)
	fresh := token(t, srv, serviceAppID, serviceSecret)
	if old == fresh {
		t.Fatal("a second /cgi-bin/token returned the same token")
	}
	srv.Advance(5*time.Minute - time.Second)
	wantErrcode(t, quotaGet(t, srv, old), 0)
	srv.Advance(time.Second)
	wantErrcode(t, quotaGet(t, srv, old), 40001)
	wantErrcode(t, quotaGet(t, srv, fresh), 0)
}

func TestTokenExpiresByTheClock(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	tok := token(t, srv, serviceAppID, serviceSecret)
	srv.Advance(7200*time.Second - time.Second)
	wantErrcode(t, quotaGet(t, srv, tok), 0)
	srv.Advance(time.Second)
	wantErrcode(t, quotaGet(t, srv, tok), 42001)
}

func TestAccessTokenChecks(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	well := "86_" + strings.Repeat("A", 128)
	for _, tc := range []struct {
		name, query string
		want        int
	}{
		{"missing", "", 41001},
		{"empty", "access_token=", 41001},
		{"malformed", "access_token=not-a-token", 40014},
		{"unknown", "access_token=" + well, 40001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, srv, func() {
				a := do(t, srv, "POST", "/cgi-bin/openapi/quota/get?"+tc.query, `{"cgi_path":"/cgi-bin/token"}`)
				wantErrcode(t, a, tc.want)
			})
		})
	}
}

func TestGetAccessTokenErrors(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	other := newApp(t, srv, sandbox.WeChatAppSpec{Type: "mini_program"})
	listed := newApp(t, srv, sandbox.WeChatAppSpec{Type: "official_account", IPWhitelist: []string{"10.1.2.3"}})
	base := "/cgi-bin/token?"
	for _, tc := range []struct {
		name, method, query string
		want                int
	}{
		{"grant_type missing", "GET", "appid=" + serviceAppID + "&secret=" + serviceSecret, 40002},
		{"grant_type wrong", "GET", "grant_type=authorization_code&appid=" + serviceAppID + "&secret=" + serviceSecret, 40002},
		{"appid missing", "GET", "grant_type=client_credential&secret=" + serviceSecret, 41002},
		{"secret missing", "GET", "grant_type=client_credential&appid=" + serviceAppID, 41004},
		{"appid malformed", "GET", "grant_type=client_credential&appid=nope&secret=" + serviceSecret, 40013},
		{"appid unknown", "GET", "grant_type=client_credential&appid=wx0123456789abcdef&secret=" + serviceSecret, 40013},
		{"wrong secret", "GET", "grant_type=client_credential&appid=" + serviceAppID + "&secret=" + strings.Repeat("0", 32), 40125},
		{"another app's secret", "GET", "grant_type=client_credential&appid=" + serviceAppID + "&secret=" + other.Secret, 40125},
		{"POST on a GET API", "POST", "grant_type=client_credential&appid=" + serviceAppID + "&secret=" + serviceSecret, 43001},
		{"caller not whitelisted", "GET", "grant_type=client_credential&appid=" + listed.AppID + "&secret=" + listed.Secret, 40164},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, srv, func() {
				wantErrcode(t, do(t, srv, tc.method, base+tc.query, nil), tc.want)
			})
		})
	}
	a := do(t, srv, "GET", base+"grant_type=client_credential&appid="+listed.AppID+"&secret="+listed.Secret, nil)
	if !strings.HasPrefix(a.str("errmsg"), "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist, rid: ") {
		t.Errorf("40164 errmsg = %q", a.str("errmsg"))
	}
}

func TestMiniProgramsIgnoreTheWhitelist(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	mp := newApp(t, srv, sandbox.WeChatAppSpec{Type: "mini_program", IPWhitelist: []string{"10.1.2.3"}})
	token(t, srv, mp.AppID, mp.Secret)
}

func stableBody(appid, secret string, force bool) string {
	return fmt.Sprintf(`{"grant_type":"client_credential","appid":%q,"secret":%q,"force_refresh":%t}`, appid, secret, force)
}

func stable(t testing.TB, srv *sandboxtest.Server, force bool) answer {
	t.Helper()
	return do(t, srv, "POST", "https://api.weixin.qq.com/cgi-bin/stable_token", stableBody(serviceAppID, serviceSecret, force))
}

func TestStableTokenSameUntilLastFiveMinutes(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	first := stable(t, srv, false)
	if first.json["expires_in"] != float64(7200) {
		t.Fatalf("first stable token expires_in = %v, want 7200", first.json["expires_in"])
	}
	srv.Advance(time.Hour)
	again := stable(t, srv, false)
	if again.str("access_token") != first.str("access_token") {
		t.Fatal("stable_token changed while the token was valid")
	}
	if again.json["expires_in"] != float64(3600) {
		t.Errorf("expires_in after an hour = %v, want 3600", again.json["expires_in"])
	}
	srv.Advance(time.Hour - 4*time.Minute) // 4 minutes left
	renewed := stable(t, srv, false)
	if renewed.str("access_token") == first.str("access_token") {
		t.Fatal("stable_token did not renew in the last 5 minutes")
	}
	wantErrcode(t, quotaGet(t, srv, first.str("access_token")), 0) // old one still works until expiry
	srv.Advance(4 * time.Minute)
	wantErrcode(t, quotaGet(t, srv, first.str("access_token")), 42001)
	wantErrcode(t, quotaGet(t, srv, renewed.str("access_token")), 0)
}

func TestStableForceRefresh(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	first := stable(t, srv, false).str("access_token")
	srv.Advance(time.Minute)
	forced := stable(t, srv, true).str("access_token")
	if forced == first {
		t.Fatal("force_refresh returned the same token")
	}
	wantErrcode(t, quotaGet(t, srv, first), 40001)
	srv.Advance(10 * time.Second)
	if got := stable(t, srv, true).str("access_token"); got != forced {
		t.Error("a force refresh within 30 s refreshed")
	}
	// 20 effective force refreshes a day: one used, 19 more, then 45009.
	for i := range 19 {
		srv.Advance(31 * time.Second)
		if stable(t, srv, true).str("access_token") == "" {
			t.Fatalf("force refresh %d refused", i+2)
		}
	}
	srv.Advance(31 * time.Second)
	unchanged(t, srv, func() { wantErrcode(t, stable(t, srv, true), 45009) })
}

func TestTokenFamiliesAreIsolated(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	st := stable(t, srv, false).str("access_token")
	basic := token(t, srv, serviceAppID, serviceSecret)
	srv.Advance(6 * time.Minute)
	token(t, srv, serviceAppID, serviceSecret) // supersedes basic, not st
	srv.Advance(6 * time.Minute)
	wantErrcode(t, quotaGet(t, srv, st), 0)
	wantErrcode(t, quotaGet(t, srv, basic), 40001)
	srv.Advance(31 * time.Second)
	stable(t, srv, true) // revokes st, not the basic token
	wantErrcode(t, quotaGet(t, srv, st), 40001)
}

func TestStableTokenBadInput(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	for _, tc := range []struct {
		name, method, body string
		want               int
	}{
		{"GET", "GET", "", 43002},
		{"empty body", "POST", "", 44002},
		{"not JSON", "POST", "{grant_type", 47001},
		{"force_refresh not a boolean", "POST", `{"grant_type":"client_credential","appid":"` + serviceAppID + `","secret":"` + serviceSecret + `","force_refresh":"yes"}`, 47001},
		{"appid a number", "POST", `{"grant_type":"client_credential","appid":1,"secret":"x"}`, 47001},
		{"extra field", "POST", `{"grant_type":"client_credential","appid":"` + serviceAppID + `","secret":"` + serviceSecret + `","scope":"all"}`, 40097},
		{"appid missing", "POST", `{"grant_type":"client_credential","secret":"x"}`, 41002},
		{"secret missing", "POST", `{"grant_type":"client_credential","appid":"` + serviceAppID + `"}`, 41004},
		{"grant_type wrong", "POST", `{"grant_type":"password","appid":"` + serviceAppID + `","secret":"` + serviceSecret + `"}`, 40002},
		{"wrong secret", "POST", stableBody(serviceAppID, strings.Repeat("a", 32), false), 40125},
		{"unknown appid", "POST", stableBody("wx0000000000000000", serviceSecret, false), 40013},
		{"body over 1 MiB", "POST", `{"grant_type":"` + strings.Repeat("x", 1<<20) + `"}`, 45002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, srv, func() {
				wantErrcode(t, do(t, srv, tc.method, "/cgi-bin/stable_token", tc.body), tc.want)
			})
		})
	}
}

func TestRidFirstGroupIsTheSandboxTime(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	srv.Advance(90 * time.Minute)
	a := do(t, srv, "GET", "/cgi-bin/token?grant_type=client_credential&appid=nope&secret=x", nil)
	m := regexp.MustCompile(`^invalid appid rid: ([0-9a-f]{8})-[0-9a-f]{8}-[0-9a-f]{8}$`).FindStringSubmatch(a.str("errmsg"))
	if m == nil {
		t.Fatalf("errmsg %q is not WeChat's template + rid", a.str("errmsg"))
	}
	sec, _ := strconv.ParseInt(m[1], 16, 64)
	if want := srv.Now().Unix(); sec != want {
		t.Errorf("rid time = %d, want the sandbox clock's %d", sec, want)
	}
}

func TestErrmsgPunctuation(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	a := do(t, srv, "GET", tokenURL(serviceAppID, strings.Repeat("0", 32)), nil)
	if !strings.HasPrefix(a.str("errmsg"), "invalid appsecret, rid: ") {
		t.Errorf("40125 errmsg = %q, want WeChat's comma before rid", a.str("errmsg"))
	}
}

func TestDailyQuotaExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	app := newApp(t, srv, sandbox.WeChatAppSpec{Type: "official_account", Tier: "test"}) // 200 a day
	const callers = 300
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := do(t, srv, "GET", tokenURL(app.AppID, app.Secret), nil)
			mu.Lock()
			codes[a.errcode()]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[0] != 200 || codes[45009] != callers-200 {
		t.Fatalf("outcomes = %v, want exactly 200 successes and %d × 45009", codes, callers-200)
	}
	// Beijing midnight resets the day: the frozen clock starts at 10:00 Beijing time.
	srv.Advance(13*time.Hour + 59*time.Minute)
	wantErrcode(t, do(t, srv, "GET", tokenURL(app.AppID, app.Secret), nil), 45009)
	srv.Advance(time.Minute)
	token(t, srv, app.AppID, app.Secret)
}

func TestUnlimitedTierHasNoQuota(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	app := newApp(t, srv, sandbox.WeChatAppSpec{Type: "mini_program", Tier: "unlimited"})
	for range 2100 {
		if a := do(t, srv, "GET", tokenURL(app.AppID, app.Secret), nil); a.str("access_token") == "" {
			t.Fatalf("unlimited app refused: %s", a.raw)
		}
	}
}

func TestMinuteQuota(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	app := newApp(t, srv, sandbox.WeChatAppSpec{Type: "official_account", Tier: "test"}) // stable_token: 1,000 a minute
	body := stableBody(app.AppID, app.Secret, false)
	for i := range 1000 {
		if a := do(t, srv, "POST", "/cgi-bin/stable_token", body); a.str("access_token") == "" {
			t.Fatalf("call %d refused: %s", i+1, a.raw)
		}
	}
	unchanged(t, srv, func() { wantErrcode(t, do(t, srv, "POST", "/cgi-bin/stable_token", body), 45011) })
	srv.Advance(time.Minute)
	if a := do(t, srv, "POST", "/cgi-bin/stable_token", body); a.str("access_token") == "" {
		t.Fatalf("the next minute refused: %s", a.raw)
	}
}

func TestEnumFieldOfTheWrongTypeIsAFormatError(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	// grant_type is an enum of strings: a number is a format error (47001), not a bad value (40002).
	body := `{"grant_type":7,"appid":"` + serviceAppID + `","secret":"` + serviceSecret + `"}`
	unchanged(t, srv, func() { wantErrcode(t, do(t, srv, "POST", "/cgi-bin/stable_token", body), 47001) })
}
