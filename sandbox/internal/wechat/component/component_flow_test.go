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
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
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
	h := newCompEnv(t)
	comp := h.component()
	oa := h.account("official_account")
	rcv := &providerReceiver{t: t, appid: comp.AppID, token: comp.Token, aeskey: comp.EncodingAESKey}
	ts := httptest.NewServer(rcv)
	defer ts.Close()

	// 1. The authorization-event URL is set like any push URL (the sandbox verifies it first).
	if st, m := h.control(http.MethodPut, "/_sandbox/wechat/apps/"+comp.AppID+"/push", map[string]any{
		"url": ts.URL + "/wechat/auth-events", "token": comp.Token, "encoding_aes_key": comp.EncodingAESKey,
	}); st != http.StatusOK {
		t.Fatalf("set the authorization-event URL: %d %v", st, m)
	}

	// 2. Ten minutes later the ticket arrives, encrypted.
	h.srv.Advance(10 * time.Minute)
	evs := rcv.take()
	if len(evs) != 1 || evs[0].InfoType != "component_verify_ticket" || !strings.HasPrefix(evs[0].ComponentVerifyTicket, "ticket@@@") {
		t.Fatalf("after 10 minutes the receiver got %+v, want one component_verify_ticket", evs)
	}
	if want := sandboxtest.DefaultStart().Add(10 * time.Minute).Unix(); evs[0].CreateTime != want || evs[0].AppID != comp.AppID {
		t.Errorf("ticket push CreateTime %d AppId %s, want %d %s", evs[0].CreateTime, evs[0].AppID, want, comp.AppID)
	}
	ticket := evs[0].ComponentVerifyTicket

	// 3. Component token, 4. pre-auth code.
	m := h.post("/cgi-bin/component/api_component_token", map[string]any{
		"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": ticket,
	})
	ctok := compStr(m, "component_access_token")
	if ctok == "" || m["expires_in"] != float64(7200) {
		t.Fatalf("api_component_token: %v", m)
	}
	pre := h.preAuthCode(comp.AppID, ctok)

	// 5. Follow the authorization link; the administrator of the service account scans and
	// grants the account-service set (3); the browser, still on the page, is redirected.
	link := compMPHost + "/cgi-bin/componentloginpage?" + url.Values{
		"component_appid": {comp.AppID}, "pre_auth_code": {pre}, "redirect_uri": {"https://provider.example/authorized"}, "auth_type": {"1"},
	}.Encode()
	resp, page := h.do(http.MethodGet, link, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(compStr(page, "_body"), "账号服务") {
		t.Fatalf("authorization page: %d %v", resp.StatusCode, page)
	}
	st, res := h.control(http.MethodPost, "/_sandbox/wechat/components/"+comp.AppID+"/authorize", map[string]any{
		"pre_auth_code": pre, "authorizer_appid": oa, "permission_sets": []int{3},
	})
	if st != http.StatusOK || res["push"].(map[string]any)["delivered"] != true {
		t.Fatalf("administrator confirms: %d %v", st, res)
	}
	resp, _ = h.do(http.MethodGet, link, nil)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || loc.Host != "provider.example" || loc.Query().Get("expires_in") != "600" {
		t.Fatalf("browser redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	code := loc.Query().Get("auth_code")
	evs = rcv.take()
	if len(evs) != 1 || evs[0].InfoType != "authorized" || evs[0].AuthorizationCode != code || evs[0].AuthorizerAppid != oa ||
		evs[0].PreAuthCode != pre || evs[0].AuthorizationCodeExpiredTime != evs[0].CreateTime+600 {
		t.Fatalf("authorized event %+v, want the redirect's code %s", evs, code)
	}

	// 6. Exchange the code.
	info := h.queryAuth(comp.AppID, ctok, code)
	atok, refresh := compStr(info, "authorizer_access_token"), compStr(info, "authorizer_refresh_token")

	// 7. With the authorizer token, the provider creates a parametric QR code of the service
	// account and a QR-jump rule that opens the linked Mini Program from it: both are in the
	// account-service set (3).
	qr := map[string]any{"action_name": "QR_LIMIT_STR_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_str": "shop-1"}}}
	m = h.post("/cgi-bin/qrcode/create?access_token="+atok, qr)
	codeURL := compStr(m, "url")
	if codeURL == "" {
		t.Fatalf("qrcode/create with the authorizer token: %v", m)
	}
	released := true
	miniApp, err := h.srv.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "mini_program", Released: &released})
	if err != nil {
		t.Fatal(err)
	}
	mini := miniApp.AppID
	if st, m := h.control(http.MethodPost, "/_sandbox/wechat/apps/"+oa+"/links", map[string]any{"appid": mini}); st != http.StatusCreated {
		t.Fatalf("link the service account and the Mini Program: %d %v", st, m)
	}
	rule := map[string]any{"prefix": codeURL, "appid": mini, "path": "pages/shop/index", "is_edit": 0}
	wantCompErrcode(t, "qrcodejumpadd with the authorizer token", h.post("/cgi-bin/wxopen/qrcodejumpadd?access_token="+atok, rule), 0)

	// 8. Two hours later the token has expired; refresh it with the same refresh token.
	h.srv.Advance(2 * time.Hour)
	wantCompErrcode(t, "expired authorizer token", h.post("/cgi-bin/wxopen/qrcodejumppublish?access_token="+atok, map[string]any{"prefix": codeURL}), 42001)
	rcv.take() // tickets pushed meanwhile
	ticket = h.ticket(comp.AppID)
	m = h.post("/cgi-bin/component/api_component_token", map[string]any{
		"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": ticket,
	})
	ctok = compStr(m, "component_access_token")
	m = h.post("/cgi-bin/component/api_authorizer_token?component_access_token="+ctok, map[string]any{
		"component_appid": comp.AppID, "authorizer_appid": oa, "authorizer_refresh_token": refresh,
	})
	if compStr(m, "authorizer_refresh_token") != refresh {
		t.Fatalf("refresh: %v", m)
	}
	wantCompErrcode(t, "qrcodejumppublish with the refreshed token", h.post("/cgi-bin/wxopen/qrcodejumppublish?access_token="+compStr(m, "authorizer_access_token"), map[string]any{"prefix": codeURL}), 0)
	// A user scanning the code now lands in the Mini Program.
	if st, m := h.control(http.MethodPost, "/_sandbox/wechat/scan", map[string]any{"url": codeURL}); st != http.StatusOK || m["action"] != "open_mini_program" || m["appid"] != mini {
		t.Errorf("scan of the service account's code: %d %v, want open_mini_program %s", st, m, mini)
	}

	// 9. The administrator comes back and adds a set: updateauthorized arrives with a new code.
	rcv.take()
	code = h.authorize(comp.AppID, ctok, oa, []int{1, 3})
	evs = rcv.take()
	if len(evs) != 1 || evs[0].InfoType != "updateauthorized" || evs[0].AuthorizationCode != code || evs[0].AuthorizerAppid != oa {
		t.Errorf("after re-authorizing the receiver got %+v, want updateauthorized with code %s", evs, code)
	}

	// 10. The administrator cancels: unauthorized arrives.
	if _, err := h.srv.WeChat().RevokeComponentAuthorization(comp.AppID, oa); err != nil {
		t.Fatal(err)
	}
	evs = rcv.take()
	if len(evs) != 1 || evs[0].InfoType != "unauthorized" || evs[0].AuthorizerAppid != oa || evs[0].AuthorizationCode != "" {
		t.Errorf("after cancelling the receiver got %+v, want unauthorized", evs)
	}
}

