package charge_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// The products and the SKUs of fixtures/charge.yaml the tests buy.
const (
	spuVoIP     = 10000058
	spuQuick    = 10000077
	spuRealtime = 10000086
	spuMap      = 10000092

	skuQuick1k    = 21000771
	skuQuick10k   = 21000772
	skuRealtime1k = 21000861
	skuVoIP10k    = 21000581

	trialEnd = 4294967295
	daySec   = 24 * 60 * 60
)

// chargeEnv is a sandbox with a verified enterprise Mini Program (not exempt) and its token.
type chargeEnv struct {
	*testkit.Kit
	mp  *sandbox.WeChatApp
	tok string
}

func newChargeEnv(t *testing.T) *chargeEnv {
	t.Helper()
	k := testkit.New(t)
	onlyDocumentedErrcodes(k)
	return envFor(k, k.App(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "unlimited"}))
}

// onlyDocumentedErrcodes checks, when the test ends, that every errcode the paid-capability APIs
// answered is one their x-errcodes declare.
func onlyDocumentedErrcodes(k *testkit.Kit) {
	t := k.T()
	t.Cleanup(func() {
		for _, op := range k.Srv.Contract().Operations {
			if strings.HasPrefix(op.Path, "/wxa/charge/") || op.Path == "/wxa/business/getuserphonenumber" {
				if len(op.Undocumented) > 0 {
					t.Errorf("%s answered errcodes %v that its x-errcodes does not declare", op.Operation, op.Undocumented)
				}
			}
		}
	})
}

func envFor(k *testkit.Kit, app *sandbox.WeChatApp) *chargeEnv {
	return &chargeEnv{Kit: k, mp: app, tok: k.AppToken(app)}
}

// advance moves the clock and gets a new token, as the old one may have expired.
func (e *chargeEnv) advance(d time.Duration) {
	e.T().Helper()
	e.Advance(d)
	e.tok = e.AppToken(e.mp)
}

func (e *chargeEnv) tap(body map[string]any) testkit.Answer {
	e.T().Helper()
	if body == nil {
		body = map[string]any{}
	}
	if _, ok := body["appid"]; !ok {
		body["appid"] = e.mp.AppID
	}
	a := e.Control(http.MethodPost, "/_sandbox/wechat/charge/phone-taps", body)
	if a.Status != http.StatusOK {
		e.T().Fatalf("tap: %s", a)
	}
	return a
}

func (e *chargeEnv) consume(spu, units int) testkit.Answer {
	e.T().Helper()
	return e.Control(http.MethodPost, "/_sandbox/wechat/charge/consume", map[string]any{"appid": e.mp.AppID, "spu_id": spu, "units": units})
}

func (e *chargeEnv) mustConsume(spu, units int) {
	e.T().Helper()
	if a := e.consume(spu, units); a.Status != http.StatusOK || a.JSON.Num("spent") != float64(units) {
		e.T().Fatalf("consume %d of %d: %s", units, spu, a)
	}
}

func (e *chargeEnv) buy(sku int, extra map[string]any) testkit.Answer {
	e.T().Helper()
	body := map[string]any{"appid": e.mp.AppID, "sku_id": sku}
	for k, v := range extra {
		body[k] = v
	}
	return e.Control(http.MethodPost, "/_sandbox/wechat/charge/orders", body)
}

func (e *chargeEnv) mustBuy(sku int, extra map[string]any) testkit.Answer {
	e.T().Helper()
	a := e.buy(sku, extra)
	if a.Status != http.StatusCreated {
		e.T().Fatalf("buy %d: %s", sku, a)
	}
	return a
}

func (e *chargeEnv) usage(query string) testkit.Answer {
	e.T().Helper()
	return e.API(http.MethodGet, "/wxa/charge/usage/get?"+query, e.tok, nil)
}

// product returns a product of the Mini Program's account view.
func (e *chargeEnv) product(spu int) map[string]any {
	e.T().Helper()
	a := e.Control(http.MethodGet, "/_sandbox/wechat/charge/accounts/"+e.mp.AppID, nil)
	if a.Status != http.StatusOK {
		e.T().Fatalf("account: %s", a)
	}
	for _, p := range a.JSON["products"].([]any) {
		if m := p.(map[string]any); m["spu_id"] == float64(spu) {
			return m
		}
	}
	e.T().Fatalf("account has no product %d: %s", spu, a)
	return nil
}

func packsOf(product map[string]any) []map[string]any {
	var out []map[string]any
	for _, p := range product["packs"].([]any) {
		out = append(out, p.(map[string]any))
	}
	return out
}

