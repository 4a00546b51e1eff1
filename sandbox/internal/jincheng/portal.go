package jincheng

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerPortalRoutes lists the vendor portal API (开放平台管理后台).
func (p *Platform) registerPortalRoutes(r endpoint.Routes) {
	r.Handle("jlbVendorLogin", p.handleLogin)                // POST /jincheng/admin/v1/login
	r.Handle("jlbDeclareApp", p.handleDeclareApp)            // POST /jincheng/admin/v1/apps
	r.Handle("jlbListApps", p.handleListApps)                // GET /jincheng/admin/v1/apps
	r.Handle("jlbGetApp", p.handleGetApp)                    // GET /jincheng/admin/v1/apps/{appId}
	r.Handle("jlbResubmitApp", p.handleResubmitApp)          // POST /jincheng/admin/v1/apps/{appId}/resubmit
	r.Handle("jlbRotateSecret", p.handleRotateSecret)        // POST /jincheng/admin/v1/apps/{appId}/rotateSecret
	r.Handle("jlbAddTester", p.handleAddTester)              // POST /jincheng/admin/v1/apps/{appId}/testers
	r.Handle("jlbListTesters", p.handleListTesters)          // GET /jincheng/admin/v1/apps/{appId}/testers
	r.Handle("jlbRemoveTester", p.handleRemoveTester)        // DELETE /jincheng/admin/v1/apps/{appId}/testers/{mobile}
	r.Handle("jlbApplySMS", p.handleApplySMS)                // POST /jincheng/admin/v1/apps/{appId}/capabilities/sms
	r.Handle("jlbCreateService", p.handleCreateService)      // POST /jincheng/admin/v1/apps/{appId}/services
	r.Handle("jlbListServices", p.handleListServices)        // GET /jincheng/admin/v1/apps/{appId}/services
	r.Handle("jlbGetService", p.handleGetService)            // GET /jincheng/admin/v1/services/{serviceCode}
	r.Handle("jlbEditService", p.handleEditService)          // PATCH /jincheng/admin/v1/services/{serviceCode}
	r.Handle("jlbSubmitListing", p.handleSubmitListing)      // POST /jincheng/admin/v1/services/{serviceCode}/submitListing
	r.Handle("jlbTakeServiceOffline", p.handleVendorOffline) // POST /jincheng/admin/v1/services/{serviceCode}/offline
}

// SessionTTL is how long a portal session lasts.
const SessionTTL = 2 * time.Hour

func (p *Platform) checkSession(c *endpoint.Call) (*Vendor, error) {
	tok, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" {
		return nil, named(codeSessionInvalid, "Authorization: Bearer <sessionToken from /jincheng/admin/v1/login> is required")
	}
	var s Session
	var v Vendor
	var found, vfound bool
	err := p.deps.Store.View(func(tx *store.Tx) error {
		var err error
		if found, err = tx.Get(keySession+tok, &s); err != nil || !found {
			return err
		}
		vfound, err = tx.Get(keyVendor+s.Account, &v)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found || !vfound {
		return nil, named(codeSessionInvalid, "unknown session token")
	}
	if !c.Now.Before(s.ExpiresAt) {
		return nil, named(codeSessionExpired, "session expired at "+s.ExpiresAt.Format(time.RFC3339))
	}
	return &v, nil
}

func (p *Platform) handleLogin(c *endpoint.Call) (any, error) {
	var req struct{ Account, Password string }
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	var v Vendor
	tok := p.deps.Rand.Token(40, seeded.Alphanumeric)
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		ok, err := tx.Get(keyVendor+req.Account, &v)
		if err != nil {
			return err
		}
		if !ok || v.Password != req.Password {
			return named(codeLoginFailed, "no vendor account "+strconvQuote(req.Account)+" with that password")
		}
		return tx.Put(keySession+tok, Session{Account: v.Account, ExpiresAt: c.Now.Add(SessionTTL)})
	})
	if err != nil {
		return nil, err
	}
	c.AppID = v.Account
	return map[string]any{"sessionToken": tok, "expiresIn": int(SessionTTL.Seconds()), "account": v.Account, "name": v.Name}, nil
}

type declaration struct {
	AppName      *string `json:"appName"`
	ContactName  *string `json:"contactName"`
	ContactPhone *string `json:"contactPhone"`
	NeedUserInfo *bool   `json:"needUserInfo"`
	UserInfoType *string `json:"userInfoType"`
}

