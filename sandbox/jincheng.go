package sandbox

import (
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/jincheng"
)

// JinchengControl is the Go twin of the /_sandbox/jincheng/ control verbs: vendor accounts, a
// citizen's tap on a service (an SSO launch) and the simulated app's title checks.
type JinchengControl struct{ s *Server }

// Jincheng returns the Jincheng control verbs.
func (s *Server) Jincheng() *JinchengControl { return &JinchengControl{s} }

// JinchengVendorSpec says what a new vendor account should be, as the body of
// POST /_sandbox/jincheng/vendors does; what it leaves out is generated.
type JinchengVendorSpec struct {
	// Account is the portal login. Default: the next "vendor0001", "vendor0002", …
	Account string `json:"account,omitempty"`
	// Password is the portal password. Default: 16 seeded letters and digits.
	Password string `json:"password,omitempty"`
	// Name is the vendor's company name. Default: a seeded one.
	Name string `json:"name,omitempty"`
}

func (s JinchengVendorSpec) internal() jincheng.VendorSpec {
	return jincheng.VendorSpec{Account: s.Account, Password: s.Password, Name: s.Name}
}

// JinchengVendor is an integrator's account on the Jincheng developer portal, issued by the
// platform.
type JinchengVendor struct {
	Account  string `json:"account"`
	Password string `json:"password"`
	Name     string `json:"name"`
	// Created is the sandbox time the account was issued; zero for fixture vendors.
	Created time.Time `json:"createdAt"`
}

func jinchengVendorFrom(v jincheng.Vendor) JinchengVendor {
	return JinchengVendor{Account: v.Account, Password: v.Password, Name: v.Name, Created: v.Created}
}

// CreateVendor issues a portal account, as POST /_sandbox/jincheng/vendors does.
func (j *JinchengControl) CreateVendor(spec JinchengVendorSpec) (*JinchengVendor, error) {
	v, err := j.s.jincheng.CreateVendor(spec.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(v, jinchengVendorFrom), nil
}

// JinchengLaunch is a minted single sign-on ticket and the URL the app sends the citizen to.
type JinchengLaunch struct {
	// Ticket is the single-use ticket; it lives until ExpiresAt (60 s).
	Ticket string `json:"ticket"`
	// Location is the service's channel URL (testUrl or prodUrl) with ticket and
	// module_callback_code added before any #fragment.
	Location  string    `json:"location"`
	ExpiresAt time.Time `json:"expiresAt"`
	// UserID is the citizen's userid.
	UserID string `json:"userid"`
	// ServiceCode and Env ("test" or "prod") are the service opened and where.
	ServiceCode string `json:"serviceCode"`
	Env         string `json:"env"`
	// ServiceName is the service's listed name, which the opened page's title should match. The
	// control plane does not answer it.
	ServiceName string `json:"-"`
}

func jinchengLaunchFrom(l jincheng.Launch) JinchengLaunch {
	return JinchengLaunch{
		Ticket: l.Ticket, Location: l.Location, ExpiresAt: l.ExpiresAt, UserID: l.UserID, ServiceCode: l.ServiceCode,
		Env: l.Env, ServiceName: l.ServiceName,
	}
}

// Launch mints a ticket for a citizen (persona: a userid or mobile number) opening a service in
// env, as POST /_sandbox/jincheng/launch does: in "test" any service but an OFFLINE one, for the
// application's testers only, at its testUrl; in "prod" ONLINE services only, for every citizen,
// at its prodUrl.
func (j *JinchengControl) Launch(serviceCode, persona, env string) (*JinchengLaunch, error) {
	l, err := j.s.jincheng.Launch(serviceCode, persona, env, j.s.clock.Now())
	if err != nil {
		return nil, err
	}
	return convertPtr(l, jinchengLaunchFrom), nil
}

// JinchengTitleCheck records whether a page the simulated app opened carried the service's
// listed name as its title.
type JinchengTitleCheck struct {
	ServiceCode string `json:"serviceCode"`
	// ServiceName is the listed name, and Title the page's title.
	ServiceName string `json:"serviceName"`
	Title       string `json:"title"`
	// Match tells whether the two are the same.
	Match bool `json:"match"`
	// Env and Persona are where and for whom the page was opened.
	Env     string `json:"env"`
	Persona string `json:"persona"`
	// PageURL is the page opened.
	PageURL string `json:"pageUrl,omitempty"`
	// At is the sandbox time of the check.
	At time.Time `json:"at"`
}

func jinchengTitleCheckFrom(c jincheng.TitleCheck) JinchengTitleCheck {
	return JinchengTitleCheck{
		ServiceCode: c.ServiceCode, ServiceName: c.ServiceName, Title: c.Title, Match: c.Match, Env: c.Env,
		Persona: c.Persona, PageURL: c.PageURL, At: c.At,
	}
}

// TitleChecks returns the simulated app's title checks, oldest first: every one, or those of
// one service when serviceCode is not empty.
func (j *JinchengControl) TitleChecks(serviceCode string) ([]JinchengTitleCheck, error) {
	cs, err := j.s.jincheng.TitleChecks(serviceCode)
	if err != nil {
		return nil, err
	}
	return convertSlice(cs, jinchengTitleCheckFrom), nil
}

// JinchengFixtureApp is an approved application of fixtures/jincheng.yaml, with the credentials
// its back end signs with.
type JinchengFixtureApp struct {
	// AppID is the application's id on the portal, and Vendor the account that owns it.
	AppID  string `json:"appId"`
	Vendor string `json:"vendor"`
	// AppName is the application's name.
	AppName string `json:"appName"`
	// AppCode and AppSecret sign the open API and SSO calls (X-JLB-AppCode, X-JLB-Signature).
	AppCode   string `json:"appCode"`
	AppSecret string `json:"appSecret"`
}

// jinchengFixtureAppFrom keeps the credentials of a fixture application; the rest of its record
// (contacts, testers, services) is the fixture file's business.
func jinchengFixtureAppFrom(a jincheng.FixtureApp) JinchengFixtureApp {
	return JinchengFixtureApp{AppID: a.AppID, Vendor: a.Vendor, AppName: a.AppName, AppCode: a.AppCode, AppSecret: a.AppSecret}
}

// FixtureCredentials returns the fixture vendors (with passwords) and approved applications
// (with appCode and appSecret), as fixtures/jincheng.yaml defines them.
func (j *JinchengControl) FixtureCredentials() ([]JinchengVendor, []JinchengFixtureApp, error) {
	vendors, apps, err := j.s.jincheng.FixtureCredentials()
	if err != nil {
		return nil, nil, err
	}
	return convertSlice(vendors, jinchengVendorFrom), convertSlice(apps, jinchengFixtureAppFrom), nil
}
