package component_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// component creates a third-party platform.
func component(k *testkit.Kit, whitelist ...string) *sandbox.WeChatApp {
	k.T().Helper()
	return k.App(sandbox.WeChatAppSpec{Type: "component", IPWhitelist: whitelist})
}

// account creates a verified official account (service) or mini program and returns its appid.
func account(k *testkit.Kit, typ string) string {
	k.T().Helper()
	return k.App(sandbox.WeChatAppSpec{Type: typ}).AppID
}

// pushTicket pushes a ticket on demand and returns it.
func pushTicket(k *testkit.Kit, comp string) string {
	k.T().Helper()
	res, err := k.Srv.WeChat().PushComponentTicket(comp)
	if err != nil {
		k.T().Fatal(err)
	}
	return res.Ticket
}

// componentToken gets a component token with a freshly pushed ticket.
func componentToken(k *testkit.Kit, comp *sandbox.WeChatApp) string {
	k.T().Helper()
	m := k.Post("/cgi-bin/component/api_component_token", "", map[string]any{
		"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": pushTicket(k, comp.AppID),
	})
	tok := m.Str("component_access_token")
	if tok == "" {
		k.T().Fatalf("api_component_token: %s", m)
	}
	return tok
}

func preAuthCode(k *testkit.Kit, comp, ctoken string) string {
	k.T().Helper()
	m := k.Post("/cgi-bin/component/api_create_preauthcode?component_access_token="+ctoken, "", map[string]any{"component_appid": comp})
	code := m.Str("pre_auth_code")
	if code == "" {
		k.T().Fatalf("api_create_preauthcode: %s", m)
	}
	return code
}

// openPage opens the authorization page and returns the answer.
func openPage(k *testkit.Kit, comp, code string, extra url.Values) testkit.Answer {
	k.T().Helper()
	q := url.Values{"component_appid": {comp}, "pre_auth_code": {code}, "redirect_uri": {"https://provider.example/cb?x=1"}}
	for key, v := range extra {
		q[key] = v
	}
	return k.Do(http.MethodGet, testkit.MPHost+"/cgi-bin/componentloginpage?"+q.Encode(), nil)
}

// authorize runs page + administrator for authorizer and returns the auth code.
func authorize(k *testkit.Kit, comp, ctoken, authorizer string, sets []int) string {
	k.T().Helper()
	code := preAuthCode(k, comp, ctoken)
	if page := openPage(k, comp, code, nil); page.Status != http.StatusOK {
		k.T().Fatalf("authorization page: %s", page)
	}
	res, err := k.Srv.WeChat().AuthorizeComponent(comp, sandbox.WeChatAuthorizeRequest{PreAuthCode: code, AuthorizerAppID: authorizer, PermissionSets: sets})
	if err != nil {
		k.T().Fatalf("authorize: %v", err)
	}
	return res.AuthCode
}

// queryAuth exchanges a code and returns authorization_info.
func queryAuth(k *testkit.Kit, comp, ctoken, code string) testkit.Object {
	k.T().Helper()
	m := k.Post("/cgi-bin/component/api_query_auth?component_access_token="+ctoken, "", map[string]any{"component_appid": comp, "authorization_code": code})
	info, ok := m.JSON["authorization_info"].(map[string]any)
	if !ok {
		k.T().Fatalf("api_query_auth: %s", m)
	}
	return info
}

