package wechat

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/quota"
	"github.com/citysandbox/citysandbox/sandbox/internal/spec"
)

// registerQuotaRoutes lists the API-quota and diagnostics tools.
func (p *Platform) registerQuotaRoutes(r endpoint.Routes) {
	r.Handle("clearQuota", p.handleClearQuota)              // POST /cgi-bin/clear_quota
	r.Handle("clearQuotaByAppSecret", p.handleClearQuotaV2) // POST /cgi-bin/clear_quota/v2
	r.Handle("getApiQuota", p.handleGetAPIQuota)            // POST /cgi-bin/openapi/quota/get
	r.Handle("clearApiQuota", p.handleClearAPIQuota)        // POST /cgi-bin/openapi/quota/clear
	r.Handle("getRidInfo", p.handleGetRidInfo)              // POST /cgi-bin/openapi/rid/get
}

// Quota-tool budgets.
const (
	ClearQuotaPerMonth    = 10 // clear_quota and clear_quota/v2 together
	ClearAPIQuotaPerMonth = 50 // openapi/quota/clear
	RidRetention          = 7 * 24 * time.Hour
)

// clearAll resets every daily count of app, within the shared monthly budget (48006 beyond it).
func (p *Platform) clearAll(app *App) error {
	d, err := p.deps.Quota.Admit(quotaScope(app.AppID, "/cgi-bin/clear_quota#budget"), quota.Limits{PerMonth: ClearQuotaPerMonth})
	if err != nil {
		return err
	}
	if d != nil {
		return apierr.Newf(apierr.QuotaExceeded, 48006, "clear_quota used %d times this month", ClearQuotaPerMonth)
	}
	return p.deps.Quota.Clear(quotaScope(app.AppID, ""), true)
}