func TestSKUsPerProduct(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	all := k.Control(http.MethodGet, "/_sandbox/wechat/charge/skus", nil)
	var got struct {
		Products []struct {
			SpuID int64 `json:"spu_id"`
			Name  string
			SKUs  []struct {
				SkuID       int64 `json:"sku_id"`
				SpuID       int64 `json:"spu_id"`
				Quota       int64
				DurationSec int64 `json:"duration_sec"`
				PriceFen    int64 `json:"price_fen"`
			}
		}
	}
	k.Decode(all, &got)
	var spus []int64
	for _, p := range got.Products {
		spus = append(spus, p.SpuID)
		if len(p.SKUs) == 0 {
			t.Errorf("product %d (%s) has no SKU for sale", p.SpuID, p.Name)
		}
		for _, s := range p.SKUs {
			if s.SpuID != p.SpuID || s.Quota <= 0 || s.DurationSec != 365*daySec {
				t.Errorf("product %d lists SKU %+v", p.SpuID, s)
			}
		}
	}
	if want := []int64{spuVoIP, spuQuick, spuRealtime, spuMap}; !slices.Equal(spus, want) {
		t.Errorf("products %v, want the seed page's %v", spus, want)
	}
	// The quick component's packs cost the documented 0.03 元 a verification.
	one := k.Control(http.MethodGet, "/_sandbox/wechat/charge/skus?spu_id=10000077", nil)
	k.Decode(one, &got)
	if len(got.Products) != 1 || got.Products[0].SKUs[0].SkuID != skuQuick1k || got.Products[0].SKUs[0].PriceFen != 3000 {
		t.Errorf("skus of 10000077: %s", one)
	}
	k.RefusedCode("unknown SPU", http.StatusNotFound, "spu_not_found", func() testkit.Answer {
		return k.Control(http.MethodGet, "/_sandbox/wechat/charge/skus?spu_id=10000117", nil)
	})
	k.RefusedCode("malformed SPU", http.StatusBadRequest, "invalid_spu", func() testkit.Answer {
		return k.Control(http.MethodGet, "/_sandbox/wechat/charge/skus?spu_id=quick", nil)
	})
	// The Go twin lists the same.
	twin, err := k.Srv.Charge().SKUs(spuQuick)
	if err != nil || len(twin) != 1 || twin[0].SKUs[0].SkuID != skuQuick1k {
		t.Errorf("Charge().SKUs(10000077) = %+v, %v", twin, err)
	}
}

func TestBuyMakesAPackInEffectOrLater(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	now := e.Now().Unix()
	o := e.mustBuy(skuQuick1k, nil)
	if o.Str("status") != "paid" || o.JSON.Num("start_time") != float64(now) || o.JSON.Num("end_time") != float64(now+365*daySec) ||
		o.JSON.Num("refundable_until") != float64(now+7*daySec) {
		t.Errorf("order %s", o)
	}
	later := now + 10*daySec
	o2 := e.mustBuy(skuQuick10k, map[string]any{"start_time": later})
	p := e.product(spuQuick)
	packs := packsOf(p)
	// The trial pack first (its start is the charging start), then the two bought, by start.
	if len(packs) != 3 || packs[0]["source"] != 1.0 || packs[0]["pkg_id"] != "" || packs[0]["end_time"] != float64(trialEnd) {
		t.Fatalf("packs %v", packs)
	}
	if packs[1]["pkg_id"] != o.Str("pkg_id") || packs[1]["status"] != 1.0 || packs[1]["order_id"] != o.Str("order_id") {
		t.Errorf("pack bought now: %v", packs[1])
	}
	if packs[2]["pkg_id"] != o2.Str("pkg_id") || packs[2]["status"] != 2.0 || packs[2]["start_time"] != float64(later) {
		t.Errorf("pack bought to start later: %v", packs[2])
	}
	if p["all"] != 2000.0 || p["left"] != 2000.0 {
		t.Errorf("totals in effect: all %v left %v, want 2000 (trial and the pack in effect)", p["all"], p["left"])
	}
	e.Advance(10 * 24 * time.Hour)
	if p := e.product(spuQuick); p["all"] != 12000.0 {
		t.Errorf("after its start the later pack counts: all %v, want 12000", p["all"])
	}
	orders := e.Control(http.MethodGet, "/_sandbox/wechat/charge/orders?appid="+e.mp.AppID, nil)
	list, _ := orders.JSON["orders"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["order_id"] != o.Str("order_id") {
		t.Errorf("orders %s", orders)
	}
}

func TestBuyRefusals(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	personal := e.App(sandbox.WeChatAppSpec{Type: "mini_program", SubjectType: "personal"})
	unverified := false
	notVerified := e.App(sandbox.WeChatAppSpec{Type: "mini_program", Verified: &unverified})
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"an official account", map[string]any{"appid": testkit.ServiceAppID, "sku_id": skuQuick1k}, 403, "not_mini_program"},
		{"an unknown app", map[string]any{"appid": "wx00000000000000ff", "sku_id": skuQuick1k}, 404, "app_not_found"},
		{"an unknown SKU", map[string]any{"appid": e.mp.AppID, "sku_id": 20000093}, 404, "sku_not_found"},
		{"a phone pack for a personal Mini Program", map[string]any{"appid": personal.AppID, "sku_id": skuQuick1k}, 403, "not_eligible"},
		{"a phone pack for an unverified Mini Program", map[string]any{"appid": notVerified.AppID, "sku_id": skuRealtime1k}, 403, "not_eligible"},
		{"a start in the past", map[string]any{"appid": e.mp.AppID, "sku_id": skuQuick1k, "start_time": e.Now().Unix() - 1}, 400, "invalid_start"},
		{"a string SKU", map[string]any{"appid": e.mp.AppID, "sku_id": "21000771"}, 400, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := e.For(t)
			k.RefusedCode(tc.name, tc.status, tc.code, func() testkit.Answer {
				return k.Control(http.MethodPost, "/_sandbox/wechat/charge/orders", tc.body)
			})
		})
	}
	// A personal Mini Program may still buy a VoIP pack: only the phone components need more.
	if a := envFor(e.Kit, personal).buy(skuVoIP10k, nil); a.Status != http.StatusCreated {
		t.Errorf("VoIP pack for a personal Mini Program: %s", a)
	}
}

