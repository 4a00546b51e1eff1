package component

// The authorization page: api_create_preauthcode issues the pre-auth code, and
// /cgi-bin/componentloginpage (mp.weixin.qq.com, the PC page an account administrator scans) or
// /safe/bindcomponent (mp.weixin.qq.com, the mobile link opened inside WeChat, reference
// wechat-component.md §4) is the page the administrator confirms on. Both are the sandbox's own
// small HTML page with the same semantics: the pre-auth code is opened, and once the simulated
// administrator confirms (administrator.go), the page sends the browser to the redirect_uri with
// the authorization code.

import (
	"bytes"
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

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

// ForgetAt implements store.Forgettable: wechat.ExpiredMemory after the code expired, used or
// not (until then the page and the administrator name why it is refused).
func (pa preAuth) ForgetAt() time.Time { return pa.ExpiresAt.Add(wechat.ExpiredMemory) }

// loginPage is the parameters the authorization page was opened with.
type loginPage struct {
	RedirectURI string    `json:"redirect_uri"`
	AuthType    int       `json:"auth_type"`
	BizAppID    string    `json:"biz_appid,omitempty"`
	Categories  []int     `json:"categories,omitempty"`
	OpenedAt    time.Time `json:"opened_at"`
	// Mobile tells that the page was the mobile link (/safe/bindcomponent).
	Mobile bool `json:"mobile,omitempty"`
}

func preAuthKey(code string) string { return "wechat:component:preauth:" + code }

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

var loginPageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>{{if .Mobile}}公众平台账号授权（手机）{{else}}公众平台账号授权{{end}} — citysandbox</title>
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
	Mobile                                                        bool
}

// handleComponentLoginPage serves GET /cgi-bin/componentloginpage (mp.weixin.qq.com): the page
// for a live pre-auth code, or — once the administrator confirmed — a redirect to the
// redirect_uri with the authorization code.
func (e *Emulator) handleComponentLoginPage(c *endpoint.Call) (any, error) {
	return e.serveAuthPage(c, false)
}

// handleBindComponent serves GET /safe/bindcomponent?action=bindcomponent&no_scan=1&...
// (mp.weixin.qq.com), the mobile authorization link: the same page, parameters and errors as
// componentloginpage (the spec admits action=bindcomponent only).
func (e *Emulator) handleBindComponent(c *endpoint.Call) (any, error) {
	return e.serveAuthPage(c, true)
}

// serveAuthPage is either authorization page.
func (e *Emulator) serveAuthPage(c *endpoint.Call, mobile bool) (any, error) {
	compID, code := c.Query("component_appid"), c.Query("pre_auth_code")
	if !wechat.ValidAppID(compID) {
		return nil, apierr.Newf(apierr.Invalid, 40013, "component_appid %q is not of the form wx + 16 hex digits", compID)
	}
	page, err := loginPageOf(c)
	if err != nil {
		return nil, err
	}
	page.Mobile = mobile
	var view loginPageView
	var redirect string
	err = e.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		view, redirect, err = openLoginPage(tx, c, compID, code, page)
		return err
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

// loginPageOf reads the page parameters of the query: redirect_uri (40097 unless an absolute
// http(s) URL), auth_type (3 when absent), biz_appid and category_id_list (40097 for an id that
// is no permission set).
func loginPageOf(c *endpoint.Call) (*loginPage, error) {
	page := &loginPage{RedirectURI: c.Query("redirect_uri"), AuthType: 3, BizAppID: c.Query("biz_appid"), OpenedAt: c.Now}
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
	return page, nil
}

// openLoginPage records that the page was opened with the pre-auth code and returns what it
// shows, or the redirect URL when the administrator already confirmed.
func openLoginPage(tx *store.Tx, c *endpoint.Call, compID, code string, page *loginPage) (loginPageView, string, error) {
	var view loginPageView
	comp, err := wechat.GetApp(tx, compID)
	if err != nil {
		return view, "", err
	}
	if comp == nil || comp.Type != wechat.TypeComponent {
		return view, "", apierr.Newf(apierr.Invalid, 61011, "%s is not a third-party platform", compID)
	}
	c.AppID = comp.AppID
	pa, err := store.Get[preAuth](tx, preAuthKey(code))
	switch {
	case err != nil:
		return view, "", err
	case pa == nil || pa.ComponentAppID != comp.AppID:
		return view, "", apierr.Newf(apierr.Invalid, 61009, "pre_auth_code was not issued to %s", comp.AppID)
	case pa.AuthCode != "":
		return view, pa.RedirectURL, nil // the administrator confirmed: the browser moves on
	case !c.Now.Before(pa.ExpiresAt):
		return view, "", apierr.Newf(apierr.Expired, 61010, "pre_auth_code expired at %s", pa.ExpiresAt.Format(time.RFC3339))
	}
	kinds, accounts, err := pageAccounts(tx, page)
	if err != nil {
		return view, "", err
	}
	pa.Page = page
	if err := tx.Put(preAuthKey(pa.Code), pa); err != nil {
		return view, "", err
	}
	view = loginPageView{Component: comp.Name, ComponentAppID: comp.AppID, PreAuthCode: pa.Code, RedirectURI: page.RedirectURI, Accounts: accounts, Mobile: page.Mobile}
	for _, k := range kinds {
		view.Sets = append(view.Sets, offeredSets(k, page.Categories)...)
	}
	return view, "", nil
}

// pageAccounts returns the kinds of account that may authorize on the page, and how the page
// names them: by auth_type, or the one account of biz_appid (40013 unless an official account or
// mini program).
func pageAccounts(tx *store.Tx, page *loginPage) ([]string, string, error) {
	if page.BizAppID != "" {
		biz, err := wechat.GetApp(tx, page.BizAppID)
		if err != nil {
			return nil, "", err
		}
		if biz == nil || biz.Type == wechat.TypeComponent {
			return nil, "", apierr.Newf(apierr.Invalid, 40013, "biz_appid %s is not an official account or mini program", page.BizAppID)
		}
		return []string{biz.Type}, biz.Name + "（" + biz.AppID + "）", nil
	}
	kinds := map[int][]string{1: {wechat.TypeOfficialAccount}, 2: {wechat.TypeMiniProgram}, 3: {wechat.TypeOfficialAccount, wechat.TypeMiniProgram}}[page.AuthType]
	return kinds, map[int]string{1: "公众号", 2: "小程序", 3: "公众号或小程序"}[page.AuthType], nil
}
