package component_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

const (
	compAPIHost = "https://api.weixin.qq.com"
	compMPHost  = "https://mp.weixin.qq.com"
	// fixture accounts
	fixtureService = "wx5a1d0c0e00000001"
	fixtureMini    = "wx5a1d0c0e00000002"
)

// compEnv wraps a sandbox with the calls these tests make.
type compEnv struct {
	t   testing.TB
	srv *sandboxtest.Server
}

func newCompEnv(t testing.TB, opts ...sandbox.Option) *compEnv {
	t.Helper()
	return &compEnv{t: t, srv: sandboxtest.New(t, sandboxtest.WithSandboxOptions(opts...))}
}

// do sends a request and decodes a JSON answer (nil for another content type).
func (h *compEnv) do(method, u string, body any) (*http.Response, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, ok := body.(string)
		if !ok {
			b, err := json.Marshal(body)
			if err != nil {
				h.t.Fatal(err)
			}
			raw = string(b)
		}
		rd = strings.NewReader(raw)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return resp, map[string]any{"_body": string(b)}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		h.t.Fatalf("%s %s: %v in %s", method, u, err, b)
	}
	return resp, m
}

// post calls a WeChat API and returns its JSON answer.
func (h *compEnv) post(path string, body any) map[string]any {
	h.t.Helper()
	_, m := h.do(http.MethodPost, compAPIHost+path, body)
	return m
}

// control calls a /_sandbox/ verb and returns status and answer.
func (h *compEnv) control(method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	resp, m := h.do(method, h.srv.URL+path, body)
	return resp.StatusCode, m
}

func (h *compEnv) hash() string {
	h.t.Helper()
	s, err := h.srv.StateHash()
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func compErrcode(m map[string]any) int {
	v, _ := m["errcode"].(float64)
	return int(v)
}

func compStr(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// wantCompErrcode checks an errcode and that the errmsg carries a rid.
func wantCompErrcode(t *testing.T, what string, m map[string]any, want int) {
	t.Helper()
	if got := compErrcode(m); got != want {
		t.Errorf("%s: errcode %d, want %d (%v)", what, got, want, m)
	}
	if want != 0 && !strings.Contains(compStr(m, "errmsg"), " rid: ") {
		t.Errorf("%s: errmsg %q has no rid", what, compStr(m, "errmsg"))
	}
}

// component creates a third-party platform.
func (h *compEnv) component(whitelist ...string) *sandbox.WeChatApp {
	h.t.Helper()
	app, err := h.srv.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "component", IPWhitelist: whitelist})
	if err != nil {
		h.t.Fatal(err)
	}
	return app
}

// account creates a verified official account (service) or mini program.
func (h *compEnv) account(typ string) string {
	h.t.Helper()
	app, err := h.srv.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: typ})
	if err != nil {
		h.t.Fatal(err)
	}
	return app.AppID
}

// ticket pushes a ticket on demand and returns it.
func (h *compEnv) ticket(comp string) string {
	h.t.Helper()
	res, err := h.srv.WeChat().PushComponentTicket(comp)
	if err != nil {
		h.t.Fatal(err)
	}
	return res.Ticket
}

func (h *compEnv) componentToken(comp *sandbox.WeChatApp) string {
	h.t.Helper()
	m := h.post("/cgi-bin/component/api_component_token", map[string]any{
		"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": h.ticket(comp.AppID),
	})
	tok := compStr(m, "component_access_token")
	if tok == "" {
		h.t.Fatalf("api_component_token: %v", m)
	}
	return tok
}

func (h *compEnv) preAuthCode(comp, ctoken string) string {
	h.t.Helper()
	m := h.post("/cgi-bin/component/api_create_preauthcode?component_access_token="+ctoken, map[string]any{"component_appid": comp})
	code := compStr(m, "pre_auth_code")
	if code == "" {
		h.t.Fatalf("api_create_preauthcode: %v", m)
	}
	return code
}

