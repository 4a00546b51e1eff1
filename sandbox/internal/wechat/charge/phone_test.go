package charge_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

const phoneAPI = "/wxa/business/getuserphonenumber"

var hinted = regexp.MustCompile(` hint: \[[A-Za-z0-9_-]{15,16}\] rid: `)

func TestTapSpendsTrialFirstThenSoonestExpiry(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	start := e.Now().Unix()
	// Bought first, but it starts later and so expires last.
	late := e.mustBuy(skuQuick1k, map[string]any{"start_time": start + 2*daySec})
	soon := e.mustBuy(skuQuick1k, nil)
	a := e.tap(nil)
	spent := a.JSON["spent_from"].([]any)
	if a.Str("errMsg") != "getPhoneNumber:ok" || len(a.Str("code")) != 64 || len(spent) != 1 || spent[0].(map[string]any)["source"] != 1.0 {
		t.Fatalf("first tap, want a unit of the trial pack: %s", a)
	}
	if a.JSON.Num("expires_at") != float64(start+300) {
		t.Errorf("the code expires at %v, want 5 minutes after the tap (%d)", a.JSON.Num("expires_at"), start+300)
	}
	e.mustConsume(spuQuick, 999) // the rest of the trial pack
	e.Advance(3 * 24 * time.Hour)
	a = e.tap(nil)
	if from := a.JSON["spent_from"].([]any)[0].(map[string]any); from["pkg_id"] != soon.Str("pkg_id") {
		t.Errorf("after the trial pack the unit came from %v, want the pack expiring soonest %s (not %s)", from["pkg_id"], soon.Str("pkg_id"), late.Str("pkg_id"))
	}
	// Real-time verification is the other product, with its own trial pack.
	r := e.tap(map[string]any{"kind": "realtime"})
	if r.Str("errMsg") != "getRealtimePhoneNumber:ok" || r.JSON.Num("spu_id") != spuRealtime || r.JSON.Num("left") != 999 {
		t.Errorf("a real-time tap: %s", r)
	}
}

func TestTapWithNothingLeftAnswers1400001AndChangesNothing(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	e.mustConsume(spuQuick, 1000)
	var a testkit.Answer
	e.Unchanged(func() { a = e.tap(map[string]any{"openid": "oUserWithoutQuota01"}) })
	if a.JSON.Num("errno") != 1400001 || a.Str("code") != "" || a.Str("errMsg") != "getPhoneNumber:fail no quota" || a.JSON.Num("left") != 0 {
		t.Errorf("tap with no unit left: %s", a)
	}
	if !strings.Contains(a.Str("notice"), "功能使用次数已达当前小程序上限") {
		t.Errorf("notice %q, want WeChat's half-screen notice", a.Str("notice"))
	}
	e.Unchanged(func() { a = e.tap(map[string]any{"quota_toast": false}) })
	if a.Str("notice") != "" || a.JSON.Num("errno") != 1400001 {
		t.Errorf("tap with quota_toast false: %s", a)
	}
	if u := e.usage("spuId=10000077&offset=0&limit=20"); u.Str("effectiveUse") != "1000" {
		t.Errorf("usage after refused taps: %s", u)
	}
}

func TestConcurrentTapsOnTheLastUnits(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	const left, taps = 7, 40
	e.mustConsume(spuQuick, 1000-left)
	answers := e.Concurrently(taps, func(int) (testkit.Answer, error) {
		return e.Try(http.MethodPost, "/_sandbox/wechat/charge/phone-taps", nil, map[string]any{"appid": e.mp.AppID})
	})
	codes, refused := map[string]bool{}, 0
	for _, a := range answers {
		switch {
		case a.Status != http.StatusOK:
			t.Errorf("tap: %s", a)
		case a.Str("code") != "":
			codes[a.Str("code")] = true
		case a.JSON.Num("errno") == 1400001:
			refused++
		default:
			t.Errorf("tap answered neither a code nor 1400001: %s", a)
		}
	}
	if len(codes) != left || refused != taps-left {
		t.Errorf("%d taps on %d units: %d distinct codes and %d refusals, want %d and %d", taps, left, len(codes), refused, left, taps-left)
	}
	if u := e.usage("spuId=10000077&offset=0&limit=20"); u.Str("effectiveUse") != "1000" || u.Str("all") != "1000" {
		t.Errorf("usage after the race: %s", u)
	}
	for code := range codes { // every code issued is a real one
		e.WantErrcode(e.Post(phoneAPI, e.tok, map[string]any{"code": code}), 0)
	}
}

