package sandbox

import (
	"context"

	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/charge"
)

// ChargeControl is the Go twin of the /_sandbox/wechat/charge/ control verbs: WeChat's paid
// capabilities (付费能力) as a Mini Program's administrator manages them in the MP console
// (packs for sale, orders, refunds, usage) and as its users spend them (a tap on a phone-number
// button, units spent on the client).
type ChargeControl struct{ s *Server }

// Charge returns the paid-capability control verbs.
func (s *Server) Charge() *ChargeControl { return &ChargeControl{s} }

// ChargeProduct is a paid capability and the resource packs for sale.
type ChargeProduct struct {
	// SpuID is the capability's SPU ID: 10000058 (小程序音视频通话), 10000077 (手机号快速验证组件),
	// 10000086 (手机号实时验证组件) or 10000092 (地图个性化样式组件).
	SpuID int64 `json:"spu_id"`
	// Name is the capability's name.
	Name string `json:"name"`
	// Unit is what one unit is: 次 (a successful use) or 分钟 (a call minute).
	Unit string `json:"unit"`
	// SKUs are the packs for sale (fixtures/charge.yaml; invented sizes and prices).
	SKUs []ChargeSKU `json:"skus"`
}

func chargeProductFrom(p charge.ProductSKUs) ChargeProduct {
	return ChargeProduct{SpuID: p.SpuID, Name: p.Name, Unit: p.Unit, SKUs: convertSlice(p.SKUs, chargeSKUFrom)}
}

// ChargeSKU is a resource pack for sale.
type ChargeSKU struct {
	// SkuID names the SKU when buying it.
	SkuID int64 `json:"sku_id"`
	// SpuID is the capability the pack is of.
	SpuID int64 `json:"spu_id"`
	// Name is the pack's name.
	Name string `json:"name"`
	// Quota is the units in the pack.
	Quota int64 `json:"quota"`
	// DurationSec is how long the pack lasts from its start, in seconds.
	DurationSec int64 `json:"duration_sec"`
	// PriceFen is the price in fen (分).
	PriceFen int64 `json:"price_fen"`
}

func chargeSKUFrom(s charge.SKU) ChargeSKU {
	return ChargeSKU{SkuID: s.SkuID, SpuID: s.SpuID, Name: s.Name, Quota: s.Quota, DurationSec: s.DurationSec, PriceFen: s.PriceFen}
}

// ChargeBuySpec says which pack to buy for which Mini Program, as the body of
// POST /_sandbox/wechat/charge/orders does.
type ChargeBuySpec struct {
	// AppID is the Mini Program; required.
	AppID string `json:"appid"`
	// SkuID is the pack (see SKUs); required.
	SkuID int64 `json:"sku_id"`
	// StartTime, when not 0, is the Unix time the pack takes effect, at or after now. Default: at
	// once (a phone-number pack bought before the charging start takes effect then).
	StartTime int64 `json:"start_time,omitempty"`
}

func (b ChargeBuySpec) internal() charge.BuySpec {
	return charge.BuySpec{AppID: b.AppID, SkuID: b.SkuID, StartTime: b.StartTime}
}

// ChargeOrder is a pack bought in the MP console (我的订单). Times are Unix seconds of the sandbox
// clock.
type ChargeOrder struct {
	// OrderID is "DD" and 19 digits.
	OrderID string `json:"order_id"`
	// Seq numbers the sandbox's orders from 1, in the order they were paid.
	Seq int64 `json:"seq"`
	// AppID is the Mini Program the pack is for.
	AppID string `json:"appid"`
	// SpuID, SkuID and SkuName say what was bought; Quota, DurationSec and PriceFen are the SKU's.
	SpuID       int64  `json:"spu_id"`
	SkuID       int64  `json:"sku_id"`
	SkuName     string `json:"sku_name"`
	Quota       int64  `json:"quota"`
	DurationSec int64  `json:"duration_sec"`
	PriceFen    int64  `json:"price_fen"`
	// Status is "paid" or "refunded".
	Status string `json:"status"`
	// PaidAt is the payment's time; RefundableUntil ends the 7-day refund window (the pack must
	// also be unused); RefundedAt is the refund's time, if any.
	PaidAt          int64 `json:"paid_at"`
	RefundableUntil int64 `json:"refundable_until"`
	RefundedAt      int64 `json:"refunded_at,omitempty"`
	// PkgID is the pack bought ("ZY" and 19 digits), in effect from StartTime to EndTime.
	PkgID     string `json:"pkg_id"`
	StartTime int64  `json:"start_time"`
	EndTime   int64  `json:"end_time"`
	// PackSeq is the pack's place among the product's packs of the Mini Program (the trial is 0).
	PackSeq int64 `json:"pack_seq"`
}