// openPage opens the authorization page and returns the response.
func (h *compEnv) openPage(comp, code string, extra url.Values) (*http.Response, map[string]any) {
	h.t.Helper()
	q := url.Values{"component_appid": {comp}, "pre_auth_code": {code}, "redirect_uri": {"https://provider.example/cb?x=1"}}
	for k, v := range extra {
		q[k] = v
	}
	return h.do(http.MethodGet, compMPHost+"/cgi-bin/componentloginpage?"+q.Encode(), nil)
}

// authorize runs page + administrator for authorizer and returns the auth code.
func (h *compEnv) authorize(comp, ctoken, authorizer string, sets []int) string {
	h.t.Helper()
	code := h.preAuthCode(comp, ctoken)
	if resp, _ := h.openPage(comp, code, nil); resp.StatusCode != http.StatusOK {
		h.t.Fatalf("authorization page: %d", resp.StatusCode)
	}
	res, err := h.srv.WeChat().AuthorizeComponent(comp, sandbox.WeChatAuthorizeRequest{PreAuthCode: code, AuthorizerAppID: authorizer, PermissionSets: sets})
	if err != nil {
		h.t.Fatalf("authorize: %v", err)
	}
	return res.AuthCode
}

// queryAuth exchanges a code and returns authorization_info.
func (h *compEnv) queryAuth(comp, ctoken, code string) map[string]any {
	h.t.Helper()
	m := h.post("/cgi-bin/component/api_query_auth?component_access_token="+ctoken, map[string]any{"component_appid": comp, "authorization_code": code})
	info, ok := m["authorization_info"].(map[string]any)
	if !ok {
		h.t.Fatalf("api_query_auth: %v", m)
	}
	return info
}

func TestComponentTokenRefusals(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp, other := h.component(), h.component()
	ticket, otherTicket := h.ticket(comp.AppID), h.ticket(other.AppID)
	walled := h.component("10.1.2.3")
	walledTicket := h.ticket(walled.AppID)
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
		{"official account credentials", body(fixtureService, "5a1d0c0e5a1d0c0e5a1d0c0e00000001", ticket), 61011},
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
		before := h.hash()
		m := h.post("/cgi-bin/component/api_component_token", tc.body)
		wantCompErrcode(t, tc.name, m, tc.want)
		if after := h.hash(); after != before {
			t.Errorf("%s: the refused request changed the state", tc.name)
		}
	}
	m := h.post("/cgi-bin/component/api_component_token", body(walled.AppID, walled.Secret, walledTicket))
	if msg := compStr(m, "errmsg"); !strings.HasPrefix(msg, "access clientip is not registered requestIP: 127.0.0.1 rid: ") {
		t.Errorf("61004 errmsg %q, want WeChat's with requestIP", msg)
	}
}

func TestComponentTicketLifetime(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp := h.component()
	first := h.ticket(comp.AppID)
	if !strings.HasPrefix(first, "ticket@@@") {
		t.Errorf("ticket %q, want ticket@@@…", first)
	}
	h.srv.Advance(10 * time.Minute)
	if got := h.ticket(comp.AppID); got != first {
		t.Errorf("a push 10 min later sent %q, want the same ticket %q (rotation every 20 min)", got, first)
	}
	h.srv.Advance(10 * time.Minute)
	second := h.ticket(comp.AppID)
	if second == first {
		t.Errorf("a push 20 min later repeated the first ticket")
	}
	get := func(ticket string) map[string]any {
		return h.post("/cgi-bin/component/api_component_token", map[string]any{
			"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": ticket,
		})
	}
	// An older ticket still works within its 12 hours.
	h.srv.Advance(12*time.Hour - 21*time.Minute)
	if m := get(first); compStr(m, "component_access_token") == "" || m["expires_in"] != float64(7200) {
		t.Errorf("ticket 11h59m old: %v, want a component token for 7200 s", m)
	}
	h.srv.Advance(time.Minute)
	before := h.hash()
	wantCompErrcode(t, "ticket 12 h old", get(first), 61005)
	if h.hash() != before {
		t.Errorf("the refused request changed the state")
	}
	if m := get(second); compStr(m, "component_access_token") == "" {
		t.Errorf("the newer ticket: %v, want a token", m)
	}
}

