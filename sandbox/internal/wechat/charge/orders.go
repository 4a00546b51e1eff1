package charge

// Orders (我的订单): buying a pack as the MP console does, and the refund of an unused one
// within 7 days of payment.

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// RefundWindow is how long after payment an unused pack may be refunded.
const RefundWindow = 7 * day

// Order statuses.
const (
	OrderPaid     = "paid"
	OrderRefunded = "refunded"
)

// Order is a pack bought in the MP console. Times are Unix seconds.
type Order struct {
	// OrderID is "DD" and 19 digits.
	OrderID string `json:"order_id"`
	// Seq numbers the sandbox's orders from 1, in the order they were paid.
	Seq         int64  `json:"seq"`
	AppID       string `json:"appid"`
	SpuID       int64  `json:"spu_id"`
	SkuID       int64  `json:"sku_id"`
	SkuName     string `json:"sku_name"`
	Quota       int64  `json:"quota"`
	DurationSec int64  `json:"duration_sec"`
	PriceFen    int64  `json:"price_fen"`
	Status      string `json:"status"`
	PaidAt      int64  `json:"paid_at"`
	// RefundableUntil is the end of the refund window (the pack must also be unused).
	RefundableUntil int64 `json:"refundable_until"`
	RefundedAt      int64 `json:"refunded_at,omitempty"`
	// PkgID is the pack the order bought, and StartTime and EndTime its validity.
	PkgID     string `json:"pkg_id"`
	StartTime int64  `json:"start_time"`
	EndTime   int64  `json:"end_time"`
	// PackSeq is the pack's place among the product's packs.
	PackSeq int64 `json:"pack_seq"`
}

// BuySpec is what to buy for whom.
type BuySpec struct {
	AppID string `json:"appid"`
	SkuID int64  `json:"sku_id"`
	// StartTime, when not 0, is the Unix time the pack takes effect, at or after the payment.
	// Default: at once (a phone-number pack bought before the charging start takes effect then).
	StartTime int64 `json:"start_time,omitempty"`
}

