package sandbox

import "github.com/citysandbox/citysandbox/sandbox/internal/wechat/cityservice"

// City Service types, as the control verbs under /_sandbox/wechat/cityservice/ use them.
type (
	// CityService is a service settled into WeChat City Service.
	CityService = cityservice.Service
	// CityServiceHomepage is a service homepage's structured content.
	CityServiceHomepage = cityservice.Homepage
	// CityServiceSpec says what service to settle, and for which app.
	CityServiceSpec = cityservice.ServiceSpec
	// CityServiceApplicationSpec is an application for the interconnection capability.
	CityServiceApplicationSpec = cityservice.ApplicationSpec
	// CityServiceApplication is a filed application and its state.
	CityServiceApplication = cityservice.Application
	// CityServiceDecision is an operator's approval (grant) or rejection (reason).
	CityServiceDecision = cityservice.Decision
	// CityServiceOpenSpec is a user opening a path, H5 URL or menu entry.
	CityServiceOpenSpec = cityservice.OpenSpec
	// CityServiceMenuRef names a menu entry to open.
	CityServiceMenuRef = cityservice.MenuRef
	// CityServicePage is the page such an open lands on.
	CityServicePage = cityservice.Page
	// CityServiceHealthCodeChoice is a user's pick among a city's health codes.
	CityServiceHealthCodeChoice = cityservice.HealthCodeChoice
	// CityServiceHealthCodePopup is the health-code entry's popup.
	CityServiceHealthCodePopup = cityservice.HealthCodePopup
)

// CityServiceVerbs is the Go twin of the /_sandbox/wechat/cityservice/ control verbs.
type CityServiceVerbs struct{ e *cityservice.Emulator }

// CityService returns the WeChat City Service control verbs.
func (s *Server) CityService() *CityServiceVerbs { return &CityServiceVerbs{s.city} }

// Settle settles a service for an app, as POST /_sandbox/wechat/cityservice/services does.
func (v *CityServiceVerbs) Settle(spec CityServiceSpec) (*CityService, error) {
	return v.e.Settle(spec)
}

// Apply files an application, as POST /_sandbox/wechat/cityservice/applications does.
func (v *CityServiceVerbs) Apply(spec CityServiceApplicationSpec) (*CityServiceApplication, error) {
	return v.e.Apply(spec)
}

// Approve approves application id, as POST …/applications/{id}/approve does.
func (v *CityServiceVerbs) Approve(id string, grant CityServiceDecision) (*CityServiceApplication, error) {
	return v.e.Decide(id, true, grant)
}

// Reject rejects application id, as POST …/applications/{id}/reject does.
func (v *CityServiceVerbs) Reject(id, reason string) (*CityServiceApplication, error) {
	return v.e.Decide(id, false, CityServiceDecision{Reason: reason})
}

// Open simulates a user opening a page, as POST /_sandbox/wechat/cityservice/open does.
func (v *CityServiceVerbs) Open(spec CityServiceOpenSpec) (*CityServicePage, error) {
	return v.e.Open(spec)
}

// ChooseHealthCode records a user's health-code choice, as
// POST /_sandbox/wechat/cityservice/healthcode-choice does.
func (v *CityServiceVerbs) ChooseHealthCode(choice CityServiceHealthCodeChoice) (*CityServiceHealthCodePopup, error) {
	return v.e.ChooseHealthCode(choice)
}
