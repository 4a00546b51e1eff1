package jincheng_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/jincheng"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// Fixture credentials (fixtures/jincheng.yaml).
const (
	fxVendor       = "demo-vendor"
	fxPassword     = "demo-password-2020"
	fxOtherVendor  = "other-vendor"
	fxOtherPass    = "other-password-2020"
	fxAppID        = "APP90000001"
	fxAppCode      = "JLB9000000001"
	fxSecret       = "jlb-demo-secret-0001-do-not-use-in-production"
	fxOtherAppID   = "APP90000002"
	fxOtherCode    = "JLB9000000002"
	fxOtherSecret  = "jlb-other-secret-0002-do-not-use-in-production"
	fxOnline       = "S90000001" // 公积金提取, ONLINE
	fxTesting      = "S90000002" // 公积金查询, TESTING
	fxOtherTesting = "S90000003" // the other vendor's, TESTING
	fxModule       = "M900000000001"
	fxOtherModule  = "M900000000003"
	fxTester       = "13835600001"
	fxTester2      = "13935600002"
	fxOtherTester  = "15035600003"
	fxTemplate     = "SMS_900001"
)

// tenv is one sandbox with helpers to call it.
type tenv struct {
	t     testing.TB
	srv   *sandboxtest.Server
	nonce atomic.Int64
}

func newEnv(t testing.TB) *tenv {
	t.Helper()
	return &tenv{t: t, srv: sandboxtest.New(t)}
}

// reply is a decoded answer.
type reply struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Header http.Header
}

// code is the Jincheng errorCode, or the control plane's error code.
func (r reply) code() string {
	if c, ok := r.Body["errorCode"].(string); ok {
		return c
	}
	if e, ok := r.Body["error"].(map[string]any); ok {
		c, _ := e["code"].(string)
		return c
	}
	return ""
}

// data is the envelope's data object (or the control plane's whole body).
func (r reply) data() map[string]any {
	if _, ok := r.Body["success"]; ok {
		d, _ := r.Body["data"].(map[string]any)
		return d
	}
	return r.Body
}

func (r reply) str(key string) string {
	s, _ := r.data()[key].(string)
	return s
}

func (e *tenv) request(method, path string, body []byte, header http.Header) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" && body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read: %v", err)
	}
	r := reply{Status: resp.StatusCode, Raw: raw, Header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			e.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return r
}

func jsonBody(t testing.TB, v any) []byte {
	t.Helper()
	if v == nil {
		return nil
	}
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// control calls a /_sandbox/ verb.
func (e *tenv) control(method, path string, body any) reply {
	e.t.Helper()
	return e.request(method, path, jsonBody(e.t, body), nil)
}

// vendor calls the portal with a bearer session.
func (e *tenv) vendor(session, method, path string, body any) reply {
	e.t.Helper()
	return e.request(method, path, jsonBody(e.t, body), http.Header{"Authorization": {"Bearer " + session}})
}

func (e *tenv) login(account, password string) string {
	e.t.Helper()
	r := e.request("POST", "/jincheng/admin/v1/login", jsonBody(e.t, map[string]string{"account": account, "password": password}), nil)
	if r.Status != 200 || r.str("sessionToken") == "" {
		e.t.Fatalf("login %s: %d %s", account, r.Status, r.Raw)
	}
	return r.str("sessionToken")
}

// signer signs calls as one app.
type signer struct {
	appCode, secret string
}

var (
	demoApp  = signer{fxAppCode, fxSecret}
	otherApp = signer{fxOtherCode, fxOtherSecret}
)

// signedHeaders signs a request at the sandbox's current time with a fresh nonce.
func (e *tenv) signedHeaders(s signer, method, path string, query url.Values, body []byte) http.Header {
	ts := strconv.FormatInt(e.srv.Now().UnixMilli(), 10)
	nonce := fmt.Sprintf("test-nonce-%016d", e.nonce.Add(1))
	sig := jincheng.Sign(s.secret, jincheng.SignedRequest{Method: method, Path: path, Query: query, AppCode: s.appCode, Timestamp: ts, Nonce: nonce, Body: body})
	h := http.Header{}
	h.Set(jincheng.HeaderAppCode, s.appCode)
	h.Set(jincheng.HeaderTimestamp, ts)
	h.Set(jincheng.HeaderNonce, nonce)
	h.Set(jincheng.HeaderMethod, jincheng.SignatureMethod)
	h.Set(jincheng.HeaderSignature, sig)
	return h
}

// signed makes a signed server-to-server call.
func (e *tenv) signed(s signer, method, path string, query url.Values, body any) reply {
	e.t.Helper()
	b := jsonBody(e.t, body)
	full := path
	if len(query) > 0 {
		full += "?" + query.Encode()
	}
	return e.request(method, full, b, e.signedHeaders(s, method, path, query, b))
}

// launch mints a ticket through the control verb.
func (e *tenv) launch(service, persona, env string) reply {
	e.t.Helper()
	return e.control("POST", "/_sandbox/jincheng/launch", map[string]string{"serviceCode": service, "persona": persona, "env": env})
}

func (e *tenv) mustLaunch(service, persona, env string) string {
	e.t.Helper()
	r := e.launch(service, persona, env)
	if r.Status != 200 || r.str("ticket") == "" {
		e.t.Fatalf("launch %s/%s/%s: %d %s", service, persona, env, r.Status, r.Raw)
	}
	return r.str("ticket")
}

// exchange runs ticketValidation and returns the token.
func (e *tenv) exchange(s signer, env, ticket string) reply {
	e.t.Helper()
	return e.signed(s, "POST", "/jincheng/"+env+"/sso/v1/ticketValidation", nil, map[string]string{"ticket": ticket})
}

// signIn launches and exchanges, so the citizen is known to the app; it returns userid and token.
func (e *tenv) signIn(s signer, service, persona, env string) (string, string) {
	e.t.Helper()
	r := e.exchange(s, env, e.mustLaunch(service, persona, env))
	if r.Status != 200 || r.Body["success"] != true {
		e.t.Fatalf("exchange: %d %s", r.Status, r.Raw)
	}
	return r.str("userid"), r.str("token")
}

func (e *tenv) hash() string {
	e.t.Helper()
	h, err := e.srv.StateHash()
	if err != nil {
		e.t.Fatalf("state hash: %v", err)
	}
	return h
}

// refused asserts a refusal: status, code, and an unchanged state.
func (e *tenv) refused(name string, wantStatus int, wantCode string, call func() reply) {
	e.t.Helper()
	before := e.hash()
	r := call()
	if r.Status != wantStatus || r.code() != wantCode {
		e.t.Errorf("%s: got %d %q, want %d %q (body %s)", name, r.Status, r.code(), wantStatus, wantCode, r.Raw)
	}
	if e.hash() != before {
		e.t.Errorf("%s: the refusal changed the state", name)
	}
}

// citizen returns the fixture citizen with a mobile.
func (e *tenv) citizen(mobile string) map[string]any {
	e.t.Helper()
	r := e.control("GET", "/_sandbox/jincheng/citizens", nil)
	items, _ := r.Body["items"].([]any)
	for _, it := range items {
		m := it.(map[string]any)
		if m["mobile"] == mobile {
			return m
		}
	}
	e.t.Fatalf("no citizen %s", mobile)
	return nil
}

func jsonDecode(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}
