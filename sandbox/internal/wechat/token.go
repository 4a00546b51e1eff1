package wechat

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerTokenRoutes lists the access-token APIs.
func (p *Platform) registerTokenRoutes(r endpoint.Routes) {
	r.Handle("getAccessToken", p.handleGetAccessToken)             // GET /cgi-bin/token
	r.Handle("getStableAccessToken", p.handleGetStableAccessToken) // POST /cgi-bin/stable_token
}

// Token lifetimes.
const (
	TokenLifetime = 7200 * time.Second
	// TokenOverlap is how long a superseded token keeps working, and how early stable_token
	// renews before expiry.
	TokenOverlap = 5 * time.Minute
	// ForceRefreshGap is the least time between two effective stable_token force refreshes.
	ForceRefreshGap = 30 * time.Second
	// ForceRefreshPerDay is how many force refreshes a day an account may make.
	ForceRefreshPerDay = 20
	// ExpiredMemory is how long the sandbox still knows a credential after it expired, so that
	// it answers "expired" (42001, 61005, 61010) rather than "unknown"; then it forgets the
	// credential, which from then on answers as one never issued. WeChat does not say how long
	// it remembers; a day covers any client that retries on the expired code.
	ExpiredMemory = 24 * time.Hour
)

// Token kinds.
const (
	TokenBasic      = "basic"      // /cgi-bin/token
	TokenStable     = "stable"     // /cgi-bin/stable_token
	TokenAuthorizer = "authorizer" // issued to a third-party platform for an authorizer
	TokenComponent  = "component"  // component_access_token
)