// apply copies the declaration onto a and checks the user-info rule: a type iff user info is needed.
func (d declaration) apply(a *App) error {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&a.AppName, d.AppName)
	set(&a.ContactName, d.ContactName)
	set(&a.ContactPhone, d.ContactPhone)
	if d.NeedUserInfo != nil {
		a.NeedUserInfo = *d.NeedUserInfo
		if !a.NeedUserInfo && d.UserInfoType == nil {
			a.UserInfoType = ""
		}
	}
	set(&a.UserInfoType, d.UserInfoType)
	switch {
	case a.NeedUserInfo && a.UserInfoType == "":
		return named(codeUserInfoType, "needUserInfo is true: userInfoType (BASIC 基本信息, IDENTITY 身份信息 or REALNAME 实名认证信息) is required")
	case !a.NeedUserInfo && a.UserInfoType != "":
		return named(codeUserInfoType, "needUserInfo is false: leave userInfoType out")
	}
	return nil
}

func (p *Platform) handleDeclareApp(c *endpoint.Call) (any, error) {
	v := c.Principal.(*Vendor)
	var d declaration
	if err := c.Bind(&d); err != nil {
		return nil, err
	}
	a := &App{Vendor: v.Account, Status: AppPending, DeclaredAt: c.Now}
	if err := d.apply(a); err != nil {
		return nil, err
	}
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		n, err := next(tx, "app")
		if err != nil {
			return err
		}
		a.AppID = "APP" + pad(n, 8)
		return putApp(tx, a)
	})
	if err != nil {
		return nil, err
	}
	return a.View(), nil
}

// vendorApp loads an app the vendor owns; another vendor's app is "not found".
func vendorApp(tx *store.Tx, v *Vendor, appID string) (*App, error) {
	a, err := getApp(tx, appID)
	if err != nil {
		return nil, err
	}
	if a == nil || a.Vendor != v.Account {
		return nil, errNotFound("no application " + appID + " of vendor " + v.Account)
	}
	return a, nil
}

// vendorService loads a service of an app the vendor owns.
func vendorService(tx *store.Tx, v *Vendor, code string) (*Service, *App, error) {
	s, err := getService(tx, code)
	if err != nil {
		return nil, nil, err
	}
	if s == nil {
		return nil, nil, errNotFound("no service " + code)
	}
	a, err := getApp(tx, s.AppID)
	if err != nil {
		return nil, nil, err
	}
	if a == nil || a.Vendor != v.Account {
		return nil, nil, errNotFound("no service " + code + " of vendor " + v.Account)
	}
	return s, a, nil
}

func (p *Platform) handleListApps(c *endpoint.Call) (any, error) {
	v := c.Principal.(*Vendor)
	items := []AppView{}
	err := p.deps.Store.View(func(tx *store.Tx) error {
		return store.Each(tx, keyApp, func(_ string, a *App) error {
			if a.Vendor == v.Account {
				items = append(items, a.View())
			}
			return nil
		})
	})
	return map[string]any{"items": items}, err
}

func (p *Platform) handleGetApp(c *endpoint.Call) (any, error) {
	var a *App
	err := p.deps.Store.View(func(tx *store.Tx) error {
		var err error
		a, err = vendorApp(tx, c.Principal.(*Vendor), c.Param("appId"))
		return err
	})
	if err != nil {
		return nil, err
	}
	return a.View(), nil
}

