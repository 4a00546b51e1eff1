package jincheng_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/jincheng"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// The fixture applications, as signers of server-to-server calls.
var (
	demoApp  = testkit.JinchengApp{AppCode: testkit.JinchengAppCode, Secret: testkit.JinchengAppSecret}
	otherApp = testkit.JinchengApp{AppCode: testkit.JinchengOtherAppCode, Secret: testkit.JinchengOtherAppSecret}
)

// tenv is a sandbox with the Jincheng flows these tests repeat: a vendor's portal session, a
// citizen's launch and the app's ticket exchange.
type tenv struct {
	*testkit.Kit
}

func newEnv(t testing.TB) *tenv {
	t.Helper()
	return &tenv{testkit.New(t)}
}

// vendor calls the portal with a bearer session.
func (e *tenv) vendor(session, method, path string, body any) testkit.Answer {
	e.T().Helper()
	return e.DoHeader(method, path, http.Header{"Authorization": {"Bearer " + session}}, body)
}

// login logs a vendor in to the portal and returns the session token.
func (e *tenv) login(account, password string) string {
	e.T().Helper()
	r := e.Do("POST", "/jincheng/admin/v1/login", map[string]string{"account": account, "password": password})
	if r.Status != 200 || r.Data().Str("sessionToken") == "" {
		e.T().Fatalf("login %s: %s", account, r)
	}
	return r.Data().Str("sessionToken")
}

// launch mints a ticket through the control verb.
func (e *tenv) launch(service, persona, env string) testkit.Answer {
	e.T().Helper()
	return e.Control("POST", "/_sandbox/jincheng/launch", map[string]string{"serviceCode": service, "persona": persona, "env": env})
}

func (e *tenv) mustLaunch(service, persona, env string) string {
	e.T().Helper()
	r := e.launch(service, persona, env)
	if r.Status != 200 || r.Data().Str("ticket") == "" {
		e.T().Fatalf("launch %s/%s/%s: %s", service, persona, env, r)
	}
	return r.Data().Str("ticket")
}

// exchange runs ticketValidation and returns the answer with the token.
func (e *tenv) exchange(app testkit.JinchengApp, env, ticket string) testkit.Answer {
	e.T().Helper()
	return e.Signed(app, "POST", "/jincheng/"+env+"/sso/v1/ticketValidation", nil, map[string]string{"ticket": ticket})
}

// signIn launches and exchanges, so the citizen is known to the app; it returns userid and token.
func (e *tenv) signIn(app testkit.JinchengApp, service, persona, env string) (string, string) {
	e.T().Helper()
	r := e.exchange(app, env, e.mustLaunch(service, persona, env))
	if r.Status != 200 || r.JSON["success"] != true {
		e.T().Fatalf("exchange: %s", r)
	}
	return r.Data().Str("userid"), r.Data().Str("token")
}

// citizen returns the fixture citizen with a mobile.
func (e *tenv) citizen(mobile string) map[string]any {
	e.T().Helper()
	r := e.Control("GET", "/_sandbox/jincheng/citizens", nil)
	items, _ := r.JSON["items"].([]any)
	for _, it := range items {
		m := it.(map[string]any)
		if m["mobile"] == mobile {
			return m
		}
	}
	e.T().Fatalf("no citizen %s", mobile)
	return nil
}

// jsonBody encodes a request body the way the kit sends it, for requests signed by hand.
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

