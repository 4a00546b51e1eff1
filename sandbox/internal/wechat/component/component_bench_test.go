package component_test

import (
	"testing"
)

// BenchmarkTokenCall measures an API call with an account's own token and with an authorizer
// token, whose admission also reads the grant and the component (permission sets, whitelist).
func BenchmarkTokenCall(b *testing.B) {
	h := newCompEnv(b)
	comp := h.component()
	ctok := h.componentToken(comp)
	oa := h.account("official_account")
	atok := compStr(h.queryAuth(comp.AppID, ctok, h.authorize(comp.AppID, ctok, oa, nil)), "authorizer_access_token")
	app, err := h.srv.WeChat().App(oa)
	if err != nil {
		b.Fatal(err)
	}
	own := compStr(h.post("/cgi-bin/stable_token", map[string]any{"grant_type": "client_credential", "appid": oa, "secret": app.Secret}), "access_token")
	body := map[string]any{"cgi_path": "/cgi-bin/qrcode/create"}
	for _, bc := range []struct{ name, tok string }{{"own", own}, {"authorizer", atok}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if m := h.post("/cgi-bin/openapi/quota/get?access_token="+bc.tok, body); compErrcode(m) != 0 {
					b.Fatalf("quota/get: %v", m)
				}
			}
		})
	}
}
