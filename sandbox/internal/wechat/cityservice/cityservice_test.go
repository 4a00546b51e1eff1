package cityservice_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/citysandbox/citysandbox/fixtures"
	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// City Service fixtures (fixtures/cityservice.yaml, fixtures/wechat.yaml).
const (
	csMiniAppID     = "wxc175e7f1ce5e7f00"
	csMiniUsername  = "gh_c175e7f1ce5e"
	csMiniSecret    = "5a1d0c0e5a1d0c0e5a1d0c0e00000002"
	csSubscription  = "wx5a1d0c0e00000003" // owns a service without a homepage
	csPersonalMini  = "wx5a1d0c0e00000004" // owns no service
	csPathAPI       = "https://api.weixin.qq.com/cityservice/getservicepath?access_token="
	csApplications  = "/_sandbox/wechat/cityservice/applications"
	csOpen          = "/_sandbox/wechat/cityservice/open"
	csHealthChoice  = "/_sandbox/wechat/cityservice/healthcode-choice"
	csServicesVerb  = "/_sandbox/wechat/cityservice/services"
	csCatalog       = "/_sandbox/wechat/cityservice/catalog"
	csNationalFund  = 1001344 // 全国住房公积金, the reference's example service_id
	csJinchengOwned = 1005001 // 晋城市民服务, owned by the service account
)

func csApplication(appid string) map[string]any {
	return map[string]any{
		"subject_name": "晋城市政务服务管理局", "appid": appid,
		"jump_scenes": []int{0, 1, 2, 3, 5}, "page_types": []int{0, 1, 2, 3, 5},
		"contact_unit": "晋城市政务服务管理局", "contact_person": "王敏",
		"contact_phone": "0356-2021234", "contact_wechat": "wangmin_jc",
	}
}

// csApprove files and approves an application for appid, granting what grant says (nil: all).
func csApprove(t testing.TB, srv *sandboxtest.Server, appid string, grant map[string]any) map[string]any {
	t.Helper()
	a := do(t, srv, "POST", csApplications, csApplication(appid))
	if a.status != 201 {
		t.Fatalf("apply: status %d: %s", a.status, a.raw)
	}
	if grant == nil {
		grant = map[string]any{}
	}
	b := do(t, srv, "POST", csApplications+"/"+a.str("id")+"/approve", grant)
	if b.status != 200 || b.str("status") != "approved" {
		t.Fatalf("approve: status %d: %s", b.status, b.raw)
	}
	return b.json
}

func csPath(t testing.TB, srv *sandboxtest.Server, tok string, body any) answer {
	t.Helper()
	return do(t, srv, "POST", csPathAPI+tok, body)
}

// csOpenPath opens an answer's path (joining query_string) as user openid.
func csOpenPath(t testing.TB, srv *sandboxtest.Server, openid string, a answer) answer {
	t.Helper()
	o := do(t, srv, "POST", csOpen, map[string]any{"openid": openid, "path": a.str("path"), "query_string": a.str("query_string")})
	if o.status != 200 {
		t.Fatalf("open %s: status %d: %s", a.str("path"), o.status, o.raw)
	}
	return o
}

