package cityservice_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

func TestCityServiceCatalog(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	a := k.Control("GET", csCatalog, nil)
	if a.Status != 200 {
		t.Fatalf("catalog: %d %s", a.Status, a.Raw)
	}
	cities := csNames(a.JSON["cities"])
	for _, want := range []string{"广州", "深圳", "北京", "上海", "晋城", "太原"} {
		if !slices.Contains(cities, want) {
			t.Errorf("cities %v lack %s", cities, want)
		}
	}
	if got := testkit.Dig(a.JSON, "mini_program", "appid"); got != csMiniAppID {
		t.Errorf("mini_program.appid = %v, want %s", got, csMiniAppID)
	}
	codes := map[string]int{}
	for _, c := range a.JSON["cities"].([]any) {
		codes[testkit.Dig(c, "name").(string)] = len(testkit.Dig(c, "health_codes").([]any))
	}
	if codes["广州"] < 2 || codes["深圳"] < 2 || codes["北京"] != 1 {
		t.Errorf("health codes per city = %v, want 广州 and 深圳 with two or more, 北京 one", codes)
	}
	var national, generated int
	perCityCategory := map[string]int{}
	for _, s := range a.JSON["services"].([]any) {
		if testkit.Dig(s, "service_id") == float64(csNationalFund) {
			national++
			if testkit.Dig(s, "homepage", "introduction") == "" {
				t.Errorf("service %d has no homepage introduction", csNationalFund)
			}
		}
		if testkit.Dig(s, "generated") == true {
			generated++
			if testkit.Dig(s, "homepage", "contact", "phone") == "" {
				t.Errorf("generated service %v has no contact phone", testkit.Dig(s, "service_id"))
			}
		}
		for _, c := range testkit.Dig(s, "cities").([]any) {
			for _, cat := range testkit.Dig(s, "categories").([]any) {
				perCityCategory[c.(string)+"/"+cat.(string)]++
			}
		}
	}
	if national != 1 || generated == 0 {
		t.Errorf("catalog has %d × service %d and %d generated services", national, csNationalFund, generated)
	}
	if n := perCityCategory["晋城/挂号就诊"]; n < 2 {
		t.Errorf("晋城 has %d 挂号就诊 services, want the fill's minimum 2", n)
	}

	t.Run("one city", func(t *testing.T) {
		k := k.For(t)
		b := k.Control("GET", csCatalog+"?city="+url.QueryEscape("晋城"), nil)
		if got := csNames(b.JSON["cities"]); !slices.Equal(got, []string{"晋城"}) {
			t.Errorf("cities = %v, want [晋城]", got)
		}
		for _, s := range b.JSON["services"].([]any) {
			cs := testkit.Dig(s, "cities").([]any)
			if len(cs) > 0 && !slices.Contains(cs, any("晋城")) {
				t.Errorf("service %v is not offered in 晋城: %v", testkit.Dig(s, "name"), cs)
			}
		}
		if c := k.Control("GET", csCatalog+"?city=nowhere", nil); c.Status != 404 {
			t.Errorf("unknown city: status %d, want 404", c.Status)
		}
	})
}

func TestCityServiceSettle(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	service := map[string]any{
		"owner_appid": testkit.PersonalMiniAppID, "name": "晋城个人测试服务", "cities": []string{"晋城"}, "categories": []string{"出行"},
		"homepage": map[string]any{"introduction": "测试", "contact": map[string]any{"phone": "0356-1234567"}},
	}
	for _, tc := range []struct {
		name   string
		change map[string]any
		status int
	}{
		{"unknown app", map[string]any{"owner_appid": "wx0000000000000bad"}, 404},
		{"unknown city", map[string]any{"cities": []string{"火星"}}, 400},
		{"unknown category", map[string]any{"categories": []string{"星际旅行"}}, 400},
		{"unknown topic", map[string]any{"topics": []string{"星际旅行"}}, 400},
		{"nationwide health code", map[string]any{"cities": []string{}, "health_code": true}, 400},
		{"no category", map[string]any{"categories": []string{}}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			body := map[string]any{}
			for k, v := range service {
				body[k] = v
			}
			for k, v := range tc.change {
				body[k] = v
			}
			k.Unchanged(func() {
				if r := k.Control("POST", csServicesVerb, body); r.Status != tc.status {
					t.Errorf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
				}
			})
		})
	}
	s := k.Control("POST", csServicesVerb, service)
	if s.Status != 201 {
		t.Fatalf("settle: %d %s", s.Status, s.Raw)
	}
	if got := testkit.Dig(s.JSON, "topics"); fmt.Sprint(got) != "[交通出行]" {
		t.Errorf("topics = %v, want the category's [交通出行]", got)
	}
	if a := k.Control("POST", csApplications, csApplication(testkit.PersonalMiniAppID)); a.Status != 201 {
		t.Errorf("apply after settling a service with a homepage: %d %s", a.Status, a.Raw)
	}
	// The new service has a homepage and is reachable through the API.
	csApprove(k, testkit.ServiceAppID, nil)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	id := int64(testkit.Dig(s.JSON, "service_id").(float64))
	p := csPath(k, tok, map[string]any{"page_type": 0, "src_channel": 0, "service_id": id, "params": "[]"})
	k.WantErrcode(p, 0)
	if o := csOpenPath(k, "o_user", p); testkit.Dig(o.JSON, "service", "name") != "晋城个人测试服务" {
		t.Errorf("opened %s", o.Raw)
	}
}
