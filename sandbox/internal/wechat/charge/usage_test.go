package charge_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

const (
	usageAPI   = "/wxa/charge/usage/get"
	averageAPI = "/wxa/charge/usage/get_recent_average"
)

func TestUsageListsPacksWithStatusFromTheClock(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	now := e.Now().Unix()
	e.mustConsume(spuQuick, 600)
	inEffect := e.mustBuy(skuQuick1k, nil)
	upcoming := e.mustBuy(skuQuick10k, map[string]any{"start_time": now + 400*daySec})
	e.advance(366 * 24 * time.Hour) // the first pack has expired, the second not yet started
	u := e.usage("spuId=10000077&offset=0&limit=20")
	e.WantErrcode(u, 0)
	if _, ok := u.JSON["errmsg"]; ok {
		t.Errorf("usage/get's success carries errmsg, WeChat's does not: %s", u)
	}
	var got struct {
		EffectiveUse, EffectiveAll, All string
		Total                           int
		DetailList                      []struct {
			PkgID              string `json:"pkgId"`
			Status             int
			StartTime, EndTime int64
			All, Used          string
			SpuID              string `json:"spuId"`
			SkuID              string `json:"skuId"`
			Source             int
		}
	}
	e.Decode(u, &got)
	if got.Total != 3 || len(got.DetailList) != 3 {
		t.Fatalf("usage %s", u)
	}
	trial, expired, later := got.DetailList[0], got.DetailList[1], got.DetailList[2]
	if trial.PkgID != "" || trial.Source != 1 || trial.Status != 1 || trial.EndTime != trialEnd || trial.SkuID != "20000093" || trial.All != "1000" || trial.Used != "600" || trial.SpuID != "10000077" {
		t.Errorf("trial row %+v", trial)
	}
	if expired.PkgID != inEffect.Str("pkg_id") || expired.Status != 3 || expired.Source != 2 || expired.EndTime-expired.StartTime != 365*daySec {
		t.Errorf("expired row %+v", expired)
	}
	if later.PkgID != upcoming.Str("pkg_id") || later.Status != 2 || later.All != "10000" {
		t.Errorf("upcoming row %+v", later)
	}
	// Only the packs in effect count: the trial pack.
	if got.All != "1000" || got.EffectiveAll != "1000" || got.EffectiveUse != "600" {
		t.Errorf("totals all %s effectiveAll %s effectiveUse %s, want 1000 1000 600", got.All, got.EffectiveAll, got.EffectiveUse)
	}
	// offset is an item offset.
	page := e.usage("spuId=10000077&offset=1&limit=1")
	rows := page.JSON["detailList"].([]any)
	if page.JSON.Num("total") != 3 || len(rows) != 1 || rows[0].(map[string]any)["pkgId"] != inEffect.Str("pkg_id") {
		t.Errorf("offset 1 limit 1: %s", page)
	}
	if past := e.usage("spuId=10000077&offset=5&limit=20"); len(past.JSON["detailList"].([]any)) != 0 || past.JSON.Num("total") != 3 {
		t.Errorf("offset past the end: %s", past)
	}
}

func TestUsageReadsAJSONBodyWhenTheQueryHasNothing(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	get := func(body any) testkit.Answer { return e.API(http.MethodGet, usageAPI, e.tok, body) }
	a := get(map[string]any{"spuId": "10000086", "offset": 0, "limit": 20})
	e.WantErrcode(a, 0)
	if a.JSON.Num("total") != 1 || a.Str("all") != "1000" || row(a, 0)["spuId"] != "10000086" {
		t.Errorf("body parameters: %s", a)
	}
	e.WantErrcode(get(map[string]any{"spuId": 10000086, "offset": 0, "limit": 1}), 0) // a number spuId too
	// The query wins over the body.
	if a := e.API(http.MethodGet, usageAPI+"?spuId=10000058&offset=0&limit=20", e.tok, map[string]any{"spuId": "10000086"}); a.JSON.Num("total") != 0 {
		t.Errorf("query spuId 10000058 with body 10000086: %s", a)
	}
}