func csNames(list any) []string {
	var out []string
	for _, v := range list.([]any) {
		out = append(out, v.(map[string]any)["name"].(string))
	}
	return out
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func TestCityServiceCatalog(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	a := do(t, srv, "GET", csCatalog, nil)
	if a.status != 200 {
		t.Fatalf("catalog: %d %s", a.status, a.raw)
	}
	cities := csNames(a.json["cities"])
	for _, want := range []string{"广州", "深圳", "北京", "上海", "晋城", "太原"} {
		if !slices.Contains(cities, want) {
			t.Errorf("cities %v lack %s", cities, want)
		}
	}
	if got := dig(a.json, "mini_program", "appid"); got != csMiniAppID {
		t.Errorf("mini_program.appid = %v, want %s", got, csMiniAppID)
	}
	codes := map[string]int{}
	for _, c := range a.json["cities"].([]any) {
		codes[dig(c, "name").(string)] = len(dig(c, "health_codes").([]any))
	}
	if codes["广州"] < 2 || codes["深圳"] < 2 || codes["北京"] != 1 {
		t.Errorf("health codes per city = %v, want 广州 and 深圳 with two or more, 北京 one", codes)
	}
	var national, generated int
	perCityCategory := map[string]int{}
	for _, s := range a.json["services"].([]any) {
		if dig(s, "service_id") == float64(csNationalFund) {
			national++
			if dig(s, "homepage", "introduction") == "" {
				t.Errorf("service %d has no homepage introduction", csNationalFund)
			}
		}
		if dig(s, "generated") == true {
			generated++
			if dig(s, "homepage", "contact", "phone") == "" {
				t.Errorf("generated service %v has no contact phone", dig(s, "service_id"))
			}
		}
		for _, c := range dig(s, "cities").([]any) {
			for _, cat := range dig(s, "categories").([]any) {
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
		b := do(t, srv, "GET", csCatalog+"?city="+url.QueryEscape("晋城"), nil)
		if got := csNames(b.json["cities"]); !slices.Equal(got, []string{"晋城"}) {
			t.Errorf("cities = %v, want [晋城]", got)
		}
		for _, s := range b.json["services"].([]any) {
			cs := dig(s, "cities").([]any)
			if len(cs) > 0 && !slices.Contains(cs, any("晋城")) {
				t.Errorf("service %v is not offered in 晋城: %v", dig(s, "name"), cs)
			}
		}
		if c := do(t, srv, "GET", csCatalog+"?city=nowhere", nil); c.status != 404 {
			t.Errorf("unknown city: status %d, want 404", c.status)
		}
	})
}

func TestCityServiceWorldIsDeterministic(t *testing.T) {
	t.Parallel()
	catalog := func(srv *sandboxtest.Server) string { return string(do(t, srv, "GET", csCatalog, nil).raw) }
	a, b := sandboxtest.New(t), sandboxtest.New(t)
	// Using the seeded sources first must not change the world.
	newApp(t, b, sandbox.WeChatAppSpec{Type: "mini_program"})
	first := catalog(a)
	if got := catalog(b); got != first {
		t.Error("two sandboxes with seed 1 have different City Service worlds")
	}
	if err := a.Reset(); err != nil {
		t.Fatal(err)
	}
	if got := catalog(a); got != first {
		t.Error("the world after a reset differs from the first")
	}
	if a := do(t, a, "POST", "/_sandbox/reset", map[string]any{"platform": "wechat"}); a.status != 200 {
		t.Fatalf("reset wechat: %d %s", a.status, a.raw)
	}
	if got := catalog(a); got != first {
		t.Error("the world after a WeChat-only reset differs from the first")
	}
	other := sandboxtest.New(t, sandboxtest.WithSandboxOptions(sandbox.WithSeed(2)))
	if catalog(other) == first {
		t.Error("seeds 1 and 2 give the same world: the fill is not seeded")
	}
}

func TestCityServiceApplication(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	a := do(t, srv, "POST", csApplications, csApplication(serviceAppID))
	if a.status != 201 || a.str("status") != "pending" {
		t.Fatalf("apply: %d %s", a.status, a.raw)
	}
	if want := "【城市服务开放互联能力申请+晋城市政务服务管理局+" + serviceAppID + "】"; a.str("email_title") != want {
		t.Errorf("email_title = %q, want %q", a.str("email_title"), want)
	}
	id := a.str("id")
	tok := token(t, srv, serviceAppID, serviceSecret)
	home := map[string]any{"page_type": 1, "src_channel": 0, "city_name": "晋城"}

	t.Run("pending answers 48001", func(t *testing.T) {
		unchanged(t, srv, func() { wantErrcode(t, csPath(t, srv, tok, home), 48001) })
	})

	refusals := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"unknown app", "POST", csApplications, csApplication("wx0000000000000bad"), 404, "app_not_found"},
		{"no service", "POST", csApplications, csApplication(csPersonalMini), 403, "not_eligible"},
		{"service without homepage", "POST", csApplications, csApplication(csSubscription), 403, "not_eligible"},
		{"second application", "POST", csApplications, csApplication(serviceAppID), 409, "application_exists"},
		{"missing contact", "POST", csApplications, func() map[string]any {
			m := csApplication(miniAppID)
			delete(m, "contact_wechat")
			return m
		}(), 400, ""},
		{"page type 4", "POST", csApplications, func() map[string]any {
			m := csApplication(miniAppID)
			m["page_types"] = []int{4}
			return m
		}(), 400, ""},
		{"unknown application", "POST", csApplications + "/csa999999/approve", map[string]any{}, 404, "application_not_found"},
		{"grant beyond application", "POST", csApplications + "/" + id + "/approve", map[string]any{"page_types": []int{1}, "src_channels": []int{0, 9}}, 400, ""},
		{"empty grant", "POST", csApplications + "/" + id + "/approve", map[string]any{"page_types": []int{}}, 400, "invalid_grant"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, srv, func() {
				r := do(t, srv, tc.method, tc.path, tc.body)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
				}
				if got := dig(r.json, "error", "code"); tc.code != "" && got != tc.code {
					t.Errorf("error code %v, want %s", got, tc.code)
				}
			})
		})
	}

	b := do(t, srv, "POST", csApplications+"/"+id+"/approve", map[string]any{"page_types": []int{1, 2}, "src_channels": []int{0}})
	if b.status != 200 || b.str("status") != "approved" || b.str("business_type") == "" {
		t.Fatalf("approve: %d %s", b.status, b.raw)
	}
	wantErrcode(t, csPath(t, srv, tok, home), 0)

	t.Run("decided twice", func(t *testing.T) {
		unchanged(t, srv, func() {
			for _, verb := range []string{"approve", "reject"} {
				if r := do(t, srv, "POST", csApplications+"/"+id+"/"+verb, map[string]any{}); r.status != 409 {
					t.Errorf("%s an approved application: status %d, want 409", verb, r.status)
				}
			}
		})
	})
	t.Run("outside the grant answers 48001", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"page_type": 3, "src_channel": 0, "city_name": "晋城", "content_name": "养老"},
			{"page_type": 1, "src_channel": 1, "city_name": "晋城"},
		} {
			unchanged(t, srv, func() { wantErrcode(t, csPath(t, srv, tok, body), 48001) })
		}
	})
	t.Run("rejected, then applying again", func(t *testing.T) {
		r := do(t, srv, "POST", csApplications, csApplication(miniAppID))
		rej := do(t, srv, "POST", csApplications+"/"+r.str("id")+"/reject", map[string]any{"reason": "材料不全"})
		if rej.str("status") != "rejected" || rej.str("reject_reason") != "材料不全" {
			t.Fatalf("reject: %s", rej.raw)
		}
		mtok := token(t, srv, miniAppID, csMiniSecret)
		unchanged(t, srv, func() { wantErrcode(t, csPath(t, srv, mtok, home), 48001) })
		if again := do(t, srv, "POST", csApplications, csApplication(miniAppID)); again.status != 201 {
			t.Errorf("applying after a rejection: %d %s", again.status, again.raw)
		}
		list := do(t, srv, "GET", csApplications+"?appid="+miniAppID, nil)
		if n := len(list.json["applications"].([]any)); n != 2 {
			t.Errorf("%d applications for %s, want 2", n, miniAppID)
		}
	})
}