func TestComponentTokenRefusals(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp, other := component(k), component(k)
	ticket, otherTicket := pushTicket(k, comp.AppID), pushTicket(k, other.AppID)
	walled := component(k, "10.1.2.3")
	walledTicket := pushTicket(k, walled.AppID)
	body := func(appid, secret string, ticket any) map[string]any {
		return map[string]any{"component_appid": appid, "component_appsecret": secret, "component_verify_ticket": ticket}
	}
	for _, tc := range []struct {
		name string
		body any
		want int
	}{
		{"malformed appid", body("wx123", comp.Secret, ticket), 40013},
		{"unknown appid", body("wx00000000000000ff", comp.Secret, ticket), 61011},
		{"official account credentials", body(testkit.ServiceAppID, testkit.ServiceSecret, ticket), 61011},
		{"another component's secret", body(comp.AppID, other.Secret, ticket), 40125},
		{"ticket never pushed", body(comp.AppID, comp.Secret, "ticket@@@made-up"), 61006},
		{"another component's ticket", body(comp.AppID, comp.Secret, otherTicket), 61006},
		{"null ticket", body(comp.AppID, comp.Secret, nil), 61011},
		{"no ticket", map[string]any{"component_appid": comp.AppID, "component_appsecret": comp.Secret}, 61006},
		{"no secret", map[string]any{"component_appid": comp.AppID, "component_verify_ticket": ticket}, 41004},
		{"no appid", map[string]any{"component_appsecret": comp.Secret, "component_verify_ticket": ticket}, 41018},
		{"caller outside the whitelist", body(walled.AppID, walled.Secret, walledTicket), 61004},
		{"not JSON", "{", 47001},
		{"empty body", "", 44002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				m := k.Post("/cgi-bin/component/api_component_token", "", tc.body)
				k.WantErrcode(m, tc.want)
			})
		})
	}
	m := k.Post("/cgi-bin/component/api_component_token", "", body(walled.AppID, walled.Secret, walledTicket))
	if msg := m.Str("errmsg"); !strings.HasPrefix(msg, "access clientip is not registered requestIP: 127.0.0.1 rid: ") {
		t.Errorf("61004 errmsg %q, want WeChat's with requestIP", msg)
	}
}

func TestComponentTicketLifetime(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := component(k)
	first := pushTicket(k, comp.AppID)
	if !strings.HasPrefix(first, "ticket@@@") {
		t.Errorf("ticket %q, want ticket@@@…", first)
	}
	k.Advance(10 * time.Minute)
	if got := pushTicket(k, comp.AppID); got != first {
		t.Errorf("a push 10 min later sent %q, want the same ticket %q (rotation every 20 min)", got, first)
	}
	k.Advance(10 * time.Minute)
	second := pushTicket(k, comp.AppID)
	if second == first {
		t.Errorf("a push 20 min later repeated the first ticket")
	}
	get := func(ticket string) testkit.Answer {
		return k.Post("/cgi-bin/component/api_component_token", "", map[string]any{
			"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": ticket,
		})
	}
	// An older ticket still works within its 12 hours.
	k.Advance(12*time.Hour - 21*time.Minute)
	if m := get(first); m.Str("component_access_token") == "" || m.JSON["expires_in"] != float64(7200) {
		t.Errorf("ticket 11h59m old: %v, want a component token for 7200 s", m)
	}
	k.Advance(time.Minute)
	k.Unchanged(func() {
		k.WantErrcode(get(first), 61005) // ticket 12 h old
	})
	if m := get(second); m.Str("component_access_token") == "" {
		t.Errorf("the newer ticket: %v, want a token", m)
	}
}

func TestComponentTokenLifetimeAndKinds(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := component(k)
	ctok := componentToken(k, comp)
	again := componentToken(k, comp)
	// A new component token does not revoke the old one.
	for _, tok := range []string{ctok, again} {
		if m := k.Post("/cgi-bin/component/api_create_preauthcode?component_access_token="+tok, "", map[string]any{"component_appid": comp.AppID}); m.Str("pre_auth_code") == "" {
			t.Errorf("component token: %v", m)
		}
	}
	// The newer pages send it as access_token.
	if m := k.Post("/cgi-bin/component/api_create_preauthcode", ctok, map[string]any{"component_appid": comp.AppID}); !strings.HasPrefix(m.Str("pre_auth_code"), "preauthcode@@@") || m.JSON["expires_in"] != float64(600) {
		t.Errorf("access_token=<component token>: %v", m)
	}
	// An account's own token on a component API, and a component token on an account API.
	basic := k.Post("/cgi-bin/stable_token", "", map[string]any{"grant_type": "client_credential", "appid": testkit.ServiceAppID, "secret": testkit.ServiceSecret})
	other := component(k)
	for _, tc := range []struct {
		name, path string
		body       any
		want       int
	}{
		{"no token", "/cgi-bin/component/api_create_preauthcode", map[string]any{"component_appid": comp.AppID}, 41001},
		{"malformed token", "/cgi-bin/component/api_create_preauthcode?component_access_token=abc", map[string]any{"component_appid": comp.AppID}, 40014},
		{"account token on a component API", "/cgi-bin/component/api_create_preauthcode?component_access_token=" + basic.Str("access_token"), map[string]any{"component_appid": comp.AppID}, 61014},
		{"component token on an account API", "/cgi-bin/openapi/quota/get?access_token=" + ctok, map[string]any{"cgi_path": "/cgi-bin/token"}, 61015},
		{"another component's appid", "/cgi-bin/component/api_create_preauthcode?component_access_token=" + ctok, map[string]any{"component_appid": other.AppID}, 40013},
		{"no component_appid", "/cgi-bin/component/api_create_preauthcode?component_access_token=" + ctok, map[string]any{}, 41018},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				k.WantErrcode(k.Post(tc.path, "", tc.body), tc.want)
			})
		})
	}
	// clear_quota is callable with a component token for the component itself.
	k.WantErrcode(k.Post("/cgi-bin/clear_quota", ctok, map[string]any{"appid": comp.AppID}), 0) // clear_quota with a component token
	k.Advance(7200 * time.Second)
	k.WantErrcode(k.Post("/cgi-bin/component/api_create_preauthcode?component_access_token="+ctok, "", map[string]any{"component_appid": comp.AppID}), 42001) // component token after 7200 s
}

