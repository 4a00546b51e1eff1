// Package component emulates WeChat's third-party platform (第三方平台, "component") on WeChat's
// own paths: the component_verify_ticket and its pushes (tickets.go), the component token and
// the authorizer tokens (tokens.go), pre-auth codes and the authorization page an account
// administrator scans (authpage.go), the grants and the APIs that read them
// (authorizations.go), the permission sets (permissions.go), the pushes to the component's
// authorization-event URL (pushes.go), and the control verbs that play the administrator
// (administrator.go).
//
// The family is one package because its parts share one life cycle — ticket, component token,
// pre-auth code, page, grant, authorization code, authorizer token, refresh, revocation — and
// its own credentials: a component authenticates with its ticket and secret, and the tokens it
// holds are admitted by its own rules. It depends on the WeChat core (package wechat) for
// accounts, the issuing of tokens (Deps.WeChat.Issue), push targets and the envelope; the core
// calls back into it only through the admission rules it registers for component and
// authorizer tokens (wechat.Platform.CheckTokenKind).
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
//     component whose IP whitelist excludes the caller answers 61004;
//   - pushes to the authorization-event URL are XML in safe mode (an <AppId> and <Encrypt>
//     envelope, encrypted with the component's appid in the trailer) whatever the push
//     configuration says, and count as delivered only when the answer is exactly "success".
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
//     API declaring no permission set (the quota and rid tools) takes any authorizer token;
//   - the authorization page (PC: componentloginpage; mobile: /safe/bindcomponent, with
//     action=bindcomponent, no_scan=1 and the same parameters; open.weixin.qq.com's
//     /wxaopen/safe/bindcomponent is not served) is a small HTML page of the sandbox's own; it
//     refuses bad parameters with WeChat's JSON envelope rather than an error page: 61011 for a
//     component_appid that is not a third-party platform, 61009 for an unknown or used pre-auth
//     code, 61010 for an expired one (WeChat shows "PreAuthCode invalid"), 40097 for a
//     redirect_uri that is not an absolute http(s) URL, 40013 for a biz_appid that is no
//     account, 40097 for an action other than bindcomponent; the redirect_uri domain is not checked against an "authorization initiation page
//     domain" (components have none here), nor is the Referer;
//   - permission sets offered: official accounts 1, 2, 3, 4, 7, 11, 15, 22; mini programs 17,
//     18, 19, 25, 76, 105, 151 (105 and 151 are placed on mini programs by the API pages that
//     require them); granting nothing is refused;
//   - a mutually exclusive set (4, 18, 25, 76) held by another platform is left out of an
//     "all sets" grant and refuses an explicit one (409);
//   - when biz_appid and auth_type disagree, biz_appid wins (one SDK's reading of the table).
//
// What is kept, and for how long (sandbox time; the store forgets the rest, see package store):
// tickets, component tokens, pre-auth codes and authorization codes a day
// (wechat.ExpiredMemory) after they expire — until then they answer "expired", after that as
// never issued; authorizer tokens as the core's tokens; grants and the ticket schedule for good.
package component

import (
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
	store.ForgetRecords[Ticket](d.Store, "wechat:component:ticket:")
	store.ForgetRecords[preAuth](d.Store, "wechat:component:preauth:")
	store.ForgetRecords[authCode](d.Store, "wechat:component:authcode:")
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
	r.Handle("bindComponent", e.handleBindComponent)               // GET /safe/bindcomponent
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

// componentNotFound is the control plane's answer for an appid that is no component.
func componentNotFound(appid string) error {
	return &apierr.Error{Kind: apierr.NotFound, Name: "component_not_found", Reason: "no third-party platform " + appid}
}

// loadComponent reads a component app for a control verb.
func (e *Emulator) loadComponent(tx *store.Tx, appid string) (*wechat.App, error) {
	comp, err := wechat.GetApp(tx, appid)
	if err != nil {
		return nil, err
	}
	if comp == nil || comp.Type != wechat.TypeComponent {
		return nil, componentNotFound(appid)
	}
	return comp, nil
}

type componentView struct {
	ComponentAppID  string           `json:"component_appid"`
	Ticket          string           `json:"ticket,omitempty"`
	TicketExpiresAt *time.Time       `json:"ticket_expires_at,omitempty"`
	NextTicketPush  time.Time        `json:"next_ticket_push"`
	Authorizations  []authorizedView `json:"authorizations"`
}

type authorizedView struct {
	AuthorizerAppID string    `json:"authorizer_appid"`
	PermissionSets  []int     `json:"permission_sets"`
	AuthTime        time.Time `json:"auth_time"`
	Active          bool      `json:"active"`
	RefreshToken    string    `json:"refresh_token,omitempty"`
}

// handleGetComponent serves GET /_sandbox/wechat/components/{appid}: the component's ticket,
// its next scheduled push and its grants.
func (e *Emulator) handleGetComponent(c *endpoint.Call) (any, error) {
	v := componentView{ComponentAppID: c.Param("appid"), Authorizations: []authorizedView{}}
	err := e.deps.Store.View(func(tx *store.Tx) error {
		comp, err := e.loadComponent(tx, v.ComponentAppID)
		if err != nil {
			return err
		}
		var st componentState
		if _, err := tx.Get(componentStateKey(comp.AppID), &st); err != nil {
			return err
		}
		if st.Ticket != "" {
			exp := st.TicketIssuedAt.Add(TicketLifetime)
			v.Ticket, v.TicketExpiresAt = st.Ticket, &exp
		}
		slot := max(st.LastSlot, int64(c.Now.Sub(comp.CreatedAt)/TicketPushPeriod)) + 1
		v.NextTicketPush = comp.CreatedAt.Add(time.Duration(slot) * TicketPushPeriod)
		return nil
	})
	if err != nil {
		return nil, err
	}
	all, err := e.authorizations(v.ComponentAppID)
	for _, a := range all {
		av := authorizedView{AuthorizerAppID: a.AuthorizerAppID, PermissionSets: a.PermissionSets, AuthTime: a.AuthTime, Active: a.Active}
		if a.Active {
			av.RefreshToken = a.RefreshToken
		}
		v.Authorizations = append(v.Authorizations, av)
	}
	return v, err
}
