package sandbox

import (
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/cityservice"
)

// CityServiceControl is the Go twin of the /_sandbox/wechat/cityservice/ control verbs: the
// WeChat City Service world (城市服务), the operator's decisions on applications for the
// interconnection capability, and simulated users opening pages.
type CityServiceControl struct{ e *cityservice.Emulator }

// CityService returns the WeChat City Service control verbs.
func (s *Server) CityService() *CityServiceControl { return &CityServiceControl{s.city} }

// CityServiceSettledService is a service settled into City Service (入驻服务).
type CityServiceSettledService struct {
	// ServiceID is the service's service_id.
	ServiceID int64 `json:"service_id"`
	// Name is the service's name.
	Name string `json:"name"`
	// Cities is where the service is offered; empty means nationwide.
	Cities []string `json:"cities"`
	// Categories and Topics are the categories and topic pages that list the service.
	Categories []string `json:"categories"`
	Topics     []string `json:"topics"`
	// HealthCode tells whether the service is a health code of its cities.
	HealthCode bool `json:"health_code,omitempty"`
	// OwnerAppID is the WeChat account that settled the service, when it is one of the
	// sandbox's.
	OwnerAppID string `json:"owner_appid,omitempty"`
	// Homepage is the service homepage, if it has one (page type 0 opens it).
	Homepage *CityServiceHomepage `json:"homepage,omitempty"`
	// Generated tells whether the seeded generator made the service up, rather than the fixtures
	// or a Settle.
	Generated bool `json:"generated,omitempty"`
}

func cityServiceSettledServiceFrom(s cityservice.Service) CityServiceSettledService {
	return CityServiceSettledService{
		ServiceID: s.ServiceID, Name: s.Name, Cities: s.Cities, Categories: s.Categories, Topics: s.Topics,
		HealthCode: s.HealthCode, OwnerAppID: s.OwnerAppID, Homepage: convertPtr(s.Homepage, cityServiceHomepageFrom),
		Generated: s.Generated,
	}
}

// CityServiceHomepage is a service homepage's structured content.
type CityServiceHomepage struct {
	// Introduction is the homepage's text, at most 2,000 characters; required.
	Introduction string `json:"introduction"`
	// Links are the service's links, at most 20.
	Links []CityServiceLink `json:"links"`
	// RelatedAccounts are the related official accounts and Mini Programs, at most 20.
	RelatedAccounts []CityServiceRelatedAccount `json:"related_accounts"`
	// Contact is how to reach the service.
	Contact CityServiceContact `json:"contact"`
}

// CityServiceLink is a link on a service homepage.
type CityServiceLink struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// CityServiceRelatedAccount is a related account on a service homepage.
type CityServiceRelatedAccount struct {
	// Type is "official_account" or "mini_program".
	Type  string `json:"type"`
	Name  string `json:"name"`
	AppID string `json:"appid"`
}

// CityServiceContact is a service homepage's contact information: phone, address and opening
// hours.
type CityServiceContact struct {
	Phone   string `json:"phone"`
	Address string `json:"address"`
	Hours   string `json:"hours"`
}

func cityServiceHomepageFrom(h cityservice.Homepage) CityServiceHomepage {
	return CityServiceHomepage{
		Introduction: h.Introduction,
		Links: convertSlice(h.Links, func(l cityservice.Link) CityServiceLink {
			return CityServiceLink{Title: l.Title, URL: l.URL}
		}),
		RelatedAccounts: convertSlice(h.RelatedAccounts, func(a cityservice.Account) CityServiceRelatedAccount {
			return CityServiceRelatedAccount{Type: a.Type, Name: a.Name, AppID: a.AppID}
		}),
		Contact: CityServiceContact{Phone: h.Contact.Phone, Address: h.Contact.Address, Hours: h.Contact.Hours},
	}
}

func (h CityServiceHomepage) internal() cityservice.Homepage {
	return cityservice.Homepage{
		Introduction: h.Introduction,
		Links: convertSlice(h.Links, func(l CityServiceLink) cityservice.Link {
			return cityservice.Link{Title: l.Title, URL: l.URL}
		}),
		RelatedAccounts: convertSlice(h.RelatedAccounts, func(a CityServiceRelatedAccount) cityservice.Account {
			return cityservice.Account{Type: a.Type, Name: a.Name, AppID: a.AppID}
		}),
		Contact: cityservice.Contact{Phone: h.Contact.Phone, Address: h.Contact.Address, Hours: h.Contact.Hours},
	}
}