func TestComponentTokenLifetimeAndKinds(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp := h.component()
	ctok := h.componentToken(comp)
	again := h.componentToken(comp)
	// A new component token does not revoke the old one.
	for _, tok := range []string{ctok, again} {
		if m := h.post("/cgi-bin/component/api_create_preauthcode?component_access_token="+tok, map[string]any{"component_appid": comp.AppID}); compStr(m, "pre_auth_code") == "" {
			t.Errorf("component token: %v", m)
		}
	}
	// The newer pages send it as access_token.
	if m := h.post("/cgi-bin/component/api_create_preauthcode?access_token="+ctok, map[string]any{"component_appid": comp.AppID}); !strings.HasPrefix(compStr(m, "pre_auth_code"), "preauthcode@@@") || m["expires_in"] != float64(600) {
		t.Errorf("access_token=<component token>: %v", m)
	}
	// An account's own token on a component API, and a component token on an account API.
	basic := h.post("/cgi-bin/stable_token", map[string]any{"grant_type": "client_credential", "appid": fixtureService, "secret": "5a1d0c0e5a1d0c0e5a1d0c0e00000001"})
	other := h.component()
	for _, tc := range []struct {
		name, path string
		body       any
		want       int
	}{
		{"no token", "/cgi-bin/component/api_create_preauthcode", map[string]any{"component_appid": comp.AppID}, 41001},
		{"malformed token", "/cgi-bin/component/api_create_preauthcode?component_access_token=abc", map[string]any{"component_appid": comp.AppID}, 40014},
		{"account token on a component API", "/cgi-bin/component/api_create_preauthcode?component_access_token=" + compStr(basic, "access_token"), map[string]any{"component_appid": comp.AppID}, 61014},
		{"component token on an account API", "/cgi-bin/openapi/quota/get?access_token=" + ctok, map[string]any{"cgi_path": "/cgi-bin/token"}, 61015},
		{"another component's appid", "/cgi-bin/component/api_create_preauthcode?component_access_token=" + ctok, map[string]any{"component_appid": other.AppID}, 40013},
		{"no component_appid", "/cgi-bin/component/api_create_preauthcode?component_access_token=" + ctok, map[string]any{}, 41018},
	} {
		before := h.hash()
		wantCompErrcode(t, tc.name, h.post(tc.path, tc.body), tc.want)
		if h.hash() != before {
			t.Errorf("%s: the refused request changed the state", tc.name)
		}
	}
	// clear_quota is callable with a component token for the component itself.
	wantCompErrcode(t, "clear_quota with a component token", h.post("/cgi-bin/clear_quota?access_token="+ctok, map[string]any{"appid": comp.AppID}), 0)
	h.srv.Advance(7200 * time.Second)
	wantCompErrcode(t, "component token after 7200 s", h.post("/cgi-bin/component/api_create_preauthcode?component_access_token="+ctok, map[string]any{"component_appid": comp.AppID}), 42001)
}