func chargeOrderFrom(o charge.Order) ChargeOrder {
	return ChargeOrder{
		OrderID: o.OrderID, Seq: o.Seq, AppID: o.AppID, SpuID: o.SpuID, SkuID: o.SkuID, SkuName: o.SkuName, Quota: o.Quota,
		DurationSec: o.DurationSec, PriceFen: o.PriceFen, Status: o.Status, PaidAt: o.PaidAt,
		RefundableUntil: o.RefundableUntil, RefundedAt: o.RefundedAt, PkgID: o.PkgID, StartTime: o.StartTime,
		EndTime: o.EndTime, PackSeq: o.PackSeq,
	}
}

// ChargeAccount is a Mini Program's paid capabilities (我的用量): whether the phone-number
// components are free for it, and each product's packs.
type ChargeAccount struct {
	// AppID is the Mini Program.
	AppID string `json:"appid"`
	// Subject is the subject type the charge rules read: the app's subject_type unless
	// UpdateAccount refined it (nonprofit, public_institution).
	Subject string `json:"subject"`
	// Category is the Mini Program's service category (服务类目) as the rules read it.
	Category string `json:"category"`
	// Exemption is the setting: "auto" (derived from Subject and Category), "exempt" or
	// "charged"; Exempt and ExemptReason are what it gives.
	Exemption    string `json:"exemption"`
	Exempt       bool   `json:"exempt"`
	ExemptReason string `json:"exempt_reason,omitempty"`
	// Eligible tells whether the phone-number components may be used at all (a verified Mini
	// Program whose subject is not personal).
	Eligible bool `json:"eligible"`
	// Products are the four paid capabilities, in SPU order.
	Products []ChargeProductUsage `json:"products"`
}

func chargeAccountFrom(a charge.Account) ChargeAccount {
	return ChargeAccount{
		AppID: a.AppID, Subject: a.Subject, Category: a.Category, Exemption: a.Exemption, Exempt: a.Exempt,
		ExemptReason: a.ExemptReason, Eligible: a.Eligible, Products: convertSlice(a.Products, chargeProductUsageFrom),
	}
}

// ChargeProductUsage is one product of a Mini Program: the totals of the packs in effect, the
// quota warnings sent, and every pack.
type ChargeProductUsage struct {
	SpuID   int64  `json:"spu_id"`
	SpuName string `json:"spu_name"`
	Unit    string `json:"unit"`
	// All, Used and Left sum the packs in effect (status 1).
	All  int64 `json:"all"`
	Used int64 `json:"used"`
	Left int64 `json:"left"`
	// QuotaWarnings are the quota warnings (event_type 3) sent and not re-armed since, highest
	// percent first.
	QuotaWarnings []ChargeQuotaWarning `json:"quota_warnings"`
	// Packs are in usage/get's order; a phone-number component's trial pack is listed before its
	// first unit is spent.
	Packs []ChargePack `json:"packs"`
}

