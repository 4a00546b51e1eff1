package wechat

// Followers (关注用户) of official accounts, and the follow and unfollow events their server
// receives (reference: the official "接收事件推送" page, 关注/取消关注事件). A simulated user is
// named by the test ("alice"); each account knows that user by an openid of its own, drawn from
// the seeded source the first time the account meets the user and kept for ever, as WeChat's
// openids are stable per user and account. A test may also name an openid directly.
//
// Emulated: following pushes Event=subscribe (no EventKey), unfollowing Event=unsubscribe, each
// with ToUserName (the account's original id), FromUserName (the user's openid), CreateTime
// (the sandbox time) and MsgType=event, in the account's push format and mode (package push,
// with its timeout, retries and delivery records). A follow made by scanning a parametric code
// is the QR family's (subscribe with EventKey qrscene_<scene> and Ticket).
//
// Invented: the control verbs themselves (WeChat has no API that makes a user follow); openids
// are "o" and 27 seeded URL-safe characters, like WeChat's 28-character ones; following an
// account the user already follows, or unfollowing one they do not, is refused (409, 404)
// rather than ignored; only official accounts have followers; an unfollowed user is forgotten
// (WeChat asks developers to delete an unfollowed user's data) except for their openid.

import (
	"context"
	"regexp"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerFollowerRoutes lists the follower control verbs.
func (p *Platform) registerFollowerRoutes(r endpoint.Routes) {
	r.Handle("followWeChatAccount", p.handleFollow)        // POST /_sandbox/wechat/apps/{appid}/followers
	r.Handle("listWeChatFollowers", p.handleListFollowers) // GET /_sandbox/wechat/apps/{appid}/followers
	r.Handle("unfollowWeChatAccount", p.handleUnfollow)    // DELETE /_sandbox/wechat/apps/{appid}/followers/{openid}
}

// Follow events.
const (
	EventSubscribe   = "subscribe"
	EventUnsubscribe = "unsubscribe"
)

// Follower is a user who follows an official account.
type Follower struct {
	OpenID string `json:"openid"`
	// User is the simulated user's name, when the user was named rather than an openid.
	User       string    `json:"user,omitempty"`
	FollowedAt time.Time `json:"followed_at"`
	// QRScene is the scene of the parametric code whose scan made the user follow.
	QRScene string `json:"qr_scene,omitempty"`
}

func followerPrefix(appid string) string      { return "wechat:follower:" + appid + ":" }
func followerKey(appid, openid string) string { return followerPrefix(appid) + openid }
func openidKey(appid, user string) string     { return "wechat:openid:" + appid + ":" + user }

var (
	userPattern   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	openidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// Who names a simulated user: by name (the account's openid for them follows) or by openid.
// Both empty means a user the account has never met.
type Who struct {
	User   string `json:"user,omitempty"`
	OpenID string `json:"openid,omitempty"`
}

// Check refuses a malformed user or openid, and both at once.
func (w Who) Check() error {
	invalid := func(reason string) error {
		return &apierr.Error{Kind: apierr.Invalid, Name: "invalid_user", Reason: reason}
	}
	switch {
	case w.User != "" && w.OpenID != "":
		return invalid("name the user or give an openid, not both")
	case w.User != "" && !userPattern.MatchString(w.User):
		return invalid("user must be 1 to 64 letters, digits, '_', '.' or '-'")
	case w.OpenID != "" && !openidPattern.MatchString(w.OpenID):
		return invalid("openid must be 1 to 64 letters, digits, '_' or '-'")
	}
	return nil
}

// OpenIDFor returns the openid by which account appid knows w: the one given, the one the
// account has for the named user (drawn and stored the first time), or a new one for a user
// nobody named.
func (p *Platform) OpenIDFor(tx *store.Tx, appid string, w Who) (string, error) {
	if w.OpenID != "" {
		return w.OpenID, nil
	}
	if w.User == "" {
		return p.newOpenID(), nil
	}
	var openid string
	ok, err := tx.Get(openidKey(appid, w.User), &openid)
	if err != nil || ok {
		return openid, err
	}
	openid = p.newOpenID()
	return openid, tx.Put(openidKey(appid, w.User), openid)
}

func (p *Platform) newOpenID() string { return "o" + p.deps.Rand.Token(27, seeded.URLSafe) }

// GetFollower returns the follower of appid with openid, or nil.
func GetFollower(tx *store.Tx, appid, openid string) (*Follower, error) {
	return store.Get[Follower](tx, followerKey(appid, openid))
}

// PutFollower records f as a follower of appid.
func PutFollower(tx *store.Tx, appid string, f Follower) error {
	return tx.Put(followerKey(appid, f.OpenID), f)
}

// EventMessage is an event push to an official account from the user openid, in WeChat's field
// order; extra fields (EventKey, Ticket) follow Event.
func EventMessage(app *App, openid, event string, at time.Time, extra ...push.Field) push.Message {
	m := push.Message{
		{Name: "ToUserName", Value: app.OriginalID},
		{Name: "FromUserName", Value: openid},
		{Name: "CreateTime", Value: at.Unix()},
		{Name: "MsgType", Value: "event"},
		{Name: "Event", Value: event},
	}
	return append(m, extra...)
}

// officialAccount reads an account for a follower verb: 404 when there is none, 400 when it is
// not an official account.
func officialAccount(tx *store.Tx, appid string) (*App, error) {
	app, err := GetApp(tx, appid)
	if err != nil {
		return nil, err
	}
	if app == nil {
		return nil, &apierr.Error{Kind: apierr.NotFound, Name: "app_not_found", Reason: "no app " + appid}
	}
	if app.Type != TypeOfficialAccount {
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "not_official_account", Reason: app.AppID + " is a " + app.Type + ": only official accounts have followers"}
	}
	return app, nil
}

// FollowResult is what a follow or an unfollow did.
type FollowResult struct {
	AppID    string   `json:"appid"`
	Follower Follower `json:"follower"`
	// Event is the event pushed to the account's server (when it has a push URL).
	Event string `json:"event"`
}

// Follow makes the user w follow the official account appid and pushes subscribe. It is the Go
// twin of POST /_sandbox/wechat/apps/{appid}/followers.
func (p *Platform) Follow(ctx context.Context, appid string, w Who) (*FollowResult, error) {
	return p.follow(ctx, appid, w, p.deps.Clock.Now())
}

func (p *Platform) follow(ctx context.Context, appid string, w Who, now time.Time) (*FollowResult, error) {
	if err := w.Check(); err != nil {
		return nil, err
	}
	var app *App
	res := &FollowResult{AppID: appid, Event: EventSubscribe}
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		if app, err = officialAccount(tx, appid); err != nil {
			return err
		}
		openid, err := p.OpenIDFor(tx, appid, w)
		if err != nil {
			return err
		}
		if f, err := GetFollower(tx, appid, openid); err != nil {
			return err
		} else if f != nil {
			return &apierr.Error{Kind: apierr.Conflict, Name: "already_following", Reason: openid + " already follows " + appid}
		}
		res.Follower = Follower{OpenID: openid, User: w.User, FollowedAt: now}
		return PutFollower(tx, appid, res.Follower)
	})
	if err != nil {
		return nil, err
	}
	if _, err := p.Push(ctx, app, EventSubscribe, EventMessage(app, res.Follower.OpenID, EventSubscribe, now)); err != nil {
		return nil, err
	}
	return res, nil
}

