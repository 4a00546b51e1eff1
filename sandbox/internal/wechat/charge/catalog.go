package charge

// The catalogue: the four paid capabilities by SPU (WeChat's list) and the packs for sale
// (fixtures/charge.yaml, invented).

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
)

// Product is a paid capability (付费能力), named by its SPU ID.
type Product struct {
	SpuID int64
	Name  string
	// Unit is what one unit of a pack is: a successful verification (次), a call minute (分钟).
	Unit string
	// Phone marks the phone-number components: a 1,000-use trial pack, exempt accounts, a
	// charging start, units spent by the button tap.
	Phone bool
	// Kind is the phone component's tap verb kind: quick or realtime.
	Kind string
	// TapName is the front end's callback name in errMsg (getPhoneNumber:ok).
	TapName string
	// TrialSkuID is the SKU the trial pack shows.
	TrialSkuID int64
}

// The SPUs of the seed page (付费能力 → SPU ID).
const (
	SpuVoIP          = 10000058 // 小程序音视频通话
	SpuPhoneQuick    = 10000077 // 手机号快速验证组件
	SpuPhoneRealtime = 10000086 // 手机号实时验证组件
	SpuMapStyle      = 10000092 // 地图个性化样式组件
)

// products are the paid capabilities in SPU order. 20000093 is the real trial SKU of the quick
// component; the real-time component's is invented.
var products = []Product{
	{SpuID: SpuVoIP, Name: "小程序音视频通话", Unit: "分钟"},
	{SpuID: SpuPhoneQuick, Name: "手机号快速验证组件", Unit: "次", Phone: true, Kind: "quick", TapName: "getPhoneNumber", TrialSkuID: 20000093},
	{SpuID: SpuPhoneRealtime, Name: "手机号实时验证组件", Unit: "次", Phone: true, Kind: "realtime", TapName: "getRealtimePhoneNumber", TrialSkuID: 21000860},
	{SpuID: SpuMapStyle, Name: "地图个性化样式组件", Unit: "次"},
}

// The phone-number components' trial pack and charging start.
const (
	// TrialQuota is the free units every Mini Program has per phone-number component.
	TrialQuota = 1000
	// TrialEnd is the trial pack's endTime: uint32's maximum, never.
	TrialEnd = 4294967295
	// ChargingStart is when the phone-number components began to be charged: the real trial
	// pack's startTime, 2023-08-26 00:00 Beijing time. Before it a tap spends nothing and packs
	// bought take effect at it.
	ChargingStart = 1692979200
)

// productBySpu returns the product with the SPU id, or nil.
func productBySpu(spu int64) *Product {
	i := slices.IndexFunc(products, func(p Product) bool { return p.SpuID == spu })
	if i < 0 {
		return nil
	}
	return &products[i]
}

// productByKind returns the phone-number component of a tap kind, or nil.
func productByKind(kind string) *Product {
	i := slices.IndexFunc(products, func(p Product) bool { return p.Phone && p.Kind == kind })
	if i < 0 {
		return nil
	}
	return &products[i]
}

// parseSpu reads an SPU id as the APIs send it (a decimal string) and returns its product.
func parseSpu(s string) *Product {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil
	}
	return productBySpu(n)
}

// SKU is a resource pack for sale: Quota units valid DurationSec from its start, for PriceFen.
type SKU struct {
	SkuID       int64  `json:"sku_id" yaml:"sku_id"`
	SpuID       int64  `json:"spu_id" yaml:"spu_id"`
	Name        string `json:"name" yaml:"name"`
	Quota       int64  `json:"quota" yaml:"quota"`
	DurationSec int64  `json:"duration_sec" yaml:"duration_sec"`
	PriceFen    int64  `json:"price_fen" yaml:"price_fen"`
}

// ProductSKUs is a product and the packs for sale.
type ProductSKUs struct {
	SpuID int64  `json:"spu_id"`
	Name  string `json:"name"`
	Unit  string `json:"unit"`
	SKUs  []SKU  `json:"skus"`
}

// loadSKUs reads fixtures/charge.yaml and checks each SKU.
func loadSKUs(set *fixture.Set) (map[int64][]SKU, error) {
	var f struct {
		SKUs []SKU `yaml:"skus"`
	}
	if err := set.Decode("charge", &f); err != nil {
		return nil, err
	}
	out := map[int64][]SKU{}
	seen := map[int64]bool{}
	for i, s := range f.SKUs {
		switch {
		case productBySpu(s.SpuID) == nil:
			return nil, fmt.Errorf("charge: charge.yaml sku %d: spu_id %d is not a paid capability", i, s.SpuID)
		case seen[s.SkuID] || s.SkuID <= 0:
			return nil, fmt.Errorf("charge: charge.yaml sku %d: sku_id %d is not a new positive id", i, s.SkuID)
		case s.Quota <= 0 || s.DurationSec <= 0 || s.PriceFen < 0 || s.Name == "":
			return nil, fmt.Errorf("charge: charge.yaml sku %d (%d): needs a name, a positive quota and duration_sec and a price", i, s.SkuID)
		}
		for _, p := range products {
			if p.TrialSkuID == s.SkuID {
				return nil, fmt.Errorf("charge: charge.yaml sku %d: %d is a trial pack's SKU", i, s.SkuID)
			}
		}
		seen[s.SkuID] = true
		out[s.SpuID] = append(out[s.SpuID], s)
	}
	return out, nil
}

// sku returns the SKU for sale with the id, or nil.
func (e *Emulator) sku(id int64) *SKU {
	for _, list := range e.skus {
		for i := range list {
			if list[i].SkuID == id {
				return &list[i]
			}
		}
	}
	return nil
}

// SKUs lists the packs for sale per product, or for one product when spu is not 0. It is the Go
// twin of GET /_sandbox/wechat/charge/skus.
func (e *Emulator) SKUs(spu int64) ([]ProductSKUs, error) {
	if spu != 0 && productBySpu(spu) == nil {
		return nil, ctlErr(apierr.NotFound, "spu_not_found", "%d is not a paid capability (10000058, 10000077, 10000086, 10000092)", spu)
	}
	out := []ProductSKUs{}
	for _, p := range products {
		if spu != 0 && p.SpuID != spu {
			continue
		}
		out = append(out, ProductSKUs{SpuID: p.SpuID, Name: p.Name, Unit: p.Unit, SKUs: append([]SKU{}, e.skus[p.SpuID]...)})
	}
	return out, nil
}

// handleListSKUs serves GET /_sandbox/wechat/charge/skus (能力购买 in the MP console).
func (e *Emulator) handleListSKUs(c *endpoint.Call) (any, error) {
	var spu int64
	if s := c.Query("spu_id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, ctlErr(apierr.Invalid, "invalid_spu", "spu_id %q is not an SPU id", s)
		}
		spu = n
	}
	list, err := e.SKUs(spu)
	if err != nil {
		return nil, err
	}
	return map[string]any{"products": list}, nil
}

// day is a calendar day of validity warnings and refund windows.
const day = 24 * time.Hour
