package component_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// providerReceiver is a third-party platform's authorization-event receiver written the way a
// provider writes one, with its own implementation of WeChat's message encryption (not package
// push's): it checks signature and msg_signature, decrypts AES-256-CBC with the key
// Base64(EncodingAESKey+"="), IV = key[:16], 32-byte PKCS#7 padding, and checks the appid
// trailer.
type providerReceiver struct {
	t                    *testing.T
	appid, token, aeskey string

	mu     sync.Mutex
	events []providerEvent
	errs   []string
}

// providerEvent is a decrypted system push.
type providerEvent struct {
	AppID                        string `xml:"AppId"`
	CreateTime                   int64  `xml:"CreateTime"`
	InfoType                     string `xml:"InfoType"`
	ComponentVerifyTicket        string `xml:"ComponentVerifyTicket"`
	AuthorizerAppid              string `xml:"AuthorizerAppid"`
	AuthorizationCode            string `xml:"AuthorizationCode"`
	AuthorizationCodeExpiredTime int64  `xml:"AuthorizationCodeExpiredTime"`
	PreAuthCode                  string `xml:"PreAuthCode"`
}

func sha1Sorted(parts ...string) string {
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// decrypt is the provider's own WXBizMsgCrypt decryption.
func (r *providerReceiver) decrypt(encrypted string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(r.aeskey + "=")
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("bad EncodingAESKey: %v", err)
	}
	ct, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return nil, fmt.Errorf("Encrypt is not base64: %v", err)
	}
	if len(ct) == 0 || len(ct)%32 != 0 {
		return nil, fmt.Errorf("ciphertext of %d bytes is not whole 32-byte blocks", len(ct))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 32 {
		return nil, fmt.Errorf("padding byte %d out of 1..32", pad)
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return nil, errors.New("plaintext too short")
	}
	n := int(binary.BigEndian.Uint32(plain[16:20]))
	if 20+n > len(plain) {
		return nil, fmt.Errorf("message length %d beyond the plaintext", n)
	}
	msg, appid := plain[20:20+n], string(plain[20+n:])
	if appid != r.appid {
		return nil, fmt.Errorf("trailer appid %q, want the component's %s", appid, r.appid)
	}
	return msg, nil
}

func (r *providerReceiver) fail(w http.ResponseWriter, format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	http.Error(w, "bad push", http.StatusBadRequest)
}

func (r *providerReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if q.Get("signature") != sha1Sorted(r.token, ts, nonce) {
		r.fail(w, "%s: bad signature", req.Method)
		return
	}
	if req.Method == http.MethodGet { // the URL handshake
		_, _ = io.WriteString(w, q.Get("echostr"))
		return
	}
	body, _ := io.ReadAll(req.Body)
	var env struct {
		AppID   string `xml:"AppId"`
		Encrypt string `xml:"Encrypt"`
	}
	if err := xml.Unmarshal(body, &env); err != nil || env.Encrypt == "" {
		r.fail(w, "envelope %q: %v", body, err)
		return
	}
	if q.Get("encrypt_type") != "aes" || q.Get("msg_signature") != sha1Sorted(r.token, ts, nonce, env.Encrypt) {
		r.fail(w, "bad encrypt_type or msg_signature in %s", req.URL.RawQuery)
		return
	}
	if env.AppID != r.appid {
		r.fail(w, "outer AppId %q, want %s", env.AppID, r.appid)
		return
	}
	msg, err := r.decrypt(env.Encrypt)
	if err != nil {
		r.fail(w, "decrypt: %v", err)
		return
	}
	var ev providerEvent
	if err := xml.Unmarshal(msg, &ev); err != nil {
		r.fail(w, "inner XML %q: %v", msg, err)
		return
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	_, _ = io.WriteString(w, "success")
}

// take returns and forgets the events received so far, failing on any receiver error.
func (r *providerReceiver) take() []providerEvent {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		r.t.Errorf("receiver: %s", e)
	}
	out := r.events
	r.events, r.errs = nil, nil
	return out
}

