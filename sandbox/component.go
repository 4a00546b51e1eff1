package sandbox

import (
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/component"
)

// WeChatAuthorizeRequest is what the simulated administrator of an account confirms on a
// third-party platform's authorization page.
type WeChatAuthorizeRequest struct {
	// PreAuthCode is the pre_auth_code of an authorization page opened at
	// /cgi-bin/componentloginpage; required.
	PreAuthCode string `json:"pre_auth_code"`
	// AuthorizerAppID is the account that authorizes. Default: the page's biz_appid, which is
	// then the only account allowed.
	AuthorizerAppID string `json:"authorizer_appid,omitempty"`
	// PermissionSets are the permission sets (权限集) granted. Default (nil): every set the page
	// offers the account.
	PermissionSets []int `json:"permission_sets,omitempty"`
}

func (r WeChatAuthorizeRequest) internal() component.AuthorizeRequest {
	return component.AuthorizeRequest{
		PreAuthCode: r.PreAuthCode, AuthorizerAppID: r.AuthorizerAppID, PermissionSets: r.PermissionSets,
	}
}

// WeChatPushResult is what became of a push to a third-party platform's authorization-event
// URL when it was made. Pushes are delivered off the request path: a queued push's record
// (GET /_sandbox/wechat/push/deliveries, WeChatControl.Deliveries) says how it went once it is
// settled (Server.WaitPushes waits for that).
type WeChatPushResult struct {
	// Queued tells whether the push was queued for delivery.
	Queued bool `json:"queued"`
	// Delivery is the id of the queued push's delivery record.
	Delivery string `json:"delivery,omitempty"`
	// URL is where the push goes; empty when the platform has no push URL.
	URL string `json:"url,omitempty"`
	// Error says why the push was not queued (no push URL, for one).
	Error string `json:"error,omitempty"`
}

// weChatPushResultFrom takes the internal result's fields: its type is unexported.
func weChatPushResultFrom(queued bool, delivery, url, err string) WeChatPushResult {
	return WeChatPushResult{Queued: queued, Delivery: delivery, URL: url, Error: err}
}

// WeChatAuthorizeResult is an authorization: the code, the redirect and how the push went.
type WeChatAuthorizeResult struct {
	// InfoType is the event pushed: "authorized", or "updateauthorized" when the account had
	// already authorized the platform.
	InfoType string `json:"info_type"`
	// AuthorizerAppID is the account that authorized.
	AuthorizerAppID string `json:"authorizer_appid"`
	// AuthCode is the authorization code for api_query_auth; it lives ExpiresIn seconds.
	AuthCode  string `json:"auth_code"`
	ExpiresIn int    `json:"expires_in"`
	// RedirectURL is where the page sends the administrator: the redirect_uri with auth_code and
	// expires_in added.
	RedirectURL string `json:"redirect_url"`
	// PermissionSets are the sets granted.
	PermissionSets []int `json:"permission_sets"`
	// Push is how the push of InfoType went.
	Push WeChatPushResult `json:"push"`
}

func weChatAuthorizeResultFrom(r component.AuthorizeResult) WeChatAuthorizeResult {
	return WeChatAuthorizeResult{
		InfoType: r.InfoType, AuthorizerAppID: r.AuthorizerAppID, AuthCode: r.AuthCode, ExpiresIn: r.ExpiresIn,
		RedirectURL: r.RedirectURL, PermissionSets: r.PermissionSets,
		Push: weChatPushResultFrom(r.Push.Queued, r.Push.Delivery, r.Push.URL, r.Push.Error),
	}
}

// WeChatRevokeResult is a cancelled authorization and how the push of "unauthorized" went.
type WeChatRevokeResult struct {
	// InfoType is "unauthorized".
	InfoType string `json:"info_type"`
	// AuthorizerAppID is the account whose authorization was cancelled.
	AuthorizerAppID string `json:"authorizer_appid"`
	// Push is how the push went.
	Push WeChatPushResult `json:"push"`
}

func weChatRevokeResultFrom(r component.RevokeResult) WeChatRevokeResult {
	return WeChatRevokeResult{
		InfoType: r.InfoType, AuthorizerAppID: r.AuthorizerAppID,
		Push: weChatPushResultFrom(r.Push.Queued, r.Push.Delivery, r.Push.URL, r.Push.Error),
	}
}

// WeChatTicketResult is a component_verify_ticket pushed on demand.
type WeChatTicketResult struct {
	// ComponentAppID is the third-party platform.
	ComponentAppID string `json:"component_appid"`
	// Ticket is the component_verify_ticket pushed; CreateTime (Unix seconds) is the push's.
	Ticket     string `json:"ticket"`
	CreateTime int64  `json:"create_time"`
	// ExpiresAt is the sandbox time the ticket stops being accepted.
	ExpiresAt time.Time `json:"expires_at"`
	// Push is how the push went.
	Push WeChatPushResult `json:"push"`
}

func weChatTicketResultFrom(r component.TicketResult) WeChatTicketResult {
	return WeChatTicketResult{
		ComponentAppID: r.ComponentAppID, Ticket: r.Ticket, CreateTime: r.CreateTime, ExpiresAt: r.ExpiresAt,
		Push: weChatPushResultFrom(r.Push.Queued, r.Push.Delivery, r.Push.URL, r.Push.Error),
	}
}

// AuthorizeComponent plays the administrator who scans a third-party platform's authorization
// page and confirms, as POST /_sandbox/wechat/components/{appid}/authorize does: it grants the
// sets, issues an authorization code and pushes "authorized" (or "updateauthorized").
func (w *WeChatControl) AuthorizeComponent(componentAppID string, req WeChatAuthorizeRequest) (*WeChatAuthorizeResult, error) {
	r, err := w.s.component.Authorize(componentAppID, req.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(r, weChatAuthorizeResultFrom), nil
}

// RevokeComponentAuthorization cancels an account's authorization of a third-party platform, as
// DELETE /_sandbox/wechat/components/{appid}/authorizations/{authorizer_appid} does: the
// authorizer tokens stop working, a refresh answers 61003, and "unauthorized" is pushed.
func (w *WeChatControl) RevokeComponentAuthorization(componentAppID, authorizerAppID string) (*WeChatRevokeResult, error) {
	r, err := w.s.component.Revoke(componentAppID, authorizerAppID)
	if err != nil {
		return nil, err
	}
	return convertPtr(r, weChatRevokeResultFrom), nil
}

// PushComponentTicket pushes a third-party platform's component_verify_ticket now (the current
// one while it is younger than 20 minutes, else a new one), as
// POST /_sandbox/wechat/components/{appid}/ticket does.
func (w *WeChatControl) PushComponentTicket(componentAppID string) (*WeChatTicketResult, error) {
	r, err := w.s.component.PushTicket(componentAppID)
	if err != nil {
		return nil, err
	}
	return convertPtr(r, weChatTicketResultFrom), nil
}
