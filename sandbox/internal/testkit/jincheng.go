package testkit

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/citysandbox/citysandbox/sandbox/internal/jincheng"
)

// JinchengApp is what signs a Jincheng server-to-server call: an application's appCode and
// appSecret.
type JinchengApp struct {
	AppCode, Secret string
}

// SignedHeader signs a call as app at the sandbox's current time with a nonce of its own, the
// way the integration guide's gateway expects (the X-JLB-* headers).
func (k *Kit) SignedHeader(app JinchengApp, method, path string, query url.Values, body []byte) http.Header {
	ts := strconv.FormatInt(k.Now().UnixMilli(), 10)
	nonce := fmt.Sprintf("test-nonce-%016d", k.nonces.Add(1))
	sig := jincheng.Sign(app.Secret, jincheng.SignedRequest{
		Method: method, Path: path, Query: query, AppCode: app.AppCode, Timestamp: ts, Nonce: nonce, Body: body,
	})
	h := http.Header{}
	h.Set(jincheng.HeaderAppCode, app.AppCode)
	h.Set(jincheng.HeaderTimestamp, ts)
	h.Set(jincheng.HeaderNonce, nonce)
	h.Set(jincheng.HeaderMethod, jincheng.SignatureMethod)
	h.Set(jincheng.HeaderSignature, sig)
	return h
}

// Signed makes a signed Jincheng call as app: path is the unsigned path, query its parameters.
func (k *Kit) Signed(app JinchengApp, method, path string, query url.Values, body any) Answer {
	k.t.Helper()
	raw, err := encode(body)
	if err != nil {
		k.t.Fatalf("%s %s: %v", method, path, err)
	}
	target := path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	a, err := k.send(method, target, k.SignedHeader(app, method, path, query, raw), raw)
	if err != nil {
		k.t.Fatal(err)
	}
	return a
}
