package sandbox

import (
	"context"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// WeChatUser names a simulated WeChat user towards an official account: by name (the account
// keeps one openid for each named user, drawn from the seed the first time) or by openid. Give
// one of the two.
type WeChatUser struct {
	User   string `json:"user,omitempty"`
	OpenID string `json:"openid,omitempty"`
}

func (u WeChatUser) internal() wechat.Who { return wechat.Who{User: u.User, OpenID: u.OpenID} }

// WeChatFollower is a user who follows an official account.
type WeChatFollower struct {
	// OpenID is the user's openid for the account.
	OpenID string `json:"openid"`
	// User is the simulated user's name, when the user was named.
	User string `json:"user,omitempty"`
	// FollowedAt is the sandbox time of the follow.
	FollowedAt time.Time `json:"followed_at"`
	// QRScene is the scene of the parametric code whose scan made the user follow.
	QRScene string `json:"qr_scene,omitempty"`
}

func weChatFollowerFrom(f wechat.Follower) WeChatFollower {
	return WeChatFollower{OpenID: f.OpenID, User: f.User, FollowedAt: f.FollowedAt, QRScene: f.QRScene}
}

// WeChatFollowResult is what a follow or an unfollow did.
type WeChatFollowResult struct {
	AppID    string         `json:"appid"`
	Follower WeChatFollower `json:"follower"`
	// Event is the event pushed to the account's server (when it has a push URL): "subscribe" or
	// "unsubscribe".
	Event string `json:"event"`
}

func weChatFollowResultFrom(r wechat.FollowResult) WeChatFollowResult {
	return WeChatFollowResult{AppID: r.AppID, Follower: weChatFollowerFrom(r.Follower), Event: r.Event}
}

// Follow makes a user follow an official account and pushes subscribe (no EventKey) to its
// server, as POST /_sandbox/wechat/apps/{appid}/followers does.
func (w *WeChatControl) Follow(ctx context.Context, appid string, u WeChatUser) (*WeChatFollowResult, error) {
	r, err := w.s.wechat.Follow(ctx, appid, u.internal())
	return convertPtr(r, weChatFollowResultFrom), err
}

// Unfollow makes a follower leave an official account and pushes unsubscribe to its server, as
// DELETE /_sandbox/wechat/apps/{appid}/followers/{openid} does.
func (w *WeChatControl) Unfollow(ctx context.Context, appid, openid string) (*WeChatFollowResult, error) {
	r, err := w.s.wechat.Unfollow(ctx, appid, openid)
	return convertPtr(r, weChatFollowResultFrom), err
}

// Followers lists an official account's followers in openid order, as
// GET /_sandbox/wechat/apps/{appid}/followers does.
func (w *WeChatControl) Followers(appid string) ([]WeChatFollower, error) {
	l, err := w.s.wechat.Followers(appid)
	if err != nil {
		return nil, err
	}
	return convertSlice(l.Followers, weChatFollowerFrom), nil
}
