package charge_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// receiver starts an integrator's receiver for the Mini Program's pushes and makes it its push
// URL, in format and mode.
func (e *chargeEnv) receiver(format, mode string) *testkit.Receiver {
	e.T().Helper()
	r := testkit.NewReceiver(e.T(), e.mp.AppID, "chargeReceiver1", "ChargeWarningsReceiverKey0123456789abcdefgh", format, mode)
	if a := e.Control(http.MethodPut, "/_sandbox/wechat/apps/"+e.mp.AppID+"/push", r.PushConfig()); a.Status != http.StatusOK {
		e.T().Fatalf("push configuration: %s", a)
	}
	return r
}

// quotaPercents returns the percents of a product's quota warnings as the account shows them.
func quotaPercents(product map[string]any) []int {
	var out []int
	for _, w := range product["quota_warnings"].([]any) {
		out = append(out, int(w.(map[string]any)["percent"].(float64)))
	}
	return out
}

// wantQuotaPush checks the n-th push the receiver got (from 1): a quota warning with the totals.
// Waiting for the n-th and finding these totals also shows that no push came between.
func wantQuotaPush(t *testing.T, r *testkit.Receiver, e *chargeEnv, n int, total, used float64) {
	t.Helper()
	ev := r.Wait(n)[n-1].Fields
	if ev["MsgType"] != "event" || ev["Event"] != "charge_service_quota_notify" || ev["event_type"] != 3.0 ||
		ev["spu_id"] != float64(spuQuick) || ev["spu_name"] != "手机号快速验证组件" || ev["appid"] != e.mp.AppID ||
		ev["ToUserName"] != e.mp.OriginalID || ev["CreateTime"] != float64(e.Now().Unix()) {
		t.Errorf("push %d: %v", n, ev)
	}
	if ev["total_quota"] != total || ev["total_used_quota"] != used {
		t.Errorf("push %d: total_quota %v total_used_quota %v, want %v and %v", n, ev["total_quota"], ev["total_used_quota"], total, used)
	}
}

func TestQuotaWarningsAtEachThresholdOnceAndRearmed(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	r := e.receiver("json", "safe")
	e.mustConsume(spuQuick, 799) // 20.1 % left: no warning yet
	e.tap(nil)                   // 20 %
	wantQuotaPush(t, r, e, 1, 1000, 800)
	e.tap(nil) // still under 20 %: no second warning
	e.mustConsume(spuQuick, 98)
	e.tap(nil) // 10 %
	wantQuotaPush(t, r, e, 2, 1000, 900)
	e.mustConsume(spuQuick, 50) // 5 %, reached by the consume verb
	wantQuotaPush(t, r, e, 3, 1000, 950)
	e.mustConsume(spuQuick, 49)
	e.tap(nil) // used up
	wantQuotaPush(t, r, e, 4, 1000, 1000)
	if a := e.tap(nil); a.JSON.Num("errno") != 1400001 {
		t.Fatalf("tap with nothing left: %s", a)
	}
	if got := quotaPercents(e.product(spuQuick)); !slices.Equal(got, []int{20, 10, 5, 0}) {
		t.Errorf("quota warnings sent %v, want [20 10 5 0]", got)
	}
	// A new pack raises the share to 50 %: every warning is armed again.
	e.mustBuy(skuQuick1k, nil)
	if got := quotaPercents(e.product(spuQuick)); len(got) != 0 {
		t.Errorf("after a pack was bought the warnings sent are %v, want none (re-armed)", got)
	}
	e.mustConsume(spuQuick, 599)
	e.tap(nil) // 400 of 2000 left: 20 % again
	wantQuotaPush(t, r, e, 5, 2000, 1600)
	e.mustConsume(spuQuick, 399) // 10 % and 5 % at once: one warning
	wantQuotaPush(t, r, e, 6, 2000, 1999)
	e.tap(nil)
	wantQuotaPush(t, r, e, 7, 2000, 2000)
	if got := quotaPercents(e.product(spuQuick)); !slices.Equal(got, []int{20, 10, 5, 0}) {
		t.Errorf("quota warnings sent %v, want [20 10 5 0]", got)
	}
	if a := e.tap(nil); a.JSON.Num("errno") != 1400001 {
		t.Errorf("final tap: %s", a)
	}
	j := e.Control(http.MethodGet, "/_sandbox/requests?event=charge_mp_service_quota_notify", nil)
	if n := len(j.JSON["requests"].([]any)); n != 7 {
		t.Errorf("journal holds %d quota warnings, want 7: %s", n, j)
	}
	if got := len(r.Events()); got != 7 {
		t.Errorf("the receiver got %d pushes, want 7", got)
	}
}