func TestComponentAuthorizationCodes(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp, other := component(k), component(k)
	ctok, otherTok := componentToken(k, comp), componentToken(k, other)
	code := authorize(k, comp.AppID, ctok, testkit.ServiceAppID, []int{3})
	query := func(tok, appid, code string) testkit.Answer {
		return k.Post("/cgi-bin/component/api_query_auth?component_access_token="+tok, "", map[string]any{"component_appid": appid, "authorization_code": code})
	}
	for _, tc := range []struct {
		name string
		m    func() testkit.Answer
		want int
	}{
		{"unknown code", func() testkit.Answer { return query(ctok, comp.AppID, "queryauthcode@@@nope") }, 61009},
		{"another component's code", func() testkit.Answer { return query(otherTok, other.AppID, code) }, 61009},
		{"no code", func() testkit.Answer {
			return k.Post("/cgi-bin/component/api_query_auth?component_access_token="+ctok, "", map[string]any{"component_appid": comp.AppID})
		}, 61009},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				k.WantErrcode(tc.m(), tc.want)
			})
		})
	}
	info := queryAuth(k, comp.AppID, ctok, code)
	if info["authorizer_appid"] != testkit.ServiceAppID || info["expires_in"] != float64(7200) || !strings.HasPrefix(info.Str("authorizer_refresh_token"), "refreshtoken@@@") {
		t.Errorf("authorization_info %v", info)
	}
	if fi, _ := json.Marshal(info["func_info"]); string(fi) != `[{"funcscope_category":{"id":3}}]` {
		t.Errorf("func_info %s, want set 3 only", fi)
	}
	k.Unchanged(func() {
		k.WantErrcode(query(ctok, comp.AppID, code), 61009) // code used twice
	})
	late := authorize(k, comp.AppID, ctok, testkit.MiniAppID, nil)
	k.Advance(600 * time.Second)
	ctok = componentToken(k, comp)
	k.Unchanged(func() {
		k.WantErrcode(query(ctok, comp.AppID, late), 61010) // code after 600 s
	})
}

