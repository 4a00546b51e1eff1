package charge

// The 付费管理 APIs: GET /wxa/charge/usage/get (the packs of one product) and
// GET /wxa/charge/usage/get_recent_average (the blurred monthly average).

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// The family's errcodes.
const (
	codeInvalidParams = 10120002 // 参数错误
	codeInvalidSpu    = 10120700 // spuId 非法
	codeNoRecentUsage = 10122000 // 该商品没有最近使用数据
)

// MaxUsageLimit is the most rows usage/get returns at once.
const MaxUsageLimit = 20

func invalidParams(format string, args ...any) error {
	return apierr.Newf(apierr.Invalid, codeInvalidParams, format, args...)
}

// usageParams reads the APIs' parameters from the query, or else from a JSON body: the current
// page lists them as a request payload although the method is GET and its example uses the
// query. In a body spuId may be a string or a number; offset and limit must be JSON numbers, as
// strings there answered 10120002.
func usageParams(c *endpoint.Call) paramFunc { return queryOrBody(c.Query, c.Body) }

// paramFunc returns a parameter's text ("" when absent), or 10120002 for a body value of the
// wrong JSON type; number says whether the parameter is a number.
type paramFunc func(name string, number bool) (string, error)

// queryOrBody reads parameters from query, or else from the JSON object in raw.
func queryOrBody(query func(string) string, raw []byte) paramFunc {
	var body map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) > 0 {
		_ = json.Unmarshal(raw, &body) // a body that is not an object is ignored, as a GET's
	}
	return func(name string, number bool) (string, error) {
		if v := query(name); v != "" {
			return v, nil
		}
		raw := bytes.TrimSpace(body[name])
		if len(raw) == 0 || string(raw) == "null" {
			return "", nil
		}
		var s string
		if raw[0] == '"' {
			if number {
				return "", invalidParams("body field %s must be a JSON number, not a string", name)
			}
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", invalidParams("body field %s: %v", name, err)
			}
			return strings.TrimSpace(s), nil
		}
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", invalidParams("body field %s must be a number", name)
		}
		return n.String(), nil
	}
}

// spuParam reads spuId: 10120002 when it is missing, 10120700 when it names no paid capability.
func spuParam(param paramFunc) (*Product, error) {
	s, err := param("spuId", false)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return nil, invalidParams("spuId is required")
	}
	prod := parseSpu(s)
	if prod == nil {
		return nil, apierr.Newf(apierr.Invalid, codeInvalidSpu, "spuId %q is not a Mini Program's paid capability (10000058, 10000077, 10000086, 10000092)", s)
	}
	return prod, nil
}

// intParam reads a required integer in [lo, hi].
func intParam(param paramFunc, name string, lo, hi int) (int, error) {
	s, err := param(name, true)
	if err != nil {
		return 0, err
	}
	if s == "" {
		return 0, invalidParams("%s is required", name)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, invalidParams("%s must be an integer from %d to %d, not %q", name, lo, hi, s)
	}
	return n, nil
}

// usageDetail is one row of detailList (UsageDetail); quantities are strings, times numbers.
type usageDetail struct {
	PkgID     string `json:"pkgId"`
	Status    int    `json:"status"`
	StartTime int64  `json:"startTime"`
	EndTime   int64  `json:"endTime"`
	All       string `json:"all"`
	Used      string `json:"used"`
	SpuID     string `json:"spuId"`
	SkuID     string `json:"skuId"`
	Source    int    `json:"source"`
}

// usageAnswer is usage/get's success body; like the observed reply it has no errmsg.
type usageAnswer struct {
	Errcode      int           `json:"errcode"`
	EffectiveUse string        `json:"effectiveUse"`
	EffectiveAll string        `json:"effectiveAll"`
	All          string        `json:"all"`
	Total        int           `json:"total"`
	DetailList   []usageDetail `json:"detailList"`
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// handleUsage emulates GET /wxa/charge/usage/get (getUsageDetail).
func (e *Emulator) handleUsage(c *endpoint.Call) (any, error) {
	param := usageParams(c)
	prod, err := spuParam(param)
	if err != nil {
		return nil, err
	}
	offset, err := intParam(param, "offset", 0, 1<<30)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(param, "limit", 1, MaxUsageLimit)
	if err != nil {
		return nil, err
	}
	app := c.Principal.(*wechat.Principal).App
	now := c.Now.Unix()
	var packs []*Pack
	if err := e.deps.Store.View(func(tx *store.Tx) error {
		packs, err = loadPacks(tx, app.AppID, prod)
		return err
	}); err != nil {
		return nil, err
	}
	// While a phone-number component is not charged yet, all counts the packs bought for
	// later too (the observed reply: all "1000", effectiveAll "0", the trial pack upcoming).
	preCharging := prod.Phone && now < ChargingStart
	var all, used, effective int64
	for _, p := range packs {
		st := p.Status(now)
		if st == StatusActive {
			effective += p.All
		}
		if st == StatusActive || (preCharging && st == StatusUpcoming) {
			all += p.All
			used += p.Used
		}
	}
	a := usageAnswer{EffectiveUse: itoa(used), EffectiveAll: itoa(effective), All: itoa(all), Total: len(packs), DetailList: []usageDetail{}}
	for _, p := range packs[min(offset, len(packs)):min(offset+limit, len(packs))] {
		a.DetailList = append(a.DetailList, usageDetail{
			PkgID: p.PkgID, Status: p.Status(now), StartTime: p.StartTime, EndTime: p.EndTime, All: itoa(p.All),
			Used: itoa(p.Used), SpuID: itoa(p.SpuID), SkuID: itoa(p.SkuID), Source: p.Source,
		})
	}
	return a, nil
}

// handleRecentAverage emulates GET /wxa/charge/usage/get_recent_average (getRecentAverageUsage):
// the units spent in this Beijing month and the two before it, averaged over the three and
// blurred upward (see blur).
func (e *Emulator) handleRecentAverage(c *endpoint.Call) (any, error) {
	prod, err := spuParam(usageParams(c))
	if err != nil {
		return nil, err
	}
	app := c.Principal.(*wechat.Principal).App
	var st *productState
	if err := e.deps.Store.View(func(tx *store.Tx) error {
		st, err = loadState(tx, app.AppID, prod.SpuID)
		return err
	}); err != nil {
		return nil, err
	}
	var sum int64
	months := recentMonths(c.Now)
	for _, m := range months {
		sum += st.Monthly[m]
	}
	if sum == 0 {
		return nil, apierr.Newf(apierr.NotFound, codeNoRecentUsage, "%s spent no unit of %s in %s", app.AppID, prod.Name, strings.Join(months, ", "))
	}
	return struct {
		wechat.Envelope
		AverageData int64 `json:"averageData"`
	}{wechat.OK(), blur((sum + 2) / 3)}, nil
}

// blur hides the exact average as WeChat does ("50" means at most 50 a month): up to 50 it is
// 50, above it the average rounded up to two significant digits.
func blur(avg int64) int64 {
	if avg <= 50 {
		return 50
	}
	step := int64(1)
	for avg/step >= 100 {
		step *= 10
	}
	return (avg + step - 1) / step * step
}