func (p *Platform) handleResubmitApp(c *endpoint.Call) (any, error) {
	var d declaration
	if err := c.Bind(&d); err != nil {
		return nil, err
	}
	a, err := p.changeVendorApp(c, func(tx *store.Tx, a *App) error {
		if a.Status != AppRejected {
			return named(codeAdminState, "only a REJECTED application may be resubmitted; "+a.AppID+" is "+a.Status)
		}
		if err := d.apply(a); err != nil {
			return err
		}
		a.Status, a.RejectReason, a.ReviewedAt = AppPending, "", nil
		a.DeclaredAt = c.Now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a.View(), nil
}

// SecretGrace is how long the previous appSecret keeps signing after a rotation (invented).
const SecretGrace = 10 * time.Minute

// handleRotateSecret issues a new appSecret, shown in this answer only; the old one signs for
// ten more minutes so that a deployment can roll over.
func (p *Platform) handleRotateSecret(c *endpoint.Call) (any, error) {
	secret := p.deps.Rand.Token(43, seeded.Alphanumeric+"-_")
	a, err := p.changeVendorApp(c, func(tx *store.Tx, a *App) error {
		if a.Status != AppApproved {
			return named(codeAdminState, "only an APPROVED application has a secret to rotate; "+a.AppID+" is "+a.Status)
		}
		until := c.Now.Add(SecretGrace)
		a.PreviousSecret, a.PreviousUntil, a.AppSecret = a.AppSecret, &until, secret
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"appId": a.AppID, "appCode": a.AppCode, "appSecret": a.AppSecret, "previousSecretValidUntil": a.PreviousUntil}, nil
}

// testersView lists an app's testers with the citizens behind them.
func testersView(tx *store.Tx, a *App) (map[string]any, error) {
	items := []map[string]string{}
	for _, m := range a.Testers {
		id, _, err := tx.GetRaw(keyMobile + m)
		if err != nil {
			return nil, err
		}
		items = append(items, map[string]string{"mobile": m, "userid": id})
	}
	return map[string]any{"appId": a.AppID, "items": items}, nil
}

func (p *Platform) handleAddTester(c *endpoint.Call) (any, error) {
	var req struct{ Mobile string }
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	// A persona is drawn before the transaction (the faker must not run inside one) and used
	// only if no citizen has the number yet.
	fresh := p.newCitizen(req.Mobile, "")
	var out map[string]any
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		a, err := vendorApp(tx, c.Principal.(*Vendor), c.Param("appId"))
		if err != nil {
			return err
		}
		if slices.Contains(a.Testers, req.Mobile) {
			return named(codeTesterExists, req.Mobile+" is already a tester of "+a.AppID)
		}
		if err := p.addTester(tx, a, req.Mobile, fresh); err != nil {
			return err
		}
		out, err = testersView(tx, a)
		return err
	})
	return out, err
}

// addTester registers mobile as a tester of a, creating the citizen fresh for it if the number
// is new to the platform (the manual: the platform initialises data for the vendor's testers).
func (p *Platform) addTester(tx *store.Tx, a *App, mobile string, fresh *Citizen) error {
	cz, err := findCitizen(tx, mobile)
	if err != nil {
		return err
	}
	if cz == nil {
		if fresh == nil {
			fresh = p.newCitizen(mobile, "")
		}
		cz = fresh
		if err := p.addCitizen(tx, cz); err != nil {
			return err
		}
	}
	if !slices.Contains(cz.TesterOf, a.AppID) {
		cz.TesterOf = append(cz.TesterOf, a.AppID)
	}
	a.Testers = append(a.Testers, mobile)
	if err := tx.Put(keyCitizen+cz.UserID, cz); err != nil {
		return err
	}
	return putApp(tx, a)
}

func (p *Platform) handleListTesters(c *endpoint.Call) (any, error) {
	var out map[string]any
	err := p.deps.Store.View(func(tx *store.Tx) error {
		a, err := vendorApp(tx, c.Principal.(*Vendor), c.Param("appId"))
		if err != nil {
			return err
		}
		out, err = testersView(tx, a)
		return err
	})
	return out, err
}

func (p *Platform) handleRemoveTester(c *endpoint.Call) (any, error) {
	mobile := c.Param("mobile")
	var out map[string]any
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		a, err := vendorApp(tx, c.Principal.(*Vendor), c.Param("appId"))
		if err != nil {
			return err
		}
		i := slices.Index(a.Testers, mobile)
		if i < 0 {
			return errNotFound(mobile + " is not a tester of " + a.AppID)
		}
		a.Testers = slices.Delete(a.Testers, i, i+1)
		if cz, err := findCitizen(tx, mobile); err != nil {
			return err
		} else if cz != nil {
			cz.TesterOf = slices.DeleteFunc(cz.TesterOf, func(id string) bool { return id == a.AppID })
			if err := tx.Put(keyCitizen+cz.UserID, cz); err != nil {
				return err
			}
		}
		if err := putApp(tx, a); err != nil {
			return err
		}
		out, err = testersView(tx, a)
		return err
	})
	return out, err
}

