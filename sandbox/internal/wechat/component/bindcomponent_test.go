package component_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// mobileLink is the mobile authorization link a provider sends an administrator to (the
// #wechat_redirect fragment never reaches a server).
func mobileLink(comp, code string, extra url.Values) string {
	q := url.Values{
		"action": {"bindcomponent"}, "no_scan": {"1"}, "component_appid": {comp}, "pre_auth_code": {code},
		"redirect_uri": {"https://provider.example/m/authorized?from=phone"}, "auth_type": {"3"},
	}
	for key, v := range extra {
		q[key] = v
	}
	return testkit.MPHost + "/safe/bindcomponent?" + q.Encode()
}

// TestMobileAuthorizationLink is a provider authorizing on a phone, end to end: the mobile link
// opens the pre-auth code, the administrator confirms, the link answers 302 to redirect_uri with
// auth_code and expires_in, the authorized push carries the same code, and the code exchanges.
func TestMobileAuthorizationLink(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := component(k)
	mp := account(k, "mini_program")
	rcv := testkit.NewReceiver(t, comp.AppID, comp.Token, comp.EncodingAESKey, "xml", "safe")
	if m := k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+comp.AppID+"/push", map[string]any{
		"url": rcv.URL + "/auth-events", "token": comp.Token, "encoding_aes_key": comp.EncodingAESKey,
	}); m.Status != http.StatusOK {
		t.Fatalf("authorization-event URL: %s", m)
	}
	ctok := componentToken(k, comp) // pushes a ticket
	pre := preAuthCode(k, comp.AppID, ctok)
	authorizeVerb := func(body any) testkit.Answer {
		return k.Control(http.MethodPost, "/_sandbox/wechat/components/"+comp.AppID+"/authorize", body)
	}
	// Not yet opened: the administrator has nothing to confirm.
	if a := authorizeVerb(map[string]any{"pre_auth_code": pre, "authorizer_appid": mp}); a.Status != http.StatusConflict || a.Code() != "page_not_opened" {
		t.Errorf("authorize before the link was opened: %s, want 409 page_not_opened", a)
	}
	// The same refusals as the PC page, and the mobile link's own parameters.
	for _, tc := range []struct {
		name  string
		extra url.Values
		want  int
	}{
		{"unknown pre-auth code", url.Values{"pre_auth_code": {"preauthcode@@@nope"}}, 61009},
		{"an official account as component", url.Values{"component_appid": {testkit.ServiceAppID}}, 61011},
		{"no component_appid", url.Values{"component_appid": nil}, 41018},
		{"relative redirect_uri", url.Values{"redirect_uri": {"/cb"}}, 40097},
		{"auth_type 0", url.Values{"auth_type": {"0"}}, 40097},
		{"unknown biz_appid", url.Values{"biz_appid": {"wx00000000000000ff"}}, 40013},
		{"another action", url.Values{"action": {"unbind"}}, 40097},
		{"no action", url.Values{"action": nil}, 40097},
		{"no_scan 2", url.Values{"no_scan": {"2"}}, 40097},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				page := k.Do(http.MethodGet, mobileLink(comp.AppID, pre, tc.extra), nil)
				k.WantErrcode(page, tc.want)
			})
		})
	}
	if a := authorizeVerb(map[string]any{"pre_auth_code": pre, "authorizer_appid": mp}); a.Status != http.StatusConflict {
		t.Errorf("refused links opened the pre-auth code: %s", a)
	}

	link := mobileLink(comp.AppID, pre, nil)
	page := k.Do(http.MethodGet, link, nil)
	if page.Status != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page.Raw), "手机") {
		t.Fatalf("mobile page: %s", page)
	}
	res := authorizeVerb(map[string]any{"pre_auth_code": pre, "authorizer_appid": mp, "permission_sets": []int{18}})
	if res.Status != http.StatusOK || res.Str("info_type") != "authorized" {
		t.Fatalf("administrator confirms: %s", res)
	}
	resp := k.Do(http.MethodGet, link, nil)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.Status != http.StatusFound || err != nil || loc.Host != "provider.example" || loc.Path != "/m/authorized" ||
		loc.Query().Get("from") != "phone" || loc.Query().Get("expires_in") != "600" || loc.Query().Get("auth_code") == "" {
		t.Fatalf("the link after confirmation: %d Location %q, want 302 to redirect_uri with auth_code and expires_in=600", resp.Status, resp.Header.Get("Location"))
	}
	code := loc.Query().Get("auth_code")
	var authorized *testkit.PushEvent
	for _, ev := range rcv.Wait(2) { // the ticket, then authorized
		if ev.Str("InfoType") == "authorized" {
			authorized = &ev
		}
	}
	if authorized == nil || authorized.Str("AuthorizationCode") != code || authorized.Str("PreAuthCode") != pre || authorized.Str("AuthorizerAppid") != mp || authorized.Str("AppId") != comp.AppID {
		t.Fatalf("authorized push = %+v, want the redirect's code %s", authorized, code)
	}
	info := queryAuth(k, comp.AppID, ctok, code)
	if info.Str("authorizer_appid") != mp || info.Str("authorizer_access_token") == "" {
		t.Errorf("api_query_auth: %v", info)
	}
	// The code is used: a second confirmation on the same pre-auth code is refused.
	if a := authorizeVerb(map[string]any{"pre_auth_code": pre, "authorizer_appid": mp}); a.Status != http.StatusConflict || a.Code() != "pre_auth_code_used" {
		t.Errorf("pre-auth code used twice: %s", a)
	}
}
