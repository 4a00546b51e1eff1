package wechat

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerPushRoutes lists the control-plane verbs of message push (消息推送).
func (p *Platform) registerPushRoutes(r endpoint.Routes) {
	r.Handle("putWeChatPushConfig", p.handlePutPushConfig)       // PUT /_sandbox/wechat/apps/{appid}/push
	r.Handle("getWeChatPushConfig", p.handleGetPushConfig)       // GET /_sandbox/wechat/apps/{appid}/push
	r.Handle("listWeChatPushDeliveries", p.handleListDeliveries) // GET /_sandbox/wechat/push/deliveries
	r.Handle("waitWeChatPushes", p.handleWaitPushes)             // POST /_sandbox/wechat/push/wait
}

// PushConfig is an account's message-push configuration (开发管理 → 消息推送): where WeChat posts
// events, how it signs, encrypts and formats them.
type PushConfig struct {
	URL   string `json:"url"`
	Token string `json:"token"`
	// EncodingAESKey encrypts compatible- and safe-mode pushes; generated when left out, as the
	// console's "random" button does.
	EncodingAESKey string      `json:"encoding_aes_key"`
	Format         push.Format `json:"format"`
	Mode           push.Mode   `json:"mode"`
	// VerifiedAt is the sandbox time of the handshake that accepted the URL.
	VerifiedAt time.Time `json:"verified_at"`
}

func pushConfigKey(appid string) string { return "wechat:push:config:" + appid }

// pushTokenPattern is the console's rule for the push Token: 3 to 32 letters or digits.
var pushTokenPattern = regexp.MustCompile(`^[A-Za-z0-9]{3,32}$`)

// PushTarget returns where and how pushes for appid go, or nil when the app has no push URL.
func (p *Platform) PushTarget(tx *store.Tx, app *App) (*push.Target, error) {
	var cfg PushConfig
	ok, err := tx.Get(pushConfigKey(app.AppID), &cfg)
	if err != nil || !ok {
		return nil, err
	}
	return &push.Target{
		AppID: app.AppID, URL: cfg.URL, Token: cfg.Token, EncodingAESKey: cfg.EncodingAESKey,
		Format: cfg.Format, Mode: cfg.Mode,
	}, nil
}

// Push queues an event for the app's push URL and returns its delivery record, still pending:
// the push is delivered off the request path (see package push), and the stored record says how
// it went once settled. An app without a push configuration gets nothing: the result is nil.
// Push must not be called inside a store transaction.
func (p *Platform) Push(ctx context.Context, app *App, event string, msg push.Message) (*push.Delivery, error) {
	d, start, err := p.PushLater(ctx, app, event, msg)
	if err != nil {
		return nil, err
	}
	start()
	return d, nil
}

// PushLater is Push that queues the push only when the caller calls start (see
// push.Deliverer.DeliverLater); without a push configuration, or with an error, start does
// nothing.
func (p *Platform) PushLater(ctx context.Context, app *App, event string, msg push.Message) (d *push.Delivery, start func(), err error) {
	start = func() {}
	var t *push.Target
	if err := p.deps.Store.View(func(tx *store.Tx) error {
		var err error
		t, err = p.PushTarget(tx, app)
		return err
	}); err != nil || t == nil {
		return nil, start, err
	}
	if isUserEvent(event) {
		if from, ok := msg.Get("FromUserName"); ok {
			t.Lane, _ = from.(string)
		}
	}
	d, later, err := p.deps.Push.DeliverLater(ctx, *t, event, msg)
	if err != nil {
		return nil, start, err
	}
	return d, later, nil
}

// isUserEvent tells the events a user causes, whose pushes reach the account in the order they
// happened (see push.Target.Lane); system notifications keep no order.
func isUserEvent(event string) bool {
	return event == EventSubscribe || event == EventUnsubscribe || event == "SCAN"
}