func (p *Platform) handleApplySMS(c *endpoint.Call) (any, error) {
	var req struct {
		Purpose   string        `json:"purpose"`
		Templates []SMSTemplate `json:"templates"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	a, err := p.changeVendorApp(c, func(tx *store.Tx, a *App) error {
		if a.Status != AppApproved {
			return named(codeAdminState, "the SMS capability needs an APPROVED application; "+a.AppID+" is "+a.Status)
		}
		if a.SMS != nil && a.SMS.Status != AppRejected {
			return named(codeAdminState, "an SMS application of "+a.AppID+" is already "+a.SMS.Status)
		}
		tpls := make([]SMSTemplate, len(req.Templates))
		for i, t := range req.Templates {
			tpls[i] = SMSTemplate{Content: t.Content}
		}
		a.SMS = &SMSCapability{Status: AppPending, Purpose: req.Purpose, Templates: tpls}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a.View(), nil
}

var callbackCodePattern = regexp.MustCompile(`^[A-Z]{2,16}$`)

// checkChannelURL applies the manual's rule: production channel URLs are https. A test URL may
// also be http on a loopback host, so that an integrator can develop on their own machine.
func checkChannelURL(field, raw string, test bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return named(codeInvalidParameter, field+" "+strconvQuote(raw)+" is not an absolute http(s) URL")
	}
	if u.Scheme == "https" {
		return nil
	}
	if test && isLoopback(u.Hostname()) {
		return nil
	}
	if test {
		return named(codeURLNotHTTPS, field+" must be https (http is accepted on a loopback host only): "+raw)
	}
	return named(codeURLNotHTTPS, field+" must be https: "+raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type serviceFields struct {
	ServiceName        *string   `json:"serviceName"`
	AccessMode         *string   `json:"accessMode"`
	ServiceType        *string   `json:"serviceType"`
	ModuleCallbackCode *string   `json:"module_callback_code"`
	LogoURL            *string   `json:"logoUrl"`
	TestURL            *string   `json:"testUrl"`
	ProdURL            *string   `json:"prodUrl"`
	Description        *string   `json:"description"`
	Tags               *[]string `json:"tags"`
}

// apply copies the fields onto s, checking the callback code (form and uniqueness in the app)
// and the channel URLs.
func (f serviceFields) apply(s *Service, siblings []*Service) error {
	if f.ModuleCallbackCode != nil {
		code := *f.ModuleCallbackCode
		if !callbackCodePattern.MatchString(code) {
			return named(codeCallbackCode, "module_callback_code "+strconvQuote(code)+" must be the service name's pinyin initials in capitals, 2 to 16 of A-Z (公积金提取 → GJJTQ)")
		}
		for _, o := range siblings {
			if o.ServiceCode != s.ServiceCode && o.ModuleCallbackCode == code {
				return named(codeCallbackCode, "module_callback_code "+code+" is already used by "+o.ServiceCode+" in this app")
			}
		}
		s.ModuleCallbackCode = code
	}
	if f.TestURL != nil {
		if err := checkChannelURL("testUrl", *f.TestURL, true); err != nil {
			return err
		}
		s.TestURL = *f.TestURL
	}
	if f.ProdURL != nil {
		if err := checkChannelURL("prodUrl", *f.ProdURL, false); err != nil {
			return err
		}
		s.ProdURL = *f.ProdURL
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&s.ServiceName, f.ServiceName)
	set(&s.AccessMode, f.AccessMode)
	set(&s.ServiceType, f.ServiceType)
	set(&s.LogoURL, f.LogoURL)
	set(&s.Description, f.Description)
	if f.Tags != nil {
		s.Tags = *f.Tags
	}
	s.ServiceTypeLabel = typeLabels[s.ServiceType]
	return nil
}

func (p *Platform) handleCreateService(c *endpoint.Call) (any, error) {
	var f serviceFields
	if err := c.Bind(&f); err != nil {
		return nil, err
	}
	var s *Service
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		a, err := vendorApp(tx, c.Principal.(*Vendor), c.Param("appId"))
		if err != nil {
			return err
		}
		if a.Status != AppApproved {
			return named(codeAdminState, "services can be added only to an APPROVED application; "+a.AppID+" is "+a.Status)
		}
		siblings, err := p.servicesOf(tx, a.AppID)
		if err != nil {
			return err
		}
		s = &Service{AppID: a.AppID, CreatedAt: c.Now}
		s.setStatus(StatusTesting, c.Now)
		s.UpdatedAt = nil
		if err := f.apply(s, siblings); err != nil {
			return err
		}
		n, err := next(tx, "service")
		if err != nil {
			return err
		}
		s.ServiceCode = "S" + pad(10000000+n, 8)
		s.Modulecode = "M" + p.deps.Rand.Token(12, seeded.Hex)
		if err := tx.PutRaw(keyModule+s.Modulecode, s.ServiceCode); err != nil {
			return err
		}
		return putService(tx, s)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (p *Platform) handleListServices(c *endpoint.Call) (any, error) {
	var items []*Service
	err := p.deps.Store.View(func(tx *store.Tx) error {
		a, err := vendorApp(tx, c.Principal.(*Vendor), c.Param("appId"))
		if err != nil {
			return err
		}
		items, err = p.servicesOf(tx, a.AppID)
		return err
	})
	if items == nil {
		items = []*Service{}
	}
	return map[string]any{"items": items}, err
}

func (p *Platform) handleGetService(c *endpoint.Call) (any, error) {
	var s *Service
	err := p.deps.Store.View(func(tx *store.Tx) error {
		var err error
		s, _, err = vendorService(tx, c.Principal.(*Vendor), c.Param("serviceCode"))
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (p *Platform) handleEditService(c *endpoint.Call) (any, error) {
	var f serviceFields
	if err := c.Bind(&f); err != nil {
		return nil, err
	}
	var s *Service
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		var a *App
		var err error
		if s, a, err = vendorService(tx, c.Principal.(*Vendor), c.Param("serviceCode")); err != nil {
			return err
		}
		if s.Status != StatusTesting && s.Status != StatusRejected {
			return named(codeAdminState, "a service can be edited only while TESTING or REJECTED; "+s.ServiceCode+" is "+s.Status)
		}
		siblings, err := p.servicesOf(tx, a.AppID)
		if err != nil {
			return err
		}
		if err := f.apply(s, siblings); err != nil {
			return err
		}
		s.RejectReason = ""
		s.setStatus(StatusTesting, c.Now) // an edit of a REJECTED service takes it back to testing
		return putService(tx, s)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Report form fields of a listing application.
const (
	partFunctional = "functionalTestReport"
	partSecurity   = "securityTestReport"
)

// parseListingForm reads the multipart listing application: the two report files and prodUrl.
func parseListingForm(contentType string, body []byte) (map[string]*Report, string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, "", named(codeInvalidParameter, "the listing application is multipart/form-data with the parts "+partFunctional+" and "+partSecurity)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	reports := map[string]*Report{}
	prodURL := ""
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", named(codeInvalidParameter, "malformed multipart body: "+err.Error())
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, "", named(codeInvalidParameter, "malformed multipart body: "+err.Error())
		}
		switch name := part.FormName(); name {
		case partFunctional, partSecurity:
			if part.FileName() == "" {
				return nil, "", named(codeInvalidParameter, name+" must be a file part (with a filename)")
			}
			sum := sha256.Sum256(data)
			reports[name] = &Report{FileName: part.FileName(), Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
		case "prodUrl":
			prodURL = strings.TrimSpace(string(data))
		default:
			return nil, "", named(codeInvalidParameter, "unexpected form part "+strconvQuote(name))
		}
	}
	return reports, prodURL, nil
}

func (p *Platform) handleSubmitListing(c *endpoint.Call) (any, error) {
	reports, prodURL, err := parseListingForm(c.Request().Header.Get("Content-Type"), c.Body)
	if err != nil {
		return nil, err
	}
	var s *Service
	err = p.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		if s, _, err = vendorService(tx, c.Principal.(*Vendor), c.Param("serviceCode")); err != nil {
			return err
		}
		if s.Status != StatusTesting {
			return named(codeAdminState, "a listing can be applied for only from TESTING (测试中); "+s.ServiceCode+" is "+s.Status)
		}
		for _, part := range []string{partFunctional, partSecurity} {
			if reports[part] == nil {
				return named(codeReportsMissing, "the part "+part+" is missing (an empty file is accepted while testing)")
			}
		}
		if prodURL != "" {
			if err := checkChannelURL("prodUrl", prodURL, false); err != nil {
				return err
			}
			s.ProdURL = prodURL
		}
		if s.ProdURL == "" {
			return named(codeURLNotHTTPS, "the service has no production URL; give an https prodUrl")
		}
		s.Reports = reports
		s.setStatus(StatusReviewing, c.Now)
		return putService(tx, s)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (p *Platform) handleVendorOffline(c *endpoint.Call) (any, error) {
	var s *Service
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		if s, _, err = vendorService(tx, c.Principal.(*Vendor), c.Param("serviceCode")); err != nil {
			return err
		}
		return transition(tx, s, StatusOnline, StatusOffline, "", c.Now)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// transition moves s from one state to another, refusing with ADMIN-STATE from any other state.
func transition(tx *store.Tx, s *Service, from, to, reason string, now time.Time) error {
	if s.Status != from {
		return named(codeAdminState, "service "+s.ServiceCode+" is "+s.Status+"; only a "+from+" service can become "+to)
	}
	s.setStatus(to, now)
	s.RejectReason = reason
	return putService(tx, s)
}