func TestAuthorizerTokenRefreshAndRevocation(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := component(k)
	ctok := componentToken(k, comp)
	info := queryAuth(k, comp.AppID, ctok, authorize(k, comp.AppID, ctok, testkit.ServiceAppID, nil))
	refresh, atok := info.Str("authorizer_refresh_token"), info.Str("authorizer_access_token")
	refreshBody := func(rt string) map[string]any {
		return map[string]any{"component_appid": comp.AppID, "authorizer_appid": testkit.ServiceAppID, "authorizer_refresh_token": rt}
	}
	const refreshPath = "/cgi-bin/component/api_authorizer_token?component_access_token="
	// The authorizer token works on the account's own paths.
	k.WantErrcode(k.Post("/cgi-bin/openapi/quota/get", atok, map[string]any{"cgi_path": "/cgi-bin/token"}), 0) // authorizer token on quota/get

	m := k.Post(refreshPath+ctok, "", refreshBody(refresh))
	if m.Str("authorizer_refresh_token") != refresh || m.Str("authorizer_access_token") == "" || m.Str("authorizer_access_token") == atok || m.JSON["expires_in"] != float64(7200) {
		t.Fatalf("refresh: %v, want a new token and the same refresh token", m)
	}
	newTok := m.Str("authorizer_access_token")
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"wrong refresh token", refreshBody("refreshtoken@@@wrong"), 61023},
		{"null refresh token", map[string]any{"component_appid": comp.AppID, "authorizer_appid": testkit.ServiceAppID, "authorizer_refresh_token": nil}, 61023},
		{"account that never authorized", map[string]any{"component_appid": comp.AppID, "authorizer_appid": testkit.MiniAppID, "authorizer_refresh_token": refresh}, 61003},
		{"malformed authorizer_appid", map[string]any{"component_appid": comp.AppID, "authorizer_appid": "nope", "authorizer_refresh_token": refresh}, 40013},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				k.WantErrcode(k.Post(refreshPath+ctok, "", tc.body), tc.want)
			})
		})
	}
	// The superseded token works for 5 minutes, then answers 40001.
	k.Advance(5 * time.Minute)
	k.WantErrcode(k.Post("/cgi-bin/openapi/quota/get", atok, map[string]any{"cgi_path": "/cgi-bin/token"}), 40001) // superseded authorizer token

	// Re-authorization rotates the refresh token: the old one answers 61023.
	code := authorize(k, comp.AppID, ctok, testkit.ServiceAppID, []int{1, 3})
	info = queryAuth(k, comp.AppID, ctok, code)
	if info.Str("authorizer_refresh_token") == refresh {
		t.Errorf("re-authorization kept the refresh token")
	}
	k.WantErrcode(k.Post(refreshPath+ctok, "", refreshBody(refresh)), 61023) // refresh token of before the re-authorization
	refresh = info.Str("authorizer_refresh_token")
	latest := info.Str("authorizer_access_token")

	// Cancelling invalidates every authorizer token; refresh and info answer 61003.
	if _, err := k.Srv.WeChat().RevokeComponentAuthorization(comp.AppID, testkit.ServiceAppID); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{newTok, latest} {
		k.WantErrcode(k.Post("/cgi-bin/openapi/quota/get", tok, map[string]any{"cgi_path": "/cgi-bin/token"}), 40001) // revoked authorizer token
	}
	k.Unchanged(func() {
		k.WantErrcode(k.Post(refreshPath+ctok, "", refreshBody(refresh)), 61003)                                                                                                                             // refresh after revocation
		k.WantErrcode(k.Post("/cgi-bin/component/api_get_authorizer_info?component_access_token="+ctok, "", map[string]any{"component_appid": comp.AppID, "authorizer_appid": testkit.ServiceAppID}), 61003) // info after revocation
	})
	if m := k.Control(http.MethodDelete, "/_sandbox/wechat/components/"+comp.AppID+"/authorizations/"+testkit.ServiceAppID, nil); m.Status != http.StatusNotFound {
		t.Errorf("revoking twice: %d %v, want 404", m.Status, m)
	}
}