func TestCityServiceSettle(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	service := map[string]any{
		"owner_appid": csPersonalMini, "name": "晋城个人测试服务", "cities": []string{"晋城"}, "categories": []string{"出行"},
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
			body := map[string]any{}
			for k, v := range service {
				body[k] = v
			}
			for k, v := range tc.change {
				body[k] = v
			}
			unchanged(t, srv, func() {
				if r := do(t, srv, "POST", csServicesVerb, body); r.status != tc.status {
					t.Errorf("status %d, want %d: %s", r.status, tc.status, r.raw)
				}
			})
		})
	}
	s := do(t, srv, "POST", csServicesVerb, service)
	if s.status != 201 {
		t.Fatalf("settle: %d %s", s.status, s.raw)
	}
	if got := dig(s.json, "topics"); fmt.Sprint(got) != "[交通出行]" {
		t.Errorf("topics = %v, want the category's [交通出行]", got)
	}
	if a := do(t, srv, "POST", csApplications, csApplication(csPersonalMini)); a.status != 201 {
		t.Errorf("apply after settling a service with a homepage: %d %s", a.status, a.raw)
	}
	// The new service has a homepage and is reachable through the API.
	csApprove(t, srv, serviceAppID, nil)
	tok := token(t, srv, serviceAppID, serviceSecret)
	id := int64(dig(s.json, "service_id").(float64))
	p := csPath(t, srv, tok, map[string]any{"page_type": 0, "src_channel": 0, "service_id": id, "params": "[]"})
	wantErrcode(t, p, 0)
	if o := csOpenPath(t, srv, "o_user", p); dig(o.json, "service", "name") != "晋城个人测试服务" {
		t.Errorf("opened %s", o.raw)
	}
}

func TestCityServicePathEveryPageAndChannel(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	csApprove(t, srv, serviceAppID, nil)
	tok := token(t, srv, serviceAppID, serviceSecret)
	pages := []struct {
		body     map[string]any
		page     string
		pagePath string
		bizType  bool
	}{
		{map[string]any{"page_type": 0, "service_id": csNationalFund, "params": `[{"key":"type","value":"11"},{"key":"city","value":"广州"}]`}, "service_homepage", "pages/service/index", true},
		{map[string]any{"page_type": 1, "city_name": "广州"}, "home", "pages/index/index", true},
		{map[string]any{"page_type": 2, "city_name": "深圳"}, "health_code", "pages/healthcode/index", true},
		{map[string]any{"page_type": 3, "city_name": "北京", "content_name": "养老"}, "topic", "pages/topic/index", false},
		{map[string]any{"page_type": 5, "city_name": "上海", "ext_params": []map[string]string{{"key": "keyword", "value": "挂号就诊"}}}, "service_list", "pages/servicelist/index", false},
	}
	for _, pg := range pages {
		for _, ch := range []int{0, 1, 2, 3, 5} {
			t.Run(fmt.Sprintf("%s/src%d", pg.page, ch), func(t *testing.T) {
				body := map[string]any{"src_channel": ch}
				for k, v := range pg.body {
					body[k] = v
				}
				a := csPath(t, srv, tok, body)
				wantErrcode(t, a, 0)
				if a.str("app_id") != csMiniAppID || a.str("username") != csMiniUsername {
					t.Errorf("app_id/username = %s/%s", a.str("app_id"), a.str("username"))
				}
				if got := a.str("path"); !strings.HasPrefix(got, pg.pagePath) {
					t.Errorf("path = %q, want %s…", got, pg.pagePath)
				}
				if pg.page == "service_homepage" && a.str("query_string") == "" {
					t.Errorf("page type 0 without query_string: %s", a.raw)
				}
				if (a.str("business_type") != "") != pg.bizType {
					t.Errorf("business_type = %q, want present: %v", a.str("business_type"), pg.bizType)
				}
				o := csOpenPath(t, srv, "o_user", a)
				if o.str("page") != pg.page || dig(o.json, "entry", "src_channel") != float64(ch) || dig(o.json, "entry", "appid") != serviceAppID {
					t.Errorf("opened %s", o.raw)
				}
				body["need_path_type"] = 1
				h5 := csPath(t, srv, tok, body)
				wantErrcode(t, h5, 0)
				if !strings.HasPrefix(h5.str("path"), "https://city.weixin.qq.com/h5/") || h5.str("query_string") != "" {
					t.Errorf("H5 answer %s", h5.raw)
				}
				if o := csOpenPath(t, srv, "o_user", h5); o.str("page") != pg.page || dig(o.json, "entry", "h5") != true {
					t.Errorf("opened H5 %s", o.raw)
				}
			})
		}
	}
	t.Run("device_type 2", func(t *testing.T) {
		a := csPath(t, srv, tok, map[string]any{"page_type": 1, "src_channel": 2, "city_name": "广州市", "device_type": 2})
		wantErrcode(t, a, 0)
		if !strings.HasPrefix(a.str("path"), "https://city.weixin.qq.com/h5/index?") {
			t.Errorf("path = %q", a.str("path"))
		}
	})
}