// SetPushConfig validates cfg, performs WeChat's URL verification handshake against it and, only
// if the receiver echoes correctly, saves it and copies its Token and EncodingAESKey onto the app.
// It is the Go twin of PUT /_sandbox/wechat/apps/{appid}/push.
func (p *Platform) SetPushConfig(ctx context.Context, appid string, cfg PushConfig) (*PushConfig, error) {
	invalid := func(reason string) error {
		return &apierr.Error{Kind: apierr.Invalid, Name: "invalid_push_config", Reason: reason}
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid("url must be an absolute http or https URL")
	}
	if !pushTokenPattern.MatchString(cfg.Token) {
		return nil, invalid("token must be 3 to 32 letters or digits")
	}
	if cfg.Format != "" && cfg.Format != push.JSON && cfg.Format != push.XML {
		return nil, invalid("format must be json or xml")
	}
	if cfg.Mode != "" && cfg.Mode != push.Plaintext && cfg.Mode != push.Compatible && cfg.Mode != push.Safe {
		return nil, invalid("mode must be plaintext, compatible or safe")
	}
	if cfg.EncodingAESKey != "" && !push.ValidEncodingAESKey(cfg.EncodingAESKey) {
		return nil, invalid("encoding_aes_key must be 43 letters or digits")
	}
	var app *App
	err := p.deps.Store.View(func(tx *store.Tx) (err error) {
		app, err = GetApp(tx, appid)
		return err
	})
	if err != nil {
		return nil, err
	}
	if app == nil {
		return nil, &apierr.Error{Kind: apierr.NotFound, Name: "app_not_found", Reason: "no app " + appid}
	}
	if err := pushDefaults(app, &cfg); err != nil {
		return nil, err
	}
	if err := p.deps.Push.Verify(ctx, appid, cfg.URL, cfg.Token); err != nil {
		var he *push.HandshakeError
		if errors.As(err, &he) {
			return nil, &apierr.Error{Kind: apierr.Invalid, Name: "push_verification_failed", Status: http.StatusUnprocessableEntity,
				Reason: "the URL did not pass WeChat's verification: " + he.Reason}
		}
		return nil, err
	}
	if cfg.EncodingAESKey == "" {
		// Keep the key the account already has (a component's is issued with it).
		cfg.EncodingAESKey = app.EncodingAESKey
	}
	if cfg.EncodingAESKey == "" {
		cfg.EncodingAESKey = p.deps.Rand.Token(43, seeded.Alphanumeric)
	}
	cfg.VerifiedAt = p.deps.Clock.Now()
	err = p.deps.Store.Update(func(tx *store.Tx) error {
		app, err := GetApp(tx, appid)
		if err != nil {
			return err
		}
		if app == nil {
			return &apierr.Error{Kind: apierr.NotFound, Name: "app_not_found", Reason: "no app " + appid}
		}
		app.Token, app.EncodingAESKey = cfg.Token, cfg.EncodingAESKey
		if err := tx.Put(appKey(appid), app); err != nil {
			return err
		}
		return tx.Put(pushConfigKey(appid), cfg)
	})
	if err != nil {
		return nil, err
	}
	return &cfg, nil
}

// pushDefaults fills a configuration's format and mode: JSON and plaintext, as the console's
// defaults; a third-party platform's authorization-event URL receives XML in safe mode whatever
// is asked, so that is what it reports, and any other value is refused.
func pushDefaults(app *App, cfg *PushConfig) error {
	if app.Type == TypeComponent {
		if (cfg.Format != "" && cfg.Format != push.XML) || (cfg.Mode != "" && cfg.Mode != push.Safe) {
			return &apierr.Error{Kind: apierr.Invalid, Name: "invalid_push_config", Reason: "a third-party platform's authorization events are always XML in safe mode: format xml, mode safe"}
		}
		cfg.Format, cfg.Mode = push.XML, push.Safe
		return nil
	}
	if cfg.Format == "" {
		cfg.Format = push.JSON
	}
	if cfg.Mode == "" {
		cfg.Mode = push.Plaintext
	}
	return nil
}

// handlePutPushConfig serves PUT /_sandbox/wechat/apps/{appid}/push (开发管理 → 消息推送 in the console).
func (p *Platform) handlePutPushConfig(c *endpoint.Call) (any, error) {
	var cfg PushConfig
	if err := c.Bind(&cfg); err != nil {
		return nil, err
	}
	cfg.VerifiedAt = time.Time{}
	return p.SetPushConfig(c.Request().Context(), c.Param("appid"), cfg)
}

// handleGetPushConfig serves GET /_sandbox/wechat/apps/{appid}/push.
func (p *Platform) handleGetPushConfig(c *endpoint.Call) (any, error) {
	var cfg PushConfig
	err := p.deps.Store.View(func(tx *store.Tx) error {
		app, err := GetApp(tx, c.Param("appid"))
		if err != nil {
			return err
		}
		if app == nil {
			return &apierr.Error{Kind: apierr.NotFound, Name: "app_not_found", Reason: "no app " + c.Param("appid")}
		}
		ok, err := tx.Get(pushConfigKey(app.AppID), &cfg)
		if err == nil && !ok {
			err = &apierr.Error{Kind: apierr.NotFound, Name: "push_not_configured", Reason: "app " + app.AppID + " has no push URL"}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Bounds of POST /_sandbox/wechat/push/wait.
const (
	defaultPushWait = 10 * time.Second
	maxPushWait     = 60 * time.Second
)

// handleWaitPushes serves POST /_sandbox/wechat/push/wait: it answers once every push queue is
// idle, or when the timeout runs out first.
func (p *Platform) handleWaitPushes(c *endpoint.Call) (any, error) {
	var req struct {
		Timeout string `json:"timeout"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	wait := defaultPushWait
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d < 0 || d > maxPushWait {
			return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_timeout", Reason: "timeout must be a duration from 0s to 60s, such as 10s"}
		}
		wait = d
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), wait)
	defer cancel()
	err := p.deps.Push.Wait(ctx)
	return map[string]any{"idle": err == nil, "busy": p.deps.Push.Busy()}, nil
}

// handleListDeliveries serves GET /_sandbox/wechat/push/deliveries.
func (p *Platform) handleListDeliveries(c *endpoint.Call) (any, error) {
	f := push.Filter{AppID: c.Query("appid"), Event: c.Query("event"), After: c.Query("after")}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_filter", Reason: "limit must be a non-negative integer"}
		}
		f.Limit = n
	}
	list, err := p.deps.Push.List(f)
	if err != nil {
		return nil, err
	}
	return map[string]any{"deliveries": list}, nil
}
