// Package charge emulates WeChat's paid capabilities (付费能力, reference: wechat-charge.md; seed
// part 4): the four products by SPU, the resource packs a Mini Program buys in the MP console,
// the phone-number components whose button taps spend them, the two 付费管理 usage APIs, the
// phone-number exchange, and the usage warnings pushed when a product runs low or a pack nears
// its end. Files: catalog.go (products, SKUs), packs.go (packs, status, totals), accounts.go
// (exemption, the account view), orders.go (buying, refunds), spend.go (taps, client-side
// units, phone codes), phone.go (getuserphonenumber), usage.go (the usage APIs), warnings.go
// (event_type 3 and 4, the clock hook).
//
// The family is one package because its parts share one ledger: the packs that orders add,
// taps and client use spend, the APIs report and the warnings watch. It depends on the WeChat
// core (package wechat) for the Mini Programs, the admission of calls, the envelope and pushes.
//
// Emulated as documented:
//   - the products 10000058 (小程序音视频通话), 10000077 (手机号快速验证组件), 10000086
//     (手机号实时验证组件) and 10000092 (地图个性化样式组件); only Mini Programs use them;
//   - a 1,000-use trial pack per Mini Program and phone-number component (source 1, pkgId "",
//     SKU 20000093 for the quick component, endTime 4294967295, startTime 2023-08-26 00:00
//     Beijing time as observed), spent first, then bought packs by soonest expiry; a unit is
//     spent when the front end receives a code, whether or not the back end exchanges it; with
//     no unit left the tap fails with errno 1400001 and the half-screen notice (unless
//     phone-number-no-quota-toast is false), with no overdraft;
//   - exempt accounts spend nothing: government and non-profit subjects, public institutions
//     (事业单位) in category 政务民生, categories 公立医疗机构 and 学历教育; only verified
//     non-personal Mini Programs may use the phone-number components (or buy their packs);
//   - a pack bought before the charging start takes effect then, after it at once; expiry is
//     its start plus the SKU's validity; an unused pack may be refunded within 7 days of payment;
//   - PackageStatus 1 in effect, 2 not yet in effect, 3 expired, on the sandbox clock; a used-up
//     pack stays 1; source 1 trial, 2 bought;
//   - GET /wxa/charge/usage/get: spuId, offset (an item offset) and limit (at most 20) from the
//     query, else a JSON body; quantities as strings, times as numbers; all and effectiveAll the
//     packs in effect (before the charging start all also counts packs not yet in effect, as the
//     observed reply of August 2023 does), effectiveUse their use, total and detailList;
//     10120002 for a missing or malformed parameter, 10120700 for an unknown spuId; no errmsg on
//     success, as observed;
//   - GET /wxa/charge/usage/get_recent_average: averageData, a number, deliberately blurred;
//     10122000 without recent use;
//   - POST /wxa/business/getuserphonenumber: phone_info with phoneNumber, purePhoneNumber,
//     countryCode and watermark {timestamp, appid}; a code is single use, valid 5 minutes from
//     the tap, exchangeable only by the Mini Program that issued it (40013 for another), and an
//     openid in the body must be the code's user; 40029 for an unknown, used or expired code;
//     47001 for a body that is not JSON; errmsg carries "hint: [...]" before the rid for 40029,
//     40013 and 47001 as in the observed replies; the exchange never spends a unit;
//   - Mini Programs only (48001 otherwise); permission set 18 for authorizer tokens (61007);
//   - event_type 3 when a product's remaining share first falls to 20, 10, 5 and 0 %, with
//     total_quota and total_used_quota (numbers); event_type 4 at 15, 7, 3, 1 and 0 days before
//     a pack's end, with validity_end_time; both with Event charge_service_quota_notify (the
//     wire value of the captured push), spu_id (a number), spu_name and appid, pushed to the
//     Mini Program's push URL in its format and mode.
//
// Invented (the sources are silent; chosen as the most plausible):
//   - the SKUs for sale (fixtures/charge.yaml): ids, sizes, the 365-day validity and prices
//     (the phone-number packs at the documented 0.03 and 0.04 元 a use); the real-time trial
//     pack's SKU 21000860; pack ids "ZY" and order ids "DD" with 19 seeded digits; orders and
//     refunds, console-only on WeChat, are control verbs;
//   - the charging start 2023-08-26 00:00 for both phone-number components (the page says the
//     28th; the trial pack's startTime says the 26th); VoIP and map styles have no trial pack, no
//     free monthly minutes, no exemption and no charging start, and their units are spent by a
//     control verb; the map styles' unit is a use (次);
//   - the subjects nonprofit and public_institution and the category, which the core's accounts
//     do not hold, are the charge family's own settings, with an override either way;
//   - the tap's failure errMsg "getPhoneNumber:fail no quota"; users' phone numbers (a mainland
//     mobile number drawn from the seed for the Mini Program and openid, as the Jincheng
//     citizens' are, unless the tap names one), country code 86; the watermark's timestamp is
//     the exchange's time; an empty or missing code answers 40029, an openid mismatch 40029;
//   - usage/get lists every pack of the product, expired ones too, by start time then the order
//     they were made; a non-numeric spuId is 10120700, a string offset or limit in a body
//     10120002; effectiveUse is always present;
//   - get_recent_average averages the units spent in this Beijing month and the two before it
//     over the three; at most 50 reads 50, above it the average is rounded up to two
//     significant digits (the documented example 260000 fits);
//   - quotas: usage APIs 10,000 calls a day each; getuserphonenumber 300 a second (a community
//     answer), counted as 18,000 a minute so that a burst answers 45011 as observed; a wrong
//     method answers the core's 43001/43002 rather than the SP pages' 10120405;
//   - the remaining share is over the packs in effect; a change that passes several thresholds
//     sends one warning, of the lowest; a threshold is re-armed whenever the share rises above
//     it (a pack bought, one taking effect); an exempt account gets no quota warning; with
//     nothing in effect there is no share and no warning; a clock jump past several validity
//     milestones sends one warning, of the nearest; validity_end_time is Unix seconds as a
//     string; the warning's FromUserName is a fixed system openid; warnings are also journaled
//     (events charge_mp_service_quota_notify, charge_mp_service_validity_notify), delivered or not;
//   - phone codes are forgotten when they expire, expired packs a year after their end.
//
// Not emulated: the service providers' 集采 APIs and their packs (source 3), subscription-type
// products (startServiceTime, endServiceTime), invoices, the template messages to the Mini
// Program's administrators, the cloud-call and signed variants of getuserphonenumber, and phone
// numbers outside mainland China.
package charge