func chargeProductUsageFrom(u charge.ProductUsage) ChargeProductUsage {
	return ChargeProductUsage{
		SpuID: u.SpuID, SpuName: u.SpuName, Unit: u.Unit, All: u.All, Used: u.Used, Left: u.Left,
		QuotaWarnings: convertSlice(u.QuotaWarnings, func(w charge.QuotaWarning) ChargeQuotaWarning {
			return ChargeQuotaWarning{Percent: w.Percent, SentAt: w.SentAt}
		}),
		Packs: convertSlice(u.Packs, chargePackFrom),
	}
}

// ChargeQuotaWarning is a quota warning sent when the remaining share fell to Percent (20, 10,
// 5 or 0), at SentAt (Unix seconds).
type ChargeQuotaWarning struct {
	Percent int   `json:"percent"`
	SentAt  int64 `json:"sent_at"`
}

// ChargePack is a resource pack, with its status when asked.
type ChargePack struct {
	// PkgID is "ZY" and 19 digits; the trial pack's is empty.
	PkgID string `json:"pkg_id"`
	SpuID int64  `json:"spu_id"`
	SkuID int64  `json:"sku_id"`
	// Source is 1 for the trial pack, 2 for a bought one.
	Source int `json:"source"`
	// Status is 1 in effect, 2 not yet in effect, 3 expired.
	Status int `json:"status"`
	// All and Used are the pack's units.
	All  int64 `json:"all"`
	Used int64 `json:"used"`
	// StartTime and EndTime (Unix seconds) bound the pack's validity; the trial pack's EndTime is
	// 4294967295, never.
	StartTime int64 `json:"start_time"`
	EndTime   int64 `json:"end_time"`
	// OrderID is the order that bought the pack.
	OrderID string `json:"order_id,omitempty"`
	// ExpiryWarnings are the validity warnings (event_type 4) sent, in order.
	ExpiryWarnings []ChargeExpiryWarning `json:"expiry_warnings"`
}

func chargePackFrom(p charge.PackInfo) ChargePack {
	return ChargePack{
		PkgID: p.PkgID, SpuID: p.SpuID, SkuID: p.SkuID, Source: p.Source, Status: p.Status, All: p.All, Used: p.Used,
		StartTime: p.StartTime, EndTime: p.EndTime, OrderID: p.OrderID,
		ExpiryWarnings: convertSlice(p.ExpiryWarnings, func(w charge.ExpiryWarning) ChargeExpiryWarning {
			return ChargeExpiryWarning{Days: w.Days, SentAt: w.SentAt}
		}),
	}
}

// ChargeExpiryWarning is a validity warning sent Days (15, 7, 3, 1 or 0) before a pack's end, at
// SentAt (Unix seconds).
type ChargeExpiryWarning struct {
	Days   int   `json:"days"`
	SentAt int64 `json:"sent_at"`
}

// ChargeAccountUpdate changes what the charge rules read of a Mini Program, as the body of
// PATCH /_sandbox/wechat/charge/accounts/{appid} does; nil leaves a setting as it is.
type ChargeAccountUpdate struct {
	// Subject is one of the app's subject types or "nonprofit" or "public_institution" (事业单位);
	// "" goes back to the app's own.
	Subject *string `json:"subject,omitempty"`
	// Category is the service category (服务类目): 政务民生, 公立医疗机构 and 学历教育 matter.
	Category *string `json:"category,omitempty"`
	// Exemption is "auto", "exempt" or "charged".
	Exemption *string `json:"exemption,omitempty"`
}

func (u ChargeAccountUpdate) internal() charge.AccountUpdate {
	return charge.AccountUpdate{Subject: u.Subject, Category: u.Category, Exemption: u.Exemption}
}

