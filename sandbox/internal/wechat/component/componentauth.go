package component

// The authorization side of third-party platforms: the page an account administrator scans
// (/cgi-bin/componentloginpage), the control verbs that play that administrator (authorize,
// cancel), the ticket verb, and the encrypted pushes to the component's authorization-event URL
// (component_verify_ticket, authorized, updateauthorized, unauthorized).
//
// What is invented (no public source):
//   - the page is a small HTML page of the sandbox's own; it refuses bad parameters with WeChat's
//     JSON envelope rather than an error page: 61011 for a component_appid that is not a
//     third-party platform, 61009 for an unknown or used pre-auth code, 61010 for an expired one
//     (WeChat shows "PreAuthCode invalid"), 40097 for a redirect_uri that is not an absolute
//     http(s) URL, 40013 for a biz_appid that is no account; the redirect_uri domain is not
//     checked against an "authorization initiation page domain" (components have none here),
//     nor is the Referer;
//   - permission sets offered: official accounts 1, 2, 3, 4, 7, 11, 15, 22; mini programs 17,
//     18, 19, 25, 76, 105, 151 (105 and 151 are placed on mini programs by the API pages that
//     require them); granting nothing is refused;
//   - a mutually exclusive set (4, 18, 25, 76) held by another platform is left out of an
//     "all sets" grant and refuses an explicit one (409);
//   - when biz_appid and auth_type disagree, biz_appid wins (one SDK's reading of the table).

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// permissionSet is one 权限集 an account may grant.
type permissionSet struct {
	ID        int
	Name      string
	Kind      string // TypeOfficialAccount or TypeMiniProgram
	Exclusive bool
}

// permissionSets are the sets the authorization page offers, by id (reference section 9.1).
var permissionSets = []permissionSet{
	{1, "消息管理", wechat.TypeOfficialAccount, false},
	{2, "用户管理", wechat.TypeOfficialAccount, false},
	{3, "账号服务", wechat.TypeOfficialAccount, false},
	{4, "网页服务", wechat.TypeOfficialAccount, true},
	{7, "群发与通知", wechat.TypeOfficialAccount, false},
	{11, "素材管理", wechat.TypeOfficialAccount, false},
	{15, "菜单管理", wechat.TypeOfficialAccount, false},
	{22, "城市服务", wechat.TypeOfficialAccount, false},
	{17, "获取小程序码", wechat.TypeMiniProgram, false},
	{18, "小程序开发与数据分析", wechat.TypeMiniProgram, true},
	{19, "小程序客服管理", wechat.TypeMiniProgram, false},
	{25, "开放平台账号管理", wechat.TypeMiniProgram, true},
	{76, "小程序违规与交易投诉管理", wechat.TypeMiniProgram, true},
	{105, "城市服务（小程序）", wechat.TypeMiniProgram, false},
	{151, "交易评价管理", wechat.TypeMiniProgram, false},
}

func findPermissionSet(id int) (permissionSet, bool) {
	i := slices.IndexFunc(permissionSets, func(s permissionSet) bool { return s.ID == id })
	if i < 0 {
		return permissionSet{}, false
	}
	return permissionSets[i], true
}

// offeredSets returns the sets the page offers an account kind, narrowed by category_id_list.
func offeredSets(kind string, categories []int) []permissionSet {
	var out []permissionSet
	for _, s := range permissionSets {
		if s.Kind == kind && (len(categories) == 0 || slices.Contains(categories, s.ID)) {
			out = append(out, s)
		}
	}
	return out
}

// ---------------------------------------------------------------- pushes

// componentEvent is the plaintext of a push to a component's authorization-event URL, in
// WeChat's field order.
type componentEvent struct {
	InfoType string
	// Extra are the fields after InfoType.
	Extra push.Message
}

func (ev componentEvent) message(comp *wechat.App, at time.Time) push.Message {
	m := push.Message{{Name: "AppId", Value: comp.AppID}, {Name: "CreateTime", Value: at.Unix()}, {Name: "InfoType", Value: ev.InfoType}}
	return append(m, ev.Extra...)
}

