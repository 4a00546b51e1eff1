package jincheng_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/jincheng"
)

// TestGatewayRefusals covers every GW-* refusal of a signed call: HTTP 401, the code, and no
// change to the state.
func TestGatewayRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const path = "/jincheng/test/openapi/v1/todos"
	query := url.Values{"userid": {"nobody"}}
	call := func(h http.Header) func() reply {
		return func() reply { return e.request("GET", path+"?"+query.Encode(), nil, h) }
	}
	good := func() http.Header { return e.signedHeaders(demoApp, "GET", path, query, nil) }
	if r := call(good())(); r.Status != 200 || r.Body["success"] != true {
		t.Fatalf("a correctly signed call: %d %s", r.Status, r.Raw)
	}
	for _, h := range []string{jincheng.HeaderAppCode, jincheng.HeaderTimestamp, jincheng.HeaderNonce, jincheng.HeaderMethod, jincheng.HeaderSignature} {
		hd := good()
		hd.Del(h)
		e.refused("without "+h, 401, "GW-MISSING-HEADER", call(hd))
	}
	with := func(name, value string) http.Header {
		hd := good()
		hd.Set(name, value)
		return hd
	}
	e.refused("HmacSHA1", 401, "GW-MISSING-HEADER", call(with(jincheng.HeaderMethod, "HmacSHA1")))
	e.refused("short nonce", 401, "GW-MISSING-HEADER", call(with(jincheng.HeaderNonce, "abc")))
	e.refused("timestamp in seconds-as-text", 401, "GW-MISSING-HEADER", call(with(jincheng.HeaderTimestamp, "2026-03-02T10:00:00+08:00")))
	e.refused("unknown appCode", 401, "GW-INVALID-APPCODE", call(with(jincheng.HeaderAppCode, "JLB0000000000")))
	e.refused("wrong signature", 401, "GW-INVALID-SIGNATURE", call(with(jincheng.HeaderSignature, jincheng.Sign("not-the-secret", jincheng.SignedRequest{Method: "GET", Path: path, Query: query}))))
	e.refused("query changed after signing", 401, "GW-INVALID-SIGNATURE", func() reply {
		return e.request("GET", path+"?userid=somebody", nil, good())
	})
	e.refused("body changed after signing", 401, "GW-INVALID-SIGNATURE", func() reply {
		body := jsonBody(t, map[string]string{"ticket": "0123456789abcdef0123456789abcdef"})
		h := e.signedHeaders(demoApp, "POST", "/jincheng/test/sso/v1/ticketValidation", nil, body)
		return e.request("POST", "/jincheng/test/sso/v1/ticketValidation", jsonBody(t, map[string]string{"ticket": "fedcba9876543210fedcba9876543210"}), h)
	})
	e.refused("signed with another app's secret", 401, "GW-INVALID-SIGNATURE", func() reply {
		return e.request("GET", path+"?"+query.Encode(), nil, e.signedHeaders(signer{fxAppCode, fxOtherSecret}, "GET", path, query, nil))
	})
	// Freshness against the sandbox clock, 300 s either way.
	stale := good()
	e.srv.Advance(300*time.Second + time.Millisecond)
	e.refused("stale timestamp", 401, "GW-CLOCK-SKEW", call(stale))
	future := with(jincheng.HeaderTimestamp, strconv.FormatInt(e.srv.Now().Add(301*time.Second).UnixMilli(), 10))
	future.Set(jincheng.HeaderSignature, jincheng.Sign(fxSecret, jincheng.SignedRequest{Method: "GET", Path: path, Query: query, AppCode: fxAppCode, Timestamp: future.Get(jincheng.HeaderTimestamp), Nonce: future.Get(jincheng.HeaderNonce)}))
	e.refused("future timestamp", 401, "GW-CLOCK-SKEW", call(future))
	// A served nonce cannot be replayed within the window.
	once := good()
	if r := call(once)(); r.Status != 200 {
		t.Fatalf("first use of a nonce: %d %s", r.Status, r.Raw)
	}
	e.refused("replayed nonce", 401, "GW-NONCE-REPLAYED", call(once))
	e.srv.Advance(299 * time.Second)
	e.refused("replayed nonce near the window's end", 401, "GW-NONCE-REPLAYED", call(once))
}

// TestRotateSecret: a rotation shows the new secret once; the old one signs for 10 minutes more.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.login(fxVendor, fxPassword)
	r := e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+fxAppID+"/rotateSecret", nil)
	fresh := r.str("appSecret")
	if r.Status != 200 || len(fresh) != 43 || fresh == fxSecret {
		t.Fatalf("rotate: %d %s", r.Status, r.Raw)
	}
	if g := e.vendor(s, "GET", "/jincheng/admin/v1/apps/"+fxAppID, nil); strings.Contains(string(g.Raw), fresh) || strings.Contains(string(g.Raw), fxSecret) {
		t.Errorf("GET app shows a secret: %s", g.Raw)
	}
	const path = "/jincheng/test/openapi/v1/todos"
	q := url.Values{"userid": {"u"}}
	list := func(secret string) func() reply {
		return func() reply { return e.signed(signer{fxAppCode, secret}, "GET", path, q, nil) }
	}
	for name, secret := range map[string]string{"new": fresh, "old, in grace": fxSecret} {
		if r := list(secret)(); r.Status != 200 {
			t.Errorf("%s secret: %d %s", name, r.Status, r.Raw)
		}
	}
	e.srv.Advance(10 * time.Minute)
	e.refused("old secret after the grace period", 401, "GW-INVALID-SIGNATURE", list(fxSecret))
	if r := list(fresh)(); r.Status != 200 {
		t.Errorf("new secret: %d %s", r.Status, r.Raw)
	}
	e.refused("rotate another vendor's app", 404, "ADMIN-NOT-FOUND", func() reply {
		return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+fxOtherAppID+"/rotateSecret", nil)
	})
	p := e.vendor(s, "POST", "/jincheng/admin/v1/apps", map[string]any{"appName": "x", "contactName": "y", "contactPhone": "13835600100", "needUserInfo": false})
	e.refused("rotate a PENDING app", 409, "ADMIN-STATE", func() reply {
		return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+p.str("appId")+"/rotateSecret", nil)
	})
}
