package sandbox

import (
	"context"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// WeChatControl is the Go twin of the /_sandbox/wechat/ control verbs: apps, push
// configuration and deliveries, QR scans, reviews and third-party platforms. Server.CityService
// returns the City Service verbs.
type WeChatControl struct{ s *Server }

// WeChat returns the WeChat control verbs.
func (s *Server) WeChat() *WeChatControl { return &WeChatControl{s} }

// WeChatApp is a WeChat account in the sandbox: an official account (service or subscription), a
// Mini Program, or a third-party platform (component).
type WeChatApp struct {
	// AppID is the account's appid (component_appid for a component): "wx" and 16 hex digits.
	AppID string `json:"appid"`
	// Secret is the AppSecret (component_appsecret for a component): 32 hex digits.
	Secret string `json:"secret"`
	// Type is "official_account", "mini_program" or "component".
	Type string `json:"type"`
	// ServiceType is "service" or "subscription" for official accounts, empty otherwise.
	ServiceType string `json:"service_type,omitempty"`
	// OriginalID is the account's original id (原始ID): "gh_" and 12 hex digits.
	OriginalID string `json:"original_id"`
	// Name is the account's name.
	Name string `json:"name"`
	// SubjectType is the owner's kind: "enterprise", "government", "media", "other" or "personal".
	SubjectType string `json:"subject_type"`
	// Verified tells whether the account is verified (认证); several APIs need it.
	Verified bool `json:"verified"`
	// Tier sets the account's quotas: "production" (the documented limits), "test" (a tenth, like
	// WeChat's test accounts) or "unlimited".
	Tier string `json:"tier"`
	// IPWhitelist, when not empty, lists the only callers accepted: an official account's
	// token requests answer 40164 from any other address, a component's calls 61004.
	IPWhitelist []string `json:"ip_whitelist,omitempty"`
	// Released tells whether a Mini Program has a released version (QR-jump publishing needs one).
	Released bool `json:"released,omitempty"`
	// QRJumpFileRequired makes the Mini Program's ordinary-link QR-jump rules need their
	// verification file served by a mapped host: a host nobody mapped is refused (85069) instead
	// of accepted unchecked.
	QRJumpFileRequired bool `json:"qrjump_file_required,omitempty"`
	// Token and EncodingAESKey sign and encrypt pushes: set with the push configuration, issued at
	// creation for components.
	Token          string `json:"token,omitempty"`
	EncodingAESKey string `json:"encoding_aes_key,omitempty"`
	// CreatedAt is the sandbox time the app was created.
	CreatedAt time.Time `json:"created_at"`
}

func weChatAppFrom(a wechat.App) WeChatApp {
	return WeChatApp{
		AppID: a.AppID, Secret: a.Secret, Type: a.Type, ServiceType: a.ServiceType, OriginalID: a.OriginalID,
		Name: a.Name, SubjectType: a.SubjectType, Verified: a.Verified, Tier: a.Tier, IPWhitelist: a.IPWhitelist,
		Released: a.Released, QRJumpFileRequired: a.QRJumpFileRequired, Token: a.Token, EncodingAESKey: a.EncodingAESKey,
		CreatedAt: a.CreatedAt,
	}
}

// WeChatAppSpec says what a new WeChat app should be, as the body of POST /_sandbox/wechat/apps
// does; what it leaves out is generated from the seed or defaulted.
type WeChatAppSpec struct {
	// Type is "official_account", "mini_program" or "component"; required.
	Type string `json:"type"`
	// ServiceType is "service" (the default) or "subscription", for official accounts only.
	ServiceType string `json:"service_type,omitempty"`
	// AppID and Secret fix the credentials ("wx" and 16 hex digits; 32 hex digits). Default:
	// generated.
	AppID  string `json:"appid,omitempty"`
	Secret string `json:"secret,omitempty"`
	// OriginalID fixes the original id ("gh_" and 12 hex digits). Default: generated.
	OriginalID string `json:"original_id,omitempty"`
	// Name is the account's name. Default: a generated company name and the kind of account.
	Name string `json:"name,omitempty"`
	// SubjectType is the owner's kind (see WeChatApp). Default "enterprise".
	SubjectType string `json:"subject_type,omitempty"`
	// Verified says whether the account is verified. Default (nil) true.
	Verified *bool `json:"verified,omitempty"`
	// Tier is "production" (the default), "test" or "unlimited".
	Tier string `json:"tier,omitempty"`
	// IPWhitelist lists the only IP addresses an official account or component accepts calls
	// from. Default: any.
	IPWhitelist []string `json:"ip_whitelist,omitempty"`
	// Released says whether a Mini Program has a released version. Default (nil) false.
	Released *bool `json:"released,omitempty"`
	// QRJumpFileRequired: see WeChatApp. Default false (an unmapped host is accepted unchecked).
	QRJumpFileRequired bool `json:"qrjump_file_required,omitempty"`
}

func (s WeChatAppSpec) internal() wechat.AppSpec {
	return wechat.AppSpec{
		Type: s.Type, ServiceType: s.ServiceType, AppID: s.AppID, Secret: s.Secret, OriginalID: s.OriginalID,
		Name: s.Name, SubjectType: s.SubjectType, Verified: s.Verified, Tier: s.Tier, IPWhitelist: s.IPWhitelist,
		Released: s.Released, QRJumpFileRequired: s.QRJumpFileRequired,
	}
}

// CreateApp creates an app, as POST /_sandbox/wechat/apps does.
func (w *WeChatControl) CreateApp(spec WeChatAppSpec) (*WeChatApp, error) {
	a, err := w.s.wechat.CreateApp(spec.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(a, weChatAppFrom), nil
}

// App returns the app with appid, or nil and no error when there is none.
func (w *WeChatControl) App(appid string) (*WeChatApp, error) {
	var a *wechat.App
	err := w.s.store.View(func(tx *store.Tx) (err error) {
		a, err = wechat.GetApp(tx, appid)
		return err
	})
	if err != nil {
		return nil, err
	}
	return convertPtr(a, weChatAppFrom), nil
}

// FixtureApps returns the apps the fixtures define, as they are stored now.
func (w *WeChatControl) FixtureApps() ([]WeChatApp, error) {
	apps, err := w.s.wechat.FixtureApps()
	if err != nil {
		return nil, err
	}
	return convertSlice(apps, weChatAppFrom), nil
}

// WeChatPushConfig is an account's message-push configuration (开发管理 → 消息推送): where WeChat
// posts events, and how it signs, encrypts and formats them.
type WeChatPushConfig struct {
	// URL is the integrator's http or https URL; it must pass WeChat's verification handshake.
	URL string `json:"url"`
	// Token signs pushes: 3 to 32 letters or digits.
	Token string `json:"token"`
	// EncodingAESKey (43 letters or digits) encrypts compatible- and safe-mode pushes. Default:
	// the account's existing key, or a generated one, as the console's "random" button does.
	EncodingAESKey string `json:"encoding_aes_key"`
	// Format is "json" (the default) or "xml".
	Format string `json:"format"`
	// Mode is the encryption mode (消息加解密方式): "plaintext" (the default), "compatible" (the
	// plaintext fields and an Encrypt field) or "safe" (only Encrypt; the URL carries
	// msg_signature).
	Mode string `json:"mode"`
	// VerifiedAt is the sandbox time of the handshake that accepted the URL; ignored when setting.
	VerifiedAt time.Time `json:"verified_at"`
}

func weChatPushConfigFrom(c wechat.PushConfig) WeChatPushConfig {
	return WeChatPushConfig{
		URL: c.URL, Token: c.Token, EncodingAESKey: c.EncodingAESKey, Format: string(c.Format), Mode: string(c.Mode),
		VerifiedAt: c.VerifiedAt,
	}
}

func (c WeChatPushConfig) internal() wechat.PushConfig {
	return wechat.PushConfig{
		URL: c.URL, Token: c.Token, EncodingAESKey: c.EncodingAESKey, Format: push.Format(c.Format), Mode: push.Mode(c.Mode),
		VerifiedAt: c.VerifiedAt,
	}
}

// SetPush configures an account's push URL after WeChat's verification handshake with it, as
// PUT /_sandbox/wechat/apps/{appid}/push does, and returns the configuration stored.
func (w *WeChatControl) SetPush(ctx context.Context, appid string, cfg WeChatPushConfig) (*WeChatPushConfig, error) {
	c, err := w.s.wechat.SetPushConfig(ctx, appid, cfg.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(c, weChatPushConfigFrom), nil
}

// WeChatPushDelivery is one push to an integrator's server and every try to deliver it.
type WeChatPushDelivery struct {
	// ID names the delivery.
	ID string `json:"id"`
	// AppID is the account the push is for.
	AppID string `json:"appid"`
	// Event is the pushed event: wxa_comment_bad_score, component_verify_ticket,
	// component_authorized, …
	Event string `json:"event"`
	// Format and Mode are how the body was written ("json" or "xml") and encrypted
	// ("plaintext", "compatible" or "safe").
	Format string `json:"format"`
	Mode   string `json:"mode"`
	// URL is the full URL posted to, with its signature query.
	URL string `json:"url"`
	// Body is the body posted.
	Body string `json:"body"`
	// CreatedAt is the sandbox time of the push.
	CreatedAt time.Time `json:"created_at"`
	// Status is "pending", "delivered" or "failed" (every try failed).
	Status string `json:"status"`
	// Answer is the integrator's answer to the last try.
	Answer string `json:"answer"`
	// Tries are the tries so far, first to last.
	Tries []WeChatPushTry `json:"tries"`
	// RequireSuccess tells that only an answer of exactly "success" counts as delivered (the
	// pushes to a third-party platform's authorization-event URL).
	RequireSuccess bool `json:"require_success,omitempty"`
}

// WeChatPushTry is one try at delivering a push.
type WeChatPushTry struct {
	// N counts the tries from 1.
	N int `json:"try"`
	// At is the sandbox time of the try.
	At time.Time `json:"at"`
	// HTTPStatus is the receiver's status code; 0 when no answer came.
	HTTPStatus int `json:"http_status"`
	// LatencyMillis is how long the receiver took, in wall time (it times the integrator's
	// server, not the sandbox). It is kept in memory only, so it reads 0 after a restart.
	LatencyMillis int64 `json:"latency_ms"`
	// Answer is the receiver's answer.
	Answer string `json:"answer"`
	// Error says why the try failed ("timeout after 5s", a connection error, "HTTP 500").
	Error string `json:"error,omitempty"`
}

func weChatPushDeliveryFrom(d push.Delivery) WeChatPushDelivery {
	return WeChatPushDelivery{
		ID: d.ID, AppID: d.AppID, Event: d.Event, Format: string(d.Format), Mode: string(d.Mode), URL: d.URL,
		Body: d.Body, CreatedAt: d.CreatedAt, Status: d.Status, Answer: d.Answer,
		Tries: convertSlice(d.Tries, weChatPushTryFrom), RequireSuccess: d.RequireSuccess,
	}
}

func weChatPushTryFrom(t push.Try) WeChatPushTry {
	return WeChatPushTry{
		N: t.N, At: t.At, HTTPStatus: t.HTTPStatus, LatencyMillis: t.LatencyMillis, Answer: t.Answer, Error: t.Error,
	}
}

// Deliveries returns every push delivered or tried for appid (for every app when appid is
// empty), in the order they were made, as GET /_sandbox/wechat/push/deliveries does.
func (w *WeChatControl) Deliveries(appid string) ([]WeChatPushDelivery, error) {
	ds, err := w.s.push.List(push.Filter{AppID: appid})
	if err != nil {
		return nil, err
	}
	return convertSlice(ds, weChatPushDeliveryFrom), nil
}
