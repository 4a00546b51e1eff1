// Package wechat is the WeChat core: the envelope and its renderer (wechat.go), the errcode table
// (errcodes.go), accounts (apps.go), access tokens and the credentials behind them (token.go),
// the quota tools (quotatools.go), push configuration (pushconfig.go), temporary media
// (media.go), customer-service messages (custommsg.go) and the followers of official accounts
// with their follow events (followers.go), on WeChat's own paths.
//
// What is kept, and for how long (sandbox time; the store forgets the rest, see package store):
// a superseded token until its overlap ends, a revoked one until it would have expired, an
// expired one a day after (ExpiredMemory: it answers 42001 until then, 40001 after); temporary
// media until they expire (an expired and an unknown media id answer alike); quota counters of
// a day or a month until the window is over (package quota); accounts, their settings, push
// configuration and followers for good.
//
// The API families live in subpackages — qr, review, component, cityservice, charge — each
// built with New(Deps{...}) on this package's Platform and registering its own routes. The core
// calls back into a family only through what the family registered while the sandbox was built:
// the admission rules for the token kinds it issues (CheckTokenKind) and the customer-service
// windows it opens (AddMessageWindows). The errcode table also holds the families' messages,
// because the renderer, which is the core's, writes every family's errors.
//
// What is emulated faithfully (see the project's reference notes for sources):
//   - the envelope: HTTP 200, Content-Type "application/json; encoding=utf-8", errcode/errmsg
//     where errmsg is the per-errcode template with WeChat's punctuation followed by " rid: " and
//     a rid whose first group is the request's Unix time in hex; success bodies keep WeChat's
//     exact shapes (token answers carry no errcode);
//   - token semantics: /cgi-bin/token supersedes the previous token, which keeps working for
//     5 minutes; stable_token returns the same token until its last 5 minutes; force_refresh is
//     limited to 20 a day and 30 s apart; the two families never invalidate each other;
//   - the refresh codes clients act on: 40014 for a malformed token, 40001 for an unknown or
//     superseded one, 42001 for an expired one — each produced deterministically by the clock;
//   - quotas per app and API, by tier (production: the documented limits; test: a tenth, as
//     WeChat's test accounts; unlimited), with clear_quota's 10-a-month budget;
//   - temporary media live 3 days; media/upload's codes for a wrong type (40004), a missing file
//     (41005) and a file that is not of the type (40005); a family that takes media ids
//     refuses one that is unknown or no longer live with 40007;
//   - custom/send's 40003 for an openid that is not the account's user and 45015 outside the
//     customer-service window;
//   - the follow events of "接收事件推送": subscribe (no EventKey) and unsubscribe, with
//     ToUserName, FromUserName, CreateTime and MsgType=event, pushed in the account's format
//     and mode; each account knows a user by its own stable openid.
//
// What is invented (no public source; chosen as the most plausible behaviour):
//   - the token format ("<2 digits>_" and 128 URL-safe characters) and the rule that a token not
//     of that form is "malformed" (40014);
//   - English messages for 40243, 43001 and the IP-whitelist code's exact spacing;
//   - an unknown path answers 40066 "invalid url", a trailing slash or a path in another case
//     included (no redirect); a wrong method on a page (componentloginpage, bindcomponent,
//     showqrcode) answers HTTP 405 with 43001 in the envelope, on an API HTTP 200 as WeChat's;
//   - a JSON body that is not UTF-8 (bytes, half a surrogate pair, another charset declared)
//     answers 47001: WeChat's bodies are UTF-8 and nothing says it transcodes; a null where the
//     spec admits none is refused like any other bad value, also for a field with a default;
//   - query values are read as sent (a padded secret is a wrong secret), except the numbers of
//     getwxamplinkforshow, which one SDK pads;
//   - a request with an unexpected body field answers 40097 (WeChat ignores unknown fields; the
//     sandbox is stricter so that integrators find typos);
//   - openapi/quota/clear allows 50 resets a month (one source says a day), refused with 48006;
//   - the journal that rid/get reads is in memory: rids do not survive a restart;
//   - a new /cgi-bin/token supersedes the current token, which works 5 more minutes, and ends at
//     once the one that token had superseded: WeChat speaks of the new token and the old one;
//   - media/upload takes images only (PNG, JPEG or GIF, recognised by their bytes) and keeps
//     their description, not their bytes; custom/send takes text messages only (40008 for
//     another type, 40097 for an empty text), and a window is open only where a family opened
//     one (on WeChat the user opens it by writing to the account); a follower is not thereby
//     one of the account's users for custom/send (on WeChat a follow opens a 48-hour window);
//   - the follower verbs and their refusals, the openid format and who may follow (see
//     followers.go).
package wechat

