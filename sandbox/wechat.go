package sandbox

import (
	"context"

	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/component"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/review"
)

// WeChatApp is a WeChat account in the sandbox.
type WeChatApp = wechat.App

// WeChatAppSpec says what a new WeChat app should be; what it leaves out is generated.
type WeChatAppSpec = wechat.AppSpec

// WeChat is the Go twin of the /_sandbox/wechat/ control verbs.
type WeChat struct{ s *Server }

// WeChat returns the WeChat control verbs.
func (s *Server) WeChat() *WeChat { return &WeChat{s} }

// CreateApp creates an app, as POST /_sandbox/wechat/apps does.
func (w *WeChat) CreateApp(spec WeChatAppSpec) (*WeChatApp, error) { return w.s.wechat.CreateApp(spec) }

// App returns the app with appid, or nil.
func (w *WeChat) App(appid string) (*WeChatApp, error) { return w.s.wechat.LoadApp(appid) }

// FixtureApps returns the apps the fixtures define.
func (w *WeChat) FixtureApps() ([]WeChatApp, error) { return w.s.wechat.FixtureApps() }

// WeChatPushConfig is an account's message-push configuration.
type WeChatPushConfig = wechat.PushConfig

// PushDelivery is one push and its tries.
type PushDelivery = push.Delivery

// SetPush configures an account's push URL after WeChat's verification handshake, as
// PUT /_sandbox/wechat/apps/{appid}/push does.
func (w *WeChat) SetPush(ctx context.Context, appid string, cfg WeChatPushConfig) (*WeChatPushConfig, error) {
	return w.s.wechat.SetPushConfig(ctx, appid, cfg)
}

// Deliveries returns every push delivered or tried for appid (all apps when empty), in order, as
// GET /_sandbox/wechat/push/deliveries does.
func (s *Server) Deliveries(appid string) ([]PushDelivery, error) {
	return s.push.List(push.Filter{AppID: appid})
}

// WeChatReview is a mini program's transaction review, as its simulated author sees it.
type WeChatReview = review.Review

// WeChatReviewSpec says what reviews to post; seeded fake data fills what it leaves out.
type WeChatReviewSpec = review.ReviewSpec

// PostedWeChatReviews is what posting reviews did: the reviews and the pushes they caused.
type PostedWeChatReviews = review.PostedReviews

// PostReviews posts reviews as simulated users and pushes wxa_comment_bad_score for the negative
// ones before returning, as POST /_sandbox/wechat/reviews does.
func (w *WeChat) PostReviews(ctx context.Context, spec WeChatReviewSpec) (*PostedWeChatReviews, error) {
	return w.s.review.PostReviews(ctx, spec)
}

// Review returns a review by commentId, or nil.
func (w *WeChat) Review(commentID string) (*WeChatReview, error) {
	return w.s.review.LoadReview(commentID)
}

// ReviseReview has the reviewer revise a review after a compromise offer (stars 0 means 5, txt ""
// a seeded text), as POST /_sandbox/wechat/reviews/{commentId}/revise does.
func (w *WeChat) ReviseReview(commentID string, stars int, txt string) (*WeChatReview, error) {
	return w.s.review.ReviseReview(commentID, stars, txt)
}

// WeChatAuthorizeRequest is what the simulated administrator of an account confirms on a
// third-party platform's authorization page.
type WeChatAuthorizeRequest = component.AuthorizeRequest

// WeChatAuthorizeResult is an authorization: the code, the redirect and how the push went.
type WeChatAuthorizeResult = component.AuthorizeResult

// WeChatRevokeResult is a cancelled authorization and how the push went.
type WeChatRevokeResult = component.RevokeResult

// WeChatTicketResult is a component_verify_ticket pushed on demand.
type WeChatTicketResult = component.TicketResult

// AuthorizeComponent plays the administrator who scans the authorization page and confirms, as
// POST /_sandbox/wechat/components/{appid}/authorize does.
func (w *WeChat) AuthorizeComponent(componentAppID string, req WeChatAuthorizeRequest) (*WeChatAuthorizeResult, error) {
	return w.s.component.Authorize(componentAppID, req)
}

// RevokeComponentAuthorization cancels an account's authorization of a third-party platform, as
// DELETE /_sandbox/wechat/components/{appid}/authorizations/{authorizer_appid} does.
func (w *WeChat) RevokeComponentAuthorization(componentAppID, authorizerAppID string) (*WeChatRevokeResult, error) {
	return w.s.component.Revoke(componentAppID, authorizerAppID)
}

// PushComponentTicket pushes a third-party platform's component_verify_ticket now, as
// POST /_sandbox/wechat/components/{appid}/ticket does.
func (w *WeChat) PushComponentTicket(componentAppID string) (*WeChatTicketResult, error) {
	return w.s.component.PushTicket(componentAppID)
}
