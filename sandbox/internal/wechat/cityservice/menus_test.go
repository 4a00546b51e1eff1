package cityservice_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

func TestCityServiceMenus(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	menus := "/_sandbox/wechat/cityservice/menus/"
	entries := map[string]any{"entries": []map[string]any{
		{"key": "hc", "name": "健康码", "page_type": 2, "city_name": "晋城"},
		{"key": "pay", "name": "民生缴费", "page_type": 3, "city_name": "晋城", "content_name": "民生缴费"},
		{"key": "home", "name": "我的服务", "page_type": 0, "service_id": csJinchengOwned, "params": `[{"key":"city","value":"晋城"}]`},
	}}
	t.Run("before approval", func(t *testing.T) {
		k := k.For(t)
		k.Unchanged(func() {
			if r := k.Control("PUT", menus+testkit.ServiceAppID, entries); r.Status != 403 || testkit.Dig(r.JSON, "error", "code") != "not_approved" {
				t.Errorf("status %d: %s", r.Status, r.Raw)
			}
		})
	})
	csApprove(k, testkit.ServiceAppID, map[string]any{"page_types": []int{0, 2, 3}, "src_channels": []int{0}})
	for _, tc := range []struct {
		name   string
		appid  string
		body   any
		status int
	}{
		{"unknown app", "wx0000000000000bad", entries, 404},
		{"page type not granted", testkit.ServiceAppID, map[string]any{"entries": []map[string]any{{"key": "h", "name": "首页", "page_type": 1, "city_name": "晋城"}}}, 403},
		{"unknown city", testkit.ServiceAppID, map[string]any{"entries": []map[string]any{{"key": "h", "name": "健康码", "page_type": 2, "city_name": "火星"}}}, 400},
		{"missing topic", testkit.ServiceAppID, map[string]any{"entries": []map[string]any{{"key": "t", "name": "专题", "page_type": 3, "city_name": "晋城"}}}, 400},
		{"duplicate key", testkit.ServiceAppID, map[string]any{"entries": []map[string]any{{"key": "h", "name": "a", "page_type": 2, "city_name": "晋城"}, {"key": "h", "name": "b", "page_type": 2, "city_name": "太原"}}}, 400},
		{"no entries field", testkit.ServiceAppID, map[string]any{}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				if r := k.Control("PUT", menus+tc.appid, tc.body); r.Status != tc.status {
					t.Errorf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
				}
			})
		})
	}
	m := k.Control("PUT", menus+testkit.ServiceAppID, entries)
	if m.Status != 200 || testkit.Dig(m.JSON, "src_channel") != float64(0) {
		t.Fatalf("put menu: %d %s", m.Status, m.Raw)
	}
	if g := k.Control("GET", menus+testkit.ServiceAppID, nil); string(g.Raw) != string(m.Raw) {
		t.Errorf("GET menu = %s, want %s", g.Raw, m.Raw)
	}
	open := func(key string) testkit.Answer {
		o := k.Control("POST", csOpen, map[string]any{"openid": "o_carol", "menu": map[string]any{"appid": testkit.ServiceAppID, "key": key}})
		if o.Status != 200 || testkit.Dig(o.JSON, "entry", "menu_key") != key {
			t.Fatalf("open menu %s: %d %s", key, o.Status, o.Raw)
		}
		return o
	}
	if o := open("hc"); testkit.Dig(o.JSON, "health_code", "choice_required") != true {
		t.Errorf("health-code menu: %s", o.Raw)
	}
	if o := open("pay"); !slices.Contains(csNames(testkit.Dig(o.JSON, "topic", "services")), "晋城便民缴费") {
		t.Errorf("民生缴费 menu: %s", o.Raw)
	}
	if o := open("home"); testkit.Dig(o.JSON, "service", "name") != "晋城市民服务" {
		t.Errorf("homepage menu: %s", o.Raw)
	}
	t.Run("journal", func(t *testing.T) {
		k := k.For(t)
		j := k.Control("GET", "/_sandbox/requests?event=cityservice_open", nil)
		entries := j.JSON["requests"].([]any)
		if len(entries) != 3 {
			t.Fatalf("%d cityservice_open events, want 3: %s", len(entries), j.Raw)
		}
		if e := entries[0]; testkit.Dig(e, "appid") != testkit.ServiceAppID || !strings.Contains(testkit.Dig(e, "reason").(string), "o_carol opened the health_code page") {
			t.Errorf("event = %v", e)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		k := k.For(t)
		k.Unchanged(func() {
			if r := k.Control("POST", csOpen, map[string]any{"openid": "o", "menu": map[string]any{"appid": testkit.ServiceAppID, "key": "nope"}}); r.Status != 404 {
				t.Errorf("status %d: %s", r.Status, r.Raw)
			}
		})
	})
	t.Run("mini program menu needs channel 1", func(t *testing.T) {
		k := k.For(t)
		csApprove(k, testkit.MiniAppID, map[string]any{"src_channels": []int{0}})
		k.Unchanged(func() {
			r := k.Control("PUT", menus+testkit.MiniAppID, map[string]any{"entries": []map[string]any{{"key": "hc", "name": "健康码", "page_type": 2, "city_name": "晋城"}}})
			if r.Status != 403 {
				t.Errorf("status %d: %s", r.Status, r.Raw)
			}
		})
	})
}