func TestRefund(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	unused := e.mustBuy(skuQuick1k, nil)
	used := e.mustBuy(skuRealtime1k, nil)
	old := e.mustBuy(skuVoIP10k, nil)
	e.mustConsume(spuRealtime, 1000) // the trial pack ...
	e.mustConsume(spuRealtime, 1)    // ... then one unit of the bought pack
	refund := func(id string) testkit.Answer {
		return e.Control(http.MethodPost, "/_sandbox/wechat/charge/orders/"+id+"/refund", nil)
	}
	e.Advance(7*24*time.Hour - time.Second)
	r := refund(unused.Str("order_id"))
	if r.Status != http.StatusOK || r.Str("status") != "refunded" || r.JSON.Num("refunded_at") != float64(e.Now().Unix()) {
		t.Fatalf("refund of an unused pack within 7 days: %s", r)
	}
	for _, p := range packsOf(e.product(spuQuick)) {
		if p["pkg_id"] == unused.Str("pkg_id") {
			t.Errorf("the refunded pack is still listed: %v", p)
		}
	}
	e.RefusedCode("a second refund", http.StatusConflict, "not_refundable", func() testkit.Answer { return refund(unused.Str("order_id")) })
	e.RefusedCode("a partly used pack", http.StatusConflict, "not_refundable", func() testkit.Answer { return refund(used.Str("order_id")) })
	e.RefusedCode("an unknown order", http.StatusNotFound, "order_not_found", func() testkit.Answer { return refund("DD0000000000000000000") })
	e.Advance(2 * time.Second)
	e.RefusedCode("a pack paid more than 7 days ago", http.StatusConflict, "not_refundable", func() testkit.Answer { return refund(old.Str("order_id")) })
	orders, err := e.Srv.Charge().Orders(e.mp.AppID)
	if err != nil || len(orders) != 3 || orders[0].Status != "refunded" || orders[1].Status != "paid" || orders[0].Seq != 1 {
		t.Errorf("Charge().Orders = %+v, %v", orders, err)
	}
}