func TestCityServicePathRefusals(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	csApprove(t, srv, serviceAppID, nil)
	tok := token(t, srv, serviceAppID, serviceSecret)
	tooMany := make([]map[string]string, 11)
	for i := range tooMany {
		tooMany[i] = map[string]string{"key": fmt.Sprint("k", i), "value": "v"}
	}
	many, _ := json.Marshal(tooMany)
	for _, tc := range []struct {
		name string
		body any
		want int
	}{
		{"empty body", "", 44002},
		{"not JSON", "{", 47001},
		{"page_type as string", `{"page_type":"1","src_channel":0,"city_name":"广州"}`, 47001},
		{"missing page_type", map[string]any{"src_channel": 0, "city_name": "广州"}, 40097},
		{"missing src_channel", map[string]any{"page_type": 1, "city_name": "广州"}, 40097},
		{"page_type 4", map[string]any{"page_type": 4, "src_channel": 0, "city_name": "广州"}, 40097},
		{"src_channel 4", map[string]any{"page_type": 1, "src_channel": 4, "city_name": "广州"}, 40097},
		{"unknown field", map[string]any{"page_type": 1, "src_channel": 0, "city_name": "广州", "city": "广州"}, 40097},
		{"home without city", map[string]any{"page_type": 1, "src_channel": 0}, 40097},
		{"unknown city", map[string]any{"page_type": 1, "src_channel": 0, "city_name": "火星"}, 40097},
		{"health code without city", map[string]any{"page_type": 2, "src_channel": 0}, 40097},
		{"topic without content_name", map[string]any{"page_type": 3, "src_channel": 0, "city_name": "广州"}, 40097},
		{"unknown topic", map[string]any{"page_type": 3, "src_channel": 0, "city_name": "广州", "content_name": "星际旅行"}, 40097},
		{"topic the city lacks", map[string]any{"page_type": 3, "src_channel": 0, "city_name": "晋城", "content_name": "升学考试"}, 40097},
		{"list without ext_params", map[string]any{"page_type": 5, "src_channel": 0, "city_name": "广州"}, 40097},
		{"list without keyword", map[string]any{"page_type": 5, "src_channel": 0, "city_name": "广州", "ext_params": []map[string]string{{"key": "tag", "value": "社保"}}}, 40097},
		{"unknown keyword", map[string]any{"page_type": 5, "src_channel": 0, "city_name": "广州", "ext_params": []map[string]string{{"key": "keyword", "value": "星际旅行"}}}, 40097},
		{"two keywords", map[string]any{"page_type": 5, "src_channel": 0, "city_name": "广州", "ext_params": []map[string]string{{"key": "keyword", "value": "社保"}, {"key": "keyword", "value": "医疗"}}}, 40097},
		{"ext_params value not a string", `{"page_type":5,"src_channel":0,"city_name":"广州","ext_params":[{"key":"keyword","value":1}]}`, 47001},
		{"homepage without service_id", map[string]any{"page_type": 0, "src_channel": 0, "params": "[]"}, 40097},
		{"unknown service", map[string]any{"page_type": 0, "src_channel": 0, "service_id": 9999999, "params": "[]"}, 40097},
		{"service without homepage", map[string]any{"page_type": 0, "src_channel": 0, "service_id": 1005003, "params": "[]"}, 40097},
		{"homepage without params", map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund}, 40097},
		{"params not JSON", map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund, "params": "type=11"}, 40097},
		{"params an object", map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund, "params": `{"key":"type","value":"11"}`}, 40097},
		{"params value a number", map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund, "params": `[{"key":"type","value":11}]`}, 40097},
		{"params value null", map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund, "params": `[{"key":"type","value":null}]`}, 40097},
		{"params extra field", map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund, "params": `[{"key":"type","value":"11","x":"y"}]`}, 40097},
		{"params duplicate key", map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund, "params": `[{"key":"type","value":"11"},{"key":"type","value":"12"}]`}, 40097},
		{"params eleven pairs", map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund, "params": string(many)}, 40097},
		{"params unknown city", map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund, "params": `[{"key":"city","value":"火星"}]`}, 40097},
		{"unknown city_id", map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund, "params": "[]", "city_id": "999999"}, 40097},
		{"service_id as string", `{"page_type":0,"src_channel":0,"service_id":"1001344","params":"[]"}`, 47001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, srv, func() { wantErrcode(t, csPath(t, srv, tok, tc.body), tc.want) })
		})
	}
	t.Run("ten pairs are fine", func(t *testing.T) {
		ten, _ := json.Marshal(tooMany[:10])
		wantErrcode(t, csPath(t, srv, tok, map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund, "params": string(ten)}), 0)
	})
	t.Run("no token", func(t *testing.T) {
		unchanged(t, srv, func() {
			wantErrcode(t, do(t, srv, "POST", "https://api.weixin.qq.com/cityservice/getservicepath", map[string]any{"page_type": 1, "src_channel": 0, "city_name": "广州"}), 41001)
		})
	})
	t.Run("GET", func(t *testing.T) {
		unchanged(t, srv, func() { wantErrcode(t, do(t, srv, "GET", csPathAPI+tok, nil), 43002) })
	})
}

