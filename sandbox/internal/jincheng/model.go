package jincheng

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// Store keys. Every key starts with "jincheng:" so a platform reset finds them all.
const (
	keyVendor   = "jincheng:vendor:"   // + account → Vendor
	keySession  = "jincheng:session:"  // + token → Session
	keyApp      = "jincheng:app:"      // + appId → App
	keyAppCode  = "jincheng:appcode:"  // + appCode → appId
	keyService  = "jincheng:service:"  // + serviceCode → Service
	keyModule   = "jincheng:module:"   // + modulecode → serviceCode
	keyCitizen  = "jincheng:citizen:"  // + userid → Citizen
	keyMobile   = "jincheng:mobile:"   // + mobile → userid
	keyTicket   = "jincheng:ticket:"   // + ticket → Ticket
	keyToken    = "jincheng:token:"    // + token → Token
	keyNonce    = "jincheng:nonce:"    // + appCode:nonce → nonceRecord
	keyBinding  = "jincheng:binding:"  // + appCode:userid → first sign-in time
	keySMS      = "jincheng:sms:"      // + msgId → SMS
	keyMessage  = "jincheng:message:"  // + msgId → Message
	keyTodo     = "jincheng:todo:"     // + taskUuid → Todo
	keyBizID    = "jincheng:bizid:"    // + appCode:kind:bizId → id
	keyTitle    = "jincheng:title:"    // + zero-padded seq → TitleCheck
	keySequence = "jincheng:sequence:" // + name → last number issued
)

// Environments.
const (
	EnvTest = "test"
	EnvProd = "prod"
)

// Application states.
const (
	AppPending  = "PENDING"
	AppApproved = "APPROVED"
	AppRejected = "REJECTED"
)

// Service states (only 测试中 is named in the manual).
const (
	StatusTesting   = "TESTING"
	StatusReviewing = "REVIEWING"
	StatusOnline    = "ONLINE"
	StatusRejected  = "REJECTED"
	StatusOffline   = "OFFLINE"
)

// User-info types an application declares.
const (
	InfoBasic    = "BASIC"
	InfoIdentity = "IDENTITY"
	InfoRealName = "REALNAME"
)

var (
	appStatusLabels = map[string]string{AppPending: "待审核", AppApproved: "审核通过", AppRejected: "审核不通过"}
	statusLabels    = map[string]string{StatusTesting: "测试中", StatusReviewing: "审核中", StatusOnline: "已上架", StatusRejected: "已驳回", StatusOffline: "已下架"}
	infoLabels      = map[string]string{InfoBasic: "基本信息", InfoIdentity: "身份信息", InfoRealName: "实名认证信息"}
	typeLabels      = map[string]string{"HANDLE": "办理", "QUERY": "查询"}
)

// Vendor is an integrator's portal account, issued by the platform.
type Vendor struct {
	Account  string    `json:"account" yaml:"account"`
	Password string    `json:"password" yaml:"password"`
	Name     string    `json:"name" yaml:"name"`
	Created  time.Time `json:"createdAt" yaml:"-"`
}