func TestGetUserPhoneNumber(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	a := e.tap(map[string]any{"openid": "oAlice0000000000000000000001", "phone_number": "13835601234"})
	code := a.Str("code")
	before := e.product(spuQuick)
	r := e.Post(phoneAPI, e.tok, map[string]any{"code": code, "openid": "oAlice0000000000000000000001"})
	e.WantErrcode(r, 0)
	info, _ := r.JSON["phone_info"].(map[string]any)
	wm, _ := info["watermark"].(map[string]any)
	if info["phoneNumber"] != "13835601234" || info["purePhoneNumber"] != "13835601234" || info["countryCode"] != "86" ||
		wm["appid"] != e.mp.AppID || wm["timestamp"] != float64(e.Now().Unix()) {
		t.Errorf("phone_info %v", info)
	}
	if after := e.product(spuQuick); after["used"] != before["used"] {
		t.Errorf("the exchange spent units: used %v, then %v", before["used"], after["used"])
	}
	// The same user keeps the number on the next tap.
	again := e.tap(map[string]any{"openid": "oAlice0000000000000000000001"})
	r = e.Post(phoneAPI, e.tok, map[string]any{"code": again.Str("code")})
	if r.JSON.Get("phone_info", "phoneNumber") != "13835601234" {
		t.Errorf("the user's number on a later tap: %s", r)
	}
	// A user who never said: a mainland mobile number, the same for the same user.
	anon := e.tap(map[string]any{"openid": "oBob000000000000000000000002"})
	n1 := e.Post(phoneAPI, e.tok, map[string]any{"code": anon.Str("code")}).JSON.Get("phone_info", "phoneNumber")
	n2 := e.Post(phoneAPI, e.tok, map[string]any{"code": e.tap(map[string]any{"openid": "oBob000000000000000000000002"}).Str("code")}).JSON.Get("phone_info", "phoneNumber")
	if s, _ := n1.(string); !regexp.MustCompile(`^1[3-9][0-9]{9}$`).MatchString(s) || n1 != n2 {
		t.Errorf("drawn numbers %v and %v, want one mainland mobile number", n1, n2)
	}
}

func TestTapRefusals(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	personal := e.App(sandbox.WeChatAppSpec{Type: "mini_program", SubjectType: "personal"})
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"an official account", map[string]any{"appid": testkit.ServiceAppID}, 403, "not_mini_program"},
		{"a personal Mini Program", map[string]any{"appid": personal.AppID}, 403, "not_eligible"},
		{"an unknown app", map[string]any{"appid": "wx00000000000000ff"}, 404, "app_not_found"},
		{"an unknown kind", map[string]any{"appid": e.mp.AppID, "kind": "silent"}, 400, "invalid"},
		{"a landline", map[string]any{"appid": e.mp.AppID, "phone_number": "03562021234"}, 400, "invalid"},
	} {
		e.RefusedCode(tc.name, tc.status, tc.code, func() testkit.Answer {
			return e.Control(http.MethodPost, "/_sandbox/wechat/charge/phone-taps", tc.body)
		})
	}
	// The Go twin checks what the verb's schema checks.
	e.Unchanged(func() {
		for _, tap := range []sandbox.ChargePhoneTap{
			{AppID: e.mp.AppID, PhoneNumber: "12345"},
			{AppID: e.mp.AppID, OpenID: "o"},
			{AppID: e.mp.AppID, Kind: "silent"},
		} {
			if r, err := e.Srv.Charge().TapPhoneButton(context.Background(), tap); err == nil {
				t.Errorf("TapPhoneButton(%+v) = %+v, want an error", tap, r)
			}
		}
	})
}

