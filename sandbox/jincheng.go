package sandbox

import "github.com/citysandbox/citysandbox/sandbox/internal/jincheng"

// JinchengVendorSpec says what a new Jincheng vendor account should be; what it leaves out is
// generated.
type JinchengVendorSpec = jincheng.VendorSpec

// JinchengVendor is a vendor's portal account.
type JinchengVendor = jincheng.Vendor

// JinchengLaunch is a minted SSO ticket and the URL the app sends the citizen to.
type JinchengLaunch = jincheng.Launch

// JinchengTitleCheck records whether a page the simulated app opened had the listed title.
type JinchengTitleCheck = jincheng.TitleCheck

// Jincheng is the Go twin of the /_sandbox/jincheng/ control verbs.
type Jincheng struct {
	s *Server
}

// Jincheng returns the Jincheng control verbs.
func (s *Server) Jincheng() *Jincheng { return &Jincheng{s} }

// CreateVendor issues a portal account, as POST /_sandbox/jincheng/vendors does.
func (j *Jincheng) CreateVendor(spec JinchengVendorSpec) (*JinchengVendor, error) {
	return j.s.jincheng.CreateVendor(spec)
}

// Launch mints a ticket for a citizen (userid or mobile) opening a service in env ("test" or
// "prod"), as POST /_sandbox/jincheng/launch does.
func (j *Jincheng) Launch(serviceCode, persona, env string) (*JinchengLaunch, error) {
	return j.s.jincheng.Launch(serviceCode, persona, env, j.s.clock.Now())
}

// TitleChecks returns the simulated app's title checks, optionally for one service.
func (j *Jincheng) TitleChecks(serviceCode string) ([]JinchengTitleCheck, error) {
	return j.s.jincheng.TitleChecks(serviceCode)
}

// JinchengFixtureApp is an application of fixtures/jincheng.yaml.
type JinchengFixtureApp = jincheng.FixtureApp

// FixtureCredentials returns the fixture vendors (with passwords) and approved applications
// (with appCode and appSecret).
func (j *Jincheng) FixtureCredentials() ([]JinchengVendor, []JinchengFixtureApp, error) {
	return j.s.jincheng.FixtureCredentials()
}
