package wechat_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

func TestGetAccessTokenShape(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	a := k.Do("GET", testkit.TokenURL(testkit.ServiceAppID, testkit.ServiceSecret), nil)
	if a.Status != 200 || a.Header.Get("Content-Type") != "application/json; encoding=utf-8" {
		t.Fatalf("status %d, Content-Type %q", a.Status, a.Header.Get("Content-Type"))
	}
	if _, has := a.JSON["errcode"]; has {
		t.Errorf("token answer carries errcode: %s", a.Raw)
	}
	if got := a.JSON["expires_in"]; got != float64(7200) {
		t.Errorf("expires_in = %v, want 7200", got)
	}
	if tok := a.Str("access_token"); !regexp.MustCompile(`^[0-9]{2}_[A-Za-z0-9_-]{128}$`).MatchString(tok) {
		t.Errorf("access_token %q is not of WeChat's shape", tok)
	}
	k.WantErrcode(k.Probe(a.Str("access_token")), 0)
}

func TestTokenSupersededKeepsWorkingFiveMinutes(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	old := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	k.Advance(time.Minute)
	fresh := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	if old == fresh {
		t.Fatal("a second /cgi-bin/token returned the same token")
	}
	k.Advance(5*time.Minute - time.Second)
	k.WantErrcode(k.Probe(old), 0)
	k.Advance(time.Second)
	k.WantErrcode(k.Probe(old), 40001)
	k.WantErrcode(k.Probe(fresh), 0)
}

// TestTokensAreForgottenOnTheClock follows tokens from issue to oblivion: WeChat keeps a new
// token and the one it superseded, so a token superseded twice stops at once; a superseded one is
// forgotten when its overlap ends, an expired one a day after it expired (it answers 42001 until
// then, 40001 after).
func TestTokensAreForgottenOnTheClock(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	stored := func(tok string) bool { return slices.Contains(k.StoredKeys("wechat:token:"), "wechat:token:"+tok) }
	first := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	second := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	third := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	k.WantErrcode(k.Probe(first), 40001)
	k.WantErrcode(k.Probe(second), 0)
	if stored(first) || !stored(second) || !stored(third) {
		t.Errorf("stored tokens = %v, want the second and third only", k.StoredKeys("wechat:token:"))
	}
	k.Advance(wechat.TokenOverlap)
	k.WantErrcode(k.Probe(second), 40001)
	if stored(second) {
		t.Error("a superseded token is still stored after its overlap")
	}
	k.Advance(wechat.TokenLifetime - wechat.TokenOverlap)
	k.WantErrcode(k.Probe(third), 42001)
	k.Advance(wechat.ExpiredMemory - time.Second)
	k.WantErrcode(k.Probe(third), 42001)
	k.Advance(time.Second)
	k.WantErrcode(k.Probe(third), 40001)
	if keys := k.StoredKeys("wechat:token:"); len(keys) != 0 {
		t.Errorf("stored tokens a day after the last expired: %v", keys)
	}
}

func TestTokenExpiresByTheClock(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	k.Advance(7200*time.Second - time.Second)
	k.WantErrcode(k.Probe(tok), 0)
	k.Advance(time.Second)
	k.WantErrcode(k.Probe(tok), 42001)
}

func TestAccessTokenChecks(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
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
			k := k.For(t)
			k.Unchanged(func() {
				a := k.Do("POST", "/cgi-bin/openapi/quota/get?"+tc.query, `{"cgi_path":"/cgi-bin/token"}`)
				k.WantErrcode(a, tc.want)
			})
		})
	}
}

func TestGetAccessTokenErrors(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	other := k.App(sandbox.WeChatAppSpec{Type: "mini_program"})
	listed := k.App(sandbox.WeChatAppSpec{Type: "official_account", IPWhitelist: []string{"10.1.2.3"}})
	base := "/cgi-bin/token?"
	for _, tc := range []struct {
		name, method, query string
		want                int
	}{
		{"grant_type missing", "GET", "appid=" + testkit.ServiceAppID + "&secret=" + testkit.ServiceSecret, 40002},
		{"grant_type wrong", "GET", "grant_type=authorization_code&appid=" + testkit.ServiceAppID + "&secret=" + testkit.ServiceSecret, 40002},
		{"appid missing", "GET", "grant_type=client_credential&secret=" + testkit.ServiceSecret, 41002},
		{"secret missing", "GET", "grant_type=client_credential&appid=" + testkit.ServiceAppID, 41004},
		{"appid malformed", "GET", "grant_type=client_credential&appid=nope&secret=" + testkit.ServiceSecret, 40013},
		{"appid unknown", "GET", "grant_type=client_credential&appid=wx0123456789abcdef&secret=" + testkit.ServiceSecret, 40013},
		{"wrong secret", "GET", "grant_type=client_credential&appid=" + testkit.ServiceAppID + "&secret=" + strings.Repeat("0", 32), 40125},
		{"another app's secret", "GET", "grant_type=client_credential&appid=" + testkit.ServiceAppID + "&secret=" + other.Secret, 40125},
		{"POST on a GET API", "POST", "grant_type=client_credential&appid=" + testkit.ServiceAppID + "&secret=" + testkit.ServiceSecret, 43001},
		{"caller not whitelisted", "GET", "grant_type=client_credential&appid=" + listed.AppID + "&secret=" + listed.Secret, 40164},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				k.WantErrcode(k.Do(tc.method, base+tc.query, nil), tc.want)
			})
		})
	}
	a := k.Do("GET", base+"grant_type=client_credential&appid="+listed.AppID+"&secret="+listed.Secret, nil)
	if !strings.HasPrefix(a.Str("errmsg"), "invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist, rid: ") {
		t.Errorf("40164 errmsg = %q", a.Str("errmsg"))
	}
}

