package component

// Grants (授权): an account's authorization of a component, the authorization code that reports
// it, and the APIs that read grants: api_query_auth (code for authorizer token),
// api_get_authorizer_info and api_get_authorizer_list.

import (
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// authCode is an authorization code handed to the component by redirect and event.
type authCode struct {
	Code            string    `json:"code"`
	ComponentAppID  string    `json:"component_appid"`
	AuthorizerAppID string    `json:"authorizer_appid"`
	IssuedAt        time.Time `json:"issued_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	Used            bool      `json:"used,omitempty"`
}

// ForgetAt implements store.Forgettable: wechat.ExpiredMemory after the code expired, used or
// not (until then it answers 61010 or 61009 for its reason; after that 61009, never issued).
func (ac authCode) ForgetAt() time.Time { return ac.ExpiresAt.Add(wechat.ExpiredMemory) }

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

func authCodeKey(code string) string { return "wechat:component:authcode:" + code }

// authorizationsPrefix is the prefix of every grant, of every component.
const authorizationsPrefix = "wechat:component:auth:"

func authorizationPrefix(comp string) string { return authorizationsPrefix + comp + ":" }

func authorizationKey(comp, authorizer string) string {
	return authorizationPrefix(comp) + authorizer
}

// getAuthorization returns the (component, authorizer) grant, or nil.
func getAuthorization(tx *store.Tx, comp, authorizer string) (*Authorization, error) {
	return store.Get[Authorization](tx, authorizationKey(comp, authorizer))
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