// CityServiceSettleSpec says what service to settle, and for which app, as the body of
// POST /_sandbox/wechat/cityservice/services does.
type CityServiceSettleSpec struct {
	// OwnerAppID is the WeChat account that settles the service; required.
	OwnerAppID string `json:"owner_appid"`
	// Name is the service's name; required.
	Name string `json:"name"`
	// Cities are City Service cities by name. Default: nationwide (a health code needs cities).
	Cities []string `json:"cities"`
	// Categories and Topics list the service on category and topic pages.
	Categories []string `json:"categories"`
	Topics     []string `json:"topics"`
	// HealthCode makes the service a health code of its cities.
	HealthCode bool `json:"health_code"`
	// Homepage gives the service a homepage, which an application for the interconnection
	// capability needs. Default: none.
	Homepage *CityServiceHomepage `json:"homepage"`
}

func (s CityServiceSettleSpec) internal() cityservice.ServiceSpec {
	return cityservice.ServiceSpec{
		OwnerAppID: s.OwnerAppID, Name: s.Name, Cities: s.Cities, Categories: s.Categories, Topics: s.Topics,
		HealthCode: s.HealthCode,
		Homepage:   convertPtr(s.Homepage, CityServiceHomepage.internal),
	}
}

// CityServiceApplicationSpec is an application for the interconnection capability
// (城市服务开放互联能力), with what the upstream application e-mail lists.
type CityServiceApplicationSpec struct {
	// SubjectName is the applicant's subject (主体) name.
	SubjectName string `json:"subject_name"`
	// AppID is the account that will call getservicepath; it must own a settled service with a
	// homepage.
	AppID string `json:"appid"`
	// JumpScenes are the src_channel values applied for: 0 official account, 1 Mini Program.
	JumpScenes []int `json:"jump_scenes"`
	// PageTypes are the page types applied for: 0 service homepage, 1 city home page, 2 health
	// code, 3 topic page, 5 service list.
	PageTypes []int `json:"page_types"`
	// ContactUnit, ContactPerson, ContactPhone and ContactWeChat are the applicant's contact.
	ContactUnit   string `json:"contact_unit"`
	ContactPerson string `json:"contact_person"`
	ContactPhone  string `json:"contact_phone"`
	ContactWeChat string `json:"contact_wechat"`
}

func (s CityServiceApplicationSpec) internal() cityservice.ApplicationSpec {
	return cityservice.ApplicationSpec{
		SubjectName: s.SubjectName, AppID: s.AppID, JumpScenes: s.JumpScenes, PageTypes: s.PageTypes,
		ContactUnit: s.ContactUnit, ContactPerson: s.ContactPerson, ContactPhone: s.ContactPhone,
		ContactWeChat: s.ContactWeChat,
	}
}