// handleClearQuota emulates POST /cgi-bin/clear_quota: the body's appid must be the token's own.
func (p *Platform) handleClearQuota(c *endpoint.Call) (any, error) {
	var req struct {
		AppID string `json:"appid"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	pr := c.Principal.(*Principal)
	if req.AppID != pr.App.AppID {
		return nil, apierr.Newf(apierr.Invalid, 40013, "appid %q is not the token's account", req.AppID)
	}
	return nil, p.clearAll(pr.App)
}

// handleClearQuotaV2 emulates POST /cgi-bin/clear_quota/v2, which authenticates with appid and
// appsecret (in the query string or the body).
func (p *Platform) handleClearQuotaV2(c *endpoint.Call) (any, error) {
	var req struct {
		AppID     string `json:"appid"`
		AppSecret string `json:"appsecret"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	if v := c.Query("appid"); v != "" {
		req.AppID = v
	}
	if v := c.Query("appsecret"); v != "" {
		req.AppSecret = v
	}
	switch {
	case req.AppID == "":
		return nil, apierr.New(apierr.Invalid, 41002, "appid is neither in the query nor in the body")
	case req.AppSecret == "":
		return nil, apierr.New(apierr.Invalid, 41004, "appsecret is neither in the query nor in the body")
	}
	app, err := p.checkCredentials(c, req.AppID, req.AppSecret)
	if err != nil {
		return nil, err
	}
	return nil, p.clearAll(app)
}

// isCgiPath reports whether path is a slash and then one or more of A–Z, a–z, 0–9, _, /, . and
// - (the pattern ^/[A-Za-z0-9_/.-]+$, without a regular expression on every quota query).
func isCgiPath(path string) bool {
	if len(path) < 2 || path[0] != '/' {
		return false
	}
	for i := 1; i < len(path); i++ {
		switch ch := path[i]; {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		case ch == '_' || ch == '/' || ch == '.' || ch == '-':
		default:
			return false
		}
	}
	return true
}

// operationFor resolves a cgi_path for the quota tools, with their codes.
func (p *Platform) operationFor(path string) (*spec.Operation, error) {
	if !isCgiPath(path) {
		return nil, apierr.Newf(apierr.Invalid, 76003, "cgi_path %q must be a path starting with / and no host", path)
	}
	if strings.Contains(path, "/sns/") {
		return nil, apierr.New(apierr.Forbidden, 76022, "sns paths have no quota to query")
	}
	if op := p.opsByPath[path]; op != nil {
		return op, nil
	}
	return nil, apierr.Newf(apierr.NotFound, 76021, "no API at %s", path)
}

type quotaInfo struct {
	DailyLimit int `json:"daily_limit"`
	Used       int `json:"used"`
	Remain     int `json:"remain"`
}

type rateLimit struct {
	CallCount     int `json:"call_count"`
	RefreshSecond int `json:"refresh_second"`
}

type quotaAnswer struct {
	Envelope
	Quota              quotaInfo `json:"quota"`
	RateLimit          rateLimit `json:"rate_limit"`
	ComponentRateLimit rateLimit `json:"component_rate_limit"`
}

// AppendAnswer implements AnswerAppender: quota/get is the read integrators poll most.
func (a quotaAnswer) AppendAnswer(b []byte) []byte {
	b = append(b, '{')
	b = a.Envelope.appendFields(b)
	b = append(b, `,"quota":{"daily_limit":`...)
	b = strconv.AppendInt(b, int64(a.Quota.DailyLimit), 10)
	b = append(b, `,"used":`...)
	b = strconv.AppendInt(b, int64(a.Quota.Used), 10)
	b = append(b, `,"remain":`...)
	b = strconv.AppendInt(b, int64(a.Quota.Remain), 10)
	b = append(b, `},"rate_limit":`...)
	b = a.RateLimit.appendJSON(b)
	b = append(b, `,"component_rate_limit":`...)
	b = a.ComponentRateLimit.appendJSON(b)
	return append(b, '}')
}

func (r rateLimit) appendJSON(b []byte) []byte {
	b = append(b, `{"call_count":`...)
	b = strconv.AppendInt(b, int64(r.CallCount), 10)
	b = append(b, `,"refresh_second":`...)
	b = strconv.AppendInt(b, int64(r.RefreshSecond), 10)
	return append(b, '}')
}

// TierLimits returns an operation's limits for an app's tier.
func TierLimits(app *App, l quota.Limits) quota.Limits {
	switch app.Tier {
	case TierTest:
		return l.Scaled(10)
	case TierUnlimited:
		return quota.Limits{}
	}
	return l
}

// handleGetAPIQuota emulates POST /cgi-bin/openapi/quota/get.
func (p *Platform) handleGetAPIQuota(c *endpoint.Call) (any, error) {
	var req struct {
		CgiPath string `json:"cgi_path"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	op, err := p.operationFor(req.CgiPath)
	if err != nil {
		return nil, err
	}
	app := c.Principal.(*Principal).App
	limits := TierLimits(app, op.Quota)
	used, err := p.deps.Quota.Used(quotaScope(app.AppID, op.Path), quota.Day)
	if err != nil {
		return nil, err
	}
	a := quotaAnswer{Envelope: OK(), Quota: quotaInfo{DailyLimit: limits.PerDay, Used: used, Remain: max(0, limits.PerDay-used)}}
	switch {
	case limits.PerMinute > 0:
		a.RateLimit = rateLimit{CallCount: limits.PerMinute, RefreshSecond: 60}
	case limits.PerSecond > 0:
		a.RateLimit = rateLimit{CallCount: limits.PerSecond, RefreshSecond: 1}
	}
	// Calls through a third-party platform get a quarter of the account's rate, as WeChat's
	// published example shows (4,200,000 vs 1,050,000 a minute).
	if a.RateLimit.CallCount > 0 {
		a.ComponentRateLimit = rateLimit{CallCount: max(1, a.RateLimit.CallCount/4), RefreshSecond: a.RateLimit.RefreshSecond}
	}
	return a, nil
}

// handleClearAPIQuota emulates POST /cgi-bin/openapi/quota/clear: one API's daily count.
func (p *Platform) handleClearAPIQuota(c *endpoint.Call) (any, error) {
	var req struct {
		CgiPath string `json:"cgi_path"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	op, err := p.operationFor(req.CgiPath)
	if err != nil {
		return nil, err
	}
	app := c.Principal.(*Principal).App
	d, err := p.deps.Quota.Admit(quotaScope(app.AppID, "/cgi-bin/openapi/quota/clear#budget"), quota.Limits{PerMonth: ClearAPIQuotaPerMonth})
	if err != nil {
		return nil, err
	}
	if d != nil {
		return nil, apierr.Newf(apierr.QuotaExceeded, 48006, "openapi/quota/clear used %d times this month", ClearAPIQuotaPerMonth)
	}
	return nil, p.deps.Quota.Clear(quotaScope(app.AppID, op.Path), false)
}

var ridPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$`)

type ridRequest struct {
	InvokeTime   int64  `json:"invoke_time"`
	CostInMs     int64  `json:"cost_in_ms"`
	RequestURL   string `json:"request_url"`
	RequestBody  string `json:"request_body"`
	ResponseBody string `json:"response_body"`
	ClientIP     string `json:"client_ip"`
}

// handleGetRidInfo emulates POST /cgi-bin/openapi/rid/get, answered from the journal.
func (p *Platform) handleGetRidInfo(c *endpoint.Call) (any, error) {
	var req struct {
		Rid string `json:"rid"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	if !ridPattern.MatchString(req.Rid) {
		return nil, apierr.Newf(apierr.Invalid, 76002, "rid %q is not three groups of 8 hex digits", req.Rid)
	}
	e, ok := p.deps.Journal.Get(req.Rid)
	if !ok || c.Now.Sub(e.Time) > RidRetention {
		return nil, apierr.Newf(apierr.NotFound, 76001, "rid %s is unknown or older than 7 days", req.Rid)
	}
	if e.AppID != c.Principal.(*Principal).App.AppID {
		return nil, apierr.Newf(apierr.Forbidden, 76003, "rid %s belongs to another account", req.Rid)
	}
	return struct {
		Envelope
		Request ridRequest `json:"request"`
	}{OK(), ridRequest{
		InvokeTime: e.Time.Unix(), CostInMs: e.CostMillis, RequestURL: e.Query,
		RequestBody: e.RequestBody, ResponseBody: e.Response, ClientIP: e.ClientIP,
	}}, nil
}