func TestComponentAuthorizationCodes(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp, other := h.component(), h.component()
	ctok, otherTok := h.componentToken(comp), h.componentToken(other)
	code := h.authorize(comp.AppID, ctok, fixtureService, []int{3})
	query := func(tok, appid, code string) map[string]any {
		return h.post("/cgi-bin/component/api_query_auth?component_access_token="+tok, map[string]any{"component_appid": appid, "authorization_code": code})
	}
	for _, tc := range []struct {
		name string
		m    func() map[string]any
		want int
	}{
		{"unknown code", func() map[string]any { return query(ctok, comp.AppID, "queryauthcode@@@nope") }, 61009},
		{"another component's code", func() map[string]any { return query(otherTok, other.AppID, code) }, 61009},
		{"no code", func() map[string]any {
			return h.post("/cgi-bin/component/api_query_auth?component_access_token="+ctok, map[string]any{"component_appid": comp.AppID})
		}, 61009},
	} {
		before := h.hash()
		wantCompErrcode(t, tc.name, tc.m(), tc.want)
		if h.hash() != before {
			t.Errorf("%s: the refused request changed the state", tc.name)
		}
	}
	info := h.queryAuth(comp.AppID, ctok, code)
	if info["authorizer_appid"] != fixtureService || info["expires_in"] != float64(7200) || !strings.HasPrefix(compStr(info, "authorizer_refresh_token"), "refreshtoken@@@") {
		t.Errorf("authorization_info %v", info)
	}
	if fi, _ := json.Marshal(info["func_info"]); string(fi) != `[{"funcscope_category":{"id":3}}]` {
		t.Errorf("func_info %s, want set 3 only", fi)
	}
	before := h.hash()
	wantCompErrcode(t, "code used twice", query(ctok, comp.AppID, code), 61009)
	if h.hash() != before {
		t.Errorf("the refused reuse changed the state")
	}
	late := h.authorize(comp.AppID, ctok, fixtureMini, nil)
	h.srv.Advance(600 * time.Second)
	ctok = h.componentToken(comp)
	before = h.hash()
	wantCompErrcode(t, "code after 600 s", query(ctok, comp.AppID, late), 61010)
	if h.hash() != before {
		t.Errorf("the refused expired code changed the state")
	}
}

func TestAuthorizerTokenRefreshAndRevocation(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp := h.component()
	ctok := h.componentToken(comp)
	info := h.queryAuth(comp.AppID, ctok, h.authorize(comp.AppID, ctok, fixtureService, nil))
	refresh, atok := compStr(info, "authorizer_refresh_token"), compStr(info, "authorizer_access_token")
	refreshBody := func(rt string) map[string]any {
		return map[string]any{"component_appid": comp.AppID, "authorizer_appid": fixtureService, "authorizer_refresh_token": rt}
	}
	const refreshPath = "/cgi-bin/component/api_authorizer_token?component_access_token="
	// The authorizer token works on the account's own paths.
	wantCompErrcode(t, "authorizer token on quota/get", h.post("/cgi-bin/openapi/quota/get?access_token="+atok, map[string]any{"cgi_path": "/cgi-bin/token"}), 0)

	m := h.post(refreshPath+ctok, refreshBody(refresh))
	if compStr(m, "authorizer_refresh_token") != refresh || compStr(m, "authorizer_access_token") == "" || compStr(m, "authorizer_access_token") == atok || m["expires_in"] != float64(7200) {
		t.Fatalf("refresh: %v, want a new token and the same refresh token", m)
	}
	newTok := compStr(m, "authorizer_access_token")
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"wrong refresh token", refreshBody("refreshtoken@@@wrong"), 61023},
		{"null refresh token", map[string]any{"component_appid": comp.AppID, "authorizer_appid": fixtureService, "authorizer_refresh_token": nil}, 61023},
		{"account that never authorized", map[string]any{"component_appid": comp.AppID, "authorizer_appid": fixtureMini, "authorizer_refresh_token": refresh}, 61003},
		{"malformed authorizer_appid", map[string]any{"component_appid": comp.AppID, "authorizer_appid": "nope", "authorizer_refresh_token": refresh}, 40013},
	} {
		before := h.hash()
		wantCompErrcode(t, tc.name, h.post(refreshPath+ctok, tc.body), tc.want)
		if h.hash() != before {
			t.Errorf("%s: the refused request changed the state", tc.name)
		}
	}
	// The superseded token works for 5 minutes, then answers 40001.
	h.srv.Advance(5 * time.Minute)
	wantCompErrcode(t, "superseded authorizer token", h.post("/cgi-bin/openapi/quota/get?access_token="+atok, map[string]any{"cgi_path": "/cgi-bin/token"}), 40001)

	// Re-authorization rotates the refresh token: the old one answers 61023.
	code := h.authorize(comp.AppID, ctok, fixtureService, []int{1, 3})
	info = h.queryAuth(comp.AppID, ctok, code)
	if compStr(info, "authorizer_refresh_token") == refresh {
		t.Errorf("re-authorization kept the refresh token")
	}
	wantCompErrcode(t, "refresh token of before the re-authorization", h.post(refreshPath+ctok, refreshBody(refresh)), 61023)
	refresh = compStr(info, "authorizer_refresh_token")
	latest := compStr(info, "authorizer_access_token")

	// Cancelling invalidates every authorizer token; refresh and info answer 61003.
	if _, err := h.srv.WeChat().RevokeComponentAuthorization(comp.AppID, fixtureService); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{newTok, latest} {
		wantCompErrcode(t, "revoked authorizer token", h.post("/cgi-bin/openapi/quota/get?access_token="+tok, map[string]any{"cgi_path": "/cgi-bin/token"}), 40001)
	}
	before := h.hash()
	wantCompErrcode(t, "refresh after revocation", h.post(refreshPath+ctok, refreshBody(refresh)), 61003)
	wantCompErrcode(t, "info after revocation", h.post("/cgi-bin/component/api_get_authorizer_info?component_access_token="+ctok, map[string]any{"component_appid": comp.AppID, "authorizer_appid": fixtureService}), 61003)
	if h.hash() != before {
		t.Errorf("refusals after revocation changed the state")
	}
	if st, m := h.control(http.MethodDelete, "/_sandbox/wechat/components/"+comp.AppID+"/authorizations/"+fixtureService, nil); st != http.StatusNotFound {
		t.Errorf("revoking twice: %d %v, want 404", st, m)
	}
}