// TestForwardingHeadersCountOnlyFromTrustedProxies asks for a whitelisted account's token from
// loopback claiming, in X-Forwarded-For or X-Real-IP, the whitelisted address: the claim is
// ignored (40164, and the journal records the connection's address) unless the sandbox trusts
// loopback as its reverse proxy.
func TestForwardingHeadersCountOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	spoofed := []http.Header{{"X-Forwarded-For": {"10.1.2.3"}}, {"X-Real-IP": {"10.1.2.3"}}, {"X-Forwarded-For": {"10.1.2.3, 127.0.0.1"}}}
	for _, trusted := range []bool{false, true} {
		var opts []sandboxtest.Option
		if trusted {
			opts = append(opts, sandboxtest.WithSandboxOptions(sandbox.WithTrustedProxies("127.0.0.0/8")))
		}
		k := testkit.New(t, opts...)
		listed := k.App(sandbox.WeChatAppSpec{Type: "official_account", IPWhitelist: []string{"10.1.2.3"}})
		for _, h := range spoofed {
			a := k.DoHeader(http.MethodGet, testkit.TokenURL(listed.AppID, listed.Secret), h, nil)
			entry := k.Control(http.MethodGet, "/_sandbox/requests?path=/cgi-bin/token&limit=1", nil)
			ip := testkit.Dig(entry.JSON, "requests").([]any)[0].(map[string]any)["client_ip"]
			switch {
			case !trusted && (a.Errcode() != 40164 || ip != "127.0.0.1"):
				t.Errorf("untrusted sender claiming %v: %s, journal client_ip %v; want 40164 from 127.0.0.1", h, a, ip)
			case trusted && (a.Str("access_token") == "" || ip != "10.1.2.3"):
				t.Errorf("trusted proxy forwarding %v: %s, journal client_ip %v; want a token for 10.1.2.3", h, a, ip)
			}
		}
	}
}

func TestMiniProgramsIgnoreTheWhitelist(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	mp := k.App(sandbox.WeChatAppSpec{Type: "mini_program", IPWhitelist: []string{"10.1.2.3"}})
	k.Token(mp.AppID, mp.Secret)
}

func stableBody(appid, secret string, force bool) string {
	return fmt.Sprintf(`{"grant_type":"client_credential","appid":%q,"secret":%q,"force_refresh":%t}`, appid, secret, force)
}

// stable asks for the fixture service account's stable token.
func stable(k *testkit.Kit, force bool) testkit.Answer {
	k.T().Helper()
	return k.Do("POST", testkit.APIHost+"/cgi-bin/stable_token", stableBody(testkit.ServiceAppID, testkit.ServiceSecret, force))
}

func TestStableTokenSameUntilLastFiveMinutes(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	first := stable(k, false)
	if first.JSON["expires_in"] != float64(7200) {
		t.Fatalf("first stable token expires_in = %v, want 7200", first.JSON["expires_in"])
	}
	k.Advance(time.Hour)
	again := stable(k, false)
	if again.Str("access_token") != first.Str("access_token") {
		t.Fatal("stable_token changed while the token was valid")
	}
	if again.JSON["expires_in"] != float64(3600) {
		t.Errorf("expires_in after an hour = %v, want 3600", again.JSON["expires_in"])
	}
	k.Advance(time.Hour - 4*time.Minute) // 4 minutes left
	renewed := stable(k, false)
	if renewed.Str("access_token") == first.Str("access_token") {
		t.Fatal("stable_token did not renew in the last 5 minutes")
	}
	k.WantErrcode(k.Probe(first.Str("access_token")), 0) // old one still works until expiry
	k.Advance(4 * time.Minute)
	k.WantErrcode(k.Probe(first.Str("access_token")), 42001)
	k.WantErrcode(k.Probe(renewed.Str("access_token")), 0)
}

func TestStableForceRefresh(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	first := stable(k, false).Str("access_token")
	k.Advance(time.Minute)
	forced := stable(k, true).Str("access_token")
	if forced == first {
		t.Fatal("force_refresh returned the same token")
	}
	k.WantErrcode(k.Probe(first), 40001)
	k.Advance(10 * time.Second)
	if got := stable(k, true).Str("access_token"); got != forced {
		t.Error("a force refresh within 30 s refreshed")
	}
	// 20 effective force refreshes a day: one used, 19 more, then 45009.
	for i := range 19 {
		k.Advance(31 * time.Second)
		if stable(k, true).Str("access_token") == "" {
			t.Fatalf("force refresh %d refused", i+2)
		}
	}
	k.Advance(31 * time.Second)
	k.Unchanged(func() { k.WantErrcode(stable(k, true), 45009) })
}

