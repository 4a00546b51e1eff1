package component

// Third-party platform ("component") APIs: the component_verify_ticket, the component token,
// pre-auth codes, the exchange of an authorization code, authorizer-token refresh, and the
// authorizer info and list. The authorization page, the simulated administrator and the pushes
// are in componentauth.go.
//
// What is emulated faithfully (reference: wechat-component.md):
//   - tickets: pushed every 10 minutes of sandbox time, each valid 12 hours; the same value is
//     re-sent for 20 minutes before a new one is drawn; any ticket this sandbox pushed and that
//     is still valid gets a component token; an expired one answers 61005, any other 61006;
//   - api_component_token: 61011 for an appid that is not a registered component, 40125 for a
//     wrong secret (another component's included), 61004 for a caller outside the component's
//     IP whitelist; the token lives 7200 s and issuing a new one does not revoke the old;
//   - pre-auth codes and authorization codes live 600 s and are single use (61009 on reuse or an
//     unknown code, 61010 once expired);
//   - api_authorizer_token returns the same refresh token; re-authorization rotates it and the
//     old one answers 61023; a revoked authorization answers 61003;
//   - both query names for the component token (component_access_token and access_token);
//   - an authorizer token works on every API path the account's own token works on; an API whose
//     x-wechat-permission-sets the authorizer did not grant answers 61007; a call through a
//     component whose IP whitelist excludes the caller answers 61004.
//
// What is invented (no public source):
//   - the 20-minute ticket rotation is taken from one observed log; the push schedule runs from
//     the component's creation (pushes at creation + 10 min, + 20 min, ...); when the clock jumps
//     several periods only the latest due push is sent (WeChat would have sent each in real time);
//   - pushes are driven by clock moves (POST /_sandbox/clock, Server.Advance/SetTime) and, when
//     the sandbox is served with a running clock, by a check every 10 s of wall time; calling an
//     API does not push;
//   - a component_appid in the body that is not the token's own answers 40013; a component token
//     on a non-component API answers 61015, another token on a component API 61014 (SDK tables);
//   - the 61004 message carries "requestIP: <ip>" before the rid, as observed;
//   - a refreshed authorizer token supersedes the previous one, which works 5 more minutes (as
//     /cgi-bin/token);
//   - api_component_token is limited to 2000 calls a day (production tier);
//   - api_get_authorizer_list lists active authorizations ordered by authorizer appid, with
//     their refresh tokens;
//   - authorizer_info: head_img and qrcode_url are made-up URLs derived from the appid,
//     principal_name is the account name, alias and signature are empty, business_info all 0;
//   - permission sets are read from the grant at each call, so a re-authorization that adds or
//     removes a set applies to authorizer tokens already issued;
//   - an API that lists the component account type (clear_quota) takes a component token; an
//     API declaring no permission set (the quota and rid tools) takes any authorizer token.

