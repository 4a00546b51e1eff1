package component

// The simulated account administrator: the control verbs that confirm the authorization page
// (Authorize: grant permission sets, issue the authorization code, push authorized or
// updateauthorized) and cancel a grant on mp.weixin.qq.com (Revoke: push unauthorized).

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

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
	var res AuthorizeResult
	var comp *wechat.App
	var pa *preAuth
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		if comp, err = e.loadComponent(tx, compID); err != nil {
			return err
		}
		if pa, err = openedPreAuth(tx, comp, req.PreAuthCode, now); err != nil {
			return err
		}
		authorizer, err := authorizingAccount(tx, pa.Page, req.AuthorizerAppID)
		if err != nil {
			return err
		}
		sets, err := e.grantedSets(tx, comp, authorizer, pa.Page.Categories, req.PermissionSets)
		if err != nil {
			return err
		}
		if res.InfoType, err = e.grant(tx, comp, authorizer.AppID, sets, now); err != nil {
			return err
		}
		ac, err := e.issueAuthCode(tx, comp, authorizer.AppID, pa, now)
		if err != nil {
			return err
		}
		res.AuthorizerAppID, res.AuthCode, res.RedirectURL = authorizer.AppID, ac.Code, pa.RedirectURL
		res.ExpiresIn, res.PermissionSets = int(AuthCodeLifetime/time.Second), sets
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

// refuse is a control-verb refusal of the simulated administrator.
func refuse(kind apierr.Kind, name, format string, args ...any) error {
	return &apierr.Error{Kind: kind, Name: name, Reason: fmt.Sprintf(format, args...)}
}

// openedPreAuth returns the pre-auth code the administrator confirms: issued to comp, unused,
// live at now, and opened on the authorization page (the page is what the administrator scans).
func openedPreAuth(tx *store.Tx, comp *wechat.App, code string, now time.Time) (*preAuth, error) {
	pa, err := store.Get[preAuth](tx, preAuthKey(code))
	switch {
	case err != nil:
		return nil, err
	case pa == nil || pa.ComponentAppID != comp.AppID:
		return nil, refuse(apierr.NotFound, "pre_auth_code_not_found", "pre_auth_code was not issued to %s", comp.AppID)
	case pa.AuthCode != "":
		return nil, refuse(apierr.Conflict, "pre_auth_code_used", "pre_auth_code was already used (pre-auth codes are single use)")
	case !now.Before(pa.ExpiresAt):
		return nil, refuse(apierr.Conflict, "pre_auth_code_expired", "pre_auth_code expired at %s", pa.ExpiresAt.Format(time.RFC3339))
	case pa.Page == nil:
		return nil, refuse(apierr.Conflict, "page_not_opened", "open /cgi-bin/componentloginpage or /safe/bindcomponent with this pre_auth_code first: that is the page the administrator confirms on")
	}
	return pa, nil
}

// authorizingAccount returns the account that authorizes: the one named, or the page's
// biz_appid, of a kind the page admits.
func authorizingAccount(tx *store.Tx, page *loginPage, appid string) (*wechat.App, error) {
	switch {
	case appid == "" && page.BizAppID == "":
		return nil, refuse(apierr.Invalid, "authorizer_required", "say which account authorizes: authorizer_appid")
	case appid == "":
		appid = page.BizAppID
	case page.BizAppID != "" && appid != page.BizAppID:
		return nil, refuse(apierr.Forbidden, "wrong_account", "the page was opened with biz_appid %s: only that account can authorize", page.BizAppID)
	}
	authorizer, err := wechat.GetApp(tx, appid)
	if err != nil {
		return nil, err
	}
	if authorizer == nil {
		return nil, refuse(apierr.NotFound, "app_not_found", "no app %s", appid)
	}
	if authorizer.Type == wechat.TypeComponent {
		return nil, refuse(apierr.Invalid, "wrong_account", "a third-party platform cannot authorize another")
	}
	if page.BizAppID == "" && (page.AuthType == 1 && authorizer.Type != wechat.TypeOfficialAccount || page.AuthType == 2 && authorizer.Type != wechat.TypeMiniProgram) {
		return nil, refuse(apierr.Forbidden, "wrong_account", "the page was opened with auth_type=%d, which does not admit a %s", page.AuthType, authorizer.Type)
	}
	return authorizer, nil
}

