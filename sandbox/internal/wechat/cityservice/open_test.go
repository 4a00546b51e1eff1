package cityservice_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

func TestCityServiceOpenPages(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	csApprove(k, testkit.ServiceAppID, nil)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)

	t.Run("home", func(t *testing.T) {
		k := k.For(t)
		o := csOpenPath(k, "o_user", csPath(k, tok, map[string]any{"page_type": 1, "src_channel": 0, "city_name": "晋城"}))
		if testkit.Dig(o.JSON, "city", "name") != "晋城" {
			t.Errorf("city = %v", testkit.Dig(o.JSON, "city"))
		}
		if got := fmt.Sprint(testkit.Dig(o.JSON, "home", "topics")); got != "[养老 医疗保健 交通出行 就业创业 民生缴费]" {
			t.Errorf("topics = %s", got)
		}
		if got := csNames(testkit.Dig(o.JSON, "home", "health_codes")); !slices.Equal(got, []string{"山西健康码", "晋来办健康码"}) {
			t.Errorf("health codes = %v", got)
		}
		if got := csNames(testkit.Dig(o.JSON, "home", "hot_services")); !slices.Contains(got, "晋城市民服务") {
			t.Errorf("hot services %v lack 晋城市民服务", got)
		}
	})
	t.Run("topic", func(t *testing.T) {
		k := k.For(t)
		o := csOpenPath(k, "o_user", csPath(k, tok, map[string]any{"page_type": 3, "src_channel": 0, "city_name": "北京", "content_name": "养老"}))
		got := csNames(testkit.Dig(o.JSON, "topic", "services"))
		if !slices.Contains(got, "北京市城乡居民养老保险") || slices.Contains(got, "山西省城乡居民养老保险") {
			t.Errorf("北京 养老 services = %v", got)
		}
	})
	t.Run("service list", func(t *testing.T) {
		k := k.For(t)
		o := csOpenPath(k, "o_user", csPath(k, tok, map[string]any{"page_type": 5, "src_channel": 0, "city_name": "广州", "ext_params": []map[string]string{{"key": "keyword", "value": "挂号就诊"}}}))
		got := csNames(testkit.Dig(o.JSON, "service_list", "services"))
		if !slices.Contains(got, "广州市挂号平台") || len(got) < 2 {
			t.Errorf("广州 挂号就诊 = %v", got)
		}
	})
	t.Run("service homepage", func(t *testing.T) {
		k := k.For(t)
		o := csOpenPath(k, "o_user", csPath(k, tok, map[string]any{"page_type": 0, "src_channel": 1, "service_id": csJinchengOwned, "params": `[{"key":"city","value":"晋城"},{"key":"type","value":"11"}]`}))
		s := testkit.Dig(o.JSON, "service").(map[string]any)
		if s["name"] != "晋城市民服务" || testkit.Dig(s, "homepage", "contact", "phone") != "0356-12345" || s["user_city"] != "晋城" || s["offered_in_user_city"] != true {
			t.Errorf("service = %v", s)
		}
		if got := fmt.Sprint(s["params"]); got != "[map[key:city value:晋城] map[key:type value:11]]" {
			t.Errorf("params = %s", got)
		}
		if n := len(testkit.Dig(s, "homepage", "related_accounts").([]any)); n != 2 {
			t.Errorf("%d related accounts, want 2", n)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		k := k.For(t)
		home := csPath(k, tok, map[string]any{"page_type": 1, "src_channel": 0, "city_name": "广州"})
		forged := strings.Replace(home.Str("path"), "bt=open_", "bt=forged_", 1)
		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
		}{
			{"no path", map[string]any{"openid": "o_user"}, 400},
			{"no openid", map[string]any{"path": home.Str("path")}, 400},
			{"unknown page", map[string]any{"openid": "o_user", "path": "pages/secret/index?bt=x"}, 404},
			{"forged bt", map[string]any{"openid": "o_user", "path": forged}, 403},
			{"foreign H5 host", map[string]any{"openid": "o_user", "path": "https://evil.example.com/h5/index?city_id=440100"}, 400},
			{"unknown menu", map[string]any{"openid": "o_user", "menu": map[string]any{"appid": testkit.ServiceAppID, "key": "k"}}, 404},
			{"path and menu", map[string]any{"openid": "o_user", "path": home.Str("path"), "menu": map[string]any{"appid": testkit.ServiceAppID, "key": "k"}}, 400},
		} {
			t.Run(tc.name, func(t *testing.T) {
				k := k.For(t)
				k.Unchanged(func() {
					if r := k.Control("POST", csOpen, tc.body); r.Status != tc.status {
						t.Errorf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
					}
				})
			})
		}
	})
}