func TestAuthorizerInfoAndList(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp := h.component()
	ctok := h.componentToken(comp)
	h.queryAuth(comp.AppID, ctok, h.authorize(comp.AppID, ctok, fixtureService, []int{3, 22}))
	h.queryAuth(comp.AppID, ctok, h.authorize(comp.AppID, ctok, fixtureMini, nil))

	m := h.post("/cgi-bin/component/api_get_authorizer_info?component_access_token="+ctok, map[string]any{"component_appid": comp.AppID, "authorizer_appid": fixtureService})
	ai, _ := m["authorizer_info"].(map[string]any)
	if ai["user_name"] != "gh_5a1d0c0e0001" || ai["nick_name"] != "晋城市民服务号" || ai["service_type_info"].(map[string]any)["id"] != float64(2) || ai["MiniProgramInfo"] != nil {
		t.Errorf("service account authorizer_info %v", ai)
	}
	if fi, _ := json.Marshal(m["authorization_info"].(map[string]any)["func_info"]); string(fi) != `[{"funcscope_category":{"id":3}},{"funcscope_category":{"id":22}}]` {
		t.Errorf("func_info %s", fi)
	}
	m = h.post("/cgi-bin/component/api_get_authorizer_info?component_access_token="+ctok, map[string]any{"component_appid": comp.AppID, "authorizer_appid": fixtureMini})
	if ai, _ := m["authorizer_info"].(map[string]any); ai["MiniProgramInfo"] == nil {
		t.Errorf("mini program authorizer_info has no MiniProgramInfo: %v", m)
	}
	if fi, _ := json.Marshal(m["authorization_info"].(map[string]any)["func_info"]); !strings.Contains(string(fi), `"id":18`) || strings.Contains(string(fi), `"id":3}`) {
		t.Errorf("mini program granted every set: func_info %s", fi)
	}

	list := func(offset, count int) map[string]any {
		return h.post("/cgi-bin/component/api_get_authorizer_list?component_access_token="+ctok, map[string]any{"component_appid": comp.AppID, "offset": offset, "count": count})
	}
	m = list(0, 500)
	items, _ := m["list"].([]any)
	if m["total_count"] != float64(2) || len(items) != 2 || items[0].(map[string]any)["authorizer_appid"] != fixtureService {
		t.Errorf("list %v", m)
	}
	if m = list(1, 1); m["total_count"] != float64(2) || len(m["list"].([]any)) != 1 || m["list"].([]any)[0].(map[string]any)["authorizer_appid"] != fixtureMini {
		t.Errorf("list offset 1 count 1: %v", m)
	}
	before := h.hash()
	wantCompErrcode(t, "count 501", list(0, 501), 40170)
	wantCompErrcode(t, "info of an account that never authorized", h.post("/cgi-bin/component/api_get_authorizer_info?component_access_token="+ctok, map[string]any{"component_appid": comp.AppID, "authorizer_appid": "wx5a1d0c0e00000003"}), 61003)
	if h.hash() != before {
		t.Errorf("refusals changed the state")
	}
}

