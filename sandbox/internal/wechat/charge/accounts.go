package charge

// A Mini Program's standing with the paid capabilities: whether the phone-number components are
// free for it (exempt subjects and categories), whether it may use them at all, and its packs
// as the MP console's 我的用量 shows them.

import (
	"slices"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// Exemption settings: derived from subject and category, or set either way.
const (
	ExemptionAuto    = "auto"
	ExemptionExempt  = "exempt"
	ExemptionCharged = "charged"
)

// Subjects the charge rules tell apart: the core's subject types plus the two kinds of "other"
// organisation that the exemption rules name.
var subjects = []string{"enterprise", "government", "media", "other", "personal", "nonprofit", "public_institution"}

// Categories (服务类目) that make the phone-number components free.
const (
	CategoryGovernmentService = "政务民生" // free for a public institution (事业单位)
	CategoryPublicHospital    = "公立医疗机构"
	CategorySchool            = "学历教育"
)

// settings is what the charge family keeps about a Mini Program beyond the core's account.
type settings struct {
	// Subject refines the app's subject_type ("" means the app's own).
	Subject   string `json:"subject,omitempty"`
	Category  string `json:"category,omitempty"`
	Exemption string `json:"exemption,omitempty"`
}

func loadSettings(tx *store.Tx, appid string) (*settings, error) {
	s := &settings{}
	if _, err := tx.Get(accountKey(appid), s); err != nil {
		return nil, err
	}
	return s, nil
}

// standing is what the rules decide for a Mini Program.
type standing struct {
	Subject      string
	Exempt       bool
	ExemptReason string
	// Eligible tells whether the phone-number components may be used: verified, not personal.
	Eligible bool
}

func standingOf(app *wechat.App, s *settings) standing {
	st := standing{Subject: cmpOr(s.Subject, app.SubjectType)}
	st.Eligible = app.Verified && st.Subject != "personal"
	switch {
	case s.Exemption == ExemptionExempt:
		st.Exempt, st.ExemptReason = true, "set exempt"
	case s.Exemption == ExemptionCharged:
	case st.Subject == "government":
		st.Exempt, st.ExemptReason = true, "government subject (政府)"
	case st.Subject == "nonprofit":
		st.Exempt, st.ExemptReason = true, "non-profit subject (非营利组织)"
	case st.Subject == "public_institution" && s.Category == CategoryGovernmentService:
		st.Exempt, st.ExemptReason = true, "public institution (事业单位) in category 政务民生"
	case s.Category == CategoryPublicHospital:
		st.Exempt, st.ExemptReason = true, "category 公立医疗机构"
	case s.Category == CategorySchool:
		st.Exempt, st.ExemptReason = true, "category 学历教育"
	}
	return st
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Account is a Mini Program's paid capabilities as the control plane shows them.
type Account struct {
	AppID    string `json:"appid"`
	Subject  string `json:"subject"`
	Category string `json:"category"`
	// Exemption is the setting (auto, exempt, charged); Exempt and ExemptReason what it gives.
	Exemption    string `json:"exemption"`
	Exempt       bool   `json:"exempt"`
	ExemptReason string `json:"exempt_reason,omitempty"`
	// Eligible tells whether the phone-number components may be used at all.
	Eligible bool           `json:"eligible"`
	Products []ProductUsage `json:"products"`
}

// ProductUsage is one product's packs and the totals in effect.
type ProductUsage struct {
	SpuID   int64  `json:"spu_id"`
	SpuName string `json:"spu_name"`
	Unit    string `json:"unit"`
	// All, Used and Left sum the packs in effect (status 1).
	All  int64 `json:"all"`
	Used int64 `json:"used"`
	Left int64 `json:"left"`
	// QuotaWarnings are the quota warnings sent and not re-armed since.
	QuotaWarnings []QuotaWarning `json:"quota_warnings"`
	Packs         []PackInfo     `json:"packs"`
}

// PackInfo is a pack with its status at the time asked.
type PackInfo struct {
	PkgID          string          `json:"pkg_id"`
	SpuID          int64           `json:"spu_id"`
	SkuID          int64           `json:"sku_id"`
	Source         int             `json:"source"`
	Status         int             `json:"status"`
	All            int64           `json:"all"`
	Used           int64           `json:"used"`
	StartTime      int64           `json:"start_time"`
	EndTime        int64           `json:"end_time"`
	OrderID        string          `json:"order_id,omitempty"`
	ExpiryWarnings []ExpiryWarning `json:"expiry_warnings"`
}

func packInfo(p *Pack, now int64) PackInfo {
	return PackInfo{
		PkgID: p.PkgID, SpuID: p.SpuID, SkuID: p.SkuID, Source: p.Source, Status: p.Status(now), All: p.All,
		Used: p.Used, StartTime: p.StartTime, EndTime: p.EndTime, OrderID: p.OrderID,
		ExpiryWarnings: append([]ExpiryWarning{}, p.ExpiryWarnings...),
	}
}

// Account returns a Mini Program's paid capabilities at now. It is the Go twin of
// GET /_sandbox/wechat/charge/accounts/{appid}.
func (e *Emulator) Account(now time.Time, appid string) (*Account, error) {
	var a *Account
	err := e.deps.Store.View(func(tx *store.Tx) error {
		app, err := miniProgram(tx, appid)
		if err != nil {
			return err
		}
		a, err = accountView(tx, app, now)
		return err
	})
	return a, err
}

func accountView(tx *store.Tx, app *wechat.App, now time.Time) (*Account, error) {
	s, err := loadSettings(tx, app.AppID)
	if err != nil {
		return nil, err
	}
	st := standingOf(app, s)
	a := &Account{
		AppID: app.AppID, Subject: st.Subject, Category: s.Category, Exemption: cmpOr(s.Exemption, ExemptionAuto),
		Exempt: st.Exempt, ExemptReason: st.ExemptReason, Eligible: st.Eligible, Products: []ProductUsage{},
	}
	for i := range products {
		prod := &products[i]
		packs, err := loadPacks(tx, app.AppID, prod)
		if err != nil {
			return nil, err
		}
		ps, err := loadState(tx, app.AppID, prod.SpuID)
		if err != nil {
			return nil, err
		}
		t := totalsOf(packs, now.Unix())
		u := ProductUsage{
			SpuID: prod.SpuID, SpuName: prod.Name, Unit: prod.Unit, All: t.All, Used: t.Used, Left: t.left(),
			QuotaWarnings: append([]QuotaWarning{}, ps.QuotaWarnings...), Packs: []PackInfo{},
		}
		for _, p := range packs {
			u.Packs = append(u.Packs, packInfo(p, now.Unix()))
		}
		a.Products = append(a.Products, u)
	}
	return a, nil
}

// AccountUpdate is what PATCH /_sandbox/wechat/charge/accounts/{appid} may change; nil leaves a
// setting as it is.
type AccountUpdate struct {
	// Subject refines the subject type for the charge rules; "" goes back to the app's own.
	Subject *string `json:"subject,omitempty"`
	// Category is the Mini Program's service category (服务类目); "" for none.
	Category *string `json:"category,omitempty"`
	// Exemption is auto (derive it), exempt or charged.
	Exemption *string `json:"exemption,omitempty"`
}

// UpdateAccount changes a Mini Program's charge settings. It is the Go twin of
// PATCH /_sandbox/wechat/charge/accounts/{appid}.
func (e *Emulator) UpdateAccount(now time.Time, appid string, u AccountUpdate) (*Account, error) {
	invalid := func(format string, args ...any) error {
		return ctlErr(apierr.Invalid, "invalid_account_settings", format, args...)
	}
	if u.Subject != nil && *u.Subject != "" && !slices.Contains(subjects, *u.Subject) {
		return nil, invalid("subject must be one of %s, or empty for the app's own", strings.Join(subjects, ", "))
	}
	if u.Exemption != nil && !slices.Contains([]string{ExemptionAuto, ExemptionExempt, ExemptionCharged}, *u.Exemption) {
		return nil, invalid("exemption must be auto, exempt or charged, not %q", *u.Exemption)
	}
	var a *Account
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		app, err := miniProgram(tx, appid)
		if err != nil {
			return err
		}
		s, err := loadSettings(tx, appid)
		if err != nil {
			return err
		}
		if u.Subject != nil {
			s.Subject = *u.Subject
		}
		if u.Category != nil {
			s.Category = strings.TrimSpace(*u.Category)
		}
		if u.Exemption != nil {
			s.Exemption = *u.Exemption
			if s.Exemption == ExemptionAuto {
				s.Exemption = ""
			}
		}
		if *s == (settings{}) {
			err = tx.Delete(accountKey(appid))
		} else {
			err = tx.Put(accountKey(appid), s)
		}
		if err != nil {
			return err
		}
		a, err = accountView(tx, app, now)
		return err
	})
	return a, err
}

// handleGetAccount serves GET /_sandbox/wechat/charge/accounts/{appid} (付费管理 → 我的用量).
func (e *Emulator) handleGetAccount(c *endpoint.Call) (any, error) {
	return e.Account(c.Now, c.Param("appid"))
}

// handleUpdateAccount serves PATCH /_sandbox/wechat/charge/accounts/{appid}.
func (e *Emulator) handleUpdateAccount(c *endpoint.Call) (any, error) {
	var u AccountUpdate
	if err := c.Bind(&u); err != nil {
		return nil, err
	}
	return e.UpdateAccount(c.Now, c.Param("appid"), u)
}