// pushResult is how a push went.
type pushResult struct {
	Delivered bool   `json:"delivered"`
	URL       string `json:"url,omitempty"`
	Status    int    `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (r pushResult) summary() string {
	if r.Delivered {
		return "delivered to " + r.URL
	}
	return "not delivered: " + r.Error
}

// pushComponentEvent posts ev to the component's authorization-event URL (its push URL, set with
// PUT /_sandbox/wechat/apps/{appid}/push) the way WeChat posts system pushes whatever the push
// configuration says: XML, safe mode (an <AppId> and <Encrypt> envelope, encrypted with the
// component's appid in the trailer), delivered only when the answer is exactly "success". The
// happening is journaled (event component_verify_ticket, component_authorized,
// component_updateauthorized, component_unauthorized) even when no URL is set.
func (e *Emulator) pushComponentEvent(comp *wechat.App, at time.Time, ev componentEvent) pushResult {
	msg := ev.message(comp, at)
	event := ev.InfoType // component_verify_ticket, component_authorized, ...
	if !strings.HasPrefix(event, "component_") {
		event = "component_" + event
	}
	res := e.deliverComponentPush(comp, msg, event)
	plain, _ := msg.Encode(push.XML)
	e.deps.Journal.Add(journal.Entry{
		Event: event, Time: e.deps.Clock.Now(), Platform: e.deps.WeChat.Name(),
		Method: http.MethodPost, Path: res.URL, AppID: comp.AppID, Status: res.Status,
		RequestBody: string(plain), Reason: res.summary(),
	})
	return res
}

func (e *Emulator) deliverComponentPush(comp *wechat.App, msg push.Message, event string) pushResult {
	var t *push.Target
	if err := e.deps.Store.View(func(tx *store.Tx) error {
		var err error
		t, err = e.deps.WeChat.PushTarget(tx, comp)
		return err
	}); err != nil {
		return pushResult{Error: err.Error()}
	}
	if t == nil {
		return pushResult{Error: "no authorization-event URL: set one with PUT /_sandbox/wechat/apps/" + comp.AppID + "/push"}
	}
	t.Format, t.Mode, t.CryptAppID, t.RequireSuccess = push.XML, push.Safe, comp.AppID, true
	d, err := e.deps.Push.Deliver(context.Background(), *t, event, msg)
	if err != nil {
		return pushResult{URL: t.URL, Error: err.Error()}
	}
	res := pushResult{Delivered: d.Status == push.StatusDelivered, URL: t.URL}
	if n := len(d.Tries); n > 0 {
		res.Status, res.Error = d.Tries[n-1].HTTPStatus, d.Tries[n-1].Error
	}
	return res
}

// ---------------------------------------------------------------- the authorization page

var loginPageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>公众平台账号授权 — citysandbox</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;color:#333}code{background:#eee;padding:0 .2em}</style>
</head><body>
<h1>授权给第三方平台「{{.Component}}」</h1>
<p>第三方平台 <code>{{.ComponentAppID}}</code> 请求以下权限集：</p>
<ul>{{range .Sets}}<li>{{.ID}} {{.Name}}{{if .Exclusive}}（互斥）{{end}}</li>{{end}}</ul>
<p>可授权的账号：{{.Accounts}}</p>
<p>This is the citysandbox authorization page. An administrator "scans and confirms" with
<code>POST /_sandbox/wechat/components/{{.ComponentAppID}}/authorize</code> and the body
<code>{"pre_auth_code":"{{.PreAuthCode}}","authorizer_appid":"…"}</code>;
this page then sends the browser to <code>{{.RedirectURI}}</code> with <code>auth_code</code>.</p>
</body></html>
`))

type loginPageView struct {
	Component, ComponentAppID, PreAuthCode, RedirectURI, Accounts string
	Sets                                                          []permissionSet
}