// ChargePhoneTap is a user tapping a phone-number button of a Mini Program and agreeing, as the
// body of POST /_sandbox/wechat/charge/phone-taps says.
type ChargePhoneTap struct {
	// AppID is the Mini Program; required.
	AppID string `json:"appid"`
	// Kind is "quick" (open-type="getPhoneNumber", the default) or "realtime"
	// (open-type="getRealtimePhoneNumber").
	Kind string `json:"kind,omitempty"`
	// OpenID is the user. Default: a new user.
	OpenID string `json:"openid,omitempty"`
	// PhoneNumber is the user's bound number (11 digits). Default: the one the user had, else one
	// drawn from the seed for the Mini Program and user.
	PhoneNumber string `json:"phone_number,omitempty"`
	// QuotaToast false stands for phone-number-no-quota-toast="{{false}}": no half-screen notice
	// when no unit is left. Default (nil) true.
	QuotaToast *bool `json:"quota_toast,omitempty"`
}

func (t ChargePhoneTap) internal() charge.PhoneTap {
	return charge.PhoneTap{AppID: t.AppID, Kind: t.Kind, OpenID: t.OpenID, PhoneNumber: t.PhoneNumber, QuotaToast: t.QuotaToast}
}

// ChargePhoneTapResult is what the front end's callback receives (ErrMsg, and Code or Errno)
// and what the tap spent.
type ChargePhoneTapResult struct {
	// ErrMsg is "getPhoneNumber:ok" (or getRealtimePhoneNumber), or "…:fail no quota".
	ErrMsg string `json:"errMsg"`
	// Code is for POST /wxa/business/getuserphonenumber: 64 hex digits, single use.
	Code string `json:"code,omitempty"`
	// Errno is 1400001 when no unit was left (and Code is empty).
	Errno int `json:"errno,omitempty"`
	// OpenID is the user, SpuID the component.
	OpenID string `json:"openid"`
	SpuID  int64  `json:"spu_id"`
	// ExpiresAt is the Unix time from which the code is refused, 5 minutes after the tap.
	ExpiresAt int64 `json:"expires_at,omitempty"`
	// Free says why no unit was spent for the code: "exempt" or "before_charging".
	Free string `json:"free,omitempty"`
	// SpentFrom is the pack the unit came from (empty when none was spent).
	SpentFrom []ChargeSpend `json:"spent_from"`
	// Left is the units left in effect after the tap.
	Left int64 `json:"left"`
	// Notice is the half-screen notice WeChat showed the user, if any.
	Notice string `json:"notice,omitempty"`
}

func chargePhoneTapResultFrom(r charge.TapResult) ChargePhoneTapResult {
	return ChargePhoneTapResult{
		ErrMsg: r.ErrMsg, Code: r.Code, Errno: r.Errno, OpenID: r.OpenID, SpuID: r.SpuID, ExpiresAt: r.ExpiresAt,
		Free: r.Free, SpentFrom: convertSlice(r.SpentFrom, chargeSpendFrom), Left: r.Left, Notice: r.Notice,
	}
}

// ChargeSpend is the units taken from one pack.
type ChargeSpend struct {
	PkgID  string `json:"pkg_id"`
	SkuID  int64  `json:"sku_id"`
	Source int    `json:"source"`
	Units  int64  `json:"units"`
}

func chargeSpendFrom(s charge.Spend) ChargeSpend {
	return ChargeSpend{PkgID: s.PkgID, SkuID: s.SkuID, Source: s.Source, Units: s.Units}
}

// ChargeConsumeSpec is units of a product spent on the client, as the body of
// POST /_sandbox/wechat/charge/consume says: VoIP minutes, map loads with a personalised style,
// or phone verifications whose codes nobody exchanges.
type ChargeConsumeSpec struct {
	// AppID is the Mini Program and SpuID the product; both required.
	AppID string `json:"appid"`
	SpuID int64  `json:"spu_id"`
	// Units to spend, all or none. Default (0) 1.
	Units int64 `json:"units,omitempty"`
}

func (c ChargeConsumeSpec) internal() charge.ConsumeSpec {
	return charge.ConsumeSpec{AppID: c.AppID, SpuID: c.SpuID, Units: c.Units}
}