func TestQuotaWarningInXMLPlaintext(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	r := e.receiver("xml", "plaintext")
	e.mustConsume(spuRealtime, 1000)
	ev := r.Wait(1)[0].Fields
	if ev["Event"] != "charge_service_quota_notify" || ev["event_type"] != "3" || ev["spu_id"] != "10000086" ||
		ev["spu_name"] != "手机号实时验证组件" || ev["total_quota"] != "1000" || ev["total_used_quota"] != "1000" {
		t.Errorf("XML push %v", ev)
	}
}

func TestValidityWarningsFollowTheClock(t *testing.T) {
	t.Parallel()
	e := newChargeEnv(t)
	r := e.receiver("json", "compatible")
	o := e.mustBuy(skuQuick1k, nil)
	end := time.Unix(int64(o.JSON.Num("end_time")), 0)
	hash := e.StateHash()
	e.Advance(time.Hour)
	if e.StateHash() != hash {
		t.Errorf("a clock move with nothing due changed the state")
	}
	expiry := func() []int {
		var days []int
		for _, p := range packsOf(e.product(spuQuick)) {
			if p["pkg_id"] == o.Str("pkg_id") {
				for _, w := range p["expiry_warnings"].([]any) {
					days = append(days, int(w.(map[string]any)["days"].(float64)))
				}
			}
		}
		return days
	}
	wantPush := func(n int, days []int) {
		t.Helper()
		ev := r.Wait(n)[n-1].Fields
		if ev["event_type"] != 4.0 || ev["Event"] != "charge_service_quota_notify" || ev["validity_end_time"] != strconv.FormatInt(end.Unix(), 10) ||
			ev["spu_id"] != float64(spuQuick) || ev["appid"] != e.mp.AppID {
			t.Errorf("push %d: %v", n, ev)
		}
		if got := expiry(); !slices.Equal(got, days) {
			t.Errorf("after push %d the pack's validity warnings are %v, want %v", n, got, days)
		}
	}
	e.SetTime(end.Add(-15*24*time.Hour - time.Second))
	if got := expiry(); len(got) != 0 {
		t.Errorf("a second before 15 days: warnings %v", got)
	}
	// Through the control plane's clock verb, like any other clock-driven push.
	if a := e.Control(http.MethodPost, "/_sandbox/clock", map[string]any{"advance": "1s"}); a.Status != http.StatusOK {
		t.Fatalf("clock: %s", a)
	}
	wantPush(1, []int{15})
	e.SetTime(end.Add(-7 * 24 * time.Hour))
	wantPush(2, []int{15, 7})
	e.SetTime(end.Add(-12 * time.Hour)) // past 3 days and 1 day at once: one warning
	wantPush(3, []int{15, 7, 3, 1})
	e.SetTime(end)
	wantPush(4, []int{15, 7, 3, 1, 0})
	e.advance(10 * 24 * time.Hour)
	if u := e.usage("spuId=10000077&offset=0&limit=20"); row(u, 1)["status"] != 3.0 {
		t.Errorf("the pack after its end: %s", u)
	}
	j := e.Control(http.MethodGet, "/_sandbox/requests?event=charge_mp_service_validity_notify", nil)
	if n := len(j.JSON["requests"].([]any)); n != 4 || len(r.Events()) != 4 {
		t.Errorf("journal holds %d validity warnings and the receiver %d pushes, want 4 each", n, len(r.Events()))
	}
	// A year after its end the pack is forgotten.
	e.advance(365 * 24 * time.Hour)
	if u := e.usage("spuId=10000077&offset=0&limit=20"); u.JSON.Num("total") != 1 {
		t.Errorf("a year after its end the pack is still listed: %s", u)
	}
}