// TestComponentProviderFlow drives the whole authorization the way a provider's server does.
func TestComponentProviderFlow(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := component(k)
	oa := account(k, "official_account")
	rcv := &providerReceiver{t: t, appid: comp.AppID, token: comp.Token, aeskey: comp.EncodingAESKey}
	ts := httptest.NewServer(rcv)
	defer ts.Close()

	// 1. The authorization-event URL is set like any push URL (the sandbox verifies it first).
	if m := k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+comp.AppID+"/push", map[string]any{
		"url": ts.URL + "/wechat/auth-events", "token": comp.Token, "encoding_aes_key": comp.EncodingAESKey,
	}); m.Status != http.StatusOK {
		t.Fatalf("set the authorization-event URL: %s", m)
	}

	// 2. Ten minutes later the ticket arrives, encrypted.
	k.Advance(10 * time.Minute)
	k.WaitPushes()
	evs := rcv.take()
	if len(evs) != 1 || evs[0].InfoType != "component_verify_ticket" || !strings.HasPrefix(evs[0].ComponentVerifyTicket, "ticket@@@") {
		t.Fatalf("after 10 minutes the receiver got %+v, want one component_verify_ticket", evs)
	}
	if want := k.Start.Add(10 * time.Minute).Unix(); evs[0].CreateTime != want || evs[0].AppID != comp.AppID {
		t.Errorf("ticket push CreateTime %d AppId %s, want %d %s", evs[0].CreateTime, evs[0].AppID, want, comp.AppID)
	}
	ticket := evs[0].ComponentVerifyTicket

	// 3. Component token, 4. pre-auth code.
	m := k.Post("/cgi-bin/component/api_component_token", "", map[string]any{
		"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": ticket,
	})
	ctok := m.Str("component_access_token")
	if ctok == "" || m.JSON["expires_in"] != float64(7200) {
		t.Fatalf("api_component_token: %v", m)
	}
	pre := preAuthCode(k, comp.AppID, ctok)

	// 5. Follow the authorization link; the administrator of the service account scans and
	// grants the account-service set (3); the browser, still on the page, is redirected.
	link := testkit.MPHost + "/cgi-bin/componentloginpage?" + url.Values{
		"component_appid": {comp.AppID}, "pre_auth_code": {pre}, "redirect_uri": {"https://provider.example/authorized"}, "auth_type": {"1"},
	}.Encode()
	page := k.Do(http.MethodGet, link, nil)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Raw), "账号服务") {
		t.Fatalf("authorization page: %d %v", page.Status, page)
	}
	res := k.Control(http.MethodPost, "/_sandbox/wechat/components/"+comp.AppID+"/authorize", map[string]any{
		"pre_auth_code": pre, "authorizer_appid": oa, "permission_sets": []int{3},
	})
	if res.Status != http.StatusOK || res.JSON.Get("push", "queued") != true {
		t.Fatalf("administrator confirms: %s", res)
	}
	resp := k.Do(http.MethodGet, link, nil)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.Status != http.StatusFound || err != nil || loc.Host != "provider.example" || loc.Query().Get("expires_in") != "600" {
		t.Fatalf("browser redirect: %d %q", resp.Status, resp.Header.Get("Location"))
	}
	code := loc.Query().Get("auth_code")
	k.WaitPushes()
	evs = rcv.take()
	if len(evs) != 1 || evs[0].InfoType != "authorized" || evs[0].AuthorizationCode != code || evs[0].AuthorizerAppid != oa ||
		evs[0].PreAuthCode != pre || evs[0].AuthorizationCodeExpiredTime != evs[0].CreateTime+600 {
		t.Fatalf("authorized event %+v, want the redirect's code %s", evs, code)
	}

	// 6. Exchange the code.
	info := queryAuth(k, comp.AppID, ctok, code)
	atok, refresh := info.Str("authorizer_access_token"), info.Str("authorizer_refresh_token")

	// 7. With the authorizer token, the provider creates a parametric QR code of the service
	// account and a QR-jump rule that opens the linked Mini Program from it: both are in the
	// account-service set (3).
	qr := map[string]any{"action_name": "QR_LIMIT_STR_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_str": "shop-1"}}}
	m = k.Post("/cgi-bin/qrcode/create", atok, qr)
	codeURL := m.Str("url")
	if codeURL == "" {
		t.Fatalf("qrcode/create with the authorizer token: %v", m)
	}
	released := true
	miniApp, err := k.Srv.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "mini_program", Released: &released})
	if err != nil {
		t.Fatal(err)
	}
	mini := miniApp.AppID
	if m := k.Control(http.MethodPost, "/_sandbox/wechat/apps/"+oa+"/links", map[string]any{"appid": mini}); m.Status != http.StatusCreated {
		t.Fatalf("link the service account and the Mini Program: %d %v", m.Status, m)
	}
	rule := map[string]any{"prefix": codeURL, "appid": mini, "path": "pages/shop/index", "is_edit": 0}
	k.WantErrcode(k.Post("/cgi-bin/wxopen/qrcodejumpadd", atok, rule), 0) // qrcodejumpadd with the authorizer token

	// 8. Two hours later the token has expired; refresh it with the same refresh token.
	k.Advance(2 * time.Hour)
	k.WantErrcode(k.Post("/cgi-bin/wxopen/qrcodejumppublish", atok, map[string]any{"prefix": codeURL}), 42001) // expired authorizer token
	k.WaitPushes()
	rcv.take() // tickets pushed meanwhile
	ticket = pushTicket(k, comp.AppID)
	m = k.Post("/cgi-bin/component/api_component_token", "", map[string]any{
		"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": ticket,
	})
	ctok = m.Str("component_access_token")
	m = k.Post("/cgi-bin/component/api_authorizer_token?component_access_token="+ctok, "", map[string]any{
		"component_appid": comp.AppID, "authorizer_appid": oa, "authorizer_refresh_token": refresh,
	})
	if m.Str("authorizer_refresh_token") != refresh {
		t.Fatalf("refresh: %v", m)
	}
	k.WantErrcode(k.Post("/cgi-bin/wxopen/qrcodejumppublish?access_token="+m.Str("authorizer_access_token"), "", map[string]any{"prefix": codeURL}), 0) // qrcodejumppublish with the refreshed token
	// A user scanning the code now lands in the Mini Program.
	if m := k.Control(http.MethodPost, "/_sandbox/wechat/scan", map[string]any{"url": codeURL}); m.Status != http.StatusOK || m.JSON["action"] != "open_mini_program" || m.JSON["appid"] != mini {
		t.Errorf("scan of the service account's code: %d %v, want open_mini_program %s", m.Status, m, mini)
	}

	// 9. The administrator comes back and adds a set: updateauthorized arrives with a new code.
	k.WaitPushes()
	rcv.take()
	code = authorize(k, comp.AppID, ctok, oa, []int{1, 3})
	k.WaitPushes()
	evs = rcv.take()
	if len(evs) != 1 || evs[0].InfoType != "updateauthorized" || evs[0].AuthorizationCode != code || evs[0].AuthorizerAppid != oa {
		t.Errorf("after re-authorizing the receiver got %+v, want updateauthorized with code %s", evs, code)
	}

	// 10. The administrator cancels: unauthorized arrives.
	if _, err := k.Srv.WeChat().RevokeComponentAuthorization(comp.AppID, oa); err != nil {
		t.Fatal(err)
	}
	k.WaitPushes()
	evs = rcv.take()
	if len(evs) != 1 || evs[0].InfoType != "unauthorized" || evs[0].AuthorizerAppid != oa || evs[0].AuthorizationCode != "" {
		t.Errorf("after cancelling the receiver got %+v, want unauthorized", evs)
	}
}