import (
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// Deps are what the third-party platform needs.
type Deps struct {
	Store *store.Store
	Clock clock.Clock
	Rand  *seeded.Source
	// Journal records each push to a component (tickets, authorization events).
	Journal *journal.Journal
	// Push delivers those pushes.
	Push *push.Deliverer
	// WeChat knows the accounts and issues the component and authorizer tokens.
	WeChat *wechat.Platform
}

// Emulator is the third-party platform: its API handlers, authorization page and control verbs.
type Emulator struct {
	deps Deps
}

// New returns the emulation and makes its rules part of the admission of calls made with
// component and authorizer tokens.
func New(d Deps) *Emulator {
	e := &Emulator{deps: d}
	d.WeChat.CheckTokenKind(wechat.TokenComponent, e.admitToken)
	d.WeChat.CheckTokenKind(wechat.TokenAuthorizer, e.admitToken)
	return e
}

// Routes lists the third-party platform APIs and control verbs.
func (e *Emulator) Routes(r endpoint.Routes) {
	r.Handle("getComponentAccessToken", e.handleComponentToken)    // POST /cgi-bin/component/api_component_token
	r.Handle("startPushTicket", e.handleStartPushTicket)           // POST /cgi-bin/component/api_start_push_ticket
	r.Handle("createPreAuthCode", e.handleCreatePreAuthCode)       // POST /cgi-bin/component/api_create_preauthcode
	r.Handle("queryAuth", e.handleQueryAuth)                       // POST /cgi-bin/component/api_query_auth
	r.Handle("getAuthorizerAccessToken", e.handleAuthorizerToken)  // POST /cgi-bin/component/api_authorizer_token
	r.Handle("getAuthorizerInfo", e.handleAuthorizerInfo)          // POST /cgi-bin/component/api_get_authorizer_info
	r.Handle("getAuthorizerList", e.handleAuthorizerList)          // POST /cgi-bin/component/api_get_authorizer_list
	r.Handle("componentLoginPage", e.handleComponentLoginPage)     // GET /cgi-bin/componentloginpage
	r.Handle("getWeChatComponent", e.handleGetComponent)           // GET /_sandbox/wechat/components/{appid}
	r.Handle("pushWeChatComponentTicket", e.handlePushTicket)      // POST /_sandbox/wechat/components/{appid}/ticket
	r.Handle("authorizeWeChatComponent", e.handleAuthorize)        // POST /_sandbox/wechat/components/{appid}/authorize
	r.Handle("revokeWeChatComponentAuthorization", e.handleRevoke) // DELETE /_sandbox/wechat/components/{appid}/authorizations/{authorizer_appid}
}

// Component lifetimes.
const (
	TicketPushPeriod = 10 * time.Minute
	TicketRotation   = 20 * time.Minute
	TicketLifetime   = 12 * time.Hour
	PreAuthLifetime  = 600 * time.Second
	AuthCodeLifetime = 600 * time.Second
)

// Ticket is a component_verify_ticket the sandbox pushed.
type Ticket struct {
	Ticket         string    `json:"ticket"`
	ComponentAppID string    `json:"component_appid"`
	IssuedAt       time.Time `json:"issued_at"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// componentState is a component's ticket schedule.
type componentState struct {
	// Ticket is the value pushed last, drawn at TicketIssuedAt.
	Ticket         string    `json:"ticket,omitempty"`
	TicketIssuedAt time.Time `json:"ticket_issued_at"`
	// LastSlot is the number k of the last scheduled push (at creation + k*TicketPushPeriod).
	LastSlot int64 `json:"last_slot"`
}

// preAuth is a pre-auth code and what the authorization page made of it.
type preAuth struct {
	Code           string    `json:"code"`
	ComponentAppID string    `json:"component_appid"`
	IssuedAt       time.Time `json:"issued_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	// Page is set when the authorization page is opened with the code.
	Page *loginPage `json:"page,omitempty"`
	// AuthCode and RedirectURL are set once the administrator confirmed; the code is used.
	AuthCode    string `json:"auth_code,omitempty"`
	RedirectURL string `json:"redirect_url,omitempty"`
}

// loginPage is the parameters the authorization page was opened with.
type loginPage struct {
	RedirectURI string    `json:"redirect_uri"`
	AuthType    int       `json:"auth_type"`
	BizAppID    string    `json:"biz_appid,omitempty"`
	Categories  []int     `json:"categories,omitempty"`
	OpenedAt    time.Time `json:"opened_at"`
}

// authCode is an authorization code handed to the component by redirect and event.
type authCode struct {
	Code            string    `json:"code"`
	ComponentAppID  string    `json:"component_appid"`
	AuthorizerAppID string    `json:"authorizer_appid"`
	IssuedAt        time.Time `json:"issued_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	Used            bool      `json:"used,omitempty"`
}

// Authorization is an account's grant to a component.
type Authorization struct {
	ComponentAppID  string     `json:"component_appid"`
	AuthorizerAppID string     `json:"authorizer_appid"`
	PermissionSets  []int      `json:"permission_sets"`
	RefreshToken    string     `json:"refresh_token"`
	AuthTime        time.Time  `json:"auth_time"`
	Active          bool       `json:"active"`
	RevokedAt       *time.Time `json:"revoked_at,omitempty"`
	// Tokens are the authorizer tokens issued under this grant that may still work.
	Tokens []string `json:"tokens,omitempty"`
}

func componentStateKey(comp string) string { return "wechat:component:state:" + comp }
func ticketKey(t string) string            { return "wechat:component:ticket:" + t }
func preAuthKey(code string) string        { return "wechat:component:preauth:" + code }
func authCodeKey(code string) string       { return "wechat:component:authcode:" + code }
func authorizationPrefix(comp string) string {
	return "wechat:component:auth:" + comp + ":"
}
func authorizationKey(comp, authorizer string) string {
	return authorizationPrefix(comp) + authorizer
}

// getAuthorization returns the (component, authorizer) grant, or nil.
func getAuthorization(tx *store.Tx, comp, authorizer string) (*Authorization, error) {
	return store.Get[Authorization](tx, authorizationKey(comp, authorizer))
}

// ---------------------------------------------------------------- credentials

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

// ---------------------------------------------------------------- tickets

// nextTicket returns the ticket to push at time at: the current one while it is younger than
// TicketRotation, else a new one.
func (e *Emulator) nextTicket(tx *store.Tx, comp *wechat.App, st *componentState, at time.Time) (*Ticket, error) {
	if st.Ticket != "" && at.Sub(st.TicketIssuedAt) < TicketRotation {
		var t Ticket
		if ok, err := tx.Get(ticketKey(st.Ticket), &t); err != nil {
			return nil, err
		} else if ok {
			return &t, nil
		}
	}
	t := &Ticket{
		Ticket: "ticket@@@" + e.deps.Rand.Token(86, seeded.URLSafe), ComponentAppID: comp.AppID,
		IssuedAt: at, ExpiresAt: at.Add(TicketLifetime),
	}
	if err := tx.Put(ticketKey(t.Ticket), t); err != nil {
		return nil, err
	}
	st.Ticket, st.TicketIssuedAt = t.Ticket, at
	return t, nil
}

// ticketPush is a ticket due for delivery.
type ticketPush struct {
	comp   *wechat.App
	ticket *Ticket
	at     time.Time
}

// PushDueTickets pushes, for every component, the ticket of the latest scheduled push at or
// before now that has not been sent yet. The sandbox calls it whenever its clock moves.
func (e *Emulator) PushDueTickets(now time.Time) error {
	// Look first (a View), so that a clock move with nothing due writes nothing.
	var comps []*wechat.App
	err := e.deps.Store.View(func(tx *store.Tx) error {
		all, err := wechat.ListApps(tx, wechat.TypeComponent)
		if err != nil {
			return err
		}
		for _, a := range all {
			if now.Sub(a.CreatedAt) < TicketPushPeriod {
				continue
			}
			var st componentState
			if _, err := tx.Get(componentStateKey(a.AppID), &st); err != nil {
				return err
			}
			if int64(now.Sub(a.CreatedAt)/TicketPushPeriod) > st.LastSlot {
				comps = append(comps, a)
			}
		}
		return nil
	})
	if err != nil || len(comps) == 0 {
		return err
	}
	var due []ticketPush
	err = e.deps.Store.Update(func(tx *store.Tx) error {
		for _, comp := range comps {
			slot := int64(now.Sub(comp.CreatedAt) / TicketPushPeriod)
			var st componentState
			if _, err := tx.Get(componentStateKey(comp.AppID), &st); err != nil {
				return err
			}
			if slot <= st.LastSlot {
				continue // pushed meanwhile by a concurrent clock move
			}
			at := comp.CreatedAt.Add(time.Duration(slot) * TicketPushPeriod)
			t, err := e.nextTicket(tx, comp, &st, at)
			if err != nil {
				return err
			}
			st.LastSlot = slot
			if err := tx.Put(componentStateKey(comp.AppID), st); err != nil {
				return err
			}
			due = append(due, ticketPush{comp: comp, ticket: t, at: at})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wechat: ticket schedule: %w", err)
	}
	for _, d := range due {
		e.pushTicket(d.comp, d.ticket, d.at)
	}
	return nil
}

// pushTicketNow draws (or repeats) the ticket at now and pushes it: the on-demand verb and
// api_start_push_ticket.
func (e *Emulator) pushTicketNow(comp *wechat.App, now time.Time) (*Ticket, pushResult, error) {
	var t *Ticket
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		var st componentState
		if _, err := tx.Get(componentStateKey(comp.AppID), &st); err != nil {
			return err
		}
		var err error
		if t, err = e.nextTicket(tx, comp, &st, now); err != nil {
			return err
		}
		return tx.Put(componentStateKey(comp.AppID), st)
	})
	if err != nil {
		return nil, pushResult{}, err
	}
	return t, e.pushTicket(comp, t, now), nil
}

func (e *Emulator) pushTicket(comp *wechat.App, t *Ticket, at time.Time) pushResult {
	return e.pushComponentEvent(comp, at, componentEvent{InfoType: "component_verify_ticket", Extra: push.Message{
		{Name: "ComponentVerifyTicket", Value: t.Ticket},
	}})
}

// ---------------------------------------------------------------- APIs

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

// handleStartPushTicket emulates POST /cgi-bin/component/api_start_push_ticket: a ticket is
// pushed at once, and the answer is ok whether or not the delivery succeeded.
func (e *Emulator) handleStartPushTicket(c *endpoint.Call) (any, error) {
	var req struct {
		ComponentAppID  string `json:"component_appid"`
		ComponentSecret string `json:"component_secret"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	comp, err := e.checkComponentSecret(c, req.ComponentAppID, req.ComponentSecret)
	if err != nil {
		return nil, err
	}
	_, res, err := e.pushTicketNow(comp, c.Now)
	if err != nil {
		return nil, err
	}
	c.Reason = "ticket push: " + res.summary()
	return nil, nil
}

type preAuthAnswer struct {
	PreAuthCode string `json:"pre_auth_code"`
	ExpiresIn   int    `json:"expires_in"`
}

// handleCreatePreAuthCode emulates POST /cgi-bin/component/api_create_preauthcode.
func (e *Emulator) handleCreatePreAuthCode(c *endpoint.Call) (any, error) {
	var req struct {
		ComponentAppID string `json:"component_appid"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	comp, err := componentPrincipal(c, req.ComponentAppID)
	if err != nil {
		return nil, err
	}
	pa := preAuth{
		Code: "preauthcode@@@" + e.deps.Rand.Token(64, seeded.URLSafe), ComponentAppID: comp.AppID,
		IssuedAt: c.Now, ExpiresAt: c.Now.Add(PreAuthLifetime),
	}
	err = e.deps.Store.Update(func(tx *store.Tx) error { return tx.Put(preAuthKey(pa.Code), pa) })
	if err != nil {
		return nil, err
	}
	return preAuthAnswer{PreAuthCode: pa.Code, ExpiresIn: int(PreAuthLifetime / time.Second)}, nil
}

// funcScope is one entry of func_info.
type funcScope struct {
	FuncscopeCategory struct {
		ID int `json:"id"`
	} `json:"funcscope_category"`
}

func funcInfo(sets []int) []funcScope {
	out := make([]funcScope, len(sets))
	for i, id := range sets {
		out[i].FuncscopeCategory.ID = id
	}
	return out
}

type queryAuthInfo struct {
	AuthorizerAppID        string      `json:"authorizer_appid"`
	AuthorizerAccessToken  string      `json:"authorizer_access_token"`
	ExpiresIn              int         `json:"expires_in"`
	AuthorizerRefreshToken string      `json:"authorizer_refresh_token"`
	FuncInfo               []funcScope `json:"func_info"`
}

// handleQueryAuth emulates POST /cgi-bin/component/api_query_auth.
func (e *Emulator) handleQueryAuth(c *endpoint.Call) (any, error) {
	var req struct {
		ComponentAppID    string `json:"component_appid"`
		AuthorizationCode string `json:"authorization_code"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	comp, err := componentPrincipal(c, req.ComponentAppID)
	if err != nil {
		return nil, err
	}
	var info queryAuthInfo
	err = e.deps.Store.Update(func(tx *store.Tx) error {
		var ac authCode
		ok, err := tx.Get(authCodeKey(req.AuthorizationCode), &ac)
		switch {
		case err != nil:
			return err
		case !ok:
			return apierr.New(apierr.Invalid, 61009, "the sandbox never issued this authorization code")
		case ac.ComponentAppID != comp.AppID:
			return apierr.Newf(apierr.Invalid, 61009, "the authorization code belongs to component %s", ac.ComponentAppID)
		case ac.Used:
			return apierr.New(apierr.Invalid, 61009, "the authorization code was already exchanged (codes are single use)")
		case !c.Now.Before(ac.ExpiresAt):
			return apierr.Newf(apierr.Expired, 61010, "the authorization code expired at %s", ac.ExpiresAt.Format(time.RFC3339))
		}
		grant, err := getAuthorization(tx, comp.AppID, ac.AuthorizerAppID)
		if err != nil {
			return err
		}
		if grant == nil || !grant.Active {
			return apierr.Newf(apierr.Forbidden, 61003, "%s cancelled the authorization after the code was issued", ac.AuthorizerAppID)
		}
		ac.Used = true
		if err := tx.Put(authCodeKey(ac.Code), ac); err != nil {
			return err
		}
		t, err := e.issueAuthorizer(tx, grant, c.Now)
		if err != nil {
			return err
		}
		info = queryAuthInfo{
			AuthorizerAppID: grant.AuthorizerAppID, AuthorizerAccessToken: t.Token,
			ExpiresIn: int(wechat.TokenLifetime / time.Second), AuthorizerRefreshToken: grant.RefreshToken,
			FuncInfo: funcInfo(grant.PermissionSets),
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return struct {
		AuthorizationInfo queryAuthInfo `json:"authorization_info"`
	}{info}, nil
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

type idField struct {
	ID int `json:"id"`
}

type businessInfo struct {
	OpenPay   int `json:"open_pay"`
	OpenShake int `json:"open_shake"`
	OpenScan  int `json:"open_scan"`
	OpenCard  int `json:"open_card"`
	OpenStore int `json:"open_store"`
}

type miniProgramInfo struct {
	Network struct {
		RequestDomain   []string `json:"RequestDomain"`
		WsRequestDomain []string `json:"WsRequestDomain"`
		UploadDomain    []string `json:"UploadDomain"`
		DownloadDomain  []string `json:"DownloadDomain"`
		UDPDomain       []string `json:"UDPDomain"`
	} `json:"network"`
	Categories  []map[string]string `json:"categories"`
	VisitStatus int                 `json:"visit_status"`
}

type authorizerInfo struct {
	NickName        string           `json:"nick_name"`
	HeadImg         string           `json:"head_img"`
	ServiceTypeInfo idField          `json:"service_type_info"`
	VerifyTypeInfo  idField          `json:"verify_type_info"`
	UserName        string           `json:"user_name"`
	Alias           string           `json:"alias"`
	QrcodeURL       string           `json:"qrcode_url"`
	BusinessInfo    businessInfo     `json:"business_info"`
	PrincipalName   string           `json:"principal_name"`
	Signature       string           `json:"signature"`
	AccountStatus   int              `json:"account_status"`
	MiniProgramInfo *miniProgramInfo `json:"MiniProgramInfo,omitempty"`
}

// describeAuthorizer builds authorizer_info from an app.
func describeAuthorizer(a *wechat.App) authorizerInfo {
	info := authorizerInfo{
		NickName: a.Name, UserName: a.OriginalID, PrincipalName: a.Name, AccountStatus: 1,
		HeadImg:   "http://wx.qlogo.cn/mmopen/sandbox-" + a.AppID + "/0",
		QrcodeURL: "http://mmbiz.qpic.cn/mmbiz_jpg/sandbox-" + a.AppID + "/0",
	}
	if a.SubjectType == "personal" {
		info.PrincipalName = "个人"
	}
	if a.AccountType() == "service" {
		info.ServiceTypeInfo.ID = 2
	}
	if !a.Verified {
		info.VerifyTypeInfo.ID = -1
	}
	if a.Type == wechat.TypeMiniProgram {
		mp := &miniProgramInfo{Categories: []map[string]string{}}
		mp.Network.RequestDomain, mp.Network.WsRequestDomain = []string{}, []string{}
		mp.Network.UploadDomain, mp.Network.DownloadDomain, mp.Network.UDPDomain = []string{}, []string{}, []string{}
		info.MiniProgramInfo = mp
	}
	return info
}

// handleAuthorizerInfo emulates POST /cgi-bin/component/api_get_authorizer_info.
func (e *Emulator) handleAuthorizerInfo(c *endpoint.Call) (any, error) {
	var req struct {
		ComponentAppID  string `json:"component_appid"`
		AuthorizerAppID string `json:"authorizer_appid"`
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
	type authInfo struct {
		AuthorizerAppID        string      `json:"authorizer_appid"`
		AuthorizerRefreshToken string      `json:"authorizer_refresh_token"`
		FuncInfo               []funcScope `json:"func_info"`
	}
	var answer struct {
		AuthorizerInfo    authorizerInfo `json:"authorizer_info"`
		AuthorizationInfo authInfo       `json:"authorization_info"`
	}
	err = e.deps.Store.View(func(tx *store.Tx) error {
		grant, err := getAuthorization(tx, comp.AppID, req.AuthorizerAppID)
		if err != nil {
			return err
		}
		if grant == nil || !grant.Active {
			return apierr.Newf(apierr.Forbidden, 61003, "%s has no active authorization for %s", req.AuthorizerAppID, comp.AppID)
		}
		app, err := wechat.GetApp(tx, req.AuthorizerAppID)
		if err != nil {
			return err
		}
		if app == nil {
			return apierr.Newf(apierr.Forbidden, 61003, "account %s no longer exists", req.AuthorizerAppID)
		}
		answer.AuthorizerInfo = describeAuthorizer(app)
		answer.AuthorizationInfo = authInfo{grant.AuthorizerAppID, grant.RefreshToken, funcInfo(grant.PermissionSets)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return answer, nil
}

type authorizerListItem struct {
	AuthorizerAppID string `json:"authorizer_appid"`
	RefreshToken    string `json:"refresh_token"`
	AuthTime        int64  `json:"auth_time"`
}

// handleAuthorizerList emulates POST /cgi-bin/component/api_get_authorizer_list.
func (e *Emulator) handleAuthorizerList(c *endpoint.Call) (any, error) {
	var req struct {
		ComponentAppID string `json:"component_appid"`
		Offset         int    `json:"offset"`
		Count          int    `json:"count"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	comp, err := componentPrincipal(c, req.ComponentAppID)
	if err != nil {
		return nil, err
	}
	all, err := e.authorizations(comp.AppID)
	if err != nil {
		return nil, err
	}
	list := []authorizerListItem{}
	total := 0
	for _, a := range all {
		if !a.Active {
			continue
		}
		if total >= req.Offset && len(list) < req.Count {
			list = append(list, authorizerListItem{a.AuthorizerAppID, a.RefreshToken, a.AuthTime.Unix()})
		}
		total++
	}
	return struct {
		TotalCount int                  `json:"total_count"`
		List       []authorizerListItem `json:"list"`
	}{total, list}, nil
}

// authorizations returns every grant (active or not) made to a component, by authorizer appid.
func (e *Emulator) authorizations(comp string) ([]Authorization, error) {
	var out []Authorization
	err := e.deps.Store.View(func(tx *store.Tx) error {
		return store.Each(tx, authorizationPrefix(comp), func(_ string, a *Authorization) error {
			out = append(out, *a)
			return nil
		})
	})
	return out, err
}
