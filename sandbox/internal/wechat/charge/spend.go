package charge

// Spending units: a user's tap on a phone-number button (the front end's callback, with the code
// the back end exchanges), and the control verb that spends units of the products used on the
// client (VoIP minutes, map styles).

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// The front end's answer when a phone-number component has no unit left.
const (
	ErrnoNoQuota  = 1400001
	noQuotaNotice = "功能使用次数已达当前小程序上限，暂时无法使用"
)

// Why a unit was not spent although the component worked.
const (
	FreeExempt         = "exempt"
	FreeBeforeCharging = "before_charging"
)

// CodeLifetime is how long a phone code may be exchanged, from the tap.
const CodeLifetime = 5 * time.Minute

// What a tap may name: the control verb's schema says the same, for the Go twin's callers.
var (
	mobilePattern = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	openIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{6,64}$`)
)

// Spend is the units taken from one pack.
type Spend struct {
	PkgID  string `json:"pkg_id"`
	SkuID  int64  `json:"sku_id"`
	Source int    `json:"source"`
	Units  int64  `json:"units"`
}

// spent is what spendUnits did.
type spent struct {
	Free string
	From []Spend
	// Left is the units left in effect afterwards.
	Left     int64
	Warnings []warning
}

// errNoQuota ends a transaction that found too few units: nothing it did is kept.
var errNoQuota = errors.New("charge: not enough units")

// spendUnits takes units of prod from app's packs, the trial pack first and then the pack that
// expires soonest, all or nothing (errNoQuota, with sp.Left saying what is left). An exempt
// account spends nothing for a phone-number component, nor does anyone before the charging start.
func (e *Emulator) spendUnits(tx *store.Tx, app *wechat.App, prod *Product, units int64, now time.Time) (*spent, error) {
	s, err := loadSettings(tx, app.AppID)
	if err != nil {
		return nil, err
	}
	exempt := standingOf(app, s).Exempt
	packs, err := loadPacks(tx, app.AppID, prod)
	if err != nil {
		return nil, err
	}
	sp := &spent{From: []Spend{}, Left: totalsOf(packs, now.Unix()).left()}
	switch {
	case prod.Phone && exempt:
		sp.Free = FreeExempt
		return sp, nil
	case prod.Phone && now.Unix() < ChargingStart:
		sp.Free = FreeBeforeCharging
		return sp, nil
	}
	order := spendOrder(packs, now.Unix())
	var available int64
	for _, p := range order {
		available += p.Left()
	}
	if available < units {
		return sp, errNoQuota
	}
	need := units
	for _, p := range order {
		if need == 0 {
			break
		}
		take := min(p.Left(), need)
		p.Used += take
		need -= take
		sp.From = append(sp.From, Spend{PkgID: p.PkgID, SkuID: p.SkuID, Source: p.Source, Units: take})
		if err := savePack(tx, p); err != nil {
			return nil, err
		}
	}
	st, err := loadState(tx, app.AppID, prod.SpuID)
	if err != nil {
		return nil, err
	}
	st.countUsage(now, units)
	if w, _ := quotaWarning(app, prod, exempt, packs, st, now); w != nil {
		sp.Warnings = append(sp.Warnings, *w)
	}
	sp.Left = totalsOf(packs, now.Unix()).left()
	return sp, tx.Put(productKey(app.AppID, prod.SpuID), st)
}

// PhoneTap is a user tapping a phone-number button of a Mini Program.
type PhoneTap struct {
	AppID string `json:"appid"`
	// Kind is quick (open-type="getPhoneNumber", the default) or realtime
	// (open-type="getRealtimePhoneNumber").
	Kind string `json:"kind,omitempty"`
	// OpenID is the user. Default: a new user.
	OpenID string `json:"openid,omitempty"`
	// PhoneNumber is the user's bound number (11 digits, mainland). Default: the one the user had,
	// or else one drawn from the seed for the Mini Program and user.
	PhoneNumber string `json:"phone_number,omitempty"`
	// QuotaToast false stands for phone-number-no-quota-toast="{{false}}": no half-screen notice
	// when no unit is left. Default (nil) true.
	QuotaToast *bool `json:"quota_toast,omitempty"`
}

// TapResult is what the front end's callback receives (errMsg, code or errno) and what the tap
// did.
type TapResult struct {
	ErrMsg string `json:"errMsg"`
	Code   string `json:"code,omitempty"`
	Errno  int    `json:"errno,omitempty"`
	OpenID string `json:"openid"`
	SpuID  int64  `json:"spu_id"`
	// ExpiresAt is the Unix time the code can no longer be exchanged.
	ExpiresAt int64 `json:"expires_at,omitempty"`
	// Free says why no unit was spent for the code: exempt or before_charging.
	Free      string  `json:"free,omitempty"`
	SpentFrom []Spend `json:"spent_from"`
	// Left is the units left in effect after the tap.
	Left int64 `json:"left"`
	// Notice is the half-screen notice WeChat showed the user, if any.
	Notice string `json:"notice,omitempty"`
}

// phoneCode is a code a tap issued, exchangeable once within CodeLifetime by its Mini Program.
type phoneCode struct {
	Code        string `json:"code"`
	AppID       string `json:"appid"`
	OpenID      string `json:"openid"`
	SpuID       int64  `json:"spu_id"`
	PhoneNumber string `json:"phone_number"`
	CountryCode string `json:"country_code"`
	IssuedAt    int64  `json:"issued_at"`
	// ExpiresAt is when the code may be forgotten, too.
	ExpiresAt int64 `json:"expires_at"`
	UsedAt    int64 `json:"used_at,omitempty"`
}

// user is a Mini Program's user as the phone-number components know them.
type user struct {
	PhoneNumber string `json:"phone_number"`
	CountryCode string `json:"country_code"`
}

// Tap simulates a user tapping a phone-number button: with a unit to spend (or none needed) the
// callback gets a code, else errno 1400001 and nothing changes. It is the Go twin of
// POST /_sandbox/wechat/charge/phone-taps.
func (e *Emulator) Tap(ctx context.Context, now time.Time, t PhoneTap) (*TapResult, error) {
	kind := cmpOr(t.Kind, "quick")
	prod := productByKind(kind)
	if prod == nil {
		return nil, ctlErr(apierr.Invalid, "invalid_tap", "kind must be quick or realtime, not %q", t.Kind)
	}
	if t.PhoneNumber != "" && !mobilePattern.MatchString(t.PhoneNumber) {
		return nil, ctlErr(apierr.Invalid, "invalid_tap", "phone_number %q is not a mainland mobile number (11 digits from 13 to 19)", t.PhoneNumber)
	}
	if t.OpenID != "" && !openIDPattern.MatchString(t.OpenID) {
		return nil, ctlErr(apierr.Invalid, "invalid_tap", "openid %q must be 6 to 64 letters, digits, _ or -", t.OpenID)
	}
	res := &TapResult{OpenID: t.OpenID, SpuID: prod.SpuID}
	var sp *spent
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		app, err := e.buyer(tx, t.AppID, prod)
		if err != nil {
			return err
		}
		if res.OpenID == "" {
			res.OpenID = "o" + e.deps.Rand.Token(27, seeded.URLSafe)
		}
		if sp, err = e.spendUnits(tx, app, prod, 1, now); err != nil {
			return err
		}
		return e.issueCode(tx, app, prod, t, res, now)
	})
	switch {
	case errors.Is(err, errNoQuota):
		res.ErrMsg, res.Errno, res.Left, res.SpentFrom = prod.TapName+":fail no quota", ErrnoNoQuota, sp.Left, []Spend{}
		if t.QuotaToast == nil || *t.QuotaToast {
			res.Notice = noQuotaNotice
		}
		return res, nil
	case err != nil:
		return nil, err
	}
	res.ErrMsg, res.Free, res.SpentFrom, res.Left = prod.TapName+":ok", sp.Free, sp.From, sp.Left
	e.deliver(ctx, sp.Warnings)
	return res, nil
}

// issueCode stores the code of a successful tap, with the user's phone number, and forgets the
// codes that have expired.
func (e *Emulator) issueCode(tx *store.Tx, app *wechat.App, prod *Product, t PhoneTap, res *TapResult, now time.Time) error {
	if _, err := e.forgetCodes(tx, now, true); err != nil {
		return err
	}
	u, err := store.Get[user](tx, userKey(app.AppID, res.OpenID))
	if err != nil {
		return err
	}
	if u == nil {
		u = &user{CountryCode: "86"}
	}
	switch {
	case t.PhoneNumber != "":
		u.PhoneNumber = t.PhoneNumber
	case u.PhoneNumber == "":
		u.PhoneNumber = e.deps.Faker.Fork("charge-phone:" + app.AppID + ":" + res.OpenID).Mobile()
	}
	if err := tx.Put(userKey(app.AppID, res.OpenID), u); err != nil {
		return err
	}
	pc := &phoneCode{
		AppID: app.AppID, OpenID: res.OpenID, SpuID: prod.SpuID, PhoneNumber: u.PhoneNumber, CountryCode: u.CountryCode,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(CodeLifetime).Unix(),
	}
	for {
		pc.Code = e.deps.Rand.Token(64, seeded.Hex)
		if taken, err := tx.Has(codeKey(pc.Code)); err != nil {
			return err
		} else if !taken {
			break
		}
	}
	if err := tx.Put(codeKey(pc.Code), pc); err != nil {
		return err
	}
	res.Code, res.ExpiresAt = pc.Code, pc.ExpiresAt
	return tx.PutRaw(codeExpiryKey(pc.ExpiresAt, pc.Code), pc.Code)
}

// forgetCodes deletes (with write) the phone codes expired at now and reports whether there were
// any.
func (e *Emulator) forgetCodes(tx *store.Tx, now time.Time, write bool) (bool, error) {
	var expired []string
	err := tx.AscendPrefix(codeExpiryPrefix, func(k, _ string) bool {
		at, err := strconv.ParseInt(k[len(codeExpiryPrefix):len(codeExpiryPrefix)+10], 10, 64)
		if err != nil || at > now.Unix() {
			return false
		}
		expired = append(expired, k)
		return true
	})
	if err != nil || !write {
		return len(expired) > 0, err
	}
	for _, k := range expired {
		if err := tx.Delete(k); err != nil {
			return false, err
		}
		if err := tx.Delete(codeKey(k[len(codeExpiryPrefix)+11:])); err != nil {
			return false, err
		}
	}
	return len(expired) > 0, nil
}

// ConsumeSpec is units of a product spent on the client: VoIP minutes, map loads with a
// personalised style, or phone-number verifications whose codes nobody exchanges.
type ConsumeSpec struct {
	AppID string `json:"appid"`
	SpuID int64  `json:"spu_id"`
	// Units to spend, all or none. Default (0) 1.
	Units int64 `json:"units,omitempty"`
}

// ConsumeResult is what Consume spent.
type ConsumeResult struct {
	AppID string `json:"appid"`
	SpuID int64  `json:"spu_id"`
	Spent int64  `json:"spent"`
	// Free says why nothing was spent: exempt or before_charging (phone-number components).
	Free      string  `json:"free,omitempty"`
	SpentFrom []Spend `json:"spent_from"`
	Left      int64   `json:"left"`
}

// Consume spends units of a product the way its client would, in the order taps do; with too
// few left it spends nothing and answers 409 no_quota. It is the Go twin of
// POST /_sandbox/wechat/charge/consume.
func (e *Emulator) Consume(ctx context.Context, now time.Time, spec ConsumeSpec) (*ConsumeResult, error) {
	prod := productBySpu(spec.SpuID)
	if prod == nil {
		return nil, ctlErr(apierr.NotFound, "spu_not_found", "%d is not a paid capability (10000058, 10000077, 10000086, 10000092)", spec.SpuID)
	}
	units := spec.Units
	if units == 0 {
		units = 1
	}
	if units < 0 {
		return nil, ctlErr(apierr.Invalid, "invalid_units", "units must be positive, not %d", units)
	}
	var sp *spent
	var app *wechat.App
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		if app, err = e.buyer(tx, spec.AppID, prod); err != nil {
			return err
		}
		sp, err = e.spendUnits(tx, app, prod, units, now)
		return err
	})
	if errors.Is(err, errNoQuota) {
		return nil, ctlErr(apierr.Conflict, "no_quota", "%s of %s has %d units left in effect, fewer than %d", prod.Name, spec.AppID, sp.Left, units)
	}
	if err != nil {
		return nil, err
	}
	res := &ConsumeResult{AppID: app.AppID, SpuID: prod.SpuID, Free: sp.Free, SpentFrom: sp.From, Left: sp.Left}
	if sp.Free == "" {
		res.Spent = units
	}
	e.deliver(ctx, sp.Warnings)
	return res, nil
}

// handleTap serves POST /_sandbox/wechat/charge/phone-taps: a user taps
// <button open-type="getPhoneNumber"> (or getRealtimePhoneNumber) and agrees.
func (e *Emulator) handleTap(c *endpoint.Call) (any, error) {
	var t PhoneTap
	if err := c.Bind(&t); err != nil {
		return nil, err
	}
	return e.Tap(c.Request().Context(), c.Now, t)
}

// handleConsume serves POST /_sandbox/wechat/charge/consume.
func (e *Emulator) handleConsume(c *endpoint.Call) (any, error) {
	var spec ConsumeSpec
	if err := c.Bind(&spec); err != nil {
		return nil, err
	}
	return e.Consume(c.Request().Context(), c.Now, spec)
}