func TestCityServiceHealthCodeChoice(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	csApprove(k, testkit.ServiceAppID, map[string]any{"page_types": []int{2}, "src_channels": []int{2}})
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	entry := func(city string) testkit.Answer {
		a := csPath(k, tok, map[string]any{"page_type": 2, "src_channel": 2, "city_name": city})
		k.WantErrcode(a, 0)
		return a
	}
	popup := func(openid string, a testkit.Answer) map[string]any {
		o := csOpenPath(k, openid, a)
		return testkit.Dig(o.JSON, "health_code").(map[string]any)
	}

	bj := popup("o_alice", entry("北京"))
	if bj["choice_required"] != false || testkit.Dig(bj, "selected", "name") != "北京健康宝" {
		t.Errorf("北京 popup = %v, want 北京健康宝 selected", bj)
	}
	gz := entry("广州")
	first := popup("o_alice", gz)
	if first["choice_required"] != true || first["selected"] != nil || len(first["codes"].([]any)) != 2 {
		t.Fatalf("广州 popup before a choice = %v, want both codes listed", first)
	}

	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
	}{
		{"another city's code", map[string]any{"openid": "o_alice", "city_name": "广州", "service_id": 1009004}, 400},
		{"not a health code", map[string]any{"openid": "o_alice", "city_name": "广州", "service_id": csNationalFund}, 400},
		{"unknown city", map[string]any{"openid": "o_alice", "city_name": "火星", "service_id": 1009002}, 404},
		{"no openid", map[string]any{"city_name": "广州", "service_id": 1009002}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				if r := k.Control("POST", csHealthChoice, tc.body); r.Status != tc.status {
					t.Errorf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
				}
			})
		})
	}

	c := k.Control("POST", csHealthChoice, map[string]any{"openid": "o_alice", "city_name": "广州", "service_id": 1009002})
	if c.Status != 200 || testkit.Dig(c.JSON, "selected", "name") != "穗康码" {
		t.Fatalf("choice: %d %s", c.Status, c.Raw)
	}
	again := popup("o_alice", gz)
	if again["remembered"] != true || testkit.Dig(again, "selected", "name") != "穗康码" || again["choice_required"] != false {
		t.Errorf("广州 popup after the choice = %v, want 穗康码 remembered", again)
	}
	if other := popup("o_bob", gz); other["choice_required"] != true {
		t.Errorf("another user's popup = %v, want a choice required", other)
	}
	if sz := popup("o_alice", entry("深圳")); sz["choice_required"] != true {
		t.Errorf("深圳 popup = %v: a choice in 广州 must not carry over", sz)
	}
	// Switching replaces the remembered code.
	k.Control("POST", csHealthChoice, map[string]any{"openid": "o_alice", "city_name": "广州", "service_id": 1009001})
	if sw := popup("o_alice", gz); testkit.Dig(sw, "selected", "name") != "粤康码" {
		t.Errorf("after switching: %v", sw)
	}
}

// BenchmarkCityServiceOpenHome measures a simulated open of a city home page (a scan of every
// service of the world).
func BenchmarkCityServiceOpenHome(b *testing.B) {
	k := testkit.New(b)
	csApprove(k, testkit.ServiceAppID, nil)
	p := csPath(k, k.Token(testkit.ServiceAppID, testkit.ServiceSecret), map[string]any{"page_type": 1, "src_channel": 0, "city_name": "广州"})
	for b.Loop() {
		csOpenPath(k, "o_bench", p)
	}
}