// Unfollow makes the follower openid leave the official account appid and pushes unsubscribe.
// It is the Go twin of DELETE /_sandbox/wechat/apps/{appid}/followers/{openid}.
func (p *Platform) Unfollow(ctx context.Context, appid, openid string) (*FollowResult, error) {
	return p.unfollow(ctx, appid, openid, p.deps.Clock.Now())
}

func (p *Platform) unfollow(ctx context.Context, appid, openid string, now time.Time) (*FollowResult, error) {
	var app *App
	res := &FollowResult{AppID: appid, Event: EventUnsubscribe}
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		if app, err = officialAccount(tx, appid); err != nil {
			return err
		}
		f, err := GetFollower(tx, appid, openid)
		if err != nil {
			return err
		}
		if f == nil {
			return &apierr.Error{Kind: apierr.NotFound, Name: "follower_not_found", Reason: openid + " does not follow " + appid}
		}
		res.Follower = *f
		return tx.Delete(followerKey(appid, openid))
	})
	if err != nil {
		return nil, err
	}
	if _, err := p.Push(ctx, app, EventUnsubscribe, EventMessage(app, openid, EventUnsubscribe, now)); err != nil {
		return nil, err
	}
	return res, nil
}

// FollowerList is an account's followers.
type FollowerList struct {
	AppID     string     `json:"appid"`
	Total     int        `json:"total"`
	Followers []Follower `json:"followers"`
}

// Followers lists the followers of the official account appid in openid order. It is the Go twin
// of GET /_sandbox/wechat/apps/{appid}/followers.
func (p *Platform) Followers(appid string) (*FollowerList, error) {
	out := &FollowerList{AppID: appid, Followers: []Follower{}}
	err := p.deps.Store.View(func(tx *store.Tx) error {
		if _, err := officialAccount(tx, appid); err != nil {
			return err
		}
		return store.Each(tx, followerPrefix(appid), func(_ string, f *Follower) error {
			out.Followers = append(out.Followers, *f)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out.Total = len(out.Followers)
	return out, nil
}

func (p *Platform) handleFollow(c *endpoint.Call) (any, error) {
	var w Who
	if err := c.Bind(&w); err != nil {
		return nil, err
	}
	// The push outlives a client that hangs up: it is part of the sandbox's state.
	res, err := p.follow(context.WithoutCancel(c.Request().Context()), c.Param("appid"), w, c.Now)
	if err != nil {
		return nil, err
	}
	return endpoint.Created(res), nil
}

func (p *Platform) handleUnfollow(c *endpoint.Call) (any, error) {
	return p.unfollow(context.WithoutCancel(c.Request().Context()), c.Param("appid"), c.Param("openid"), c.Now)
}

func (p *Platform) handleListFollowers(c *endpoint.Call) (any, error) {
	return p.Followers(c.Param("appid"))
}