func TestCityServiceOpenPages(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	csApprove(t, srv, serviceAppID, nil)
	tok := token(t, srv, serviceAppID, serviceSecret)

	t.Run("home", func(t *testing.T) {
		o := csOpenPath(t, srv, "o_user", csPath(t, srv, tok, map[string]any{"page_type": 1, "src_channel": 0, "city_name": "晋城"}))
		if dig(o.json, "city", "name") != "晋城" {
			t.Errorf("city = %v", dig(o.json, "city"))
		}
		if got := fmt.Sprint(dig(o.json, "home", "topics")); got != "[养老 医疗保健 交通出行 就业创业 民生缴费]" {
			t.Errorf("topics = %s", got)
		}
		if got := csNames(dig(o.json, "home", "health_codes")); !slices.Equal(got, []string{"山西健康码", "晋来办健康码"}) {
			t.Errorf("health codes = %v", got)
		}
		if got := csNames(dig(o.json, "home", "hot_services")); !slices.Contains(got, "晋城市民服务") {
			t.Errorf("hot services %v lack 晋城市民服务", got)
		}
	})
	t.Run("topic", func(t *testing.T) {
		o := csOpenPath(t, srv, "o_user", csPath(t, srv, tok, map[string]any{"page_type": 3, "src_channel": 0, "city_name": "北京", "content_name": "养老"}))
		got := csNames(dig(o.json, "topic", "services"))
		if !slices.Contains(got, "北京市城乡居民养老保险") || slices.Contains(got, "山西省城乡居民养老保险") {
			t.Errorf("北京 养老 services = %v", got)
		}
	})
	t.Run("service list", func(t *testing.T) {
		o := csOpenPath(t, srv, "o_user", csPath(t, srv, tok, map[string]any{"page_type": 5, "src_channel": 0, "city_name": "广州", "ext_params": []map[string]string{{"key": "keyword", "value": "挂号就诊"}}}))
		got := csNames(dig(o.json, "service_list", "services"))
		if !slices.Contains(got, "广州市挂号平台") || len(got) < 2 {
			t.Errorf("广州 挂号就诊 = %v", got)
		}
	})
	t.Run("service homepage", func(t *testing.T) {
		o := csOpenPath(t, srv, "o_user", csPath(t, srv, tok, map[string]any{"page_type": 0, "src_channel": 1, "service_id": csJinchengOwned, "params": `[{"key":"city","value":"晋城"},{"key":"type","value":"11"}]`}))
		s := dig(o.json, "service").(map[string]any)
		if s["name"] != "晋城市民服务" || dig(s, "homepage", "contact", "phone") != "0356-12345" || s["user_city"] != "晋城" || s["offered_in_user_city"] != true {
			t.Errorf("service = %v", s)
		}
		if got := fmt.Sprint(s["params"]); got != "[map[key:city value:晋城] map[key:type value:11]]" {
			t.Errorf("params = %s", got)
		}
		if n := len(dig(s, "homepage", "related_accounts").([]any)); n != 2 {
			t.Errorf("%d related accounts, want 2", n)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		home := csPath(t, srv, tok, map[string]any{"page_type": 1, "src_channel": 0, "city_name": "广州"})
		forged := strings.Replace(home.str("path"), "bt=open_", "bt=forged_", 1)
		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
		}{
			{"no path", map[string]any{"openid": "o_user"}, 400},
			{"no openid", map[string]any{"path": home.str("path")}, 400},
			{"unknown page", map[string]any{"openid": "o_user", "path": "pages/secret/index?bt=x"}, 404},
			{"forged bt", map[string]any{"openid": "o_user", "path": forged}, 403},
			{"foreign H5 host", map[string]any{"openid": "o_user", "path": "https://evil.example.com/h5/index?city_id=440100"}, 400},
			{"unknown menu", map[string]any{"openid": "o_user", "menu": map[string]any{"appid": serviceAppID, "key": "k"}}, 404},
			{"path and menu", map[string]any{"openid": "o_user", "path": home.str("path"), "menu": map[string]any{"appid": serviceAppID, "key": "k"}}, 400},
		} {
			t.Run(tc.name, func(t *testing.T) {
				unchanged(t, srv, func() {
					if r := do(t, srv, "POST", csOpen, tc.body); r.status != tc.status {
						t.Errorf("status %d, want %d: %s", r.status, tc.status, r.raw)
					}
				})
			})
		}
	})
}