// CityServiceApplication is a filed application for the interconnection capability and its
// state: the upstream process's e-mail, as data.
type CityServiceApplication struct {
	// ID names the application ("csa000001").
	ID string `json:"id"`
	// AppID, SubjectName, JumpScenes, PageTypes and the contact are as applied for (scenes and
	// page types sorted, without repeats).
	AppID         string `json:"appid"`
	SubjectName   string `json:"subject_name"`
	JumpScenes    []int  `json:"jump_scenes"`
	PageTypes     []int  `json:"page_types"`
	ContactUnit   string `json:"contact_unit"`
	ContactPerson string `json:"contact_person"`
	ContactPhone  string `json:"contact_phone"`
	ContactWeChat string `json:"contact_wechat"`
	// EmailTitle is the subject line the e-mail would carry.
	EmailTitle string `json:"email_title"`
	// Status is "pending", "approved" or "rejected".
	Status string `json:"status"`
	// GrantedPageTypes and GrantedSrcChannels are what an approval granted.
	GrantedPageTypes   []int `json:"granted_page_types,omitempty"`
	GrantedSrcChannels []int `json:"granted_src_channels,omitempty"`
	// BusinessType is the approved account's business_type, which its paths carry.
	BusinessType string `json:"business_type,omitempty"`
	// RejectReason is the operator's reason for a rejection.
	RejectReason string `json:"reject_reason,omitempty"`
	// CreatedAt and DecidedAt are the sandbox times of the application and of the decision.
	CreatedAt time.Time  `json:"created_at"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
}

func cityServiceApplicationFrom(a cityservice.Application) CityServiceApplication {
	return CityServiceApplication{
		ID: a.ID, AppID: a.AppID, SubjectName: a.SubjectName, JumpScenes: a.JumpScenes, PageTypes: a.PageTypes,
		ContactUnit: a.ContactUnit, ContactPerson: a.ContactPerson, ContactPhone: a.ContactPhone,
		ContactWeChat: a.ContactWeChat, EmailTitle: a.EmailTitle, Status: a.Status,
		GrantedPageTypes: a.GrantedPageTypes, GrantedSrcChannels: a.GrantedSrcChannels, BusinessType: a.BusinessType,
		RejectReason: a.RejectReason, CreatedAt: a.CreatedAt, DecidedAt: a.DecidedAt,
	}
}

// CityServiceGrant is what an operator's approval grants, as the body of
// POST /_sandbox/wechat/cityservice/applications/{id}/approve.
type CityServiceGrant struct {
	// PageTypes are the page types granted, among those applied for. Default (nil): all of them.
	PageTypes []int `json:"page_types"`
	// SrcChannels are the src_channel values granted, among the jump scenes applied for.
	// Default (nil): all of them.
	SrcChannels []int `json:"src_channels"`
}

func (g CityServiceGrant) decision() cityservice.Decision {
	return cityservice.Decision{PageTypes: g.PageTypes, SrcChannels: g.SrcChannels}
}

// CityServiceOpenSpec is a simulated user opening a City Service page: a path or H5 URL as
// getservicepath returned it, or an MP-console menu entry.
type CityServiceOpenSpec struct {
	// OpenID is the user; required.
	OpenID string `json:"openid"`
	// Path is a Mini Program path or H5 URL that getservicepath returned; give it or Menu.
	Path string `json:"path"`
	// QueryString is joined to page type 0's path, as the Mini Program's query.
	QueryString string `json:"query_string"`
	// Menu names a menu entry to open instead of a path.
	Menu *CityServiceMenuRef `json:"menu"`
}

// CityServiceMenuRef names an MP-console menu entry: the account and the entry's key.
type CityServiceMenuRef struct {
	AppID string `json:"appid"`
	Key   string `json:"key"`
}

func (s CityServiceOpenSpec) internal() cityservice.OpenSpec {
	return cityservice.OpenSpec{
		OpenID: s.OpenID, Path: s.Path, QueryString: s.QueryString,
		Menu: convertPtr(s.Menu, func(m CityServiceMenuRef) cityservice.MenuRef {
			return cityservice.MenuRef{AppID: m.AppID, Key: m.Key}
		}),
	}
}

// CityServicePage is the page a simulated open lands on, and what is on it: one of City, Home,
// Topic, ServiceList, Service and HealthCode is set, as Page says.
type CityServicePage struct {
	// Page is "home", "health_code", "topic", "service_list" or "service_homepage".
	Page string `json:"page"`
	// PageType is getservicepath's page_type of the page.
	PageType int `json:"page_type"`
	// OpenID is the user.
	OpenID string `json:"openid"`
	// Entry says how the user arrived.
	Entry CityServiceEntry `json:"entry"`
	// City is the city the path names, if any.
	City *CityServiceCity `json:"city,omitempty"`
	// Home is what a city home page shows.
	Home *CityServiceHome `json:"home,omitempty"`
	// Topic and ServiceList are a topic page and a service-list page.
	Topic       *CityServiceList `json:"topic,omitempty"`
	ServiceList *CityServiceList `json:"service_list,omitempty"`
	// Service is a service homepage as the user sees it.
	Service *CityServiceHomepageView `json:"service,omitempty"`
	// HealthCode is the health-code entry's popup.
	HealthCode *CityServiceHealthCodePopup `json:"health_code,omitempty"`
}

// CityServiceEntry says how a user arrived on a City Service page.
type CityServiceEntry struct {
	// AppID is the account whose path or menu the user followed.
	AppID string `json:"appid"`
	// SrcChannel is 0 (from an official account) or 1 (from a Mini Program).
	SrcChannel int `json:"src_channel"`
	// BusinessType is the path's business_type.
	BusinessType string `json:"business_type"`
	// H5 tells whether the user opened an H5 URL rather than a Mini Program path.
	H5 bool `json:"h5"`
	// MenuKey is the menu entry opened, if the user came through a menu.
	MenuKey string `json:"menu_key,omitempty"`
}

// CityServiceCity is a prefecture-level city of City Service.
type CityServiceCity struct {
	Name     string `json:"name"`
	Province string `json:"province"`
	// CityID is the city code getservicepath accepts (the sandbox uses the administrative
	// division code); AreaCode is the telephone area code.
	CityID   string `json:"city_id"`
	AreaCode string `json:"area_code"`
	// Topics are the city's topic pages.
	Topics []string `json:"topics"`
}

// CityServiceHome is what a city's City Service home page shows.
type CityServiceHome struct {
	Topics      []string                   `json:"topics"`
	Categories  []CityServiceCategoryCount `json:"categories"`
	HealthCodes []CityServiceBrief         `json:"health_codes"`
	HotServices []CityServiceBrief         `json:"hot_services"`
}

// CityServiceCategoryCount is a category on a city's home page with its number of services.
type CityServiceCategoryCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// CityServiceList is a topic page or a service-list page: its name and services.
type CityServiceList struct {
	Name     string             `json:"name"`
	Services []CityServiceBrief `json:"services"`
}

// CityServiceHomepageView is a service homepage as a user sees it: the service, the params the
// path carried and the user's city.
type CityServiceHomepageView struct {
	CityServiceSettledService
	// Params are the key/value pairs the path's params carried.
	Params []CityServiceParam `json:"params"`
	// UserCity is the user's city, when the path names one.
	UserCity string `json:"user_city,omitempty"`
	// OfferedHere tells whether the service is offered in UserCity (true when there is none).
	OfferedHere bool `json:"offered_in_user_city"`
}

// CityServiceParam is one key/value pair of getservicepath's ext_params or params.
type CityServiceParam struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// CityServiceBrief is a service as lists show it.
type CityServiceBrief struct {
	ServiceID   int64  `json:"service_id"`
	Name        string `json:"name"`
	HasHomepage bool   `json:"has_homepage"`
}

func cityServicePageFrom(p cityservice.Page) CityServicePage {
	e := p.Entry
	return CityServicePage{
		Page: p.Page, PageType: p.PageType, OpenID: p.OpenID,
		Entry: CityServiceEntry{AppID: e.AppID, SrcChannel: e.SrcChannel, BusinessType: e.BusinessType, H5: e.H5, MenuKey: e.MenuKey},
		City: convertPtr(p.City, func(c cityservice.City) CityServiceCity {
			return CityServiceCity{Name: c.Name, Province: c.Province, CityID: c.CityID, AreaCode: c.AreaCode, Topics: c.Topics}
		}),
		Home: convertPtr(p.Home, func(h cityservice.Home) CityServiceHome {
			return CityServiceHome{
				Topics: h.Topics,
				Categories: convertSlice(h.Categories, func(c cityservice.CategoryCount) CityServiceCategoryCount {
					return CityServiceCategoryCount{Name: c.Name, Count: c.Count}
				}),
				HealthCodes: convertSlice(h.HealthCodes, cityServiceBriefFrom),
				HotServices: convertSlice(h.HotServices, cityServiceBriefFrom),
			}
		}),
		Topic:       convertPtr(p.Topic, cityServiceListFrom),
		ServiceList: convertPtr(p.ServiceList, cityServiceListFrom),
		Service: convertPtr(p.Service, func(v cityservice.HomepageView) CityServiceHomepageView {
			return CityServiceHomepageView{
				CityServiceSettledService: cityServiceSettledServiceFrom(v.Service),
				Params: convertSlice(v.Params, func(kv cityservice.KV) CityServiceParam {
					return CityServiceParam{Key: kv.Key, Value: kv.Value}
				}),
				UserCity: v.UserCity, OfferedHere: v.OfferedHere,
			}
		}),
		HealthCode: convertPtr(p.HealthCode, cityServiceHealthCodePopupFrom),
	}
}

func cityServiceListFrom(l cityservice.List) CityServiceList {
	return CityServiceList{Name: l.Name, Services: convertSlice(l.Services, cityServiceBriefFrom)}
}

func cityServiceBriefFrom(b cityservice.Brief) CityServiceBrief {
	return CityServiceBrief{ServiceID: b.ServiceID, Name: b.Name, HasHomepage: b.HasHomepage}
}

// CityServiceHealthCodeChoice is a user's pick among a city's health codes.
type CityServiceHealthCodeChoice struct {
	OpenID   string `json:"openid"`
	CityName string `json:"city_name"`
	// ServiceID is the chosen health code's service_id.
	ServiceID int64 `json:"service_id"`
}

func (c CityServiceHealthCodeChoice) internal() cityservice.HealthCodeChoice {
	return cityservice.HealthCodeChoice{OpenID: c.OpenID, CityName: c.CityName, ServiceID: c.ServiceID}
}

// CityServiceHealthCodePopup is the health-code entry's popup: the city's codes, and the one
// shown (the only one, or the user's remembered choice) or a request to choose.
type CityServiceHealthCodePopup struct {
	// Popup is always true: the entry opens a popup.
	Popup bool `json:"popup"`
	// Codes are the city's health codes.
	Codes []CityServiceBrief `json:"codes"`
	// Selected is the code shown, if one is.
	Selected *CityServiceBrief `json:"selected,omitempty"`
	// Remembered tells whether Selected is the user's remembered choice.
	Remembered bool `json:"remembered"`
	// ChoiceRequired is set when the city has two or more codes and the user has not chosen:
	// the popup lists them.
	ChoiceRequired bool `json:"choice_required"`
}

func cityServiceHealthCodePopupFrom(p cityservice.HealthCodePopup) CityServiceHealthCodePopup {
	return CityServiceHealthCodePopup{
		Popup: p.Popup, Codes: convertSlice(p.Codes, cityServiceBriefFrom),
		Selected: convertPtr(p.Selected, cityServiceBriefFrom), Remembered: p.Remembered, ChoiceRequired: p.ChoiceRequired,
	}
}

// Settle settles a service for an app, as POST /_sandbox/wechat/cityservice/services does; the
// service gets the next free service_id.
func (v *CityServiceControl) Settle(spec CityServiceSettleSpec) (*CityServiceSettledService, error) {
	s, err := v.e.Settle(spec.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(s, cityServiceSettledServiceFrom), nil
}

// Apply files an application, as POST /_sandbox/wechat/cityservice/applications does.
func (v *CityServiceControl) Apply(spec CityServiceApplicationSpec) (*CityServiceApplication, error) {
	a, err := v.e.Apply(spec.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(a, cityServiceApplicationFrom), nil
}

// Approve approves the pending application id with grant, as
// POST /_sandbox/wechat/cityservice/applications/{id}/approve does.
func (v *CityServiceControl) Approve(id string, grant CityServiceGrant) (*CityServiceApplication, error) {
	a, err := v.e.Decide(id, true, grant.decision())
	if err != nil {
		return nil, err
	}
	return convertPtr(a, cityServiceApplicationFrom), nil
}

// Reject rejects the pending application id, as
// POST /_sandbox/wechat/cityservice/applications/{id}/reject does.
func (v *CityServiceControl) Reject(id, reason string) (*CityServiceApplication, error) {
	a, err := v.e.Decide(id, false, cityservice.Decision{Reason: reason})
	if err != nil {
		return nil, err
	}
	return convertPtr(a, cityServiceApplicationFrom), nil
}

// Open simulates a user opening a page, as POST /_sandbox/wechat/cityservice/open does. It
// changes no state; the journal records the open as event "cityservice_open".
func (v *CityServiceControl) Open(spec CityServiceOpenSpec) (*CityServicePage, error) {
	p, err := v.e.Open(spec.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(p, cityServicePageFrom), nil
}

// ChooseHealthCode records a user's health-code choice, as
// POST /_sandbox/wechat/cityservice/healthcode-choice does, and returns the popup as it now
// shows.
func (v *CityServiceControl) ChooseHealthCode(choice CityServiceHealthCodeChoice) (*CityServiceHealthCodePopup, error) {
	p, err := v.e.ChooseHealthCode(choice.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(p, cityServiceHealthCodePopupFrom), nil
}