func TestAuthorizerInfoAndList(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := component(k)
	ctok := componentToken(k, comp)
	queryAuth(k, comp.AppID, ctok, authorize(k, comp.AppID, ctok, testkit.ServiceAppID, []int{3, 22}))
	queryAuth(k, comp.AppID, ctok, authorize(k, comp.AppID, ctok, testkit.MiniAppID, nil))

	m := k.Post("/cgi-bin/component/api_get_authorizer_info?component_access_token="+ctok, "", map[string]any{"component_appid": comp.AppID, "authorizer_appid": testkit.ServiceAppID})
	ai, _ := m.JSON["authorizer_info"].(map[string]any)
	if ai["user_name"] != "gh_5a1d0c0e0001" || ai["nick_name"] != "晋城市民服务号" || ai["service_type_info"].(map[string]any)["id"] != float64(2) || ai["MiniProgramInfo"] != nil {
		t.Errorf("service account authorizer_info %v", ai)
	}
	if fi, _ := json.Marshal(m.JSON["authorization_info"].(map[string]any)["func_info"]); string(fi) != `[{"funcscope_category":{"id":3}},{"funcscope_category":{"id":22}}]` {
		t.Errorf("func_info %s", fi)
	}
	m = k.Post("/cgi-bin/component/api_get_authorizer_info?component_access_token="+ctok, "", map[string]any{"component_appid": comp.AppID, "authorizer_appid": testkit.MiniAppID})
	if ai, _ := m.JSON["authorizer_info"].(map[string]any); ai["MiniProgramInfo"] == nil {
		t.Errorf("mini program authorizer_info has no MiniProgramInfo: %v", m)
	}
	if fi, _ := json.Marshal(m.JSON["authorization_info"].(map[string]any)["func_info"]); !strings.Contains(string(fi), `"id":18`) || strings.Contains(string(fi), `"id":3}`) {
		t.Errorf("mini program granted every set: func_info %s", fi)
	}

	list := func(offset, count int) testkit.Answer {
		return k.Post("/cgi-bin/component/api_get_authorizer_list?component_access_token="+ctok, "", map[string]any{"component_appid": comp.AppID, "offset": offset, "count": count})
	}
	m = list(0, 500)
	items, _ := m.JSON["list"].([]any)
	if m.JSON["total_count"] != float64(2) || len(items) != 2 || items[0].(map[string]any)["authorizer_appid"] != testkit.ServiceAppID {
		t.Errorf("list %v", m)
	}
	if m = list(1, 1); m.JSON["total_count"] != float64(2) || len(m.JSON["list"].([]any)) != 1 || m.JSON["list"].([]any)[0].(map[string]any)["authorizer_appid"] != testkit.MiniAppID {
		t.Errorf("list offset 1 count 1: %v", m)
	}
	k.Unchanged(func() {
		k.WantErrcode(list(0, 501), 40170)                                                                                                                                                                   // count 501
		k.WantErrcode(k.Post("/cgi-bin/component/api_get_authorizer_info?component_access_token="+ctok, "", map[string]any{"component_appid": comp.AppID, "authorizer_appid": "wx5a1d0c0e00000003"}), 61003) // info of an account that never authorized
	})
}

func TestAuthorizerTokenWhitelist(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := component(k)
	ctok := componentToken(k, comp)
	atok := queryAuth(k, comp.AppID, ctok, authorize(k, comp.AppID, ctok, testkit.ServiceAppID, nil)).Str("authorizer_access_token")
	if m := k.Control(http.MethodPatch, "/_sandbox/wechat/apps/"+comp.AppID, map[string]any{"ip_whitelist": []string{"10.9.8.7"}}); m.Status != http.StatusOK {
		t.Fatalf("patch whitelist: %d %v", m.Status, m)
	}
	k.Unchanged(func() {
		k.WantErrcode(k.Post("/cgi-bin/openapi/quota/get", atok, map[string]any{"cgi_path": "/cgi-bin/token"}), 61004)                                            // authorizer token from outside the component's whitelist
		k.WantErrcode(k.Post("/cgi-bin/component/api_create_preauthcode?component_access_token="+ctok, "", map[string]any{"component_appid": comp.AppID}), 61004) // component token from outside the whitelist
	})
	k.Control(http.MethodPatch, "/_sandbox/wechat/apps/"+comp.AppID, map[string]any{"ip_whitelist": []string{"10.9.8.7", "127.0.0.1"}})
	k.WantErrcode(k.Post("/cgi-bin/openapi/quota/get", atok, map[string]any{"cgi_path": "/cgi-bin/token"}), 0) // authorizer token from a whitelisted IP
}

func TestStartPushTicketAndClockVerb(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp, other := component(k), component(k)
	before := k.StateHash()
	k.Advance(5 * time.Minute) // no push is due yet: nothing changes
	if k.StateHash() != before {
		t.Errorf("a clock move with no push due changed the state")
	}
	k.Unchanged(func() {
		// With another component's secret, without a secret, for an official account.
		k.WantErrcode(k.Post("/cgi-bin/component/api_start_push_ticket", "", map[string]any{"component_appid": comp.AppID, "component_secret": other.Secret}), 40125)
		k.WantErrcode(k.Post("/cgi-bin/component/api_start_push_ticket", "", map[string]any{"component_appid": comp.AppID}), 41004)
		k.WantErrcode(k.Post("/cgi-bin/component/api_start_push_ticket", "", map[string]any{"component_appid": testkit.ServiceAppID, "component_secret": other.Secret}), 61011)
	})
	// Answered ok even though no URL is set: the push was tried.
	k.WantErrcode(k.Post("/cgi-bin/component/api_start_push_ticket", "", map[string]any{"component_appid": comp.AppID, "component_secret": comp.Secret}), 0) // start_push_ticket
	m := k.Control(http.MethodGet, "/_sandbox/wechat/components/"+comp.AppID, nil)
	ticket := m.Str("ticket")
	if ticket == "" {
		t.Fatalf("no ticket after start_push_ticket: %v", m)
	}
	// Moving the clock through the control plane makes the scheduled push fall due: the push at
	// creation + 30 min comes 25 minutes after the first ticket, so it carries a new one.
	if m := k.Control(http.MethodPost, "/_sandbox/clock", map[string]any{"advance": "30m"}); m.Status != http.StatusOK {
		t.Fatalf("clock: %d %v", m.Status, m)
	}
	m = k.Control(http.MethodGet, "/_sandbox/wechat/components/"+comp.AppID, nil)
	if got := m.Str("ticket"); got == "" || got == ticket {
		t.Errorf("after POST /_sandbox/clock 30m the ticket is %q, want a new one", got)
	}
}

