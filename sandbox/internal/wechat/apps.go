package wechat

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/quota"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerAppRoutes lists the control-plane verbs on WeChat apps.
func (p *Platform) registerAppRoutes(r endpoint.Routes) {
	r.Handle("createWeChatApp", p.handleCreateApp) // POST /_sandbox/wechat/apps
	r.Handle("listWeChatApps", p.handleListApps)   // GET /_sandbox/wechat/apps
	r.Handle("getWeChatApp", p.handleGetApp)       // GET /_sandbox/wechat/apps/{appid}
	r.Handle("updateWeChatApp", p.handleUpdateApp) // PATCH /_sandbox/wechat/apps/{appid}
}

// App types.
const (
	TypeOfficialAccount = "official_account"
	TypeMiniProgram     = "mini_program"
	TypeComponent       = "component"
)

// Tiers decide which quota limits apply.
const (
	TierProduction = "production" // the documented limits
	TierTest       = "test"       // a tenth of them, like WeChat's test accounts
	TierUnlimited  = "unlimited"  // no quota at all
)

// Subject types of an account's owner.
var subjectTypes = []string{"enterprise", "government", "media", "other", "personal"}

// App is a WeChat account the sandbox knows: an official account (service or subscription), a
// mini program, or a third-party platform (component).
type App struct {
	AppID string `json:"appid" yaml:"appid"`
	// Secret is the AppSecret (component_appsecret for a component).
	Secret string `json:"secret" yaml:"secret"`
	Type   string `json:"type" yaml:"type"`
	// ServiceType is "service" or "subscription" for official accounts, empty otherwise.
	ServiceType string   `json:"service_type,omitempty" yaml:"service_type"`
	OriginalID  string   `json:"original_id" yaml:"original_id"`
	Name        string   `json:"name" yaml:"name"`
	SubjectType string   `json:"subject_type" yaml:"subject_type"`
	Verified    bool     `json:"verified" yaml:"verified"`
	Tier        string   `json:"tier" yaml:"tier"`
	IPWhitelist []string `json:"ip_whitelist,omitempty" yaml:"ip_whitelist"`
	// Released tells whether a mini program has a released version (QR-jump publishing needs one).
	Released bool `json:"released,omitempty" yaml:"released"`
	// QRJumpFileRequired makes a mini program's ordinary-link QR-jump rules need a verification
	// file fetched from a mapped host: an unmapped host is refused (85069) rather than accepted
	// unchecked.
	QRJumpFileRequired bool `json:"qrjump_file_required,omitempty" yaml:"qrjump_file_required"`
	// Token and EncodingAESKey sign and encrypt pushes (set with the push configuration; issued
	// at creation for components).
	Token          string    `json:"token,omitempty" yaml:"token"`
	EncodingAESKey string    `json:"encoding_aes_key,omitempty" yaml:"encoding_aes_key"`
	CreatedAt      time.Time `json:"created_at" yaml:"-"`
}

// AccountType is what x-wechat-account-types names: service, subscription, mini_program or
// component.
func (a *App) AccountType() string {
	if a.Type == TypeOfficialAccount {
		if a.ServiceType == "" {
			return "service"
		}
		return a.ServiceType
	}
	return a.Type
}

func appKey(appid string) string { return appPrefix + appid }