func TestCityServiceHealthCodeChoice(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	csApprove(t, srv, serviceAppID, map[string]any{"page_types": []int{2}, "src_channels": []int{2}})
	tok := token(t, srv, serviceAppID, serviceSecret)
	entry := func(city string) answer {
		a := csPath(t, srv, tok, map[string]any{"page_type": 2, "src_channel": 2, "city_name": city})
		wantErrcode(t, a, 0)
		return a
	}
	popup := func(openid string, a answer) map[string]any {
		o := csOpenPath(t, srv, openid, a)
		return dig(o.json, "health_code").(map[string]any)
	}

	bj := popup("o_alice", entry("北京"))
	if bj["choice_required"] != false || dig(bj, "selected", "name") != "北京健康宝" {
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
			unchanged(t, srv, func() {
				if r := do(t, srv, "POST", csHealthChoice, tc.body); r.status != tc.status {
					t.Errorf("status %d, want %d: %s", r.status, tc.status, r.raw)
				}
			})
		})
	}

	c := do(t, srv, "POST", csHealthChoice, map[string]any{"openid": "o_alice", "city_name": "广州", "service_id": 1009002})
	if c.status != 200 || dig(c.json, "selected", "name") != "穗康码" {
		t.Fatalf("choice: %d %s", c.status, c.raw)
	}
	again := popup("o_alice", gz)
	if again["remembered"] != true || dig(again, "selected", "name") != "穗康码" || again["choice_required"] != false {
		t.Errorf("广州 popup after the choice = %v, want 穗康码 remembered", again)
	}
	if other := popup("o_bob", gz); other["choice_required"] != true {
		t.Errorf("another user's popup = %v, want a choice required", other)
	}
	if sz := popup("o_alice", entry("深圳")); sz["choice_required"] != true {
		t.Errorf("深圳 popup = %v: a choice in 广州 must not carry over", sz)
	}
	// Switching replaces the remembered code.
	do(t, srv, "POST", csHealthChoice, map[string]any{"openid": "o_alice", "city_name": "广州", "service_id": 1009001})
	if sw := popup("o_alice", gz); dig(sw, "selected", "name") != "粤康码" {
		t.Errorf("after switching: %v", sw)
	}
}