// Session is a logged-in portal session.
type Session struct {
	Account   string    `json:"account"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// ForgetAt implements store.Forgettable: ExpiredMemory after the session expired.
func (s Session) ForgetAt() time.Time { return s.ExpiresAt.Add(ExpiredMemory) }

// SMSTemplate is one SMS template of an application.
type SMSTemplate struct {
	TemplateCode string `json:"templateCode,omitempty" yaml:"templateCode"`
	Content      string `json:"content" yaml:"content"`
}

// SMSCapability is an application's SMS application and its outcome.
type SMSCapability struct {
	Status       string        `json:"status" yaml:"status"`
	Purpose      string        `json:"purpose" yaml:"purpose"`
	RejectReason string        `json:"rejectReason,omitempty" yaml:"-"`
	Templates    []SMSTemplate `json:"templates" yaml:"templates"`
}

// App is a declared application.
type App struct {
	AppID        string     `json:"appId"`
	Vendor       string     `json:"vendor"`
	AppName      string     `json:"appName"`
	ContactName  string     `json:"contactName"`
	ContactPhone string     `json:"contactPhone"`
	NeedUserInfo bool       `json:"needUserInfo"`
	UserInfoType string     `json:"userInfoType"`
	Status       string     `json:"status"`
	DeclaredAt   time.Time  `json:"declaredAt"`
	ReviewedAt   *time.Time `json:"reviewedAt,omitempty"`
	RejectReason string     `json:"rejectReason,omitempty"`
	AppCode      string     `json:"appCode,omitempty"`
	AppSecret    string     `json:"appSecret,omitempty"`
	// PreviousSecret still signs until PreviousUntil, after a rotation.
	PreviousSecret string         `json:"previousSecret,omitempty"`
	PreviousUntil  *time.Time     `json:"previousUntil,omitempty"`
	Testers        []string       `json:"testers,omitempty"`
	SMS            *SMSCapability `json:"sms,omitempty"`
}

// AppView is an application as the portal shows it: never the secret.
type AppView struct {
	AppID             string         `json:"appId"`
	AppName           string         `json:"appName"`
	ContactName       string         `json:"contactName"`
	ContactPhone      string         `json:"contactPhone"`
	NeedUserInfo      bool           `json:"needUserInfo"`
	UserInfoType      string         `json:"userInfoType"`
	UserInfoTypeLabel string         `json:"userInfoTypeLabel"`
	Status            string         `json:"status"`
	StatusLabel       string         `json:"statusLabel"`
	DeclaredAt        time.Time      `json:"declaredAt"`
	ReviewedAt        *time.Time     `json:"reviewedAt,omitempty"`
	RejectReason      string         `json:"rejectReason,omitempty"`
	AppCode           string         `json:"appCode,omitempty"`
	SMS               *SMSCapability `json:"sms,omitempty"`
}

// View returns the app without its secret.
func (a *App) View() AppView {
	return AppView{
		AppID: a.AppID, AppName: a.AppName, ContactName: a.ContactName, ContactPhone: a.ContactPhone,
		NeedUserInfo: a.NeedUserInfo, UserInfoType: a.UserInfoType, UserInfoTypeLabel: infoLabels[a.UserInfoType],
		Status: a.Status, StatusLabel: appStatusLabels[a.Status], DeclaredAt: a.DeclaredAt, ReviewedAt: a.ReviewedAt,
		RejectReason: a.RejectReason, AppCode: a.AppCode, SMS: a.SMS,
	}
}

// Report is what the sandbox keeps of an uploaded test report: its name, size and digest.
type Report struct {
	FileName string `json:"fileName"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// Service is a service (服务) of an application.
type Service struct {
	ServiceCode        string             `json:"serviceCode"`
	Modulecode         string             `json:"modulecode"`
	AppID              string             `json:"appId"`
	ServiceName        string             `json:"serviceName"`
	AccessMode         string             `json:"accessMode"`
	ServiceType        string             `json:"serviceType"`
	ServiceTypeLabel   string             `json:"serviceTypeLabel"`
	ModuleCallbackCode string             `json:"module_callback_code"`
	LogoURL            string             `json:"logoUrl,omitempty"`
	TestURL            string             `json:"testUrl"`
	ProdURL            string             `json:"prodUrl,omitempty"`
	Description        string             `json:"description,omitempty"`
	Tags               []string           `json:"tags,omitempty"`
	Status             string             `json:"status"`
	StatusLabel        string             `json:"statusLabel"`
	RejectReason       string             `json:"rejectReason,omitempty"`
	CreatedAt          time.Time          `json:"createdAt"`
	UpdatedAt          *time.Time         `json:"updatedAt,omitempty"`
	Reports            map[string]*Report `json:"reports,omitempty"`
}

func (s *Service) setStatus(status string, now time.Time) {
	s.Status, s.StatusLabel = status, statusLabels[status]
	s.UpdatedAt = &now
}

// Citizen is a synthetic resident of Jincheng (a persona).
type Citizen struct {
	UserID   string   `json:"userid"`
	Name     string   `json:"name"`
	Mobile   string   `json:"mobile"`
	IDNum    string   `json:"idnum"`
	Gender   string   `json:"gender"`
	Birthday string   `json:"birthday"`
	TesterOf []string `json:"testerOf,omitempty"`
}

// Ticket is a single-use SSO ticket.
type Ticket struct {
	Ticket      string    `json:"ticket"`
	AppCode     string    `json:"appCode"`
	ServiceCode string    `json:"serviceCode"`
	Env         string    `json:"env"`
	UserID      string    `json:"userid"`
	IssuedAt    time.Time `json:"issuedAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	UsedAt      time.Time `json:"usedAt,omitzero"`
}

// ForgetAt implements store.Forgettable: ExpiredMemory after the ticket expired, used or not.
func (t Ticket) ForgetAt() time.Time { return t.ExpiresAt.Add(ExpiredMemory) }

// Token is an SSO token, obtained with a ticket.
type Token struct {
	Token       string    `json:"token"`
	AppCode     string    `json:"appCode"`
	ServiceCode string    `json:"serviceCode"`
	Env         string    `json:"env"`
	UserID      string    `json:"userid"`
	IssuedAt    time.Time `json:"issuedAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	// Uses counts getUserInfo calls; LateUses those made more than LateUse after issue, a sign
	// that the integrator keeps tokens instead of fetching user info at once (manual §7.3).
	Uses       int       `json:"uses"`
	LateUses   int       `json:"lateUses"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
}

// ForgetAt implements store.Forgettable: ExpiredMemory after the token expired.
func (t Token) ForgetAt() time.Time { return t.ExpiresAt.Add(ExpiredMemory) }

// TitleCheck records whether a page the app opened carried the listed service name as its title.
type TitleCheck struct {
	ServiceCode string    `json:"serviceCode"`
	ServiceName string    `json:"serviceName"`
	Title       string    `json:"title"`
	Match       bool      `json:"match"`
	Env         string    `json:"env"`
	Persona     string    `json:"persona"`
	PageURL     string    `json:"pageUrl,omitempty"`
	At          time.Time `json:"at"`
}

// ForgetAt implements store.Forgettable: TitleCheckRetention after the page was opened.
func (tc TitleCheck) ForgetAt() time.Time { return tc.At.Add(TitleCheckRetention) }

// next issues the next number of a named sequence.
func next(tx *store.Tx, name string) (int, error) {
	raw, _, err := tx.GetRaw(keySequence + name)
	if err != nil {
		return 0, err
	}
	n := 0
	if raw != "" {
		if n, err = strconv.Atoi(raw); err != nil {
			return 0, fmt.Errorf("jincheng: sequence %s: %w", name, err)
		}
	}
	n++
	return n, tx.PutRaw(keySequence+name, strconv.Itoa(n))
}

func getApp(tx *store.Tx, appID string) (*App, error) {
	return store.Get[App](tx, keyApp+appID)
}

func appByCode(tx *store.Tx, appCode string) (*App, error) {
	id, ok, err := tx.GetRaw(keyAppCode + appCode)
	if err != nil || !ok {
		return nil, err
	}
	return getApp(tx, id)
}

func getService(tx *store.Tx, code string) (*Service, error) {
	return store.Get[Service](tx, keyService+code)
}

func serviceByModule(tx *store.Tx, modulecode string) (*Service, error) {
	code, ok, err := tx.GetRaw(keyModule + modulecode)
	if err != nil || !ok {
		return nil, err
	}
	return getService(tx, code)
}

func (p *Platform) servicesOf(tx *store.Tx, appID string) ([]*Service, error) {
	var out []*Service
	err := store.Each(tx, keyService, func(_ string, s *Service) error {
		if s.AppID == appID {
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

func getCitizen(tx *store.Tx, userid string) (*Citizen, error) {
	return store.Get[Citizen](tx, keyCitizen+userid)
}

// findCitizen resolves a persona given as a userid or a mobile number.
func findCitizen(tx *store.Tx, persona string) (*Citizen, error) {
	persona = strings.TrimSpace(persona)
	if c, err := getCitizen(tx, persona); c != nil || err != nil {
		return c, err
	}
	id, ok, err := tx.GetRaw(keyMobile + persona)
	if err != nil || !ok {
		return nil, err
	}
	return getCitizen(tx, id)
}

func putApp(tx *store.Tx, a *App) error { return tx.Put(keyApp+a.AppID, a) }

// changeApp finds an application and changes it in one transaction, storing it only when change
// succeeds: the shape of every portal and operator verb that moves an application on.
func changeApp(st *store.Store, find func(tx *store.Tx) (*App, error), change func(tx *store.Tx, a *App) error) (*App, error) {
	var a *App
	err := st.Update(func(tx *store.Tx) error {
		var err error
		if a, err = find(tx); err != nil {
			return err
		}
		if err := change(tx, a); err != nil {
			return err
		}
		return putApp(tx, a)
	})
	return a, err
}

// changeOperatorApp is changeApp for the application an operator verb names.
func (p *Platform) changeOperatorApp(c *endpoint.Call, change func(tx *store.Tx, a *App) error) (*App, error) {
	return changeApp(p.deps.Store, func(tx *store.Tx) (*App, error) { return operatorApp(tx, c.Param("appId")) }, change)
}

// changeVendorApp is changeApp for the calling vendor's own application named in the path.
func (p *Platform) changeVendorApp(c *endpoint.Call, change func(tx *store.Tx, a *App) error) (*App, error) {
	return changeApp(p.deps.Store, func(tx *store.Tx) (*App, error) {
		return vendorApp(tx, c.Principal.(*Vendor), c.Param("appId"))
	}, change)
}

func putService(tx *store.Tx, s *Service) error { return tx.Put(keyService+s.ServiceCode, s) }