// Token is an issued access token.
type Token struct {
	Token     string    `json:"token"`
	AppID     string    `json:"appid"`
	Kind      string    `json:"kind"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// SupersededAt is when a newer token of the same kind was issued; the token then works for
	// TokenOverlap more.
	SupersededAt *time.Time `json:"superseded_at,omitempty"`
	// Revoked tokens answer 40001 at once (a stable force refresh, a cancelled authorisation).
	Revoked bool `json:"revoked,omitempty"`
	// ComponentAppID and PermissionSets describe an authorizer token: which third-party platform
	// holds it and which permission sets the authorizer granted.
	ComponentAppID string `json:"component_appid,omitempty"`
	PermissionSets []int  `json:"permission_sets,omitempty"`
	// Previous is the token this one superseded, still in its overlap: WeChat keeps the new
	// token and the old one, so when this one is superseded in turn, Previous stops at once.
	Previous string `json:"previous,omitempty"`
}

// ForgetAt implements store.Forgettable: a superseded token is forgotten when its overlap ends
// and a revoked one when it would have expired (both answer 40001 as an unknown token does), an
// expired one ExpiredMemory after its expiry (until then it answers 42001).
func (t Token) ForgetAt() time.Time {
	switch {
	case t.SupersededAt != nil:
		return t.SupersededAt.Add(TokenOverlap)
	case t.Revoked:
		return t.ExpiresAt
	}
	return t.ExpiresAt.Add(ExpiredMemory)
}

// State describes a token at time now: valid, overlap (superseded but still working), or the
// reason it fails (revoked, superseded, expired).
func (t *Token) State(now time.Time) string {
	switch {
	case t.Revoked:
		return "revoked"
	case t.SupersededAt != nil && !now.Before(t.SupersededAt.Add(TokenOverlap)):
		return "superseded"
	case !now.Before(t.ExpiresAt):
		return "expired"
	case t.SupersededAt != nil:
		return "overlap"
	}
	return "valid"
}

// Key prefixes of tokens and apps; the store tracks writes under them for the token cache.
const (
	tokenPrefix = "wechat:token:"
	appPrefix   = "wechat:app:"
)

func tokenKey(tok string) string            { return tokenPrefix + tok }
func tokenRefKey(appid, kind string) string { return "wechat:tokenref:" + appid + ":" + kind }

// validTokenShape reports whether tok has the shape of every token the sandbox issues: two
// digits, "_", and 128 URL-safe characters. Anything else is malformed (40014).
func validTokenShape(tok string) bool {
	if len(tok) != 131 || tok[2] != '_' || !isDigit(tok[0]) || !isDigit(tok[1]) {
		return false
	}
	for i := 3; i < len(tok); i++ {
		c := tok[i]
		if !(isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// NewTokenString mints a token string of WeChat's shape from the seeded source.
func (p *Platform) NewTokenString() string {
	return fmt.Sprintf("%02d_%s", 70+p.deps.Rand.IntN(30), p.deps.Rand.Token(128, seeded.URLSafe))
}

// tokenCache keeps decoded tokens and their apps between requests. An entry is used only while
// no transaction has written a token or an app since it was taken (store versions), so it never
// serves stale credentials; expiry is still decided per request against the clock.
type tokenCache struct {
	mu sync.RWMutex
	m  map[string]cachedToken
}

type cachedToken struct {
	tokens, apps uint64 // store versions when cached
	tok          Token
	app          App
}

const tokenCacheMax = 4096

func (p *Platform) versions() (uint64, uint64) {
	return p.deps.Store.Version(tokenPrefix), p.deps.Store.Version(appPrefix)
}

// lookupToken returns the token record and its app, from the cache when it is current. The two
// are copies of their own, made in one allocation with the Principal that holds them, since a
// caller may change them.
func (p *Platform) lookupToken(tok string) (*Principal, error) {
	tv, av := p.versions()
	p.cache.mu.RLock()
	e, ok := p.cache.m[tok]
	p.cache.mu.RUnlock()
	if ok && e.tokens == tv && e.apps == av {
		return newPrincipal(&e.tok, &e.app), nil
	}
	var t *Token
	var app *App
	err := p.deps.Store.View(func(tx *store.Tx) error {
		var err error
		if t, err = GetToken(tx, tok); err != nil || t == nil {
			return err
		}
		app, err = GetApp(tx, t.AppID)
		return err
	})
	if err != nil || app == nil {
		return nil, err
	}
	p.cache.mu.Lock()
	if len(p.cache.m) >= tokenCacheMax {
		clear(p.cache.m)
	}
	p.cache.m[tok] = cachedToken{tokens: tv, apps: av, tok: *t, app: *app}
	p.cache.mu.Unlock()
	return &Principal{App: app, Token: t}, nil
}

// principalCopy is a Principal with its token and app, allocated together.
type principalCopy struct {
	pr  Principal
	tok Token
	app App
}

func newPrincipal(t *Token, a *App) *Principal {
	c := &principalCopy{tok: *t, app: *a}
	c.pr = Principal{App: &c.app, Token: &c.tok}
	return &c.pr
}

// checkAccessToken resolves an access_token to its token and app, with WeChat's codes: 41001
// missing, 40014 malformed, 40001 unknown/superseded/revoked, 42001 expired.
func (p *Platform) checkAccessToken(now time.Time, tok string) (*Principal, error) {
	if tok == "" {
		return nil, apierr.New(apierr.Unauthenticated, 41001, "no access_token in the query string")
	}
	if !validTokenShape(tok) {
		return nil, apierr.New(apierr.Unauthenticated, 40014, "access_token is not of the form WeChat issues")
	}
	pr, err := p.lookupToken(tok)
	if err != nil {
		return nil, err
	}
	if pr == nil {
		return nil, apierr.New(apierr.Unauthenticated, 40001, "access_token was never issued by this sandbox, or its app no longer exists")
	}
	t := pr.Token
	switch t.State(now) {
	case "revoked":
		return nil, apierr.New(apierr.Unauthenticated, 40001, "access_token was revoked")
	case "superseded":
		return nil, apierr.Newf(apierr.Unauthenticated, 40001, "access_token was superseded at %s and its 5-minute overlap is over", t.SupersededAt.Format(time.RFC3339))
	case "expired":
		return nil, apierr.Newf(apierr.Expired, 42001, "access_token expired at %s", t.ExpiresAt.Format(time.RFC3339))
	}
	return pr, nil
}

// authenticateComponent implements the componentAccessToken scheme: either query name, and the
// token must be a component token (61014 otherwise).
func (p *Platform) authenticateComponent(c *endpoint.Call) error {
	tok := c.Query("component_access_token")
	if tok == "" {
		tok = c.Query("access_token")
	}
	pr, err := p.checkAccessToken(c.Now, tok)
	if err != nil {
		return err
	}
	c.AppID = pr.App.AppID
	if pr.Token.Kind != TokenComponent {
		return apierr.Newf(apierr.Forbidden, 61014, "a %s token was sent to a component API", pr.Token.Kind)
	}
	c.Principal = pr
	return nil
}

// tokenAnswer is the success body of both token APIs: no errcode, as WeChat sends it.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// checkCredentials verifies appid and secret for the token APIs and the caller's IP against the
// account's whitelist.
func (p *Platform) checkCredentials(c *endpoint.Call, appid, secret string) (*App, error) {
	if !ValidAppID(appid) {
		return nil, apierr.Newf(apierr.Invalid, 40013, "appid %q is not of the form wx + 16 hex digits", appid)
	}
	var app *App
	err := p.deps.Store.View(func(tx *store.Tx) (err error) {
		app, err = GetApp(tx, appid)
		return err
	})
	if err != nil {
		return nil, err
	}
	if app == nil {
		// A well-formed appid that no sandbox app has is most likely a production one.
		c.MarkLeak(journal.LeakUnknownAppID, appid)
		return nil, apierr.Newf(apierr.Invalid, 40013, "no app %s", appid)
	}
	if app.Type == TypeComponent {
		return nil, apierr.New(apierr.Invalid, 40013, "a third-party platform gets component_access_token instead")
	}
	c.AppID = app.AppID
	if secret != app.Secret {
		return nil, apierr.New(apierr.Unauthenticated, 40125, "secret does not match the app's AppSecret")
	}
	if err := checkWhitelist(app, c.ClientIP()); err != nil {
		return nil, err
	}
	return app, nil
}

// checkWhitelist applies an official account's API IP whitelist (mini programs are exempt).
func checkWhitelist(app *App, ip string) error {
	if app.Type != TypeOfficialAccount || len(app.IPWhitelist) == 0 {
		return nil
	}
	caller := net.ParseIP(ip)
	if slices.ContainsFunc(app.IPWhitelist, func(w string) bool { return net.ParseIP(w).Equal(caller) }) {
		return nil
	}
	return &apierr.Error{
		Kind: apierr.Forbidden, Code: 40164,
		Message: fmt.Sprintf("invalid ip %s ipv6 ::ffff:%s, not in whitelist,", ip, ip),
		Reason:  ip + " is not in the account's API IP whitelist",
	}
}

// handleGetAccessToken emulates GET https://api.weixin.qq.com/cgi-bin/token.
func (p *Platform) handleGetAccessToken(c *endpoint.Call) (any, error) {
	app, err := p.checkCredentials(c, c.Query("appid"), c.Query("secret"))
	if err != nil {
		return nil, err
	}
	if err := p.AdmitCall(c, app, c.Op.Path, c.Op.Quota); err != nil {
		return nil, err
	}
	var issued *Token
	err = p.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		issued, err = p.Issue(tx, Token{AppID: app.AppID, Kind: TokenBasic}, c.Now, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	return tokenAnswer{AccessToken: issued.Token, ExpiresIn: int(TokenLifetime / time.Second)}, nil
}

// Issue mints a token like t (its AppID and Kind, and for an authorizer token ComponentAppID and
// PermissionSets), valid TokenLifetime from now. With supersede, the previous token of the same
// app, kind and component is marked superseded (it keeps working for TokenOverlap), and the one
// that token had superseded stops at once: WeChat keeps a new and an old token, not a chain.
func (p *Platform) Issue(tx *store.Tx, t Token, now time.Time, supersede bool) (*Token, error) {
	ref := tokenRefKey(t.AppID, t.Kind)
	if t.ComponentAppID != "" {
		ref = tokenRefKey(t.AppID, t.Kind+"@"+t.ComponentAppID)
	}
	if supersede {
		if prev, ok, err := tx.GetRaw(ref); err != nil {
			return nil, err
		} else if ok {
			var old Token
			if found, err := tx.Get(tokenKey(prev), &old); err != nil {
				return nil, err
			} else if found && old.SupersededAt == nil && !old.Revoked {
				if old.Previous != "" {
					if err := tx.Delete(tokenKey(old.Previous)); err != nil {
						return nil, err
					}
					old.Previous = ""
				}
				at := now
				old.SupersededAt = &at
				if err := tx.Put(tokenKey(prev), &old); err != nil {
					return nil, err
				}
				t.Previous = prev
			}
		}
	}
	t.Token, t.IssuedAt, t.ExpiresAt = p.NewTokenString(), now, now.Add(TokenLifetime)
	if err := tx.Put(tokenKey(t.Token), &t); err != nil {
		return nil, err
	}
	if err := tx.PutRaw(ref, t.Token); err != nil {
		return nil, err
	}
	return &t, nil
}

// GetToken returns the stored token tok, or nil.
func GetToken(tx *store.Tx, tok string) (*Token, error) {
	return store.Get[Token](tx, tokenKey(tok))
}

// PutToken stores t.
func PutToken(tx *store.Tx, t *Token) error { return tx.Put(tokenKey(t.Token), t) }

// stableRequest is the body of POST /cgi-bin/stable_token.
type stableRequest struct {
	GrantType    string `json:"grant_type"`
	AppID        string `json:"appid"`
	Secret       string `json:"secret"`
	ForceRefresh bool   `json:"force_refresh"`
}

// stableState remembers the last effective force refresh and counts today's.
type stableState struct {
	LastForceRefresh time.Time `json:"last_force_refresh"`
	Day              string    `json:"day"` // Beijing date of Count
	Count            int       `json:"count"`
}

func stableStateKey(appid string) string { return "wechat:stable:" + appid }

// handleGetStableAccessToken emulates POST https://api.weixin.qq.com/cgi-bin/stable_token.
func (p *Platform) handleGetStableAccessToken(c *endpoint.Call) (any, error) {
	var req stableRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	app, err := p.checkCredentials(c, req.AppID, req.Secret)
	if err != nil {
		return nil, err
	}
	if err := p.AdmitCall(c, app, c.Op.Path, c.Op.Quota); err != nil {
		return nil, err
	}
	now := c.Now
	var answer tokenAnswer
	err = p.deps.Store.Update(func(tx *store.Tx) error {
		var cur *Token
		if ref, ok, err := tx.GetRaw(tokenRefKey(app.AppID, TokenStable)); err != nil {
			return err
		} else if ok {
			var t Token
			if found, err := tx.Get(tokenKey(ref), &t); err != nil {
				return err
			} else if found && t.State(now) == "valid" {
				cur = &t
			}
		}
		if req.ForceRefresh && cur != nil {
			var st stableState
			if _, err := tx.Get(stableStateKey(app.AppID), &st); err != nil {
				return err
			}
			if now.Sub(st.LastForceRefresh) >= ForceRefreshGap {
				day := now.In(clock.Beijing).Format("20060102")
				if st.Day != day {
					st.Day, st.Count = day, 0
				}
				if st.Count >= ForceRefreshPerDay && app.Tier != TierUnlimited {
					return apierr.Newf(apierr.QuotaExceeded, 45009, "%d force refreshes today already", st.Count)
				}
				st.Count++
				st.LastForceRefresh = now
				cur.Revoked = true
				if err := tx.Put(tokenKey(cur.Token), cur); err != nil {
					return err
				}
				if err := tx.Put(stableStateKey(app.AppID), st); err != nil {
					return err
				}
				cur = nil
			} else {
				c.Reason = "force_refresh within 30 s of the previous one: the current token is returned"
			}
		}
		if cur == nil || now.After(cur.ExpiresAt.Add(-TokenOverlap)) {
			// The old token, if any, keeps working until its own expiry.
			t, err := p.Issue(tx, Token{AppID: app.AppID, Kind: TokenStable}, now, false)
			if err != nil {
				return err
			}
			cur = t
		}
		answer = tokenAnswer{AccessToken: cur.Token, ExpiresIn: int(cur.ExpiresAt.Sub(now) / time.Second)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return answer, nil
}