import (
	"fmt"
	"strconv"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// Deps are what the paid capabilities need.
type Deps struct {
	Store *store.Store
	Clock clock.Clock
	// Rand draws pack, order and code ids and the openids of anonymous users.
	Rand *seeded.Source
	// Faker draws the phone numbers of users who never said theirs.
	Faker *fixture.Faker
	// Fixtures holds charge.yaml, the SKUs for sale, read once by New.
	Fixtures *fixture.Set
	// Journal records every usage warning (events charge_mp_service_quota_notify and
	// charge_mp_service_validity_notify), pushed or not.
	Journal *journal.Journal
	// WeChat knows the Mini Programs and delivers their pushes.
	WeChat *wechat.Platform
}

// Emulator is the paid-capabilities family: the catalogue, packs, orders, the phone-number
// components, the usage APIs and the usage warnings.
type Emulator struct {
	deps Deps
	// skus are the packs for sale, by SPU in the order of charge.yaml; read-only after New.
	skus map[int64][]SKU
}

// New returns the emulation, with the SKUs of fixtures/charge.yaml (none if the file is absent).
func New(d Deps) (*Emulator, error) {
	skus, err := loadSKUs(d.Fixtures)
	if err != nil {
		return nil, err
	}
	return &Emulator{deps: d, skus: skus}, nil
}

// Routes lists the paid-capability APIs and the control verbs that stand for the MP console and
// the Mini Program's front end.
func (e *Emulator) Routes(r endpoint.Routes) {
	r.Handle("getChargeUsage", e.handleUsage)                      // GET /wxa/charge/usage/get
	r.Handle("getChargeRecentAverageUsage", e.handleRecentAverage) // GET /wxa/charge/usage/get_recent_average
	r.Handle("getUserPhoneNumber", e.handleGetPhoneNumber)         // POST /wxa/business/getuserphonenumber
	r.Handle("listChargeSkus", e.handleListSKUs)                   // GET /_sandbox/wechat/charge/skus
	r.Handle("buyChargePack", e.handleBuy)                         // POST /_sandbox/wechat/charge/orders
	r.Handle("listChargeOrders", e.handleListOrders)               // GET /_sandbox/wechat/charge/orders
	r.Handle("refundChargeOrder", e.handleRefund)                  // POST /_sandbox/wechat/charge/orders/{order_id}/refund
	r.Handle("getChargeAccount", e.handleGetAccount)               // GET /_sandbox/wechat/charge/accounts/{appid}
	r.Handle("updateChargeAccount", e.handleUpdateAccount)         // PATCH /_sandbox/wechat/charge/accounts/{appid}
	r.Handle("tapChargePhoneButton", e.handleTap)                  // POST /_sandbox/wechat/charge/phone-taps
	r.Handle("consumeChargeUnits", e.handleConsume)                // POST /_sandbox/wechat/charge/consume
}

// Store keys. Packs are keyed by Mini Program, product and a sequence number in the order they
// were made (the trial pack is 0), so one prefix lists a product's packs.
const prefix = "wechat:charge:"

func packPrefix(appid string, spu int64) string {
	return fmt.Sprintf("%spack:%s:%d:", prefix, appid, spu)
}
func packKey(appid string, spu, seq int64) string {
	return fmt.Sprintf("%s%08d", packPrefix(appid, spu), seq)
}
func productKey(appid string, spu int64) string {
	return prefix + "product:" + appid + ":" + strconv.FormatInt(spu, 10)
}
func accountKey(appid string) string      { return prefix + "account:" + appid }
func orderKey(id string) string           { return prefix + "order:" + id }
func codeKey(code string) string          { return prefix + "code:" + code }
func userKey(appid, openid string) string { return prefix + "user:" + appid + ":" + openid }

// codeExpiryKey indexes a phone code by its expiry, so that expired codes are found in order.
func codeExpiryKey(expiresAt int64, code string) string {
	return fmt.Sprintf("%scodeexp:%010d:%s", prefix, expiresAt, code)
}

const (
	allPacksPrefix   = prefix + "pack:"
	ordersPrefix     = prefix + "order:"
	codeExpiryPrefix = prefix + "codeexp:"
	// orderCountKey counts the orders ever paid, which numbers them.
	orderCountKey = prefix + "ordercount"
)

// ctlErr is a control-plane error with a symbolic code.
func ctlErr(kind apierr.Kind, name, format string, args ...any) error {
	return &apierr.Error{Kind: kind, Name: name, Reason: fmt.Sprintf(format, args...)}
}

// miniProgram returns the Mini Program appid names, or the control plane's refusal: 404 for an
// unknown app, 403 not_mini_program for another kind of account (paid capabilities are the Mini
// Program's).
func miniProgram(tx *store.Tx, appid string) (*wechat.App, error) {
	app, err := wechat.GetApp(tx, appid)
	if err != nil {
		return nil, err
	}
	if app == nil {
		return nil, ctlErr(apierr.NotFound, "app_not_found", "no app %s", appid)
	}
	if app.Type != wechat.TypeMiniProgram {
		return nil, ctlErr(apierr.Forbidden, "not_mini_program", "%s is a %s: paid capabilities are bought and used by Mini Programs only", appid, app.AccountType())
	}
	return app, nil
}