// ChargeConsumeResult is what Consume spent.
type ChargeConsumeResult struct {
	AppID string `json:"appid"`
	SpuID int64  `json:"spu_id"`
	// Spent is the units spent: all asked for, or 0 when Free says why none was needed.
	Spent     int64         `json:"spent"`
	Free      string        `json:"free,omitempty"`
	SpentFrom []ChargeSpend `json:"spent_from"`
	// Left is the units left in effect afterwards.
	Left int64 `json:"left"`
}

func chargeConsumeResultFrom(r charge.ConsumeResult) ChargeConsumeResult {
	return ChargeConsumeResult{
		AppID: r.AppID, SpuID: r.SpuID, Spent: r.Spent, Free: r.Free,
		SpentFrom: convertSlice(r.SpentFrom, chargeSpendFrom), Left: r.Left,
	}
}

// SKUs lists the packs for sale per product, or of one product when spu is not 0, as
// GET /_sandbox/wechat/charge/skus does.
func (c *ChargeControl) SKUs(spu int64) ([]ChargeProduct, error) {
	list, err := c.s.charge.SKUs(spu)
	if err != nil {
		return nil, err
	}
	return convertSlice(list, chargeProductFrom), nil
}

// Buy pays for a pack, as POST /_sandbox/wechat/charge/orders does.
func (c *ChargeControl) Buy(ctx context.Context, spec ChargeBuySpec) (*ChargeOrder, error) {
	o, err := c.s.charge.Buy(ctx, c.s.clock.Now(), spec.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(o, chargeOrderFrom), nil
}

// Refund refunds an unused pack's order within 7 days of payment, as
// POST /_sandbox/wechat/charge/orders/{order_id}/refund does.
func (c *ChargeControl) Refund(ctx context.Context, orderID string) (*ChargeOrder, error) {
	o, err := c.s.charge.Refund(ctx, c.s.clock.Now(), orderID)
	if err != nil {
		return nil, err
	}
	return convertPtr(o, chargeOrderFrom), nil
}

// Orders lists the orders of a Mini Program (of all when appid is empty), oldest first, as
// GET /_sandbox/wechat/charge/orders does.
func (c *ChargeControl) Orders(appid string) ([]ChargeOrder, error) {
	list, err := c.s.charge.Orders(appid)
	if err != nil {
		return nil, err
	}
	return convertSlice(list, chargeOrderFrom), nil
}

// Account returns a Mini Program's paid capabilities now, as
// GET /_sandbox/wechat/charge/accounts/{appid} does.
func (c *ChargeControl) Account(appid string) (*ChargeAccount, error) {
	a, err := c.s.charge.Account(c.s.clock.Now(), appid)
	if err != nil {
		return nil, err
	}
	return convertPtr(a, chargeAccountFrom), nil
}

// UpdateAccount changes what the charge rules read of a Mini Program or its exemption, as
// PATCH /_sandbox/wechat/charge/accounts/{appid} does.
func (c *ChargeControl) UpdateAccount(appid string, u ChargeAccountUpdate) (*ChargeAccount, error) {
	a, err := c.s.charge.UpdateAccount(c.s.clock.Now(), appid, u.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(a, chargeAccountFrom), nil
}

// TapPhoneButton has a user tap a phone-number button and agree, as
// POST /_sandbox/wechat/charge/phone-taps does: a code and one unit spent, or errno 1400001 and
// nothing changed. The quota warnings it causes are pushed before it returns.
func (c *ChargeControl) TapPhoneButton(ctx context.Context, t ChargePhoneTap) (*ChargePhoneTapResult, error) {
	r, err := c.s.charge.Tap(ctx, c.s.clock.Now(), t.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(r, chargePhoneTapResultFrom), nil
}

// Consume spends units on the client, all or none, as POST /_sandbox/wechat/charge/consume
// does.
func (c *ChargeControl) Consume(ctx context.Context, spec ChargeConsumeSpec) (*ChargeConsumeResult, error) {
	r, err := c.s.charge.Consume(ctx, c.s.clock.Now(), spec.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(r, chargeConsumeResultFrom), nil
}
