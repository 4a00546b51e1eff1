package component

// The component's credentials and tokens: api_component_token (secret, ticket and IP whitelist),
// the admission rules of component and authorizer tokens on every API, and
// api_authorizer_token, which refreshes an authorizer token with the grant's refresh token.

import (
	"net"
	"slices"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// checkComponentSecret verifies a component's appid and secret and the caller's IP, with the
// codes of api_component_token: 40013 malformed appid, 61011 not a component, 40125 wrong
// secret, 61004 caller not whitelisted.
func (e *Emulator) checkComponentSecret(c *endpoint.Call, appid, secret string) (*wechat.App, error) {
	if !wechat.ValidAppID(appid) {
		return nil, apierr.Newf(apierr.Invalid, 40013, "component_appid %q is not of the form wx + 16 hex digits", appid)
	}
	var app *wechat.App
	err := e.deps.Store.View(func(tx *store.Tx) (err error) {
		app, err = wechat.GetApp(tx, appid)
		return err
	})
	if err != nil {
		return nil, err
	}
	if app == nil {
		// A well-formed component_appid that no sandbox app has is most likely a production one.
		c.MarkLeak(journal.LeakUnknownAppID, appid)
		return nil, apierr.Newf(apierr.Invalid, 61011, "no app %s", appid)
	}
	if app.Type != wechat.TypeComponent {
		return nil, apierr.Newf(apierr.Invalid, 61011, "%s is a %s, not a third-party platform", appid, app.Type)
	}
	c.AppID = app.AppID
	if secret != app.Secret {
		return nil, apierr.New(apierr.Unauthenticated, 40125, "component_appsecret does not match the component's secret")
	}
	if err := componentWhitelist(app, c.ClientIP()); err != nil {
		return nil, err
	}
	return app, nil
}

// componentWhitelist applies a component's IP whitelist (61004); an empty list admits anyone.
func componentWhitelist(comp *wechat.App, ip string) error {
	if len(comp.IPWhitelist) == 0 {
		return nil
	}
	caller := net.ParseIP(ip)
	if slices.ContainsFunc(comp.IPWhitelist, func(w string) bool { return net.ParseIP(w).Equal(caller) }) {
		return nil
	}
	return &apierr.Error{
		Kind: apierr.Forbidden, Code: 61004,
		Message: wechat.Errmsg(61004) + " requestIP: " + ip,
		Reason:  ip + " is not in the IP whitelist of third-party platform " + comp.AppID,
	}
}

// componentPrincipal returns the component behind a component-token call and checks the body's
// component_appid against it.
func componentPrincipal(c *endpoint.Call, bodyAppID string) (*wechat.App, error) {
	pr := c.Principal.(*wechat.Principal)
	if bodyAppID != pr.App.AppID {
		return nil, apierr.Newf(apierr.Invalid, 40013, "component_appid %q is not the token's component %s", bodyAppID, pr.App.AppID)
	}
	return pr.App, nil
}

// admitToken applies the rules that depend on the kind of token: a component token only on APIs
// that list the component account type (61015), through the component's whitelist (61004); an
// authorizer token through its component's whitelist (61004) and only on APIs whose permission
// sets it was granted (61007).
func (e *Emulator) admitToken(c *endpoint.Call, pr *wechat.Principal) error {
	switch pr.Token.Kind {
	case wechat.TokenComponent:
		if !slices.Contains(c.Op.AccountTypes, wechat.TypeComponent) {
			return apierr.Newf(apierr.Forbidden, 61015, "a component token may not call %s", c.Op.Path)
		}
		return componentWhitelist(pr.App, c.ClientIP())
	case wechat.TokenAuthorizer:
		var comp *wechat.App
		var grant *Authorization
		err := e.deps.Store.View(func(tx *store.Tx) error {
			var err error
			if comp, err = wechat.GetApp(tx, pr.Token.ComponentAppID); err != nil {
				return err
			}
			grant, err = getAuthorization(tx, pr.Token.ComponentAppID, pr.App.AppID)
			return err
		})
		if err != nil {
			return err
		}
		if comp == nil || grant == nil || !grant.Active {
			return apierr.New(apierr.Unauthenticated, 40001, "the authorization behind this authorizer token is gone")
		}
		if err := componentWhitelist(comp, c.ClientIP()); err != nil {
			return err
		}
		if sets := c.Op.PermissionSets; len(sets) > 0 && !slices.ContainsFunc(sets, func(id int) bool { return slices.Contains(grant.PermissionSets, id) }) {
			return apierr.Newf(apierr.Forbidden, 61007, "%s needs permission set %v, not granted to %s (granted: %v)", c.Op.Path, sets, comp.AppID, grant.PermissionSets)
		}
	}
	return nil
}

type componentTokenRequest struct {
	ComponentAppID        string `json:"component_appid"`
	ComponentAppSecret    string `json:"component_appsecret"`
	ComponentVerifyTicket string `json:"component_verify_ticket"`
}

type componentTokenAnswer struct {
	ComponentAccessToken string `json:"component_access_token"`
	ExpiresIn            int    `json:"expires_in"`
}

// handleComponentToken emulates POST /cgi-bin/component/api_component_token.
func (e *Emulator) handleComponentToken(c *endpoint.Call) (any, error) {
	var req componentTokenRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	comp, err := e.checkComponentSecret(c, req.ComponentAppID, req.ComponentAppSecret)
	if err != nil {
		return nil, err
	}
	err = e.deps.Store.View(func(tx *store.Tx) error {
		var t Ticket
		ok, err := tx.Get(ticketKey(req.ComponentVerifyTicket), &t)
		switch {
		case err != nil:
			return err
		case !ok:
			return apierr.New(apierr.Unauthenticated, 61006, "the sandbox never pushed this ticket")
		case t.ComponentAppID != comp.AppID:
			return apierr.Newf(apierr.Unauthenticated, 61006, "the ticket was pushed to component %s", t.ComponentAppID)
		case !c.Now.Before(t.ExpiresAt):
			return apierr.Newf(apierr.Expired, 61005, "the ticket expired at %s (12 h after it was drawn)", t.ExpiresAt.Format(time.RFC3339))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := e.deps.WeChat.AdmitCall(c, comp, c.Op.Path, c.Op.Quota); err != nil {
		return nil, err
	}
	var issued *wechat.Token
	err = e.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		issued, err = e.deps.WeChat.Issue(tx, wechat.Token{AppID: comp.AppID, Kind: wechat.TokenComponent}, c.Now, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return componentTokenAnswer{ComponentAccessToken: issued.Token, ExpiresIn: int(wechat.TokenLifetime / time.Second)}, nil
}

// issueAuthorizer mints an authorizer token for a grant, superseding the previous one of the
// same (component, authorizer) pair, and records it on the grant (which it stores).
func (e *Emulator) issueAuthorizer(tx *store.Tx, grant *Authorization, now time.Time) (*wechat.Token, error) {
	t, err := e.deps.WeChat.Issue(tx, wechat.Token{
		AppID: grant.AuthorizerAppID, Kind: wechat.TokenAuthorizer, ComponentAppID: grant.ComponentAppID,
		PermissionSets: slices.Clone(grant.PermissionSets),
	}, now, true)
	if err != nil {
		return nil, err
	}
	live := grant.Tokens[:0:0]
	for _, tok := range grant.Tokens {
		old, err := wechat.GetToken(tx, tok)
		if err != nil {
			return nil, err
		}
		if old == nil {
			continue
		}
		if s := old.State(now); s == "valid" || s == "overlap" {
			live = append(live, tok)
		}
	}
	grant.Tokens = append(live, t.Token)
	if err := tx.Put(authorizationKey(grant.ComponentAppID, grant.AuthorizerAppID), grant); err != nil {
		return nil, err
	}
	return t, nil
}

// handleAuthorizerToken emulates POST /cgi-bin/component/api_authorizer_token.
func (e *Emulator) handleAuthorizerToken(c *endpoint.Call) (any, error) {
	var req struct {
		ComponentAppID         string `json:"component_appid"`
		AuthorizerAppID        string `json:"authorizer_appid"`
		AuthorizerRefreshToken string `json:"authorizer_refresh_token"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	comp, err := componentPrincipal(c, req.ComponentAppID)
	if err != nil {
		return nil, err
	}
	if !wechat.ValidAppID(req.AuthorizerAppID) {
		return nil, apierr.Newf(apierr.Invalid, 40013, "authorizer_appid %q is not of the form wx + 16 hex digits", req.AuthorizerAppID)
	}
	var answer struct {
		AuthorizerAccessToken  string `json:"authorizer_access_token"`
		ExpiresIn              int    `json:"expires_in"`
		AuthorizerRefreshToken string `json:"authorizer_refresh_token"`
	}
	err = e.deps.Store.Update(func(tx *store.Tx) error {
		grant, err := getAuthorization(tx, comp.AppID, req.AuthorizerAppID)
		switch {
		case err != nil:
			return err
		case grant == nil:
			return apierr.Newf(apierr.Forbidden, 61003, "%s never authorized %s", req.AuthorizerAppID, comp.AppID)
		case !grant.Active:
			return apierr.Newf(apierr.Forbidden, 61003, "%s cancelled its authorization at %s", req.AuthorizerAppID, grant.RevokedAt.Format(time.RFC3339))
		case req.AuthorizerRefreshToken != grant.RefreshToken:
			return apierr.New(apierr.Unauthenticated, 61023, "not the current refresh token of this authorizer (it changes when the account re-authorizes)")
		}
		t, err := e.issueAuthorizer(tx, grant, c.Now)
		if err != nil {
			return err
		}
		answer.AuthorizerAccessToken, answer.AuthorizerRefreshToken = t.Token, grant.RefreshToken
		answer.ExpiresIn = int(wechat.TokenLifetime / time.Second)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return answer, nil
}