func TestCityServiceMenus(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	menus := "/_sandbox/wechat/cityservice/menus/"
	entries := map[string]any{"entries": []map[string]any{
		{"key": "hc", "name": "健康码", "page_type": 2, "city_name": "晋城"},
		{"key": "pay", "name": "民生缴费", "page_type": 3, "city_name": "晋城", "content_name": "民生缴费"},
		{"key": "home", "name": "我的服务", "page_type": 0, "service_id": csJinchengOwned, "params": `[{"key":"city","value":"晋城"}]`},
	}}
	t.Run("before approval", func(t *testing.T) {
		unchanged(t, srv, func() {
			if r := do(t, srv, "PUT", menus+serviceAppID, entries); r.status != 403 || dig(r.json, "error", "code") != "not_approved" {
				t.Errorf("status %d: %s", r.status, r.raw)
			}
		})
	})
	csApprove(t, srv, serviceAppID, map[string]any{"page_types": []int{0, 2, 3}, "src_channels": []int{0}})
	for _, tc := range []struct {
		name   string
		appid  string
		body   any
		status int
	}{
		{"unknown app", "wx0000000000000bad", entries, 404},
		{"page type not granted", serviceAppID, map[string]any{"entries": []map[string]any{{"key": "h", "name": "首页", "page_type": 1, "city_name": "晋城"}}}, 403},
		{"unknown city", serviceAppID, map[string]any{"entries": []map[string]any{{"key": "h", "name": "健康码", "page_type": 2, "city_name": "火星"}}}, 400},
		{"missing topic", serviceAppID, map[string]any{"entries": []map[string]any{{"key": "t", "name": "专题", "page_type": 3, "city_name": "晋城"}}}, 400},
		{"duplicate key", serviceAppID, map[string]any{"entries": []map[string]any{{"key": "h", "name": "a", "page_type": 2, "city_name": "晋城"}, {"key": "h", "name": "b", "page_type": 2, "city_name": "太原"}}}, 400},
		{"no entries field", serviceAppID, map[string]any{}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, srv, func() {
				if r := do(t, srv, "PUT", menus+tc.appid, tc.body); r.status != tc.status {
					t.Errorf("status %d, want %d: %s", r.status, tc.status, r.raw)
				}
			})
		})
	}
	m := do(t, srv, "PUT", menus+serviceAppID, entries)
	if m.status != 200 || dig(m.json, "src_channel") != float64(0) {
		t.Fatalf("put menu: %d %s", m.status, m.raw)
	}
	if g := do(t, srv, "GET", menus+serviceAppID, nil); string(g.raw) != string(m.raw) {
		t.Errorf("GET menu = %s, want %s", g.raw, m.raw)
	}
	open := func(key string) answer {
		o := do(t, srv, "POST", csOpen, map[string]any{"openid": "o_carol", "menu": map[string]any{"appid": serviceAppID, "key": key}})
		if o.status != 200 || dig(o.json, "entry", "menu_key") != key {
			t.Fatalf("open menu %s: %d %s", key, o.status, o.raw)
		}
		return o
	}
	if o := open("hc"); dig(o.json, "health_code", "choice_required") != true {
		t.Errorf("health-code menu: %s", o.raw)
	}
	if o := open("pay"); !slices.Contains(csNames(dig(o.json, "topic", "services")), "晋城便民缴费") {
		t.Errorf("民生缴费 menu: %s", o.raw)
	}
	if o := open("home"); dig(o.json, "service", "name") != "晋城市民服务" {
		t.Errorf("homepage menu: %s", o.raw)
	}
	t.Run("journal", func(t *testing.T) {
		j := do(t, srv, "GET", "/_sandbox/requests?event=cityservice_open", nil)
		entries := j.json["requests"].([]any)
		if len(entries) != 3 {
			t.Fatalf("%d cityservice_open events, want 3: %s", len(entries), j.raw)
		}
		if e := entries[0]; dig(e, "appid") != serviceAppID || !strings.Contains(dig(e, "reason").(string), "o_carol opened the health_code page") {
			t.Errorf("event = %v", e)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		unchanged(t, srv, func() {
			if r := do(t, srv, "POST", csOpen, map[string]any{"openid": "o", "menu": map[string]any{"appid": serviceAppID, "key": "nope"}}); r.status != 404 {
				t.Errorf("status %d: %s", r.status, r.raw)
			}
		})
	})
	t.Run("mini program menu needs channel 1", func(t *testing.T) {
		csApprove(t, srv, miniAppID, map[string]any{"src_channels": []int{0}})
		unchanged(t, srv, func() {
			r := do(t, srv, "PUT", menus+miniAppID, map[string]any{"entries": []map[string]any{{"key": "hc", "name": "健康码", "page_type": 2, "city_name": "晋城"}}})
			if r.status != 403 {
				t.Errorf("status %d: %s", r.status, r.raw)
			}
		})
	})
}