func TestAuthorizerTokenWhitelist(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp := h.component()
	ctok := h.componentToken(comp)
	atok := compStr(h.queryAuth(comp.AppID, ctok, h.authorize(comp.AppID, ctok, fixtureService, nil)), "authorizer_access_token")
	if st, m := h.control(http.MethodPatch, "/_sandbox/wechat/apps/"+comp.AppID, map[string]any{"ip_whitelist": []string{"10.9.8.7"}}); st != http.StatusOK {
		t.Fatalf("patch whitelist: %d %v", st, m)
	}
	before := h.hash()
	wantCompErrcode(t, "authorizer token from outside the component's whitelist", h.post("/cgi-bin/openapi/quota/get?access_token="+atok, map[string]any{"cgi_path": "/cgi-bin/token"}), 61004)
	wantCompErrcode(t, "component token from outside the whitelist", h.post("/cgi-bin/component/api_create_preauthcode?component_access_token="+ctok, map[string]any{"component_appid": comp.AppID}), 61004)
	if h.hash() != before {
		t.Errorf("refusals changed the state")
	}
	h.control(http.MethodPatch, "/_sandbox/wechat/apps/"+comp.AppID, map[string]any{"ip_whitelist": []string{"10.9.8.7", "127.0.0.1"}})
	wantCompErrcode(t, "authorizer token from a whitelisted IP", h.post("/cgi-bin/openapi/quota/get?access_token="+atok, map[string]any{"cgi_path": "/cgi-bin/token"}), 0)
}