func TestGetUserPhoneNumberRefusals(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	other := newChargeEnvOn(e.Kit)
	used := e.tap(map[string]any{"openid": "oCarol00000000000000000000003"}).Str("code")
	e.WantErrcode(e.Post(phoneAPI, e.tok, map[string]any{"code": used}), 0)
	fresh := e.tap(map[string]any{"openid": "oCarol00000000000000000000003"}).Str("code")
	oaTok := e.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	for _, tc := range []struct {
		name  string
		tok   string
		body  any
		want  int
		hint  bool
		field string
	}{
		{"a code used twice", e.tok, map[string]any{"code": used}, 40029, true, ""},
		{"an unknown code", e.tok, map[string]any{"code": strings.Repeat("ab", 32)}, 40029, true, ""},
		{"another Mini Program's code", other.tok, map[string]any{"code": fresh}, 40013, true, ""},
		{"another user's code", e.tok, map[string]any{"code": fresh, "openid": "oDave00000000000000000000004"}, 40029, true, ""},
		{"no code", e.tok, map[string]any{"openid": "oCarol00000000000000000000003"}, 40029, true, ""},
		{"an empty code", e.tok, map[string]any{"code": " "}, 40029, true, ""},
		{"a form post", e.tok, "code=" + fresh, 47001, true, ""},
		{"a number code", e.tok, map[string]any{"code": 12}, 47001, true, ""},
		{"an unknown field", e.tok, map[string]any{"code": fresh, "scope": "phone"}, 40097, false, ""},
		{"an empty body", e.tok, "", 44002, false, ""},
		{"an official account", oaTok, map[string]any{"code": fresh}, 48001, false, ""},
		{"a bad token", "86_" + strings.Repeat("A", 128), map[string]any{"code": fresh}, 40001, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := e.For(t)
			a := k.Refused(phoneAPI, tc.tok, tc.body, tc.want)
			if got := hinted.MatchString(a.Errmsg()); got != tc.hint {
				t.Errorf("errmsg %q: hint %v, want %v", a.Errmsg(), got, tc.hint)
			}
		})
	}
	if !strings.HasPrefix(e.Post(phoneAPI, e.tok, map[string]any{"code": used}).Errmsg(), "invalid code hint: [") {
		t.Errorf("40029's errmsg does not read as WeChat's")
	}
	// The code still works for its own Mini Program until 5 minutes after the tap.
	e.Advance(5*time.Minute - time.Second)
	e.WantErrcode(e.Post(phoneAPI, e.tok, map[string]any{"code": fresh}), 0)
	late := e.tap(nil).Str("code")
	e.Advance(5 * time.Minute)
	e.Refused(phoneAPI, e.tok, map[string]any{"code": late}, 40029)
}

// TestPhoneNumbersFollowTheSeed checks that the numbers drawn for users who never gave one are
// the same for the same seed and steps, and differ for another seed.
func TestPhoneNumbersFollowTheSeed(t *testing.T) {
	t.Parallel()
	number := func(seed uint64) string {
		k := testkit.New(t, sandboxtestSeed(seed))
		e := newChargeEnvOn(k)
		code := e.tap(map[string]any{"openid": "oSeeded0000000000000000000001"}).Str("code")
		s, _ := e.Post(phoneAPI, e.tok, map[string]any{"code": code}).JSON.Get("phone_info", "phoneNumber").(string)
		return s
	}
	a, b, c := number(1), number(1), number(2)
	if a == "" || a != b {
		t.Errorf("seed 1 gave %q and %q", a, b)
	}
	if a == c {
		t.Errorf("seeds 1 and 2 both gave %q", a)
	}
}

// TestPhoneNumberRateLimit checks the 45011 after a minute's quota, here a test-tier Mini
// Program's tenth of the 18,000 (300 a second); refused exchanges are not counted.
func TestPhoneNumberRateLimit(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	onlyDocumentedErrcodes(k)
	app := k.App(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "test", SubjectType: "government"}) // exempt: taps are free
	e := envFor(k, app)
	const limit = 1800
	k.Refused(phoneAPI, e.tok, map[string]any{"code": "nope"}, 40029) // refused: not counted
	codes := make([]string, limit+1)
	for i := range codes {
		r, err := k.Srv.Charge().TapPhoneButton(context.Background(), sandbox.ChargePhoneTap{AppID: app.AppID})
		if err != nil || r.Code == "" {
			t.Fatalf("tap %d: %+v, %v", i, r, err)
		}
		codes[i] = r.Code
	}
	for i, code := range codes[:limit] {
		if a := k.Post(phoneAPI, e.tok, map[string]any{"code": code}); a.Errcode() != 0 {
			t.Fatalf("exchange %d of %d: %s", i+1, limit, a)
		}
	}
	a := k.Refused(phoneAPI, e.tok, map[string]any{"code": codes[limit]}, 45011)
	if hinted.MatchString(a.Errmsg()) {
		t.Errorf("45011 carries a hint: %q", a.Errmsg())
	}
	k.Advance(time.Minute)
	k.WantErrcode(k.Post(phoneAPI, e.tok, map[string]any{"code": codes[limit]}), 0)
}

func sandboxtestSeed(seed uint64) sandboxtest.Option {
	return sandboxtest.WithSandboxOptions(sandbox.WithSeed(seed))
}

func sandboxtestStart(at time.Time) sandboxtest.Option { return sandboxtest.WithStart(at) }