import (
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/quota"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/spec"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// ContentType is the Content-Type WeChat sends with every JSON answer.
const ContentType = "application/json; encoding=utf-8"

// Deps are what the WeChat platform needs.
type Deps struct {
	Store    *store.Store
	Clock    clock.Clock
	Quota    *quota.Engine
	Journal  *journal.Journal
	Rand     *seeded.Source
	Faker    *fixture.Faker
	Fixtures *fixture.Set
	Spec     *spec.Spec
	Logger   *slog.Logger
	// Push delivers events to accounts' push URLs (message push, reviews, third-party pushes).
	Push *push.Deliverer
}

// Platform is the WeChat core: accounts, tokens, quotas, push configuration, media,
// customer-service messages and the envelope. The API families (packages qr, review, component,
// cityservice) build on it.
type Platform struct {
	deps  Deps
	cache tokenCache
	// kindChecks admit calls made with a token of a kind a family issues (component and
	// authorizer tokens); they are registered while the sandbox is built and read-only after.
	kindChecks map[string]KindCheck
	// messageWindows are the families customer-service messages go through (AddMessageWindows);
	// registered while the sandbox is built and read-only after.
	messageWindows []MessageWindows
	// opsByPath are WeChat's operations by path, the first in the documents' order for a path
	// with several methods (the quota tools look cgi_path up).
	opsByPath map[string]*spec.Operation
}

// KindCheck is a family's admission rule for calls made with a token of one kind.
type KindCheck func(c *endpoint.Call, pr *Principal) error

// New returns the platform and prepares its store indexes and the lifetimes of its records.
func New(d Deps) (*Platform, error) {
	d.Store.Track(tokenPrefix, appPrefix)
	store.ForgetRecords[Token](d.Store, tokenPrefix)
	store.ForgetRecords[Media](d.Store, "wechat:media:")
	p := &Platform{deps: d, cache: tokenCache{m: map[string]cachedToken{}}, kindChecks: map[string]KindCheck{}, opsByPath: map[string]*spec.Operation{}}
	if d.Spec != nil {
		for _, op := range d.Spec.Operations {
			if _, seen := p.opsByPath[op.Path]; !seen && op.Document.Platform == p.Name() {
				p.opsByPath[op.Path] = op
			}
		}
	}
	return p, nil
}

// CheckTokenKind makes check part of the admission of every call made with a token of kind.
// Call it before serving requests.
func (p *Platform) CheckTokenKind(kind string, check KindCheck) { p.kindChecks[kind] = check }

// Name implements endpoint.Platform.
func (p *Platform) Name() string { return "wechat" }

// Routes registers the core's handlers: its part of WeChat's API and the control-plane verbs
// that act on accounts and push configuration. The families register their own.
func (p *Platform) Routes(r endpoint.Routes) {
	p.registerAppRoutes(r)
	p.registerTokenRoutes(r)
	p.registerQuotaRoutes(r)
	p.registerPushRoutes(r)
	p.registerMediaRoutes(r)
	p.registerCustomMessageRoutes(r)
	p.registerFollowerRoutes(r)
}

// RequestID returns a rid: the Unix time in hex, then two seeded random groups.
func (p *Platform) RequestID(now time.Time) string {
	var b [26]byte
	hex8(b[0:8], uint32(now.Unix()))
	b[8] = '-'
	hex8(b[9:17], p.deps.Rand.Uint32())
	b[17] = '-'
	hex8(b[18:26], p.deps.Rand.Uint32())
	return string(b[:])
}

// hex8 writes v as 8 lower-case hex digits, as %08x does, without fmt's allocations on the
// path every request takes.
func hex8(dst []byte, v uint32) {
	const digits = "0123456789abcdef"
	for i := 7; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
}

// Principal is who a WeChat call is made by, once its token has been checked.
type Principal struct {
	App   *App
	Token *Token
}

// Security scheme names in openapi/wechat.yaml.
const (
	schemeAccessToken          = "accessToken"
	schemeComponentAccessToken = "componentAccessToken"
)

// Authenticate implements endpoint.Platform.
func (p *Platform) Authenticate(c *endpoint.Call, scheme string) error {
	switch scheme {
	case schemeAccessToken:
		pr, err := p.checkAccessToken(c.Now, c.Query("access_token"))
		if err != nil {
			return err
		}
		c.AppID = pr.App.AppID
		c.Principal = pr
		return nil
	case schemeComponentAccessToken:
		return p.authenticateComponent(c)
	}
	return apierr.Newf(apierr.Internal, -1, "unknown security scheme %q", scheme)
}

// Admit implements endpoint.Platform: the rules of the token's kind (CheckTokenKind), the
// account type, then the operation's quota.
func (p *Platform) Admit(c *endpoint.Call) error {
	pr, _ := c.Principal.(*Principal)
	if pr == nil {
		return nil // token and quota-by-secret APIs check their own credentials
	}
	if check := p.kindChecks[pr.Token.Kind]; check != nil {
		if err := check(c, pr); err != nil {
			return err
		}
	}
	if len(c.Op.AccountTypes) > 0 && !slices.Contains(c.Op.AccountTypes, pr.App.AccountType()) {
		return apierr.Newf(apierr.Forbidden, 48001, "%s accounts may not call %s", pr.App.AccountType(), c.Op.Path)
	}
	return p.AdmitCall(c, pr.App, c.Op.Path, c.Op.Quota)
}

// AdmitCall admits a call of app on api under limits scaled to the app's tier and maps a refusal
// to WeChat's code for the window (44990 a second, 45011 a minute, 45009 a day or longer). The
// call counts for good only if it succeeds; one its handler refuses is given back.
func (p *Platform) AdmitCall(c *endpoint.Call, app *App, api string, limits quota.Limits) error {
	limits = TierLimits(app, limits)
	if limits.Zero() {
		return nil // nothing to count (an unlimited account)
	}
	r, d, err := p.deps.Quota.Reserve(quotaScope(app.AppID, api), limits)
	if err != nil {
		return err
	}
	if d != nil {
		code := map[quota.Window]int{quota.Second: 44990, quota.Minute: 45011}[d.Window]
		if code == 0 {
			code = 45009
		}
		return apierr.Newf(apierr.QuotaExceeded, code, "%s: %d calls per %s used up", api, d.Limit, d.Window)
	}
	if r != nil {
		c.Hold(r)
	}
	return nil
}

// QuotaPrefix starts the stored quota counters of WeChat's accounts, so that a reset of the
// platform resets them with everything else.
const QuotaPrefix = "wechat:quota:"

func quotaScope(appid, api string) string { return appid + "|" + api }

// Render implements endpoint.Platform: WeChat's envelope.
func (p *Platform) Render(c *endpoint.Call, value any, err *apierr.Error) endpoint.Response {
	resp := endpoint.Response{Status: http.StatusOK, ContentType: ContentType}
	if err == nil {
		if value == nil {
			value = OK()
		}
		resp.Body = marshal(value)
		return resp
	}
	code := p.codeFor(c, err)
	msg := err.Message
	if msg == "" {
		msg = Errmsg(code)
	}
	if c.Op != nil && slices.Contains(c.Op.ErrmsgHintCodes, code) {
		// Some APIs still name the failing check in errmsg, as an opaque id before the rid
		// ("invalid code hint: [mGhbWV0sf-LxnVma] rid: …"); the ids seen are 15 or 16 characters.
		msg += " hint: [" + p.deps.Rand.Token(15+p.deps.Rand.IntN(2), seeded.URLSafe) + "]"
	}
	resp.Errcode = code
	resp.Body = marshal(Envelope{Errcode: code, Errmsg: msg + " rid: " + c.ID})
	if err.Cause == apierr.CauseWrongMethod && err.Status == http.StatusMethodNotAllowed {
		resp.Status = err.Status // a page's wrong method: a web server's 405, still the envelope
	}
	return resp
}

// codeFor picks the errcode of an error that may carry none.
func (p *Platform) codeFor(c *endpoint.Call, err *apierr.Error) int {
	if err.Code != 0 {
		return err.Code
	}
	switch err.Cause {
	case apierr.CauseBodyEmpty:
		return 44002
	case apierr.CauseBodyMalformed, apierr.CauseWrongType:
		return 47001
	case apierr.CauseBodyTooLarge:
		return 45002
	case apierr.CauseWrongMethod:
		if err.Field == http.MethodGet {
			return 43001
		}
		return 43002
	}
	switch err.Kind {
	case apierr.Invalid, apierr.Conflict:
		if c.Op != nil && c.Op.InvalidCode != 0 {
			return c.Op.InvalidCode
		}
		return 40097
	case apierr.NotFound:
		if c.Op == nil {
			return 40066
		}
		return 40097
	case apierr.Unauthenticated:
		return 40001
	case apierr.Expired:
		return 42001
	case apierr.Forbidden:
		return 48001
	case apierr.QuotaExceeded:
		return 45009
	}
	return -1
}

// Envelope is WeChat's errcode/errmsg pair.
type Envelope struct {
	Errcode int    `json:"errcode"`
	Errmsg  string `json:"errmsg"`
}

// AnswerAppender is an answer on a hot path that writes its own JSON, byte for byte what
// jsonenc.Marshal writes for it (a test holds each to that), sparing the reflection.
type AnswerAppender interface {
	// AppendAnswer appends the answer's JSON to b.
	AppendAnswer(b []byte) []byte
}

// appendFields appends e's fields, without the braces.
func (e Envelope) appendFields(b []byte) []byte {
	b = append(b, `"errcode":`...)
	b = strconv.AppendInt(b, int64(e.Errcode), 10)
	b = append(b, `,"errmsg":`...)
	return jsonenc.AppendString(b, e.Errmsg)
}

// OK is the plain success envelope.
func OK() Envelope { return Envelope{Errcode: 0, Errmsg: "ok"} }

// marshal encodes v as WeChat does (see package jsonenc); a value that does not encode is
// WeChat's generic failure.
func marshal(v any) []byte {
	if a, ok := v.(AnswerAppender); ok {
		return a.AppendAnswer(make([]byte, 0, 256))
	}
	b, err := jsonenc.Marshal(v)
	if err != nil {
		return []byte(`{"errcode":-1,"errmsg":"system error"}`)
	}
	return b
}
