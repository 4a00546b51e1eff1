package cityservice

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// Application states.
const (
	csPending  = "pending"
	csApproved = "approved"
	csRejected = "rejected"
)

// Application is an application for the interconnection capability: the e-mail of the
// upstream process, as data.
type Application struct {
	ID                 string     `json:"id"`
	AppID              string     `json:"appid"`
	SubjectName        string     `json:"subject_name"`
	JumpScenes         []int      `json:"jump_scenes"`
	PageTypes          []int      `json:"page_types"`
	ContactUnit        string     `json:"contact_unit"`
	ContactPerson      string     `json:"contact_person"`
	ContactPhone       string     `json:"contact_phone"`
	ContactWeChat      string     `json:"contact_wechat"`
	EmailTitle         string     `json:"email_title"`
	Status             string     `json:"status"`
	GrantedPageTypes   []int      `json:"granted_page_types,omitempty"`
	GrantedSrcChannels []int      `json:"granted_src_channels,omitempty"`
	BusinessType       string     `json:"business_type,omitempty"`
	RejectReason       string     `json:"reject_reason,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	DecidedAt          *time.Time `json:"decided_at,omitempty"`
}

func csApplicationKey(id string) string { return csPrefix + "application:" + id }
func csApplicationPrefix() string       { return csPrefix + "application:" }

// ApplicationSpec is what the upstream application e-mail lists: subject name,
// calling appid, jump scenes (as src_channel values), page types, contact unit, person, phone
// and WeChat id.
type ApplicationSpec struct {
	SubjectName   string `json:"subject_name"`
	AppID         string `json:"appid"`
	JumpScenes    []int  `json:"jump_scenes"`
	PageTypes     []int  `json:"page_types"`
	ContactUnit   string `json:"contact_unit"`
	ContactPerson string `json:"contact_person"`
	ContactPhone  string `json:"contact_phone"`
	ContactWeChat string `json:"contact_wechat"`
}

// handleApplyCityService files an application: POST /_sandbox/wechat/cityservice/applications.
func (e *Emulator) handleApplyCityService(c *endpoint.Call) (any, error) {
	var req ApplicationSpec
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	a, err := e.applyCityService(c.Now, req)
	if err != nil {
		return nil, err
	}
	return endpoint.Created(a), nil
}

// Apply files an application for the interconnection capability (the Go twin of
// POST /_sandbox/wechat/cityservice/applications).
func (e *Emulator) Apply(req ApplicationSpec) (*Application, error) {
	return e.applyCityService(e.deps.Clock.Now(), req)
}

func (e *Emulator) applyCityService(now time.Time, req ApplicationSpec) (*Application, error) {
	var a Application
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		meta, err := csLoadMeta(tx)
		if err != nil {
			return err
		}
		if meta == nil {
			return csCtlErr(apierr.NotFound, "no_world", "no City Service world is loaded")
		}
		app, err := wechat.GetApp(tx, req.AppID)
		if err != nil {
			return err
		}
		if app == nil {
			return csCtlErr(apierr.NotFound, "app_not_found", "no app %s", req.AppID)
		}
		owned, err := csServices(tx, func(s *Service) bool { return s.OwnerAppID == app.AppID && s.Homepage != nil })
		if err != nil {
			return err
		}
		if len(owned) == 0 {
			return csCtlErr(apierr.Forbidden, "not_eligible", "%s has not settled a City Service service with a homepage (settle one with POST /_sandbox/wechat/cityservice/services)", app.AppID)
		}
		var open *Application
		if open, err = e.csOpenApplication(tx, app.AppID); err != nil {
			return err
		}
		if open != nil {
			return csCtlErr(apierr.Conflict, "application_exists", "%s already has application %s (%s)", app.AppID, open.ID, open.Status)
		}
		a = Application{
			ID: fmt.Sprintf("csa%06d", meta.NextApplication), AppID: app.AppID, SubjectName: strings.TrimSpace(req.SubjectName),
			JumpScenes: sortedUnique(req.JumpScenes), PageTypes: sortedUnique(req.PageTypes),
			ContactUnit: req.ContactUnit, ContactPerson: req.ContactPerson, ContactPhone: req.ContactPhone, ContactWeChat: req.ContactWeChat,
			Status: csPending, CreatedAt: now,
		}
		a.EmailTitle = "【城市服务开放互联能力申请+" + a.SubjectName + "+" + a.AppID + "】"
		meta.NextApplication++
		if err := tx.Put(csMetaKey(), meta); err != nil {
			return err
		}
		return tx.Put(csApplicationKey(a.ID), &a)
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// csOpenApplication returns an account's pending or approved application, if any.
func (e *Emulator) csOpenApplication(tx *store.Tx, appid string) (*Application, error) {
	list, err := csApplications(tx, appid)
	for i := range list {
		if list[i].Status != csRejected {
			return &list[i], err
		}
	}
	return nil, err
}

func csApplications(tx *store.Tx, appid string) ([]Application, error) {
	out := []Application{}
	err := store.Each(tx, csApplicationPrefix(), func(_ string, a *Application) error {
		if appid == "" || a.AppID == appid {
			out = append(out, *a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func sortedUnique(in []int) []int {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// handleListCityServiceApplications lists applications: GET …/applications[?appid=&status=].
func (e *Emulator) handleListCityServiceApplications(c *endpoint.Call) (any, error) {
	var list []Application
	err := e.deps.Store.View(func(tx *store.Tx) error {
		var err error
		list, err = csApplications(tx, c.Query("appid"))
		return err
	})
	if s := c.Query("status"); s != "" {
		list = slices.DeleteFunc(list, func(a Application) bool { return a.Status != s })
	}
	return map[string]any{"applications": list}, err
}

// Decision is an operator's decision on an application. An approval grants
// PageTypes and SrcChannels (nil: everything applied for); a rejection gives a Reason.
type Decision struct {
	PageTypes   []int  `json:"page_types"`
	SrcChannels []int  `json:"src_channels"`
	Reason      string `json:"reason"`
}

func (e *Emulator) csDecide(c *endpoint.Call, approve bool) (any, error) {
	var d Decision
	if err := c.Bind(&d); err != nil {
		return nil, err
	}
	return e.decideCityService(c.Now, c.Param("id"), approve, d)
}

// Decide approves or rejects a pending application (the Go twin of
// POST /_sandbox/wechat/cityservice/applications/{id}/approve and …/reject).
func (e *Emulator) Decide(id string, approve bool, d Decision) (*Application, error) {
	return e.decideCityService(e.deps.Clock.Now(), id, approve, d)
}

// decideCityService moves a pending application to approved or rejected.
func (e *Emulator) decideCityService(now time.Time, id string, approve bool, d Decision) (*Application, error) {
	var a Application
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		ok, err := tx.Get(csApplicationKey(id), &a)
		if err != nil {
			return err
		}
		if !ok {
			return csCtlErr(apierr.NotFound, "application_not_found", "no City Service application %s", id)
		}
		if a.Status != csPending {
			return csCtlErr(apierr.Conflict, "application_decided", "application %s is already %s", a.ID, a.Status)
		}
		a.DecidedAt = &now
		if !approve {
			a.Status, a.RejectReason = csRejected, d.Reason
			return tx.Put(csApplicationKey(a.ID), &a)
		}
		pages, chans := a.PageTypes, a.JumpScenes
		if d.PageTypes != nil {
			pages = sortedUnique(d.PageTypes)
		}
		if d.SrcChannels != nil {
			chans = sortedUnique(d.SrcChannels)
		}
		for _, v := range pages {
			if !slices.Contains(a.PageTypes, v) {
				return csCtlErr(apierr.Invalid, "invalid_grant", "page type %d was not applied for (%v)", v, a.PageTypes)
			}
		}
		for _, v := range chans {
			if !slices.Contains(a.JumpScenes, v) {
				return csCtlErr(apierr.Invalid, "invalid_grant", "src_channel %d was not applied for (%v)", v, a.JumpScenes)
			}
		}
		if len(pages) == 0 || len(chans) == 0 {
			return csCtlErr(apierr.Invalid, "invalid_grant", "an approval grants at least one page type and one src_channel")
		}
		a.Status, a.GrantedPageTypes, a.GrantedSrcChannels = csApproved, pages, chans
		a.BusinessType = csBusinessType(a.AppID)
		g := csGrant{AppID: a.AppID, ApplicationID: a.ID, PageTypes: pages, SrcChannels: chans, BusinessType: a.BusinessType, GrantedAt: now}
		if err := tx.Put(csGrantKey(a.AppID), &g); err != nil {
			return err
		}
		return tx.Put(csApplicationKey(a.ID), &a)
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// handleApproveCityServiceApplication is the operator's approval: POST …/applications/{id}/approve.
func (e *Emulator) handleApproveCityServiceApplication(c *endpoint.Call) (any, error) {
	return e.csDecide(c, true)
}

// handleRejectCityServiceApplication is the operator's refusal: POST …/applications/{id}/reject.
func (e *Emulator) handleRejectCityServiceApplication(c *endpoint.Call) (any, error) {
	return e.csDecide(c, false)
}