func TestCityServiceGoTwins(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	w := srv.CityService()
	app := newApp(t, srv, sandbox.WeChatAppSpec{Type: "official_account", ServiceType: "subscription"})
	spec := sandbox.CityServiceApplicationSpec{
		SubjectName: "测试主体", AppID: app.AppID, JumpScenes: []int{0}, PageTypes: []int{2},
		ContactUnit: "测试单位", ContactPerson: "李雷", ContactPhone: "13800000000", ContactWeChat: "lilei",
	}
	if _, err := w.Apply(spec); err == nil {
		t.Fatal("an app without a settled service applied")
	}
	svc, err := w.Settle(sandbox.CityServiceSettleSpec{OwnerAppID: app.AppID, Name: "测试服务", Cities: []string{"太原"}, Categories: []string{"社保"},
		Homepage: &sandbox.CityServiceHomepage{Introduction: "测试"}})
	if err != nil || svc.ServiceID == 0 {
		t.Fatalf("settle: %v %+v", err, svc)
	}
	a, err := w.Apply(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Approve(a.ID, sandbox.CityServiceGrant{}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Reject(a.ID, "late"); err == nil {
		t.Error("rejected an approved application")
	}
	// A subscription account may call the API once approved.
	p := csPath(t, srv, token(t, srv, app.AppID, app.Secret), map[string]any{"page_type": 2, "src_channel": 0, "city_name": "杭州"})
	wantErrcode(t, p, 0)
	page, err := w.Open(sandbox.CityServiceOpenSpec{OpenID: "o_go", Path: p.str("path")})
	if err != nil || page.HealthCode == nil || !page.HealthCode.ChoiceRequired {
		t.Fatalf("open: %v %+v", err, page)
	}
	popup, err := w.ChooseHealthCode(sandbox.CityServiceHealthCodeChoice{OpenID: "o_go", CityName: "杭州", ServiceID: page.HealthCode.Codes[1].ServiceID})
	if err != nil || !popup.Remembered || popup.Selected.Name != "杭州健康码" {
		t.Errorf("choose: %v %+v", err, popup)
	}
}

func TestCityServiceWithoutWorld(t *testing.T) {
	t.Parallel()
	apps, err := fs.ReadFile(fixtures.FS, "wechat.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv := sandboxtest.New(t, sandboxtest.WithSandboxOptions(sandbox.WithFixtures(fstest.MapFS{"wechat.yaml": {Data: apps}})))
	tok := token(t, srv, serviceAppID, serviceSecret)
	unchanged(t, srv, func() {
		wantErrcode(t, csPath(t, srv, tok, map[string]any{"page_type": 1, "src_channel": 0, "city_name": "广州"}), 48001)
		if a := do(t, srv, "GET", csCatalog, nil); a.status != 404 || dig(a.json, "error", "code") != "no_world" {
			t.Errorf("catalog without a world: %d %s", a.status, a.raw)
		}
		if a := do(t, srv, "POST", csApplications, csApplication(serviceAppID)); a.status != 404 {
			t.Errorf("apply without a world: %d %s", a.status, a.raw)
		}
	})
}

func TestCityServiceMoreRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"catalog of an unknown city", "GET", csCatalog + "?city=nowhere", nil, 404},
		{"reject an unknown application", "POST", csApplications + "/csa999999/reject", map[string]any{"reason": "x"}, 404},
		{"approve with an unknown field", "POST", csApplications + "/csa000001/approve", map[string]any{"grant": "all"}, 400},
		{"menu of an app without one", "GET", "/_sandbox/wechat/cityservice/menus/" + serviceAppID, nil, 404},
		{"list with an unknown status", "GET", csApplications + "?status=lost", nil, 400},
		{"settle without a name", "POST", csServicesVerb, map[string]any{"owner_appid": serviceAppID, "categories": []string{"社保"}}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, srv, func() {
				if r := do(t, srv, tc.method, tc.path, tc.body); r.status != tc.status {
					t.Errorf("status %d, want %d: %s", r.status, tc.status, r.raw)
				}
			})
		})
	}
}

func TestCityServiceMiniProgramAndCityCodes(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	csApprove(t, srv, miniAppID, map[string]any{"page_types": []int{0}, "src_channels": []int{1}})
	tok := token(t, srv, miniAppID, csMiniSecret)
	// params key city and city_id accept the city's code as well as its name.
	a := csPath(t, srv, tok, map[string]any{"page_type": 0, "src_channel": 1, "service_id": 1005002, "params": `[{"key":"city","value":"140500"}]`})
	wantErrcode(t, a, 0)
	if o := csOpenPath(t, srv, "o_dave", a); dig(o.json, "service", "user_city") != "晋城" {
		t.Errorf("open: %s", o.raw)
	}
	b := csPath(t, srv, tok, map[string]any{"page_type": 0, "src_channel": 1, "service_id": csNationalFund, "params": "[]", "city_id": "440300"})
	wantErrcode(t, b, 0)
	if o := csOpenPath(t, srv, "o_dave", b); dig(o.json, "service", "user_city") != "深圳" || dig(o.json, "service", "offered_in_user_city") != true {
		t.Errorf("open: %s", o.raw)
	}
}

// BenchmarkCityServiceGetServicePath measures one getservicepath call through the whole
// pipeline (token check, validation, grant, world lookup, path).
func BenchmarkCityServiceGetServicePath(b *testing.B) {
	srv := sandboxtest.New(b)
	csApprove(b, srv, serviceAppID, nil)
	tok := token(b, srv, serviceAppID, serviceSecret)
	body := map[string]any{"page_type": 5, "src_channel": 0, "city_name": "广州", "ext_params": []map[string]string{{"key": "keyword", "value": "挂号就诊"}}}
	for b.Loop() {
		if a := csPath(b, srv, tok, body); a.errcode() != 0 {
			b.Fatalf("errcode %d", a.errcode())
		}
	}
}

// BenchmarkCityServiceOpenHome measures a simulated open of a city home page (a scan of every
// service of the world).
func BenchmarkCityServiceOpenHome(b *testing.B) {
	srv := sandboxtest.New(b)
	csApprove(b, srv, serviceAppID, nil)
	p := csPath(b, srv, token(b, srv, serviceAppID, serviceSecret), map[string]any{"page_type": 1, "src_channel": 0, "city_name": "广州"})
	for b.Loop() {
		csOpenPath(b, srv, "o_bench", p)
	}
}

// BenchmarkCityServiceNewSandbox measures a fresh sandbox, which builds the City Service world.
func BenchmarkCityServiceNewSandbox(b *testing.B) {
	spec, err := sandbox.LoadSpec()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := sandbox.New(sandbox.WithLoadedSpec(spec), sandbox.WithFrozenClock(sandboxtest.DefaultStart()))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