func TestAuthorizationPage(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp := h.component()
	ctok := h.componentToken(comp)
	code := h.preAuthCode(comp.AppID, ctok)
	authorizeVerb := func(body any) (int, map[string]any) {
		return h.control(http.MethodPost, "/_sandbox/wechat/components/"+comp.AppID+"/authorize", body)
	}
	// The administrator cannot confirm a page nobody opened.
	if st, m := authorizeVerb(map[string]any{"pre_auth_code": code, "authorizer_appid": fixtureService}); st != http.StatusConflict {
		t.Errorf("authorize before the page was opened: %d %v, want 409", st, m)
	}
	for _, tc := range []struct {
		name  string
		extra url.Values
		want  int
	}{
		{"unknown pre-auth code", url.Values{"pre_auth_code": {"preauthcode@@@nope"}}, 61009},
		{"an official account as component", url.Values{"component_appid": {fixtureService}}, 61011},
		{"relative redirect_uri", url.Values{"redirect_uri": {"/cb"}}, 40097},
		{"auth_type 0", url.Values{"auth_type": {"0"}}, 40097},
		{"unknown biz_appid", url.Values{"biz_appid": {"wx00000000000000ff"}}, 40013},
		{"unknown category", url.Values{"category_id_list": {"3|999"}}, 40097},
	} {
		before := h.hash()
		resp, m := h.openPage(comp.AppID, code, tc.extra)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s, want WeChat's JSON error", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		wantCompErrcode(t, tc.name, m, tc.want)
		if h.hash() != before {
			t.Errorf("%s: the refused page changed the state", tc.name)
		}
	}
	// Open for mini programs only, with sets 17 and 18.
	resp, m := h.openPage(comp.AppID, code, url.Values{"auth_type": {"2"}, "category_id_list": {"17|18"}})
	page := compStr(m, "_body")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "小程序开发与数据分析") || strings.Contains(page, "账号服务") {
		t.Fatalf("page: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"a service account on an auth_type=2 page", map[string]any{"pre_auth_code": code, "authorizer_appid": fixtureService}, http.StatusForbidden},
		{"a set the page does not offer", map[string]any{"pre_auth_code": code, "authorizer_appid": fixtureMini, "permission_sets": []int{19}}, http.StatusBadRequest},
		{"no set", map[string]any{"pre_auth_code": code, "authorizer_appid": fixtureMini, "permission_sets": []int{}}, http.StatusBadRequest},
		{"no account", map[string]any{"pre_auth_code": code}, http.StatusBadRequest},
		{"unknown pre-auth code", map[string]any{"pre_auth_code": "preauthcode@@@x", "authorizer_appid": fixtureMini}, http.StatusNotFound},
	} {
		before := h.hash()
		if st, m := authorizeVerb(tc.body); st != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, st, m, tc.want)
		}
		if h.hash() != before {
			t.Errorf("%s: the refused authorization changed the state", tc.name)
		}
	}
	st, res := authorizeVerb(map[string]any{"pre_auth_code": code, "authorizer_appid": fixtureMini})
	if st != http.StatusOK || res["info_type"] != "authorized" || !slices.Equal(compInts(res["permission_sets"]), []int{17, 18}) {
		t.Fatalf("authorize: %d %v", st, res)
	}
	want := "https://provider.example/cb?x=1&auth_code=" + url.QueryEscape(compStr(res, "auth_code")) + "&expires_in=600"
	if res["redirect_url"] != want {
		t.Errorf("redirect_url %v, want %s", res["redirect_url"], want)
	}
	// The page, opened again (the browser's reload), redirects there.
	resp, _ = h.openPage(comp.AppID, code, url.Values{"auth_type": {"2"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Errorf("page after confirmation: %d Location %q, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if st, m := authorizeVerb(map[string]any{"pre_auth_code": code, "authorizer_appid": fixtureMini}); st != http.StatusConflict {
		t.Errorf("pre-auth code used twice: %d %v, want 409", st, m)
	}
	// A mutually exclusive set (18) held by this platform is refused to another one.
	comp2 := h.component()
	ctok2 := h.componentToken(comp2)
	code2 := h.preAuthCode(comp2.AppID, ctok2)
	h.openPage(comp2.AppID, code2, url.Values{"biz_appid": {fixtureMini}})
	if st, m := h.control(http.MethodPost, "/_sandbox/wechat/components/"+comp2.AppID+"/authorize", map[string]any{"pre_auth_code": code2, "permission_sets": []int{18}}); st != http.StatusConflict {
		t.Errorf("exclusive set 18 held elsewhere: %d %v, want 409", st, m)
	}
	if st, m := h.control(http.MethodPost, "/_sandbox/wechat/components/"+comp2.AppID+"/authorize", map[string]any{"pre_auth_code": code2, "authorizer_appid": fixtureService}); st != http.StatusForbidden {
		t.Errorf("another account than biz_appid: %d %v, want 403", st, m)
	}
	st, res = h.control(http.MethodPost, "/_sandbox/wechat/components/"+comp2.AppID+"/authorize", map[string]any{"pre_auth_code": code2})
	if sets := compInts(res["permission_sets"]); st != http.StatusOK || slices.Contains(sets, 18) || !slices.Contains(sets, 17) {
		t.Errorf("all sets with 18 held elsewhere: %d %v, want every offered set but 18", st, res)
	}
	// An expired pre-auth code is refused by the page.
	code3 := h.preAuthCode(comp.AppID, ctok)
	h.srv.Advance(600 * time.Second)
	before := h.hash()
	_, m = h.openPage(comp.AppID, code3, nil)
	wantCompErrcode(t, "expired pre-auth code", m, 61010)
	if h.hash() != before {
		t.Errorf("the refused page changed the state")
	}
}

func compInts(v any) []int {
	var out []int
	for _, x := range v.([]any) {
		out = append(out, int(x.(float64)))
	}
	return out
}

func TestComponentControlVerbs(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp := h.component()
	if st, m := h.control(http.MethodPost, "/_sandbox/wechat/components/"+fixtureService+"/ticket", nil); st != http.StatusNotFound {
		t.Errorf("ticket for an official account: %d %v, want 404", st, m)
	}
	st, m := h.control(http.MethodPost, "/_sandbox/wechat/components/"+comp.AppID+"/ticket", nil)
	if st != http.StatusOK || !strings.HasPrefix(compStr(m, "ticket"), "ticket@@@") || m["push"].(map[string]any)["delivered"] != false {
		t.Errorf("ticket verb: %d %v", st, m)
	}
	st, m = h.control(http.MethodGet, "/_sandbox/wechat/components/"+comp.AppID, nil)
	if st != http.StatusOK || m["ticket"] == nil {
		t.Errorf("component view: %d %v", st, m)
	}
	// The scheduled push: at creation + 10 min the ticket is drawn (and pushed) by the clock.
	comp2 := h.component()
	h.srv.Advance(10 * time.Minute)
	_, m = h.control(http.MethodGet, "/_sandbox/wechat/components/"+comp2.AppID, nil)
	if compStr(m, "ticket") == "" {
		t.Errorf("no ticket drawn 10 minutes after creation: %v", m)
	}
	if want := sandboxtest.DefaultStart().Add(20 * time.Minute).Format(time.RFC3339); compStr(m, "next_ticket_push") != want {
		t.Errorf("next_ticket_push %v, want %s", m["next_ticket_push"], want)
	}
	_, j := h.control(http.MethodGet, "/_sandbox/requests?event=component_verify_ticket&appid="+comp2.AppID, nil)
	if j["count"] != float64(1) {
		t.Errorf("journal has %v ticket pushes for %s, want 1", j["count"], comp2.AppID)
	}
}

func TestStartPushTicketAndClockVerb(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp, other := h.component(), h.component()
	before := h.hash()
	h.srv.Advance(5 * time.Minute) // no push is due yet: nothing changes
	if h.hash() != before {
		t.Errorf("a clock move with no push due changed the state")
	}
	wantCompErrcode(t, "start_push_ticket with another component's secret", h.post("/cgi-bin/component/api_start_push_ticket", map[string]any{"component_appid": comp.AppID, "component_secret": other.Secret}), 40125)
	wantCompErrcode(t, "start_push_ticket without a secret", h.post("/cgi-bin/component/api_start_push_ticket", map[string]any{"component_appid": comp.AppID}), 41004)
	wantCompErrcode(t, "start_push_ticket for an official account", h.post("/cgi-bin/component/api_start_push_ticket", map[string]any{"component_appid": fixtureService, "component_secret": other.Secret}), 61011)
	if h.hash() != before {
		t.Errorf("refused start_push_ticket calls changed the state")
	}
	// Answered ok even though no URL is set: the push was tried.
	wantCompErrcode(t, "start_push_ticket", h.post("/cgi-bin/component/api_start_push_ticket", map[string]any{"component_appid": comp.AppID, "component_secret": comp.Secret}), 0)
	_, m := h.control(http.MethodGet, "/_sandbox/wechat/components/"+comp.AppID, nil)
	ticket := compStr(m, "ticket")
	if ticket == "" {
		t.Fatalf("no ticket after start_push_ticket: %v", m)
	}
	// Moving the clock through the control plane makes the scheduled push fall due: the push at
	// creation + 30 min comes 25 minutes after the first ticket, so it carries a new one.
	if st, m := h.control(http.MethodPost, "/_sandbox/clock", map[string]any{"advance": "30m"}); st != http.StatusOK {
		t.Fatalf("clock: %d %v", st, m)
	}
	_, m = h.control(http.MethodGet, "/_sandbox/wechat/components/"+comp.AppID, nil)
	if got := compStr(m, "ticket"); got == "" || got == ticket {
		t.Errorf("after POST /_sandbox/clock 30m the ticket is %q, want a new one", got)
	}
}