func jsonDecode(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestGatewayRefusals covers every GW-* refusal of a signed call: HTTP 401, the code, and no
// change to the state.
func TestGatewayRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const path = "/jincheng/test/openapi/v1/todos"
	query := url.Values{"userid": {"nobody"}}
	call := func(h http.Header) func() testkit.Answer {
		return func() testkit.Answer { return e.DoHeader("GET", path+"?"+query.Encode(), h, nil) }
	}
	good := func() http.Header { return e.SignedHeader(demoApp, "GET", path, query, nil) }
	if r := call(good())(); r.Status != 200 || r.JSON["success"] != true {
		t.Fatalf("a correctly signed call: %d %s", r.Status, r.Raw)
	}
	for _, h := range []string{jincheng.HeaderAppCode, jincheng.HeaderTimestamp, jincheng.HeaderNonce, jincheng.HeaderMethod, jincheng.HeaderSignature} {
		hd := good()
		hd.Del(h)
		e.RefusedCode("without "+h, 401, "GW-MISSING-HEADER", call(hd))
	}
	with := func(name, value string) http.Header {
		hd := good()
		hd.Set(name, value)
		return hd
	}
	e.RefusedCode("HmacSHA1", 401, "GW-MISSING-HEADER", call(with(jincheng.HeaderMethod, "HmacSHA1")))
	e.RefusedCode("short nonce", 401, "GW-MISSING-HEADER", call(with(jincheng.HeaderNonce, "abc")))
	e.RefusedCode("timestamp in seconds-as-text", 401, "GW-MISSING-HEADER", call(with(jincheng.HeaderTimestamp, "2026-03-02T10:00:00+08:00")))
	e.RefusedCode("unknown appCode", 401, "GW-INVALID-APPCODE", call(with(jincheng.HeaderAppCode, "JLB0000000000")))
	e.RefusedCode("wrong signature", 401, "GW-INVALID-SIGNATURE", call(with(jincheng.HeaderSignature, jincheng.Sign("not-the-secret", jincheng.SignedRequest{Method: "GET", Path: path, Query: query}))))
	e.RefusedCode("query changed after signing", 401, "GW-INVALID-SIGNATURE", func() testkit.Answer {
		return e.DoHeader("GET", path+"?userid=somebody", good(), nil)
	})
	e.RefusedCode("body changed after signing", 401, "GW-INVALID-SIGNATURE", func() testkit.Answer {
		body := jsonBody(t, map[string]string{"ticket": "0123456789abcdef0123456789abcdef"})
		h := e.SignedHeader(demoApp, "POST", "/jincheng/test/sso/v1/ticketValidation", nil, body)
		return e.DoHeader("POST", "/jincheng/test/sso/v1/ticketValidation", h, jsonBody(t, map[string]string{"ticket": "fedcba9876543210fedcba9876543210"}))
	})
	e.RefusedCode("signed with another app's secret", 401, "GW-INVALID-SIGNATURE", func() testkit.Answer {
		return e.DoHeader("GET", path+"?"+query.Encode(), e.SignedHeader(testkit.JinchengApp{AppCode: testkit.JinchengAppCode, Secret: testkit.JinchengOtherAppSecret}, "GET", path, query, nil), nil)
	})
	// Freshness against the sandbox clock, 300 s either way.
	stale := good()
	e.Advance(300*time.Second + time.Millisecond)
	e.RefusedCode("stale timestamp", 401, "GW-CLOCK-SKEW", call(stale))
	future := with(jincheng.HeaderTimestamp, strconv.FormatInt(e.Now().Add(301*time.Second).UnixMilli(), 10))
	future.Set(jincheng.HeaderSignature, jincheng.Sign(testkit.JinchengAppSecret, jincheng.SignedRequest{Method: "GET", Path: path, Query: query, AppCode: testkit.JinchengAppCode, Timestamp: future.Get(jincheng.HeaderTimestamp), Nonce: future.Get(jincheng.HeaderNonce)}))
	e.RefusedCode("future timestamp", 401, "GW-CLOCK-SKEW", call(future))
	// A served nonce cannot be replayed within the window.
	once := good()
	if r := call(once)(); r.Status != 200 {
		t.Fatalf("first use of a nonce: %d %s", r.Status, r.Raw)
	}
	e.RefusedCode("replayed nonce", 401, "GW-NONCE-REPLAYED", call(once))
	e.Advance(299 * time.Second)
	e.RefusedCode("replayed nonce near the window's end", 401, "GW-NONCE-REPLAYED", call(once))
}
