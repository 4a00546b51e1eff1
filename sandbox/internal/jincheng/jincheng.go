// Package jincheng emulates the open platform of Jincheng's "晋来办" government service app (the
// 晋城智能便民服务 platform Alibaba Cloud built in 2020), under /jincheng/, so that an integrator can
// rehearse the whole journey: portal account, application declaration and review, services and
// their listing state machine, testers, single sign-on from the app to the integrator's H5 page,
// signed server-to-server calls, the open capabilities (SMS, in-app messages, to-dos) and a
// simulated app page with its JS bridge.
//
// Grounded in the platform's operations manual (the seed): the portal login with an account the
// platform issues; the declaration fields (name, contact, phone, whether and which user info:
// 基本信息 id + mobile, 身份信息 + ID number, 实名认证信息 + face image); appCode and appSecret issued
// on approval; the service fields (name, owning app, access mode APP, 办理/查询 type,
// module_callback_code as the name's pinyin initials, system-generated modulecode, logo, channel
// URL); services starting 测试中; listing with 《功能测试报告》 and 《安全测试报告》, empty files
// accepted while testing; https production URLs; testers' phone numbers registered per appCode;
// "fetch tokens promptly, never store them"; SMS only after a separate application is granted;
// in-app messages and to-dos; page titles that must match the service list.
//
// Modelled on the public record of the Zhejiang 浙里办 family (see the project's reference note
// jincheng-platform.md §1): ticket → token → user info with the method names ticketValidation and
// getUserInfo; a ticket passed as a URL query parameter, bound to the calling app, single use, one
// minute; lower-case user-info names userid/mobile/idnum; HMAC-SHA256 + Base64 over a
// newline-joined canonical request with a timestamp window and nonces; an onReady + Promise JS
// bridge with ssoTicket(); 政务钉钉's idempotent bizMsgId/bizTaskId.
//
// Invented (the real integration guide is not public; reference §2 is the design followed):
//   - every path, header and error-code string; the envelope {success, errorCode, errorMsg,
//     requestId, data}; identifier formats (appId APP+8 digits, appCode JLB+10 digits, serviceCode
//     S+8 digits, modulecode M+12 hex, userid 32 hex, templateCode SMS_+6 digits);
//   - action routes are sub-paths (/apps/{appId}/approve, /services/{serviceCode}/submitListing)
//     because gin cannot route Google-style "{appId}:approve" verbs;
//   - the operator is not a portal user: operator decisions are control-plane verbs under
//     /_sandbox/jincheng/ (approve/reject apps, listings and SMS applications, offline/online);
//     the approve verb's answer is the only place the appSecret is ever shown (and the answer of
//     a vendor's rotateSecret, after which the old secret still signs for 10 minutes);
//   - service states beyond 测试中 (REVIEWING 审核中, ONLINE 已上架, REJECTED 已驳回, OFFLINE 已下架)
//     and their transitions; a REJECTED application is edited and resubmitted;
//   - the test URL may be http on a loopback host (local development); production URLs are https;
//   - registering a tester's mobile that no citizen has creates a synthetic citizen for it (the
//     manual: the platform "initialises data" for the phone numbers the vendor provides);
//   - ticket 60 s, token 300 s, reusable within its life, no refresh; GET
//     /_sandbox/jincheng/audit/tokens flags a token used more than 60 s after issue (the manual
//     says to fetch user info at once and never keep tokens); a refused exchange changes
//     nothing (reference §2.3 burns a ticket even on a failed call; the sandbox's rule that a
//     refusal leaves state unchanged wins, so only a successful exchange uses a ticket up);
//   - signing: the X-JLB-* headers, the body hash in the string to sign, a 300 s window; a nonce
//     is remembered with the effect of the call it carried (a refused call may be retried with the
//     same nonce; a served one may not), for twice the window;
//   - needUserInfo=false gives userid only; faceimage is a base64 JPEG (≤ 64 KB) drawn by the
//     sandbox; user info never includes a name (the manual lists none);
//   - prod calls of an app without any ONLINE service are refused (GW-ENV-FORBIDDEN); tickets and
//     tokens belong to the environment that issued them;
//   - SMS templates use "${name}" placeholders; at most 10 SMS per app and citizen per Beijing-time
//     day (OPEN-RATE-LIMITED, 429); SMS and messages only to users who have signed in to
//     the app (OPEN-USER-UNKNOWN); message URLs on the service's channel host; a repeated
//     bizMsgId/bizTaskId answers the original result with errorCode OPEN-DUPLICATE-BIZ-ID as a
//     warning (success stays true); finishing a DONE to-do (or cancelling a CANCELED one) answers
//     its state;
//   - the simulated app: the page at /jincheng/app/ opens the integrator's page in a frame, the
//     bridge script talks to it with postMessage, and the page's <title> as the bridge reports it
//     is compared with the listed service name (GET /_sandbox/jincheng/title-checks). The app's
//     own endpoints (/jincheng/app/open, /jincheng/app/api/*) stand for the phone and take the
//     persona from the request, without credentials: they exist only in the sandbox.
//
// What is kept, and for how long (sandbox time; the store forgets the rest, see package store):
// SSO tickets and tokens and portal sessions a day (ExpiredMemory) after they expire — until
// then they answer "expired" and the token audit lists the tokens, after that as never issued;
// nonces twice the signature window after their call, when no call carrying them can be fresh;
// title checks a day (TitleCheckRetention); vendors, applications, services, citizens, SMS,
// messages and to-dos for good (they are the app's and the citizens' records).
package jincheng

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// ContentType is the Content-Type of every JSON answer.
const ContentType = "application/json; charset=utf-8"