var (
	appIDPattern  = regexp.MustCompile(`^wx[0-9a-f]{16}$`)
	secretPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// ValidAppID reports whether s has the form of an appid: wx and 16 lowercase hex digits.
func ValidAppID(s string) bool { return appIDPattern.MatchString(s) }

// GetApp returns the app with appid, or nil.
func GetApp(tx *store.Tx, appid string) (*App, error) {
	return store.Get[App](tx, appKey(appid))
}

// AppSpec is what a caller may say about a new app; the rest is generated.
type AppSpec struct {
	Type        string   `json:"type" yaml:"type"`
	ServiceType string   `json:"service_type,omitempty" yaml:"service_type"`
	AppID       string   `json:"appid,omitempty" yaml:"appid"`
	Secret      string   `json:"secret,omitempty" yaml:"secret"`
	OriginalID  string   `json:"original_id,omitempty" yaml:"original_id"`
	Name        string   `json:"name,omitempty" yaml:"name"`
	SubjectType string   `json:"subject_type,omitempty" yaml:"subject_type"`
	Verified    *bool    `json:"verified,omitempty" yaml:"verified"`
	Tier        string   `json:"tier,omitempty" yaml:"tier"`
	IPWhitelist []string `json:"ip_whitelist,omitempty" yaml:"ip_whitelist"`
	Released    *bool    `json:"released,omitempty" yaml:"released"`
	// QRJumpFileRequired: see App.
	QRJumpFileRequired bool `json:"qrjump_file_required,omitempty" yaml:"qrjump_file_required"`
}

// CreateApp makes a new app from spec, filling what it leaves out (verified, enterprise,
// production tier, generated credentials), and stores it. It is the Go twin of
// POST /_sandbox/wechat/apps.
func (p *Platform) CreateApp(spec AppSpec) (*App, error) {
	var app *App
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		app, err = p.createApp(tx, spec)
		return err
	})
	return app, err
}

func (p *Platform) createApp(tx *store.Tx, s AppSpec) (*App, error) {
	a := &App{
		Type: s.Type, ServiceType: s.ServiceType, AppID: s.AppID, Secret: s.Secret, OriginalID: s.OriginalID,
		Name: s.Name, SubjectType: s.SubjectType, Verified: true, Tier: s.Tier, IPWhitelist: s.IPWhitelist,
		QRJumpFileRequired: s.QRJumpFileRequired, CreatedAt: p.deps.Clock.Now(),
	}
	if s.Verified != nil {
		a.Verified = *s.Verified
	}
	if s.Released != nil {
		a.Released = *s.Released
	}
	if err := p.completeApp(a); err != nil {
		return nil, err
	}
	if exists, err := tx.Has(appKey(a.AppID)); err != nil {
		return nil, err
	} else if exists {
		return nil, &apierr.Error{Kind: apierr.Conflict, Name: "app_exists", Reason: "an app with appid " + a.AppID + " exists"}
	}
	if err := tx.Put(appKey(a.AppID), a); err != nil {
		return nil, err
	}
	return a, nil
}

// completeApp validates an app and fills its defaults and generated fields.
func (p *Platform) completeApp(a *App) error {
	invalid := func(format string, args ...any) error {
		return &apierr.Error{Kind: apierr.Invalid, Name: "invalid_app", Reason: fmt.Sprintf(format, args...)}
	}
	switch a.Type {
	case TypeOfficialAccount:
		if a.ServiceType == "" {
			a.ServiceType = "service"
		}
		if a.ServiceType != "service" && a.ServiceType != "subscription" {
			return invalid("service_type must be service or subscription, not %q", a.ServiceType)
		}
	case TypeMiniProgram, TypeComponent:
		if a.ServiceType != "" {
			return invalid("service_type applies to official accounts only")
		}
	default:
		return invalid("type must be official_account, mini_program or component, not %q", a.Type)
	}
	r := p.deps.Rand
	if a.AppID == "" {
		a.AppID = "wx" + r.Token(16, seeded.Hex)
	}
	if !ValidAppID(a.AppID) {
		return invalid("appid must be wx and 16 lowercase hex digits, not %q", a.AppID)
	}
	if a.Secret == "" {
		a.Secret = r.Token(32, seeded.Hex)
	}
	if !secretPattern.MatchString(a.Secret) {
		return invalid("secret must be 32 lowercase hex digits")
	}
	if a.OriginalID == "" {
		a.OriginalID = "gh_" + r.Token(12, seeded.Hex)
	}
	if !regexp.MustCompile(`^gh_[0-9a-f]{12}$`).MatchString(a.OriginalID) {
		return invalid("original_id must be gh_ and 12 hex digits, not %q", a.OriginalID)
	}
	if a.SubjectType == "" {
		a.SubjectType = "enterprise"
	}
	if !slices.Contains(subjectTypes, a.SubjectType) {
		return invalid("subject_type must be one of %s", strings.Join(subjectTypes, ", "))
	}
	if a.Tier == "" {
		a.Tier = TierProduction
	}
	if a.Tier != TierProduction && a.Tier != TierTest && a.Tier != TierUnlimited {
		return invalid("tier must be production, test or unlimited, not %q", a.Tier)
	}
	for _, ip := range a.IPWhitelist {
		if net.ParseIP(ip) == nil {
			return invalid("ip_whitelist entry %q is not an IP address", ip)
		}
	}
	if a.Type == TypeComponent {
		if a.Token == "" {
			a.Token = r.Token(32, seeded.Alphanumeric)
		}
		if a.EncodingAESKey == "" {
			a.EncodingAESKey = r.Token(43, seeded.Alphanumeric)
		}
	}
	if a.Name == "" {
		a.Name = p.deps.Faker.Company() + map[string]string{
			TypeOfficialAccount: "服务号", TypeMiniProgram: "小程序", TypeComponent: "第三方平台",
		}[a.Type]
	}
	return nil
}