// handleComponentLoginPage serves GET /cgi-bin/componentloginpage (mp.weixin.qq.com).
func (e *Emulator) handleComponentLoginPage(c *endpoint.Call) (any, error) {
	compID, code := c.Query("component_appid"), c.Query("pre_auth_code")
	if !wechat.ValidAppID(compID) {
		return nil, apierr.Newf(apierr.Invalid, 40013, "component_appid %q is not of the form wx + 16 hex digits", compID)
	}
	page := loginPage{RedirectURI: c.Query("redirect_uri"), AuthType: 3, BizAppID: c.Query("biz_appid"), OpenedAt: c.Now}
	if u, err := url.Parse(page.RedirectURI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, apierr.Newf(apierr.Invalid, 40097, "redirect_uri %q is not an absolute http(s) URL", page.RedirectURI)
	}
	if v := c.Query("auth_type"); v != "" {
		page.AuthType, _ = strconv.Atoi(v) // the spec allows 1, 2 or 3 only
	}
	if v := c.Query("category_id_list"); v != "" {
		for _, f := range strings.Split(v, "|") {
			id, err := strconv.Atoi(strings.TrimSpace(f))
			if _, known := findPermissionSet(id); err != nil || !known {
				return nil, apierr.Newf(apierr.Invalid, 40097, "category_id_list %q: %q is not a permission set id", v, f)
			}
			page.Categories = append(page.Categories, id)
		}
	}
	var view loginPageView
	var redirect string
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		comp, err := wechat.GetApp(tx, compID)
		if err != nil {
			return err
		}
		if comp == nil || comp.Type != wechat.TypeComponent {
			return apierr.Newf(apierr.Invalid, 61011, "%s is not a third-party platform", compID)
		}
		c.AppID = comp.AppID
		var pa preAuth
		ok, err := tx.Get(preAuthKey(code), &pa)
		switch {
		case err != nil:
			return err
		case !ok || pa.ComponentAppID != comp.AppID:
			return apierr.Newf(apierr.Invalid, 61009, "pre_auth_code was not issued to %s", comp.AppID)
		case pa.AuthCode != "":
			redirect = pa.RedirectURL // the administrator confirmed: the browser moves on
			return nil
		case !c.Now.Before(pa.ExpiresAt):
			return apierr.Newf(apierr.Expired, 61010, "pre_auth_code expired at %s", pa.ExpiresAt.Format(time.RFC3339))
		}
		kinds := map[int][]string{1: {wechat.TypeOfficialAccount}, 2: {wechat.TypeMiniProgram}, 3: {wechat.TypeOfficialAccount, wechat.TypeMiniProgram}}[page.AuthType]
		view.Accounts = map[int]string{1: "公众号", 2: "小程序", 3: "公众号或小程序"}[page.AuthType]
		if page.BizAppID != "" {
			biz, err := wechat.GetApp(tx, page.BizAppID)
			if err != nil {
				return err
			}
			if biz == nil || biz.Type == wechat.TypeComponent {
				return apierr.Newf(apierr.Invalid, 40013, "biz_appid %s is not an official account or mini program", page.BizAppID)
			}
			kinds, view.Accounts = []string{biz.Type}, biz.Name+"（"+biz.AppID+"）"
		}
		pa.Page = &page
		if err := tx.Put(preAuthKey(pa.Code), pa); err != nil {
			return err
		}
		view.Component, view.ComponentAppID, view.PreAuthCode, view.RedirectURI = comp.Name, comp.AppID, pa.Code, page.RedirectURI
		for _, k := range kinds {
			view.Sets = append(view.Sets, offeredSets(k, page.Categories)...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if redirect != "" {
		return endpoint.Redirect{URL: redirect}, nil
	}
	var buf bytes.Buffer
	if err := loginPageTemplate.Execute(&buf, view); err != nil {
		return nil, fmt.Errorf("wechat: render authorization page: %w", err)
	}
	return endpoint.Raw{ContentType: "text/html; charset=utf-8", Body: buf.Bytes()}, nil
}

// ---------------------------------------------------------------- control verbs

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

// AuthorizeRequest is what the simulated administrator confirms.
type AuthorizeRequest struct {
	PreAuthCode     string `json:"pre_auth_code"`
	AuthorizerAppID string `json:"authorizer_appid,omitempty"`
	// PermissionSets to grant; nil means every set the page offers.
	PermissionSets []int `json:"permission_sets,omitempty"`
}

// AuthorizeResult is the outcome of an authorization.
type AuthorizeResult struct {
	InfoType        string     `json:"info_type"`
	AuthorizerAppID string     `json:"authorizer_appid"`
	AuthCode        string     `json:"auth_code"`
	ExpiresIn       int        `json:"expires_in"`
	RedirectURL     string     `json:"redirect_url"`
	PermissionSets  []int      `json:"permission_sets"`
	Push            pushResult `json:"push"`
}

func (e *Emulator) handleAuthorize(c *endpoint.Call) (any, error) {
	var req AuthorizeRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return e.Authorize(c.Param("appid"), req)
}

// Authorize plays the administrator who scanned the authorization page and confirmed: it grants
// the sets, issues an authorization code and pushes authorized (or updateauthorized). It is the
// Go twin of POST /_sandbox/wechat/components/{appid}/authorize.
func (e *Emulator) Authorize(compID string, req AuthorizeRequest) (*AuthorizeResult, error) {
	now := e.deps.Clock.Now()
	fail := func(kind apierr.Kind, name, format string, args ...any) error {
		return &apierr.Error{Kind: kind, Name: name, Reason: fmt.Sprintf(format, args...)}
	}
	var res AuthorizeResult
	var comp *wechat.App
	var pa preAuth
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		if comp, err = e.loadComponent(tx, compID); err != nil {
			return err
		}
		ok, err := tx.Get(preAuthKey(req.PreAuthCode), &pa)
		switch {
		case err != nil:
			return err
		case !ok || pa.ComponentAppID != comp.AppID:
			return fail(apierr.NotFound, "pre_auth_code_not_found", "pre_auth_code was not issued to %s", comp.AppID)
		case pa.AuthCode != "":
			return fail(apierr.Conflict, "pre_auth_code_used", "pre_auth_code was already used (pre-auth codes are single use)")
		case !now.Before(pa.ExpiresAt):
			return fail(apierr.Conflict, "pre_auth_code_expired", "pre_auth_code expired at %s", pa.ExpiresAt.Format(time.RFC3339))
		case pa.Page == nil:
			return fail(apierr.Conflict, "page_not_opened", "open /cgi-bin/componentloginpage with this pre_auth_code first: that is the page the administrator scans")
		}
		page := pa.Page
		authorizerID := req.AuthorizerAppID
		switch {
		case authorizerID == "" && page.BizAppID == "":
			return fail(apierr.Invalid, "authorizer_required", "say which account authorizes: authorizer_appid")
		case authorizerID == "":
			authorizerID = page.BizAppID
		case page.BizAppID != "" && authorizerID != page.BizAppID:
			return fail(apierr.Forbidden, "wrong_account", "the page was opened with biz_appid %s: only that account can authorize", page.BizAppID)
		}
		authorizer, err := wechat.GetApp(tx, authorizerID)
		if err != nil {
			return err
		}
		if authorizer == nil {
			return fail(apierr.NotFound, "app_not_found", "no app %s", authorizerID)
		}
		if authorizer.Type == wechat.TypeComponent {
			return fail(apierr.Invalid, "wrong_account", "a third-party platform cannot authorize another")
		}
		if page.BizAppID == "" && (page.AuthType == 1 && authorizer.Type != wechat.TypeOfficialAccount || page.AuthType == 2 && authorizer.Type != wechat.TypeMiniProgram) {
			return fail(apierr.Forbidden, "wrong_account", "the page was opened with auth_type=%d, which does not admit a %s", page.AuthType, authorizer.Type)
		}
		held, err := e.exclusiveHeld(tx, comp.AppID, authorizerID)
		if err != nil {
			return err
		}
		offered := offeredSets(authorizer.Type, page.Categories)
		var grant []int
		if req.PermissionSets == nil {
			for _, s := range offered {
				if !held[s.ID] {
					grant = append(grant, s.ID)
				}
			}
		} else {
			for _, id := range req.PermissionSets {
				if !slices.ContainsFunc(offered, func(s permissionSet) bool { return s.ID == id }) {
					return fail(apierr.Invalid, "invalid_permission_set", "permission set %d is not offered to a %s by this page", id, authorizer.Type)
				}
				if held[id] {
					return fail(apierr.Conflict, "permission_set_taken", "permission set %d is mutually exclusive and held by another third-party platform", id)
				}
				if !slices.Contains(grant, id) {
					grant = append(grant, id)
				}
			}
		}
		slices.Sort(grant)
		if len(grant) == 0 {
			return fail(apierr.Invalid, "no_permission_set", "an authorization grants at least one permission set")
		}
		prev, err := getAuthorization(tx, comp.AppID, authorizerID)
		if err != nil {
			return err
		}
		res.InfoType = "authorized"
		g := &Authorization{ComponentAppID: comp.AppID, AuthorizerAppID: authorizerID}
		if prev != nil {
			g.Tokens = prev.Tokens
			if prev.Active {
				res.InfoType = "updateauthorized"
			}
		}
		// A new grant, or a re-authorization: either way a new refresh token replaces the old.
		g.PermissionSets, g.AuthTime, g.Active = grant, now, true
		g.RefreshToken = "refreshtoken@@@" + e.deps.Rand.Token(43, seeded.URLSafe)
		if err := tx.Put(authorizationKey(comp.AppID, authorizerID), g); err != nil {
			return err
		}
		ac := authCode{
			Code: "queryauthcode@@@" + e.deps.Rand.Token(86, seeded.URLSafe), ComponentAppID: comp.AppID,
			AuthorizerAppID: authorizerID, IssuedAt: now, ExpiresAt: now.Add(AuthCodeLifetime),
		}
		if err := tx.Put(authCodeKey(ac.Code), ac); err != nil {
			return err
		}
		sep := "?"
		if strings.Contains(page.RedirectURI, "?") {
			sep = "&"
		}
		pa.AuthCode = ac.Code
		pa.RedirectURL = page.RedirectURI + sep + "auth_code=" + url.QueryEscape(ac.Code) + "&expires_in=" + strconv.Itoa(int(AuthCodeLifetime/time.Second))
		if err := tx.Put(preAuthKey(pa.Code), pa); err != nil {
			return err
		}
		res.AuthorizerAppID, res.AuthCode, res.RedirectURL = authorizerID, ac.Code, pa.RedirectURL
		res.ExpiresIn, res.PermissionSets = int(AuthCodeLifetime/time.Second), grant
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Push = e.pushComponentEvent(comp, now, componentEvent{InfoType: res.InfoType, Extra: push.Message{
		{Name: "AuthorizerAppid", Value: res.AuthorizerAppID}, {Name: "AuthorizationCode", Value: res.AuthCode},
		{Name: "AuthorizationCodeExpiredTime", Value: now.Add(AuthCodeLifetime).Unix()}, {Name: "PreAuthCode", Value: pa.Code},
	}})
	return &res, nil
}

// exclusiveHeld returns the mutually exclusive sets an account has granted to other components.
func (e *Emulator) exclusiveHeld(tx *store.Tx, compID, authorizerID string) (map[int]bool, error) {
	held := map[int]bool{}
	err := store.Each(tx, "wechat:component:auth:", func(_ string, a *Authorization) error {
		if a.Active && a.AuthorizerAppID == authorizerID && a.ComponentAppID != compID {
			for _, id := range a.PermissionSets {
				if s, ok := findPermissionSet(id); ok && s.Exclusive {
					held[id] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return held, nil
}

// RevokeResult is the outcome of a cancelled authorization.
type RevokeResult struct {
	InfoType        string     `json:"info_type"`
	AuthorizerAppID string     `json:"authorizer_appid"`
	Push            pushResult `json:"push"`
}

func (e *Emulator) handleRevoke(c *endpoint.Call) (any, error) {
	return e.Revoke(c.Param("appid"), c.Param("authorizer_appid"))
}

// Revoke plays the administrator who cancels an authorization on mp.weixin.qq.com: the
// authorizer tokens stop working (40001), refresh answers 61003, and unauthorized is pushed. It
// is the Go twin of DELETE /_sandbox/wechat/components/{appid}/authorizations/{authorizer}.
func (e *Emulator) Revoke(compID, authorizerID string) (*RevokeResult, error) {
	now := e.deps.Clock.Now()
	var comp *wechat.App
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		if comp, err = e.loadComponent(tx, compID); err != nil {
			return err
		}
		g, err := getAuthorization(tx, compID, authorizerID)
		if err != nil {
			return err
		}
		if g == nil || !g.Active {
			return &apierr.Error{Kind: apierr.NotFound, Name: "authorization_not_found", Reason: authorizerID + " has no active authorization for " + compID}
		}
		for _, tok := range g.Tokens {
			t, err := wechat.GetToken(tx, tok)
			if err != nil {
				return err
			}
			if t != nil {
				t.Revoked = true
				if err := wechat.PutToken(tx, t); err != nil {
					return err
				}
			}
		}
		at := now
		g.Active, g.RevokedAt, g.Tokens = false, &at, nil
		return tx.Put(authorizationKey(compID, authorizerID), g)
	})
	if err != nil {
		return nil, err
	}
	res := &RevokeResult{InfoType: "unauthorized", AuthorizerAppID: authorizerID}
	res.Push = e.pushComponentEvent(comp, now, componentEvent{InfoType: res.InfoType, Extra: push.Message{
		{Name: "AuthorizerAppid", Value: authorizerID},
	}})
	return res, nil
}

// TicketResult is a ticket pushed on demand.
type TicketResult struct {
	ComponentAppID string     `json:"component_appid"`
	Ticket         string     `json:"ticket"`
	CreateTime     int64      `json:"create_time"`
	ExpiresAt      time.Time  `json:"expires_at"`
	Push           pushResult `json:"push"`
}

func (e *Emulator) handlePushTicket(c *endpoint.Call) (any, error) {
	return e.PushTicket(c.Param("appid"))
}

// PushTicket pushes the component's ticket now (the current one while it is younger than 20
// minutes). It is the Go twin of POST /_sandbox/wechat/components/{appid}/ticket.
func (e *Emulator) PushTicket(compID string) (*TicketResult, error) {
	var comp *wechat.App
	err := e.deps.Store.View(func(tx *store.Tx) (err error) {
		comp, err = wechat.GetApp(tx, compID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if comp == nil || comp.Type != wechat.TypeComponent {
		return nil, componentNotFound(compID)
	}
	now := e.deps.Clock.Now()
	t, res, err := e.pushTicketNow(comp, now)
	if err != nil {
		return nil, err
	}
	return &TicketResult{ComponentAppID: comp.AppID, Ticket: t.Ticket, CreateTime: now.Unix(), ExpiresAt: t.ExpiresAt, Push: res}, nil
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