// grantedSets returns the permission sets the administrator grants, sorted: those requested, or
// (requested nil) every set the page offers that no other component holds exclusively.
func (e *Emulator) grantedSets(tx *store.Tx, comp, authorizer *wechat.App, categories, requested []int) ([]int, error) {
	held, err := e.exclusiveHeld(tx, comp.AppID, authorizer.AppID)
	if err != nil {
		return nil, err
	}
	offered := offeredSets(authorizer.Type, categories)
	var sets []int
	if requested == nil {
		for _, s := range offered {
			if !held[s.ID] {
				sets = append(sets, s.ID)
			}
		}
	} else {
		for _, id := range requested {
			if !slices.ContainsFunc(offered, func(s permissionSet) bool { return s.ID == id }) {
				return nil, refuse(apierr.Invalid, "invalid_permission_set", "permission set %d is not offered to a %s by this page", id, authorizer.Type)
			}
			if held[id] {
				return nil, refuse(apierr.Conflict, "permission_set_taken", "permission set %d is mutually exclusive and held by another third-party platform", id)
			}
			if !slices.Contains(sets, id) {
				sets = append(sets, id)
			}
		}
	}
	slices.Sort(sets)
	if len(sets) == 0 {
		return nil, refuse(apierr.Invalid, "no_permission_set", "an authorization grants at least one permission set")
	}
	return sets, nil
}

// grant stores the authorizer's grant of sets to comp with a new refresh token, and returns the
// event it causes: authorized, or updateauthorized for an active grant authorized again.
func (e *Emulator) grant(tx *store.Tx, comp *wechat.App, authorizerID string, sets []int, now time.Time) (string, error) {
	prev, err := getAuthorization(tx, comp.AppID, authorizerID)
	if err != nil {
		return "", err
	}
	infoType := "authorized"
	g := &Authorization{ComponentAppID: comp.AppID, AuthorizerAppID: authorizerID}
	if prev != nil {
		g.Tokens = prev.Tokens
		if prev.Active {
			infoType = "updateauthorized"
		}
	}
	// A new grant, or a re-authorization: either way a new refresh token replaces the old.
	g.PermissionSets, g.AuthTime, g.Active = sets, now, true
	g.RefreshToken = "refreshtoken@@@" + e.deps.Rand.Token(43, seeded.URLSafe)
	return infoType, tx.Put(authorizationKey(comp.AppID, authorizerID), g)
}

// issueAuthCode issues the authorization code of a grant and uses up the pre-auth code, which
// then holds the URL the page sends the browser to.
func (e *Emulator) issueAuthCode(tx *store.Tx, comp *wechat.App, authorizerID string, pa *preAuth, now time.Time) (*authCode, error) {
	ac := &authCode{
		Code: "queryauthcode@@@" + e.deps.Rand.Token(86, seeded.URLSafe), ComponentAppID: comp.AppID,
		AuthorizerAppID: authorizerID, IssuedAt: now, ExpiresAt: now.Add(AuthCodeLifetime),
	}
	if err := tx.Put(authCodeKey(ac.Code), ac); err != nil {
		return nil, err
	}
	sep := "?"
	if strings.Contains(pa.Page.RedirectURI, "?") {
		sep = "&"
	}
	pa.AuthCode = ac.Code
	pa.RedirectURL = pa.Page.RedirectURI + sep + "auth_code=" + url.QueryEscape(ac.Code) + "&expires_in=" + strconv.Itoa(int(AuthCodeLifetime/time.Second))
	if err := tx.Put(preAuthKey(pa.Code), pa); err != nil {
		return nil, err
	}
	return ac, nil
}

// exclusiveHeld returns the mutually exclusive sets an account has granted to other components.
func (e *Emulator) exclusiveHeld(tx *store.Tx, compID, authorizerID string) (map[int]bool, error) {
	held := map[int]bool{}
	err := store.Each(tx, authorizationsPrefix, func(_ string, a *Authorization) error {
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