// TestPermissionSetsEnforced checks 61007 on the real APIs that declare x-wechat-permission-sets.
func TestPermissionSetsEnforced(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp := h.component()
	ctok := h.componentToken(comp)
	oa := h.account("official_account")
	oaTok := compStr(h.queryAuth(comp.AppID, ctok, h.authorize(comp.AppID, ctok, oa, []int{1})), "authorizer_access_token")
	mpTok := compStr(h.queryAuth(comp.AppID, ctok, h.authorize(comp.AppID, ctok, fixtureMini, []int{17})), "authorizer_access_token")
	qr := map[string]any{"expire_seconds": 600, "action_name": "QR_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_id": 7}}}
	for _, tc := range []struct {
		name, path string
		body       any
		want       int
	}{
		{"qrcode/create without set 3", "/cgi-bin/qrcode/create?access_token=" + oaTok, qr, 61007},
		{"getservicepath without 22 or 105", "/cityservice/getservicepath?access_token=" + mpTok, map[string]any{"page_type": 1, "src_channel": 1}, 61007},
		{"qrcodejumpadd on a service account without set 3", "/cgi-bin/wxopen/qrcodejumpadd?access_token=" + oaTok, map[string]any{"prefix": "http://weixin.qq.com/q/abc", "appid": fixtureMini, "path": "pages/index", "is_edit": 0}, 61007},
		{"qrcodejumpget on a Mini Program without set 18", "/cgi-bin/wxopen/qrcodejumpget?access_token=" + mpTok, map[string]any{}, 61007},
		{"quota tools need no set", "/cgi-bin/openapi/quota/get?access_token=" + oaTok, map[string]any{"cgi_path": "/cgi-bin/qrcode/create"}, 0},
	} {
		before := h.hash()
		m := h.post(tc.path, tc.body)
		wantCompErrcode(t, tc.name, m, tc.want)
		if tc.want != 0 && h.hash() != before {
			t.Errorf("%s: the refused call changed the state", tc.name)
		}
		if tc.want == 61007 && !strings.HasPrefix(compStr(m, "errmsg"), "api is unauthorized to component rid: ") {
			t.Errorf("%s: errmsg %q", tc.name, compStr(m, "errmsg"))
		}
	}
	// GET APIs too: scan-to-follow needs set 18.
	before := h.hash()
	_, m := h.do(http.MethodGet, compAPIHost+"/wxa/getshowwxaitem?access_token="+mpTok, nil)
	wantCompErrcode(t, "getshowwxaitem without set 18", m, 61007)
	if h.hash() != before {
		t.Errorf("the refused getshowwxaitem changed the state")
	}
	// Re-authorizing with set 3 (updateauthorized) opens qrcode/create to the live token.
	h.authorize(comp.AppID, ctok, oa, []int{1, 3})
	if m := h.post("/cgi-bin/qrcode/create?access_token="+oaTok, qr); compStr(m, "ticket") == "" {
		t.Errorf("qrcode/create after set 3 was granted: %v", m)
	}
}

// TestComponentPushNeedsSuccess: a system push counts as delivered only when the receiver answers
// exactly "success"; otherwise it is tried three times and the ticket stays usable.
func TestComponentPushNeedsSuccess(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	comp := h.component()
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
	if st, m := h.control(http.MethodPut, "/_sandbox/wechat/apps/"+comp.AppID+"/push", map[string]any{"url": ts.URL, "token": comp.Token}); st != http.StatusOK {
		t.Fatalf("push URL: %d %v", st, m)
	}
	st, m := h.control(http.MethodPost, "/_sandbox/wechat/components/"+comp.AppID+"/ticket", nil)
	push, _ := m["push"].(map[string]any)
	if st != http.StatusOK || push["delivered"] != false || !strings.Contains(compStr(push, "error"), "success") {
		t.Errorf("ticket push answered \"ok\": %d %v, want not delivered", st, m)
	}
	mu.Lock()
	if posts != 3 {
		t.Errorf("%d tries, want 3", posts)
	}
	mu.Unlock()
	if m := h.post("/cgi-bin/component/api_component_token", map[string]any{
		"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": compStr(m, "ticket"),
	}); compStr(m, "component_access_token") == "" {
		t.Errorf("the undelivered ticket: %v, want a token", m)
	}
}