// Deps are what the Jincheng platform needs.
type Deps struct {
	Store    *store.Store
	Clock    clock.Clock
	Journal  *journal.Journal
	Rand     *seeded.Source
	Faker    *fixture.Faker
	Fixtures *fixture.Set
	Logger   *slog.Logger
	// Seed is the sandbox's seed; the fixture citizens are drawn from a faker seeded with it.
	Seed uint64
	// CurrentSeed, when set, is read instead of Seed at each fixture load: a reset may reseed
	// the sandbox (scenario replays pin their seed that way).
	CurrentSeed func() uint64
}

// Platform is the Jincheng emulation.
type Platform struct {
	deps Deps
}

// ExpiredMemory is how long the platform still knows an SSO ticket, an SSO token or a portal
// session after it expired, answering "expired" rather than "not found" (and listing the token
// in the token audit); then it is forgotten. The manual does not say; a day is invented.
const ExpiredMemory = 24 * time.Hour

// TitleCheckRetention is how long a title check is kept after the page was opened (invented:
// long enough to read a test run's checks).
const TitleCheckRetention = 24 * time.Hour

// New returns the platform and declares the lifetimes of its records.
func New(d Deps) (*Platform, error) {
	store.ForgetRecords[Ticket](d.Store, keyTicket)
	store.ForgetRecords[Token](d.Store, keyToken)
	store.ForgetRecords[Session](d.Store, keySession)
	store.ForgetRecords[nonceRecord](d.Store, keyNonce)
	store.ForgetRecords[TitleCheck](d.Store, keyTitle)
	return &Platform{deps: d}, nil
}

// Name implements endpoint.Platform.
func (p *Platform) Name() string { return "jincheng" }

// Routes registers every Jincheng handler: the platform's own API and the control-plane verbs
// that act on Jincheng state.
func (p *Platform) Routes(r endpoint.Routes) {
	p.registerPortalRoutes(r)
	p.registerOperatorRoutes(r)
	p.registerSSORoutes(r)
	p.registerOpenRoutes(r)
	p.registerCitizenRoutes(r)
	p.registerAppRoutes(r)
}