func TestTokenFamiliesAreIsolated(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	st := stable(k, false).Str("access_token")
	basic := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	k.Advance(6 * time.Minute)
	k.Token(testkit.ServiceAppID, testkit.ServiceSecret) // supersedes basic, not st
	k.Advance(6 * time.Minute)
	k.WantErrcode(k.Probe(st), 0)
	k.WantErrcode(k.Probe(basic), 40001)
	k.Advance(31 * time.Second)
	stable(k, true) // revokes st, not the basic token
	k.WantErrcode(k.Probe(st), 40001)
}

func TestStableTokenBadInput(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	for _, tc := range []struct {
		name, method, body string
		want               int
	}{
		{"GET", "GET", "", 43002},
		{"empty body", "POST", "", 44002},
		{"not JSON", "POST", "{grant_type", 47001},
		{"force_refresh not a boolean", "POST", `{"grant_type":"client_credential","appid":"` + testkit.ServiceAppID + `","secret":"` + testkit.ServiceSecret + `","force_refresh":"yes"}`, 47001},
		{"appid a number", "POST", `{"grant_type":"client_credential","appid":1,"secret":"x"}`, 47001},
		{"extra field", "POST", `{"grant_type":"client_credential","appid":"` + testkit.ServiceAppID + `","secret":"` + testkit.ServiceSecret + `","scope":"all"}`, 40097},
		{"appid missing", "POST", `{"grant_type":"client_credential","secret":"x"}`, 41002},
		{"secret missing", "POST", `{"grant_type":"client_credential","appid":"` + testkit.ServiceAppID + `"}`, 41004},
		{"grant_type wrong", "POST", `{"grant_type":"password","appid":"` + testkit.ServiceAppID + `","secret":"` + testkit.ServiceSecret + `"}`, 40002},
		{"wrong secret", "POST", stableBody(testkit.ServiceAppID, strings.Repeat("a", 32), false), 40125},
		{"unknown appid", "POST", stableBody("wx0000000000000000", testkit.ServiceSecret, false), 40013},
		{"body over 1 MiB", "POST", `{"grant_type":"` + strings.Repeat("x", 1<<20) + `"}`, 45002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				k.WantErrcode(k.Do(tc.method, "/cgi-bin/stable_token", tc.body), tc.want)
			})
		})
	}
}

func TestDailyQuotaExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	app := k.App(sandbox.WeChatAppSpec{Type: "official_account", Tier: "test"}) // 200 a day
	const callers = 300
	answers := k.Concurrently(callers, func(int) (testkit.Answer, error) {
		return k.Try("GET", testkit.TokenURL(app.AppID, app.Secret), nil, nil)
	})
	codes := map[int]int{}
	for _, a := range answers {
		codes[a.Errcode()]++
	}
	if codes[0] != 200 || codes[45009] != callers-200 {
		t.Fatalf("outcomes = %v, want exactly 200 successes and %d × 45009", codes, callers-200)
	}
	// Beijing midnight resets the day: the frozen clock starts at 10:00 Beijing time.
	k.Advance(13*time.Hour + 59*time.Minute)
	k.WantErrcode(k.Do("GET", testkit.TokenURL(app.AppID, app.Secret), nil), 45009)
	k.Advance(time.Minute)
	k.Token(app.AppID, app.Secret)
}

func TestUnlimitedTierHasNoQuota(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	app := k.App(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "unlimited"})
	for range 2100 {
		if a := k.Do("GET", testkit.TokenURL(app.AppID, app.Secret), nil); a.Str("access_token") == "" {
			t.Fatalf("unlimited app refused: %s", a.Raw)
		}
	}
}

func TestMinuteQuota(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	app := k.App(sandbox.WeChatAppSpec{Type: "official_account", Tier: "test"}) // stable_token: 1,000 a minute
	body := stableBody(app.AppID, app.Secret, false)
	for i := range 1000 {
		if a := k.Do("POST", "/cgi-bin/stable_token", body); a.Str("access_token") == "" {
			t.Fatalf("call %d refused: %s", i+1, a.Raw)
		}
	}
	k.Unchanged(func() { k.WantErrcode(k.Do("POST", "/cgi-bin/stable_token", body), 45011) })
	k.Advance(time.Minute)
	if a := k.Do("POST", "/cgi-bin/stable_token", body); a.Str("access_token") == "" {
		t.Fatalf("the next minute refused: %s", a.Raw)
	}
}

func TestEnumFieldOfTheWrongTypeIsAFormatError(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	// grant_type is an enum of strings: a number is a format error (47001), not a bad value (40002).
	body := `{"grant_type":7,"appid":"` + testkit.ServiceAppID + `","secret":"` + testkit.ServiceSecret + `"}`
	k.Unchanged(func() { k.WantErrcode(k.Do("POST", "/cgi-bin/stable_token", body), 47001) })
}