// TestComponentPushNeedsSuccess: a system push counts as delivered only when the receiver answers
// exactly "success"; otherwise it is tried three times and the ticket stays usable.
func TestComponentPushNeedsSuccess(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := component(k)
	var mu sync.Mutex
	posts := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, r.URL.Query().Get("echostr"))
			return
		}
		mu.Lock()
		posts++
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	defer ts.Close()
	if m := k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+comp.AppID+"/push", map[string]any{"url": ts.URL, "token": comp.Token}); m.Status != http.StatusOK {
		t.Fatalf("push URL: %d %v", m.Status, m)
	}
	m := k.Control(http.MethodPost, "/_sandbox/wechat/components/"+comp.AppID+"/ticket", nil)
	push, _ := m.JSON["push"].(map[string]any)
	if m.Status != http.StatusOK || push["queued"] != true {
		t.Fatalf("ticket push: %s, want queued", m)
	}
	k.WaitPushes()
	ds, err := k.Srv.WeChat().Deliveries(comp.AppID)
	if err != nil || len(ds) != 1 || ds[0].ID != testkit.Object(push).Str("delivery") {
		t.Fatalf("deliveries = %+v, %v; want the ticket push", ds, err)
	}
	if d := ds[0]; d.Status != "failed" || !strings.Contains(d.Tries[len(d.Tries)-1].Error, "success") {
		t.Errorf("ticket push answered \"ok\": %+v, want failed for want of \"success\"", d)
	}
	mu.Lock()
	if posts != 3 {
		t.Errorf("%d tries, want 3", posts)
	}
	mu.Unlock()
	if m := k.Post("/cgi-bin/component/api_component_token", "", map[string]any{
		"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": m.Str("ticket"),
	}); m.Str("component_access_token") == "" {
		t.Errorf("the undelivered ticket: %v, want a token", m)
	}
}