// TestPermissionSetsEnforced checks 61007 on the real APIs that declare x-wechat-permission-sets.
func TestPermissionSetsEnforced(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := component(k)
	ctok := componentToken(k, comp)
	oa := account(k, "official_account")
	oaTok := queryAuth(k, comp.AppID, ctok, authorize(k, comp.AppID, ctok, oa, []int{1})).Str("authorizer_access_token")
	mpTok := queryAuth(k, comp.AppID, ctok, authorize(k, comp.AppID, ctok, testkit.MiniAppID, []int{17})).Str("authorizer_access_token")
	qr := map[string]any{"expire_seconds": 600, "action_name": "QR_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_id": 7}}}
	for _, tc := range []struct {
		name, path string
		body       any
		want       int
	}{
		{"qrcode/create without set 3", "/cgi-bin/qrcode/create?access_token=" + oaTok, qr, 61007},
		{"getservicepath without 22 or 105", "/cityservice/getservicepath?access_token=" + mpTok, map[string]any{"page_type": 1, "src_channel": 1}, 61007},
		{"qrcodejumpadd on a service account without set 3", "/cgi-bin/wxopen/qrcodejumpadd?access_token=" + oaTok, map[string]any{"prefix": "http://weixin.qq.com/q/abc", "appid": testkit.MiniAppID, "path": "pages/index", "is_edit": 0}, 61007},
		{"qrcodejumpget on a Mini Program without set 18", "/cgi-bin/wxopen/qrcodejumpget?access_token=" + mpTok, map[string]any{}, 61007},
		{"quota tools need no set", "/cgi-bin/openapi/quota/get?access_token=" + oaTok, map[string]any{"cgi_path": "/cgi-bin/qrcode/create"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			call := func() {
				m := k.Post(tc.path, "", tc.body)
				k.WantErrcode(m, tc.want)
				if tc.want == 61007 && !strings.HasPrefix(m.Str("errmsg"), "api is unauthorized to component rid: ") {
					t.Errorf("errmsg %q", m.Str("errmsg"))
				}
			}
			if tc.want == 0 {
				call()
				return
			}
			k.Unchanged(call)
		})
	}
	// GET APIs too: scan-to-follow needs set 18.
	k.Unchanged(func() {
		m := k.Do(http.MethodGet, testkit.APIHost+"/wxa/getshowwxaitem?access_token="+mpTok, nil)
		k.WantErrcode(m, 61007)
	})
	// Re-authorizing with set 3 (updateauthorized) opens qrcode/create to the live token.
	authorize(k, comp.AppID, ctok, oa, []int{1, 3})
	if m := k.Post("/cgi-bin/qrcode/create", oaTok, qr); m.Str("ticket") == "" {
		t.Errorf("qrcode/create after set 3 was granted: %v", m)
	}
}