// appView is an app as the control plane shows it: settings plus live tokens and today's quota.
type appView struct {
	*App
	// ComponentAppID and ComponentAppSecret repeat the credentials under the names a third-party
	// platform uses.
	ComponentAppID     string       `json:"component_appid,omitempty"`
	ComponentAppSecret string       `json:"component_appsecret,omitempty"`
	Tokens             []tokenView  `json:"tokens"`
	QuotaToday         []quotaUsage `json:"quota_today"`
}

type tokenView struct {
	Kind      string    `json:"kind"`
	Token     string    `json:"access_token"`
	ExpiresAt time.Time `json:"expires_at"`
	State     string    `json:"state"`
}

type quotaUsage struct {
	API  string `json:"api"`
	Used int    `json:"used"`
}

func (p *Platform) view(tx *store.Tx, a *App, now time.Time) (appView, error) {
	v := appView{App: a, Tokens: []tokenView{}, QuotaToday: []quotaUsage{}}
	if a.Type == TypeComponent {
		v.ComponentAppID, v.ComponentAppSecret = a.AppID, a.Secret
	}
	for _, kind := range []string{TokenBasic, TokenStable} {
		ref, ok, err := tx.GetRaw(tokenRefKey(a.AppID, kind))
		if err != nil {
			return v, err
		}
		if !ok {
			continue
		}
		var t Token
		if found, err := tx.Get(tokenKey(ref), &t); err != nil {
			return v, err
		} else if found {
			v.Tokens = append(v.Tokens, tokenView{Kind: kind, Token: t.Token, ExpiresAt: t.ExpiresAt, State: t.State(now)})
		}
	}
	for _, op := range p.deps.Spec.Operations {
		if op.Document.Platform != p.Name() || op.Quota.PerDay == 0 {
			continue
		}
		used, err := p.deps.Quota.UsedIn(tx, quotaScope(a.AppID, op.Path), quota.Day)
		if err != nil {
			return v, err
		}
		if used > 0 {
			v.QuotaToday = append(v.QuotaToday, quotaUsage{API: op.Path, Used: used})
		}
	}
	return v, nil
}

func (p *Platform) handleCreateApp(c *endpoint.Call) (any, error) {
	var s AppSpec
	if err := c.Bind(&s); err != nil {
		return nil, err
	}
	app, err := p.CreateApp(s)
	if err != nil {
		return nil, err
	}
	var v appView
	err = p.deps.Store.View(func(tx *store.Tx) error {
		var err error
		v, err = p.view(tx, app, c.Now)
		return err
	})
	return endpoint.Created(v), err
}

func (p *Platform) handleListApps(c *endpoint.Call) (any, error) {
	var apps []*App
	err := p.deps.Store.View(func(tx *store.Tx) error {
		var err error
		apps, err = ListApps(tx, c.Query("type"))
		return err
	})
	return map[string]any{"apps": apps}, err
}