func TestUsageRefusals(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	oa := e.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	for _, tc := range []struct {
		name, query, tok string
		body             any
		want             int
	}{
		{"no spuId", "offset=0&limit=20", e.tok, nil, 10120002},
		{"no offset", "spuId=10000077&limit=20", e.tok, nil, 10120002},
		{"no limit", "spuId=10000077&offset=0", e.tok, nil, 10120002},
		{"an unknown SPU", "spuId=10000117&offset=0&limit=20", e.tok, nil, 10120700},
		{"a non-numeric SPU", "spuId=quick&offset=0&limit=20", e.tok, nil, 10120700},
		{"a negative offset", "spuId=10000077&offset=-1&limit=20", e.tok, nil, 10120002},
		{"a non-numeric offset", "spuId=10000077&offset=first&limit=20", e.tok, nil, 10120002},
		{"limit above 20", "spuId=10000077&offset=0&limit=21", e.tok, nil, 10120002},
		{"limit 0", "spuId=10000077&offset=0&limit=0", e.tok, nil, 10120002},
		{"offset as a string in the body", "", e.tok, map[string]any{"spuId": "10000077", "offset": "0", "limit": 20}, 10120002},
		{"an official account", "spuId=10000077&offset=0&limit=20", oa, nil, 48001},
		{"no token", "spuId=10000077&offset=0&limit=20", "", nil, 41001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := e.For(t)
			k.Unchanged(func() {
				k.WantErrcode(k.API(http.MethodGet, usageAPI+"?"+tc.query, tc.tok, tc.body), tc.want)
			})
		})
	}
	e.Unchanged(func() {
		a := e.API(http.MethodGet, usageAPI+"?offset=0&limit=20", e.tok, nil)
		if got := a.Errmsg(); len(got) < 20 || got[:20] != "invalid params rid: " {
			t.Errorf("10120002's errmsg %q, want WeChat's \"invalid params rid: …\"", got)
		}
	})
	e.Unchanged(func() { e.WantErrcode(e.Post(usageAPI+"?spuId=10000077&offset=0&limit=20", e.tok, "{}"), 43001) })
}

func TestRecentAverageUsage(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	avg := func(spu string) testkit.Answer {
		return e.API(http.MethodGet, averageAPI+"?spuId="+url.QueryEscape(spu), e.tok, nil)
	}
	e.Unchanged(func() { e.WantErrcode(avg("10000077"), 10122000) })
	e.Unchanged(func() { e.WantErrcode(avg("10000117"), 10120700) })
	e.Unchanged(func() { e.WantErrcode(e.API(http.MethodGet, averageAPI, e.tok, nil), 10120002) })
	e.mustConsume(spuQuick, 150) // 50 a month over three months: "at most 50"
	if a := avg("10000077"); a.Errcode() != 0 || a.JSON.Num("averageData") != 50 || a.Errmsg() != "ok" {
		t.Errorf("after 150 units: %s", a)
	}
	e.mustConsume(spuQuick, 250) // 400 / 3 = 133.3: two significant digits, rounded up
	if a := avg("10000077"); a.JSON.Num("averageData") != 140 {
		t.Errorf("after 400 units: %s, want 140", a)
	}
	if a := e.API(http.MethodGet, averageAPI, e.tok, map[string]any{"spuId": "10000077"}); a.JSON.Num("averageData") != 140 {
		t.Errorf("spuId in the body: %s", a)
	}
	// The window is this Beijing month and the two before: three months later the units are gone.
	e.advance(100 * 24 * time.Hour)
	e.WantErrcode(avg("10000077"), 10122000)
}