// RequestID returns a UUID-shaped id drawn from the seeded source.
func (p *Platform) RequestID(time.Time) string {
	a, b := p.deps.Rand.Uint64(), p.deps.Rand.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", uint32(a>>32), uint16(a>>16), uint16(a)&0xfff, uint16(b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}

// Security scheme names in openapi/jincheng.yaml.
const (
	schemeVendorSession = "vendorSession"
	schemeSignature     = "jlbSignature"
)

// Authenticate implements endpoint.Platform: a portal session, or a signed server-to-server call.
func (p *Platform) Authenticate(c *endpoint.Call, scheme string) error {
	switch scheme {
	case schemeVendorSession:
		v, err := p.checkSession(c)
		if err != nil {
			return err
		}
		c.Principal = v
		return nil
	case schemeSignature:
		pr, err := p.checkSignature(c)
		if err != nil {
			return err
		}
		c.AppID = pr.App.AppCode
		c.Principal = pr
		return nil
	}
	return &apierr.Error{Kind: apierr.Internal, Reason: "unknown security scheme " + scheme}
}

// Admit implements endpoint.Platform: a production call needs an app with an ONLINE service.
func (p *Platform) Admit(c *endpoint.Call) error {
	pr, ok := c.Principal.(*Caller)
	if !ok || c.Param("env") != EnvProd {
		return nil
	}
	online := false
	err := p.deps.Store.View(func(tx *store.Tx) error {
		svcs, err := p.servicesOf(tx, pr.App.AppID)
		for _, s := range svcs {
			online = online || s.Status == StatusOnline
		}
		return err
	})
	if err != nil {
		return err
	}
	if !online {
		return named(codeEnvForbidden, "app "+pr.App.AppCode+" has no ONLINE (已上架) service, so it may not call the production environment")
	}
	return nil
}

// Warning is a success value that also carries an errorCode, as a repeated business id does.
type Warning struct {
	Code string
	Data any
}

// envelope is the platform's answer shape.
type envelope struct {
	Success   bool   `json:"success"`
	ErrorCode string `json:"errorCode"`
	ErrorMsg  string `json:"errorMsg"`
	RequestID string `json:"requestId"`
	Data      any    `json:"data"`
}

// Render implements endpoint.Platform.
func (p *Platform) Render(c *endpoint.Call, value any, err *apierr.Error) endpoint.Response {
	resp := endpoint.Response{Status: http.StatusOK, ContentType: ContentType}
	if err == nil {
		env := envelope{Success: true, RequestID: c.ID, Data: value}
		if w, ok := value.(Warning); ok {
			env.ErrorCode, env.ErrorMsg, env.Data = w.Code, messageFor(w.Code), w.Data
		}
		if env.Data == nil {
			env.Data = map[string]any{}
		}
		resp.Body = marshal(env)
		return resp
	}
	code, status := codeFor(c, err)
	msg := err.Message
	if msg == "" {
		msg = messageFor(code)
	}
	resp.Status = status
	resp.ErrorName = code
	resp.Body = marshal(envelope{ErrorCode: code, ErrorMsg: msg, RequestID: c.ID})
	return resp
}

// codeFor picks the error code and HTTP status of an error that may carry neither.
func codeFor(c *endpoint.Call, err *apierr.Error) (string, int) {
	if err.Name != "" {
		if err.Status != 0 {
			return err.Name, err.Status
		}
		if s, ok := codeStatus[err.Name]; ok {
			return err.Name, s
		}
	}
	switch err.Kind {
	case apierr.Invalid:
		if err.Cause == apierr.CauseWrongMethod {
			return codeMethodNotAllowed, http.StatusMethodNotAllowed
		}
		if err.Field == "env" && c.Op != nil && strings.Contains(c.Op.Path, "{env}") {
			return codeNotFound, http.StatusNotFound // /jincheng/<not an environment>/...
		}
		return codeInvalidParameter, http.StatusBadRequest
	case apierr.NotFound:
		return codeNotFound, http.StatusNotFound
	case apierr.Unauthenticated:
		return codeSessionInvalid, http.StatusUnauthorized
	case apierr.Expired:
		return codeSessionExpired, http.StatusUnauthorized
	case apierr.Forbidden:
		return codeForbidden, http.StatusForbidden
	case apierr.Conflict:
		return codeAdminState, http.StatusConflict
	case apierr.QuotaExceeded:
		return codeRateLimited, http.StatusTooManyRequests
	case apierr.Unavailable:
		status := err.Status
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		return codeUnavailable, status
	}
	return codeSystemError, http.StatusInternalServerError
}

// marshal encodes v as the platform does (see package jsonenc); a value that does not encode is
// the platform's generic failure.
func marshal(v any) []byte {
	b, err := jsonenc.Marshal(v)
	if err != nil {
		return []byte(`{"success":false,"errorCode":"SYSTEM-ERROR","errorMsg":"system error","requestId":"","data":null}`)
	}
	return b
}