// ListApps returns the apps of type typ (every app when typ is empty), in appid order.
func ListApps(tx *store.Tx, typ string) ([]*App, error) {
	apps := []*App{}
	err := store.Each(tx, appPrefix, func(_ string, a *App) error {
		if typ == "" || typ == a.Type {
			apps = append(apps, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return apps, nil
}

func (p *Platform) handleGetApp(c *endpoint.Call) (any, error) {
	var v appView
	err := p.deps.Store.View(func(tx *store.Tx) error {
		app, err := GetApp(tx, c.Param("appid"))
		if err != nil {
			return err
		}
		if app == nil {
			return &apierr.Error{Kind: apierr.NotFound, Name: "app_not_found", Reason: "no app " + c.Param("appid")}
		}
		v, err = p.view(tx, app, c.Now)
		return err
	})
	return v, err
}

// appUpdate is what PATCH may change.
type appUpdate struct {
	Name        *string   `json:"name"`
	SubjectType *string   `json:"subject_type"`
	Verified    *bool     `json:"verified"`
	Tier        *string   `json:"tier"`
	IPWhitelist *[]string `json:"ip_whitelist"`
	Released    *bool     `json:"released"`
	Secret      *string   `json:"secret"`
	// QRJumpFileRequired: see App.
	QRJumpFileRequired *bool `json:"qrjump_file_required"`
}

func (p *Platform) handleUpdateApp(c *endpoint.Call) (any, error) {
	var u appUpdate
	if err := c.Bind(&u); err != nil {
		return nil, err
	}
	var v appView
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		app, err := GetApp(tx, c.Param("appid"))
		if err != nil {
			return err
		}
		if app == nil {
			return &apierr.Error{Kind: apierr.NotFound, Name: "app_not_found", Reason: "no app " + c.Param("appid")}
		}
		setIf(&app.Name, u.Name)
		setIf(&app.SubjectType, u.SubjectType)
		setIf(&app.Verified, u.Verified)
		setIf(&app.Tier, u.Tier)
		setIf(&app.IPWhitelist, u.IPWhitelist)
		setIf(&app.Released, u.Released)
		setIf(&app.Secret, u.Secret)
		setIf(&app.QRJumpFileRequired, u.QRJumpFileRequired)
		if err := p.completeApp(app); err != nil {
			return err
		}
		if err := tx.Put(appKey(app.AppID), app); err != nil {
			return err
		}
		v, err = p.view(tx, app, c.Now)
		return err
	})
	return v, err
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// fixtureFile is fixtures/wechat.yaml: each app is an AppSpec, so what it leaves out gets the
// same defaults as POST /_sandbox/wechat/apps (verified, enterprise, production tier).
type fixtureFile struct {
	Apps []AppSpec `yaml:"apps"`
}

// LoadFixtures writes the fixture apps into the store (after a reset).
func (p *Platform) LoadFixtures() error {
	var f fixtureFile
	if err := p.deps.Fixtures.Decode("wechat", &f); err != nil {
		return err
	}
	return p.deps.Store.Update(func(tx *store.Tx) error {
		for i, spec := range f.Apps {
			if _, err := p.createApp(tx, spec); err != nil {
				return fmt.Errorf("wechat: fixture app %d (%s): %w", i, spec.AppID, err)
			}
		}
		return nil
	})
}

// FixtureApps returns the apps of the fixture file as they are stored, for the startup banner.
func (p *Platform) FixtureApps() ([]App, error) {
	var f fixtureFile
	if err := p.deps.Fixtures.Decode("wechat", &f); err != nil {
		return nil, err
	}
	apps := make([]App, 0, len(f.Apps))
	err := p.deps.Store.View(func(tx *store.Tx) error {
		for _, spec := range f.Apps {
			app, err := GetApp(tx, spec.AppID)
			if err != nil {
				return err
			}
			if app != nil {
				apps = append(apps, *app)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return apps, nil
}