// TestUsageBeforeChargingStarted replays the observed reply of August 2023: the trial pack not
// yet in effect, all counting it and effectiveAll not; a tap then spends nothing.
func TestUsageBeforeChargingStarted(t *testing.T) {
	t.Parallel()
	k := testkit.New(t, sandboxtestStart(time.Date(2023, 8, 20, 10, 0, 0, 0, time.UTC)))
	e := newChargeEnvOn(k)
	u := e.usage("spuId=10000077&offset=0&limit=20")
	if u.Str("all") != "1000" || u.Str("effectiveAll") != "0" || u.JSON.Num("total") != 1 {
		t.Fatalf("before the charging start: %s", u)
	}
	if r := row(u, 0); r["status"] != 2.0 || r["startTime"] != 1692979200.0 {
		t.Errorf("trial row before the charging start: %v", r)
	}
	if a := e.tap(nil); a.Str("free") != "before_charging" || a.Str("code") == "" {
		t.Errorf("a tap before the charging start: %s", a)
	}
	if o := e.mustBuy(skuQuick1k, nil); o.JSON.Num("start_time") != 1692979200 {
		t.Errorf("a pack bought before the charging start starts at %v, want 1692979200", o.JSON.Num("start_time"))
	}
	e.SetTime(time.Unix(1692979200, 0))
	if a := e.tap(nil); a.Str("free") != "" || a.JSON.Num("left") != 1999 {
		t.Errorf("a tap at the charging start: %s", a)
	}
}

// TestPermissionSet18 checks that a third-party platform calls the three APIs with an
// authorizer token only when the Mini Program granted permission set 18.
func TestPermissionSet18(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	onlyDocumentedErrcodes(k)
	mp := k.App(sandbox.WeChatAppSpec{Type: "mini_program"})
	code := envFor(k, mp).tap(nil).Str("code")
	calls := []func(tok string) testkit.Answer{
		func(tok string) testkit.Answer {
			return k.API(http.MethodGet, usageAPI+"?spuId=10000077&offset=0&limit=20", tok, nil)
		},
		func(tok string) testkit.Answer { return k.API(http.MethodGet, averageAPI+"?spuId=10000077", tok, nil) },
		func(tok string) testkit.Answer { return k.Post(phoneAPI, tok, map[string]any{"code": code}) },
	}
	without := authorizerToken(k, mp.AppID, []int{17})
	for i, call := range calls {
		k.Unchanged(func() {
			if a := call(without); a.Errcode() != 61007 {
				t.Errorf("call %d without set 18: %s, want 61007", i, a)
			}
		})
	}
	with := authorizerToken(k, mp.AppID, []int{17, 18})
	k.WantErrcode(calls[0](with), 0)
	k.WantErrcode(calls[1](with), 0)
	k.WantErrcode(calls[2](with), 0)
}

// authorizerToken authorizes a new third-party platform for appid with the permission sets and
// returns its authorizer_access_token.
func authorizerToken(k *testkit.Kit, appid string, sets []int) string {
	t := k.T()
	t.Helper()
	comp := k.App(sandbox.WeChatAppSpec{Type: "component"})
	ticket, err := k.Srv.WeChat().PushComponentTicket(comp.AppID)
	if err != nil {
		t.Fatal(err)
	}
	ctok := k.Post("/cgi-bin/component/api_component_token", "", map[string]any{
		"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": ticket.Ticket,
	}).Str("component_access_token")
	pre := k.Post("/cgi-bin/component/api_create_preauthcode?component_access_token="+ctok, "", map[string]any{"component_appid": comp.AppID}).Str("pre_auth_code")
	page := k.Do(http.MethodGet, testkit.MPHost+"/cgi-bin/componentloginpage?"+url.Values{
		"component_appid": {comp.AppID}, "pre_auth_code": {pre}, "redirect_uri": {"https://provider.example/cb"},
	}.Encode(), nil)
	if page.Status != http.StatusOK {
		t.Fatalf("authorization page: %s", page)
	}
	res, err := k.Srv.WeChat().AuthorizeComponent(comp.AppID, sandbox.WeChatAuthorizeRequest{PreAuthCode: pre, AuthorizerAppID: appid, PermissionSets: sets})
	if err != nil {
		t.Fatal(err)
	}
	a := k.Post("/cgi-bin/component/api_query_auth?component_access_token="+ctok, "", map[string]any{"component_appid": comp.AppID, "authorization_code": res.AuthCode})
	tok, _ := a.JSON.Get("authorization_info", "authorizer_access_token").(string)
	if tok == "" {
		t.Fatalf("api_query_auth: %s", a)
	}
	return tok
}

// row returns row i of a usage/get answer's detailList, or nil.
func row(a testkit.Answer, i int) map[string]any {
	rows, _ := a.JSON["detailList"].([]any)
	if i >= len(rows) {
		return nil
	}
	m, _ := rows[i].(map[string]any)
	return m
}