func TestAuthorizationPage(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	comp := component(k)
	ctok := componentToken(k, comp)
	code := preAuthCode(k, comp.AppID, ctok)
	authorizeVerb := func(k *testkit.Kit, body any) testkit.Answer {
		return k.Control(http.MethodPost, "/_sandbox/wechat/components/"+comp.AppID+"/authorize", body)
	}
	// The administrator cannot confirm a page nobody opened.
	if a := authorizeVerb(k, map[string]any{"pre_auth_code": code, "authorizer_appid": testkit.ServiceAppID}); a.Status != http.StatusConflict {
		t.Errorf("authorize before the page was opened: %s, want 409", a)
	}
	for _, tc := range []struct {
		name  string
		extra url.Values
		want  int
	}{
		{"unknown pre-auth code", url.Values{"pre_auth_code": {"preauthcode@@@nope"}}, 61009},
		{"an official account as component", url.Values{"component_appid": {testkit.ServiceAppID}}, 61011},
		{"relative redirect_uri", url.Values{"redirect_uri": {"/cb"}}, 40097},
		{"auth_type 0", url.Values{"auth_type": {"0"}}, 40097},
		{"unknown biz_appid", url.Values{"biz_appid": {"wx00000000000000ff"}}, 40013},
		{"unknown category", url.Values{"category_id_list": {"3|999"}}, 40097},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				page := openPage(k, comp.AppID, code, tc.extra)
				if page.Status != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "application/json") {
					t.Errorf("%s, want WeChat's JSON error", page)
				}
				k.WantErrcode(page, tc.want)
			})
		})
	}
	// Open for mini programs only, with sets 17 and 18.
	resp := openPage(k, comp.AppID, code, url.Values{"auth_type": {"2"}, "category_id_list": {"17|18"}})
	page := string(resp.Raw)
	if resp.Status != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "小程序开发与数据分析") || strings.Contains(page, "账号服务") {
		t.Fatalf("page: %d %s\n%s", resp.Status, resp.Header.Get("Content-Type"), page)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"a service account on an auth_type=2 page", map[string]any{"pre_auth_code": code, "authorizer_appid": testkit.ServiceAppID}, http.StatusForbidden},
		{"a set the page does not offer", map[string]any{"pre_auth_code": code, "authorizer_appid": testkit.MiniAppID, "permission_sets": []int{19}}, http.StatusBadRequest},
		{"no set", map[string]any{"pre_auth_code": code, "authorizer_appid": testkit.MiniAppID, "permission_sets": []int{}}, http.StatusBadRequest},
		{"no account", map[string]any{"pre_auth_code": code}, http.StatusBadRequest},
		{"unknown pre-auth code", map[string]any{"pre_auth_code": "preauthcode@@@x", "authorizer_appid": testkit.MiniAppID}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				if a := authorizeVerb(k, tc.body); a.Status != tc.want {
					t.Errorf("%s, want %d", a, tc.want)
				}
			})
		})
	}
	res := authorizeVerb(k, map[string]any{"pre_auth_code": code, "authorizer_appid": testkit.MiniAppID})
	if res.Status != http.StatusOK || res.JSON["info_type"] != "authorized" || !slices.Equal(compInts(res.JSON["permission_sets"]), []int{17, 18}) {
		t.Fatalf("authorize: %s", res)
	}
	want := "https://provider.example/cb?x=1&auth_code=" + url.QueryEscape(res.Str("auth_code")) + "&expires_in=600"
	if res.JSON["redirect_url"] != want {
		t.Errorf("redirect_url %v, want %s", res.JSON["redirect_url"], want)
	}
	// The page, opened again (the browser's reload), redirects there.
	resp = openPage(k, comp.AppID, code, url.Values{"auth_type": {"2"}})
	if resp.Status != http.StatusFound || resp.Header.Get("Location") != want {
		t.Errorf("page after confirmation: %d Location %q, want 302 to %s", resp.Status, resp.Header.Get("Location"), want)
	}
	if a := authorizeVerb(k, map[string]any{"pre_auth_code": code, "authorizer_appid": testkit.MiniAppID}); a.Status != http.StatusConflict {
		t.Errorf("pre-auth code used twice: %s, want 409", a)
	}
	// A mutually exclusive set (18) held by this platform is refused to another one.
	comp2 := component(k)
	ctok2 := componentToken(k, comp2)
	code2 := preAuthCode(k, comp2.AppID, ctok2)
	openPage(k, comp2.AppID, code2, url.Values{"biz_appid": {testkit.MiniAppID}})
	if m := k.Control(http.MethodPost, "/_sandbox/wechat/components/"+comp2.AppID+"/authorize", map[string]any{"pre_auth_code": code2, "permission_sets": []int{18}}); m.Status != http.StatusConflict {
		t.Errorf("exclusive set 18 held elsewhere: %s, want 409", m)
	}
	if m := k.Control(http.MethodPost, "/_sandbox/wechat/components/"+comp2.AppID+"/authorize", map[string]any{"pre_auth_code": code2, "authorizer_appid": testkit.ServiceAppID}); m.Status != http.StatusForbidden {
		t.Errorf("another account than biz_appid: %s, want 403", m)
	}
	res = k.Control(http.MethodPost, "/_sandbox/wechat/components/"+comp2.AppID+"/authorize", map[string]any{"pre_auth_code": code2})
	if sets := compInts(res.JSON["permission_sets"]); res.Status != http.StatusOK || slices.Contains(sets, 18) || !slices.Contains(sets, 17) {
		t.Errorf("all sets with 18 held elsewhere: %s, want every offered set but 18", res)
	}
	// An expired pre-auth code is refused by the page.
	code3 := preAuthCode(k, comp.AppID, ctok)
	k.Advance(600 * time.Second)
	k.Unchanged(func() { k.WantErrcode(openPage(k, comp.AppID, code3, nil), 61010) })
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
	k := testkit.New(t)
	comp := component(k)
	if m := k.Control(http.MethodPost, "/_sandbox/wechat/components/"+testkit.ServiceAppID+"/ticket", nil); m.Status != http.StatusNotFound {
		t.Errorf("ticket for an official account: %d %v, want 404", m.Status, m)
	}
	m := k.Control(http.MethodPost, "/_sandbox/wechat/components/"+comp.AppID+"/ticket", nil)
	if m.Status != http.StatusOK || !strings.HasPrefix(m.Str("ticket"), "ticket@@@") || m.JSON["push"].(map[string]any)["queued"] != false {
		t.Errorf("ticket verb: %d %v", m.Status, m)
	}
	m = k.Control(http.MethodGet, "/_sandbox/wechat/components/"+comp.AppID, nil)
	if m.Status != http.StatusOK || m.JSON["ticket"] == nil {
		t.Errorf("component view: %d %v", m.Status, m)
	}
	// The scheduled push: at creation + 10 min the ticket is drawn (and pushed) by the clock.
	comp2 := component(k)
	k.Advance(10 * time.Minute)
	m = k.Control(http.MethodGet, "/_sandbox/wechat/components/"+comp2.AppID, nil)
	if m.Str("ticket") == "" {
		t.Errorf("no ticket drawn 10 minutes after creation: %v", m)
	}
	if want := k.Start.Add(20 * time.Minute).Format(time.RFC3339); m.Str("next_ticket_push") != want {
		t.Errorf("next_ticket_push %v, want %s", m.JSON["next_ticket_push"], want)
	}
	j := k.Control(http.MethodGet, "/_sandbox/requests?event=component_verify_ticket&appid="+comp2.AppID, nil)
	if j.JSON["count"] != float64(1) {
		t.Errorf("journal has %v ticket pushes for %s, want 1", j.JSON["count"], comp2.AppID)
	}
}