// A third-party platform calls getservicepath with an authorizer token: the authorizer's own
// approval decides; set 22 opens the API for an official account, 105 for a Mini Program.
func TestCityServiceThroughAuthorizerToken(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	cs := k.Srv.CityService()
	for _, appid := range []string{testkit.ServiceAppID, testkit.MiniAppID} {
		a, err := cs.Apply(sandbox.CityServiceApplicationSpec{
			SubjectName: "晋城市政务服务管理局", AppID: appid, JumpScenes: []int{0, 1}, PageTypes: []int{1},
			ContactUnit: "晋城市政务服务管理局", ContactPerson: "王敏", ContactPhone: "0356-2021234", ContactWeChat: "wangmin_jc",
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.Approve(a.ID, sandbox.CityServiceGrant{}); err != nil {
			t.Fatal(err)
		}
	}
	comp := component(k)
	ctok := componentToken(k, comp)
	home := map[string]any{"page_type": 1, "src_channel": 0, "city_name": "晋城"}
	for _, tc := range []struct {
		appid string
		set   int
	}{{testkit.ServiceAppID, 22}, {testkit.MiniAppID, 105}} {
		tok := queryAuth(k, comp.AppID, ctok, authorize(k, comp.AppID, ctok, tc.appid, []int{tc.set})).Str("authorizer_access_token")
		m := k.Post("/cityservice/getservicepath", tok, home)
		k.WantErrcode(m, 0) // getservicepath with an authorizer token
		if p := m.Str("path"); !strings.HasPrefix(p, "pages/index/index?") || !strings.Contains(p, "city_id=140500") {
			t.Errorf("%s with set %d: path %q", tc.appid, tc.set, p)
		}
	}
	// An authorizer without an approved application is refused as its own token would be.
	oa := account(k, "official_account")
	oaTok := queryAuth(k, comp.AppID, ctok, authorize(k, comp.AppID, ctok, oa, []int{22})).Str("authorizer_access_token")
	k.Unchanged(func() {
		k.WantErrcode(k.Post("/cityservice/getservicepath", oaTok, home), 48001) // unapproved authorizer
	})
}

// BenchmarkTokenCall measures an API call with an account's own token and with an authorizer
// token, whose admission also reads the grant and the component (permission sets, whitelist).
func BenchmarkTokenCall(b *testing.B) {
	k := testkit.New(b)
	comp := component(k)
	ctok := componentToken(k, comp)
	oa := account(k, "official_account")
	atok := queryAuth(k, comp.AppID, ctok, authorize(k, comp.AppID, ctok, oa, nil)).Str("authorizer_access_token")
	app, err := k.Srv.WeChat().App(oa)
	if err != nil {
		b.Fatal(err)
	}
	own := k.Post("/cgi-bin/stable_token", "", map[string]any{"grant_type": "client_credential", "appid": oa, "secret": app.Secret}).Str("access_token")
	body := map[string]any{"cgi_path": "/cgi-bin/qrcode/create"}
	for _, bc := range []struct{ name, tok string }{{"own", own}, {"authorizer", atok}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if m := k.Post("/cgi-bin/openapi/quota/get?access_token="+bc.tok, "", body); m.Errcode() != 0 {
					b.Fatalf("quota/get: %v", m)
				}
			}
		})
	}
}

// TestComponentRecordsAreForgottenOnTheClock follows a ticket, a component token, a pre-auth code
// and an authorization code past their lifetimes: each answers "expired" for a day (61005,
// 61010), then is forgotten and answers as one never issued (61006, 61009).
func TestComponentRecordsAreForgottenOnTheClock(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := component(k)
	ticket := pushTicket(k, comp.AppID)
	ctoken := componentToken(k, comp)
	unused := preAuthCode(k, comp.AppID, ctoken)
	code := authorize(k, comp.AppID, ctoken, account(k, "official_account"), []int{1})
	stored := func(key string) bool { return slices.Contains(k.StoredKeys("wechat:"), key) }
	keys := []string{
		"wechat:component:ticket:" + ticket, "wechat:token:" + ctoken,
		"wechat:component:preauth:" + unused, "wechat:component:authcode:" + code,
	}
	for _, key := range keys {
		if !stored(key) {
			t.Fatalf("%s is not stored", key)
		}
	}
	byTicket := func() testkit.Answer {
		return k.Post("/cgi-bin/component/api_component_token", "", map[string]any{
			"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": ticket,
		})
	}
	byCode := func() testkit.Answer {
		return k.Post("/cgi-bin/component/api_query_auth?component_access_token="+componentToken(k, comp), "", map[string]any{"component_appid": comp.AppID, "authorization_code": code})
	}
	k.Advance(12 * time.Hour)
	k.WantErrcode(byTicket(), 61005)
	k.WantErrcode(byCode(), 61010)
	k.Advance(wechat.ExpiredMemory)
	k.WantErrcode(byTicket(), 61006)
	k.WantErrcode(byCode(), 61009)
	for _, key := range keys {
		if stored(key) {
			t.Errorf("%s is still stored a day after it expired", key)
		}
	}
}
