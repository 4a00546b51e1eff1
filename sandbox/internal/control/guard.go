package control

import (
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/citysandbox/citysandbox/sandbox/internal/spec"
)

// Guarded reports whether the route at path is one the admin token guards: everything that is
// not a platform API — the control plane under /_sandbox/ (but the routes in open, which its
// document declares without security: the health check probes need, the public CA
// certificate) and the simulated 晋来办 app's pages and API under /jincheng/app/, which stand
// for a citizen's phone and list every citizen. The platforms' own APIs (WeChat's, Jincheng's
// open API, SSO and portal) keep their own credentials.
func Guarded(path string, open map[string]bool) bool {
	switch {
	case open[path]:
		return false
	case path == "/_sandbox" || strings.HasPrefix(path, "/_sandbox/"):
		return true
	case path == "/jincheng/app" || strings.HasPrefix(path, "/jincheng/app/"):
		return true
	}
	return false
}

// Guard answers 401 to a request for a guarded route (see Guarded) that does not carry the
// admin token, before any routing, validation or method check, so that an unauthorised caller
// learns nothing about which routes exist. The token is accepted as "Authorization: Bearer
// <token>", or as the password of HTTP Basic authentication, which a browser asks for when it
// opens the simulated app's pages. An empty token guards nothing.
func Guard(token string, open map[string]bool, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Guarded(r.URL.Path, open) || authorized(r, token) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		if r.URL.Path == ConsolePath {
			// The console: ?token= sets the cookie and comes back without it; without a token (or
			// with a wrong one) the page asks for it.
			if got := r.URL.Query().Get("token"); got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
				http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
				http.Redirect(w, r, ConsolePath, http.StatusSeeOther)
				return
			}
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write(consoleLogin)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/jincheng/app") {
			h.Set("WWW-Authenticate", `Basic realm="citysandbox", charset="UTF-8"`)
		} else {
			h.Set("WWW-Authenticate", `Bearer realm="citysandbox"`)
		}
		h.Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(unauthorizedBody)
	})
}

// OpenRoutes returns the control-plane paths its document declares without security (security:
// []), which Guard leaves open.
func OpenRoutes(s *spec.Spec) map[string]bool {
	open := map[string]bool{}
	for _, op := range s.Operations {
		if op.Document.Platform == "control" && len(op.Security) == 0 {
			open[op.Path] = true
		}
	}
	return open
}

var unauthorizedBody = encode(map[string]any{"error": map[string]any{
	"code": "unauthorized", "message": "this sandbox requires its admin token: Authorization: Bearer <token>",
}})

// ConsolePath is the web console's page.
const ConsolePath = "/_sandbox/console/"

// CookieName is the cookie in which the web console's browser presents the admin token, set by
// opening ConsolePath?token=<token> (HttpOnly, SameSite=Strict, so another site's page cannot
// use it).
const CookieName = "citysandbox_admin"

var consoleLogin = []byte(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>citysandbox console</title></head>
<body style="font:16px system-ui,sans-serif;margin:3em"><h1>citysandbox console</h1>
<p>This sandbox runs with an admin token (<code>--admin-token</code>). Give it once; the browser keeps it in a cookie.</p>
<form method="get" action="` + ConsolePath + `"><input type="password" name="token" placeholder="admin token" autofocus> <button>Open</button></form></body></html>`)

// authorized reports whether r carries token, as a bearer token, a Basic password or the
// console's cookie.
func authorized(r *http.Request, token string) bool {
	if c, err := r.Cookie(CookieName); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(token)) == 1 {
		return true
	}
	auth := r.Header.Get("Authorization")
	got, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		var basic string
		if basic, ok = strings.CutPrefix(auth, "Basic "); ok {
			raw, err := base64.StdEncoding.DecodeString(basic)
			_, got, ok = strings.Cut(string(raw), ":")
			ok = ok && err == nil
		}
	}
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}