// Buy pays for a pack. It is the Go twin of POST /_sandbox/wechat/charge/orders.
func (e *Emulator) Buy(ctx context.Context, now time.Time, spec BuySpec) (*Order, error) {
	sku := e.sku(spec.SkuID)
	if sku == nil {
		return nil, ctlErr(apierr.NotFound, "sku_not_found", "no SKU %d for sale (GET /_sandbox/wechat/charge/skus lists them)", spec.SkuID)
	}
	prod := productBySpu(sku.SpuID)
	start := now.Unix()
	if spec.StartTime != 0 {
		if spec.StartTime < start {
			return nil, ctlErr(apierr.Invalid, "invalid_start", "start_time %d is before the payment at %d", spec.StartTime, start)
		}
		start = spec.StartTime
	}
	if prod.Phone {
		start = max(start, ChargingStart)
	}
	var order *Order
	var due []warning
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		app, err := e.buyer(tx, spec.AppID, prod)
		if err != nil {
			return err
		}
		st, err := loadState(tx, app.AppID, prod.SpuID)
		if err != nil {
			return err
		}
		var count int64
		if _, err := tx.Get(orderCountKey, &count); err != nil {
			return err
		}
		count++
		if err := tx.Put(orderCountKey, count); err != nil {
			return err
		}
		order = &Order{
			Seq:   count,
			AppID: app.AppID, SpuID: prod.SpuID, SkuID: sku.SkuID, SkuName: sku.Name, Quota: sku.Quota,
			DurationSec: sku.DurationSec, PriceFen: sku.PriceFen, Status: OrderPaid, PaidAt: now.Unix(),
			RefundableUntil: now.Add(RefundWindow).Unix(), StartTime: start, EndTime: start + sku.DurationSec,
			PackSeq: st.NextSeq,
		}
		if order.OrderID, err = e.newID(tx, "DD", orderKey); err != nil {
			return err
		}
		order.PkgID = "ZY" + e.deps.Rand.Token(19, seeded.Digits)
		pack := &Pack{
			PkgID: order.PkgID, AppID: app.AppID, SpuID: prod.SpuID, SkuID: sku.SkuID, Seq: st.NextSeq,
			Source: SourceBought, All: sku.Quota, StartTime: start, EndTime: order.EndTime, OrderID: order.OrderID,
			ExpiryWarnings: []ExpiryWarning{},
		}
		st.NextSeq++
		if err := tx.Put(productKey(app.AppID, prod.SpuID), st); err != nil {
			return err
		}
		if err := savePack(tx, pack); err != nil {
			return err
		}
		if err := tx.Put(orderKey(order.OrderID), order); err != nil {
			return err
		}
		// A pack in effect raises the remaining share: warnings above it are armed again.
		due, err = e.settle(tx, app, prod, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.deliver(ctx, due)
	return order, nil
}

// buyer returns the Mini Program a pack is bought for, refusing an account that may not use the
// product: phone-number components need a verified Mini Program whose subject is not personal
// (the console tells others 本账号不能使用此项能力，无需购买).
func (e *Emulator) buyer(tx *store.Tx, appid string, prod *Product) (*wechat.App, error) {
	app, err := miniProgram(tx, appid)
	if err != nil {
		return nil, err
	}
	if !prod.Phone {
		return app, nil
	}
	s, err := loadSettings(tx, appid)
	if err != nil {
		return nil, err
	}
	if !standingOf(app, s).Eligible {
		return nil, ctlErr(apierr.Forbidden, "not_eligible", "%s may not use %s: it needs a verified Mini Program whose subject is not personal (本账号不能使用此项能力)", appid, prod.Name)
	}
	return app, nil
}

// newID draws prefix and 19 digits until the key it names is free.
func (e *Emulator) newID(tx *store.Tx, prefix string, key func(string) string) (string, error) {
	for {
		id := prefix + e.deps.Rand.Token(19, seeded.Digits)
		taken, err := tx.Has(key(id))
		if err != nil || !taken {
			return id, err
		}
	}
}

// Refund refunds an order whose pack was never used, within RefundWindow of its payment, and
// removes the pack. It is the Go twin of POST /_sandbox/wechat/charge/orders/{order_id}/refund.
func (e *Emulator) Refund(ctx context.Context, now time.Time, orderID string) (*Order, error) {
	var order *Order
	var due []warning
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		if order, err = store.Get[Order](tx, orderKey(orderID)); err != nil {
			return err
		}
		if order == nil {
			return ctlErr(apierr.NotFound, "order_not_found", "no order %s", orderID)
		}
		refusal := func(format string, args ...any) error {
			return ctlErr(apierr.Conflict, "not_refundable", "order "+orderID+" cannot be refunded: "+format, args...)
		}
		if order.Status == OrderRefunded {
			return refusal("it was refunded at %d", order.RefundedAt)
		}
		if now.Unix() > order.RefundableUntil {
			return refusal("it was paid at %d, more than 7 days ago", order.PaidAt)
		}
		pack, err := store.Get[Pack](tx, packKey(order.AppID, order.SpuID, order.PackSeq))
		if err != nil {
			return err
		}
		if pack != nil && pack.Used > 0 {
			return refusal("%d of its pack's %d units are used", pack.Used, pack.All)
		}
		if err := tx.Delete(packKey(order.AppID, order.SpuID, order.PackSeq)); err != nil {
			return err
		}
		order.Status, order.RefundedAt = OrderRefunded, now.Unix()
		if err := tx.Put(orderKey(orderID), order); err != nil {
			return err
		}
		app, err := wechat.GetApp(tx, order.AppID)
		if err != nil || app == nil {
			return err
		}
		due, err = e.settle(tx, app, productBySpu(order.SpuID), now)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.deliver(ctx, due)
	return order, nil
}

// Orders lists the orders of a Mini Program (of every one when appid is empty), oldest first.
// It is the Go twin of GET /_sandbox/wechat/charge/orders.
func (e *Emulator) Orders(appid string) ([]Order, error) {
	orders := []Order{}
	err := e.deps.Store.View(func(tx *store.Tx) error {
		return store.Each(tx, ordersPrefix, func(_ string, o *Order) error {
			if appid == "" || o.AppID == appid {
				orders = append(orders, *o)
			}
			return nil
		})
	})
	slices.SortFunc(orders, func(a, b Order) int { return cmp.Compare(a.Seq, b.Seq) })
	return orders, err
}

// handleBuy serves POST /_sandbox/wechat/charge/orders (能力购买 → 购买 → 支付).
func (e *Emulator) handleBuy(c *endpoint.Call) (any, error) {
	var spec BuySpec
	if err := c.Bind(&spec); err != nil {
		return nil, err
	}
	o, err := e.Buy(c.Request().Context(), c.Now, spec)
	if err != nil {
		return nil, err
	}
	return endpoint.Created(o), nil
}

// handleListOrders serves GET /_sandbox/wechat/charge/orders.
func (e *Emulator) handleListOrders(c *endpoint.Call) (any, error) {
	orders, err := e.Orders(c.Query("appid"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"orders": orders}, nil
}

// handleRefund serves POST /_sandbox/wechat/charge/orders/{order_id}/refund.
func (e *Emulator) handleRefund(c *endpoint.Call) (any, error) {
	return e.Refund(c.Request().Context(), c.Now, c.Param("order_id"))
}
