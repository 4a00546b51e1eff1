package sandbox

import "github.com/citysandbox/citysandbox/sandbox/internal/wechat"

// City Service types, as the control verbs under /_sandbox/wechat/cityservice/ use them.
type (
	// CityService is a service settled into WeChat City Service.
	CityService = wechat.CityService
	// CityServiceHomepage is a service homepage's structured content.
	CityServiceHomepage = wechat.CityServiceHomepage
	// CityServiceSpec says what service to settle, and for which app.
	CityServiceSpec = wechat.CityServiceSpec
	// CityServiceApplicationSpec is an application for the interconnection capability.
	CityServiceApplicationSpec = wechat.CityServiceApplicationSpec
	// CityServiceApplication is a filed application and its state.
	CityServiceApplication = wechat.CityServiceApplication
	// CityServiceDecision is an operator's approval (grant) or rejection (reason).
	CityServiceDecision = wechat.CityServiceDecision
	// CityServiceOpenSpec is a user opening a path, H5 URL or menu entry.
	CityServiceOpenSpec = wechat.CityServiceOpenSpec
	// CityServiceMenuRef names a menu entry to open.
	CityServiceMenuRef = wechat.CityServiceMenuRef
	// CityServicePage is the page such an open lands on.
	CityServicePage = wechat.CityServicePage
	// CityServiceHealthCodeChoice is a user's pick among a city's health codes.
	CityServiceHealthCodeChoice = wechat.CityServiceHealthCodeChoice
	// CityServiceHealthCodePopup is the health-code entry's popup.
	CityServiceHealthCodePopup = wechat.CityServiceHealthCodePopup
)

// SettleCityService settles a service for an app, as POST /_sandbox/wechat/cityservice/services does.
func (w *WeChat) SettleCityService(spec CityServiceSpec) (*CityService, error) {
	return w.p.SettleCityService(spec)
}

// ApplyCityService files an application, as POST /_sandbox/wechat/cityservice/applications does.
func (w *WeChat) ApplyCityService(spec CityServiceApplicationSpec) (*CityServiceApplication, error) {
	return w.p.ApplyCityService(spec)
}

// ApproveCityService approves application id, as POST …/applications/{id}/approve does.
func (w *WeChat) ApproveCityService(id string, grant CityServiceDecision) (*CityServiceApplication, error) {
	return w.p.DecideCityServiceApplication(id, true, grant)
}

// RejectCityService rejects application id, as POST …/applications/{id}/reject does.
func (w *WeChat) RejectCityService(id, reason string) (*CityServiceApplication, error) {
	return w.p.DecideCityServiceApplication(id, false, CityServiceDecision{Reason: reason})
}

// OpenCityServicePage simulates a user opening a page, as POST /_sandbox/wechat/cityservice/open does.
func (w *WeChat) OpenCityServicePage(spec CityServiceOpenSpec) (*CityServicePage, error) {
	return w.p.OpenCityServicePage(spec)
}

// ChooseCityServiceHealthCode records a user's health-code choice, as
// POST /_sandbox/wechat/cityservice/healthcode-choice does.
func (w *WeChat) ChooseCityServiceHealthCode(choice CityServiceHealthCodeChoice) (*CityServiceHealthCodePopup, error) {
	return w.p.ChooseCityServiceHealthCode(choice)
}