func TestExemptAccountsSpendNothing(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	// The fixture Mini Program's subject is government: exempt by default.
	gov := envFor(k, &sandbox.WeChatApp{AppID: testkit.MiniAppID, Secret: testkit.MiniSecret})
	a := gov.tap(nil)
	if a.Str("errMsg") != "getPhoneNumber:ok" || a.Str("code") == "" || a.Str("free") != "exempt" || len(a.JSON["spent_from"].([]any)) != 0 {
		t.Errorf("a government Mini Program's tap: %s", a)
	}
	if p := gov.product(spuQuick); packsOf(p)[0]["used"] != 0.0 {
		t.Errorf("the exempt account's trial pack was spent: %v", p)
	}
	acct := k.Control(http.MethodGet, "/_sandbox/wechat/charge/accounts/"+testkit.MiniAppID, nil)
	if acct.JSON["exempt"] != true || acct.Str("exemption") != "auto" || acct.Str("exempt_reason") == "" {
		t.Errorf("account %s", acct)
	}
	// The setting overrides the rules, both ways.
	patch := func(appid string, body map[string]any) testkit.Answer {
		a := k.Control(http.MethodPatch, "/_sandbox/wechat/charge/accounts/"+appid, body)
		if a.Status != http.StatusOK {
			t.Fatalf("patch %v: %s", body, a)
		}
		return a
	}
	patch(testkit.MiniAppID, map[string]any{"exemption": "charged"})
	if a := gov.tap(nil); a.Str("free") != "" || a.JSON.Num("left") != 999 {
		t.Errorf("tap after exemption charged: %s", a)
	}
	for _, tc := range []struct {
		body   map[string]any
		exempt bool
	}{
		{map[string]any{"subject": "nonprofit"}, true},
		{map[string]any{"subject": "public_institution"}, false},
		{map[string]any{"subject": "public_institution", "category": "政务民生"}, true},
		{map[string]any{"subject": "enterprise", "category": "公立医疗机构"}, true},
		{map[string]any{"subject": "", "category": "学历教育"}, true},
		{map[string]any{"subject": "", "category": "政务民生"}, false}, // 政务民生 frees public institutions only
		{map[string]any{"subject": "", "category": "", "exemption": "exempt"}, true},
		{map[string]any{"exemption": "auto"}, false},
	} {
		e := newChargeEnvOn(k)
		a := patch(e.mp.AppID, tc.body)
		if a.JSON["exempt"] != tc.exempt {
			t.Errorf("%v: exempt %v, want %v (%s)", tc.body, a.JSON["exempt"], tc.exempt, a)
		}
		free := e.tap(nil).Str("free") == "exempt"
		if free != tc.exempt {
			t.Errorf("%v: the tap was free: %v, want %v", tc.body, free, tc.exempt)
		}
	}
	k.RefusedCode("an unknown exemption", http.StatusBadRequest, "invalid", func() testkit.Answer {
		return k.Control(http.MethodPatch, "/_sandbox/wechat/charge/accounts/"+testkit.MiniAppID, map[string]any{"exemption": "free"})
	})
	k.RefusedCode("an official account", http.StatusForbidden, "not_mini_program", func() testkit.Answer {
		return k.Control(http.MethodPatch, "/_sandbox/wechat/charge/accounts/"+testkit.ServiceAppID, map[string]any{"category": "政务民生"})
	})
}

// newChargeEnvOn makes another enterprise Mini Program on k's sandbox.
func newChargeEnvOn(k *testkit.Kit) *chargeEnv {
	return envFor(k, k.App(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "unlimited"}))
}

func TestConsumeVoIPAndMapUnits(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	e.RefusedCode("VoIP without a pack", http.StatusConflict, "no_quota", func() testkit.Answer { return e.consume(spuVoIP, 1) })
	e.RefusedCode("an unknown product", http.StatusNotFound, "spu_not_found", func() testkit.Answer { return e.consume(10000117, 1) })
	o := e.mustBuy(skuVoIP10k, nil)
	a := e.consume(spuVoIP, 30)
	if a.JSON.Num("spent") != 30 || a.JSON.Num("left") != 9970 {
		t.Errorf("30 minutes: %s", a)
	}
	e.RefusedCode("more than is left", http.StatusConflict, "no_quota", func() testkit.Answer { return e.consume(spuVoIP, 9971) })
	u := e.usage("spuId=10000058&offset=0&limit=20")
	k := e.Kit
	k.WantErrcode(u, 0)
	rows := u.JSON["detailList"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["pkgId"] != o.Str("pkg_id") || rows[0].(map[string]any)["used"] != "30" || u.Str("effectiveUse") != "30" {
		t.Errorf("usage of 10000058: %s", u)
	}
	// Map styles have no trial either; a pack's units go the same way.
	e.RefusedCode("map styles without a pack", http.StatusConflict, "no_quota", func() testkit.Answer { return e.consume(spuMap, 1) })
	if u := e.usage("spuId=10000092&offset=0&limit=20"); u.JSON.Num("total") != 0 || u.Str("all") != "0" {
		t.Errorf("usage of 10000092 without packs: %s", u)
	}
}

func TestTrialPackIsStoredWhenFirstSpent(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	key := fmt.Sprintf("wechat:charge:pack:%s:%d:00000000", e.mp.AppID, spuQuick)
	stored := func() bool {
		snap := e.Control(http.MethodGet, "/_sandbox/state", nil)
		for _, it := range snap.JSON["entries"].([]any) {
			if it.(map[string]any)["key"] == key {
				return true
			}
		}
		return false
	}
	// Listed (usage/get, the account) before anything is spent, but not stored.
	if u := e.usage("spuId=10000077&offset=0&limit=20"); u.JSON.Num("total") != 1 || stored() {
		t.Fatalf("before the first tap: %s (stored: %v)", u, stored())
	}
	e.tap(nil)
	if !stored() {
		t.Errorf("after the first tap the trial pack %s is not stored", key)
	}
	if u := e.usage("spuId=10000077&offset=0&limit=20"); u.JSON.Num("total") != 1 || u.Str("effectiveUse") != "1" {
		t.Errorf("after the first tap: %s", u)
	}
}
