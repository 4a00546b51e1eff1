package cityservice_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// City Service fixtures (fixtures/cityservice.yaml, fixtures/wechat.yaml).
const (
	csMiniAppID     = "wxc175e7f1ce5e7f00"
	csMiniUsername  = "gh_c175e7f1ce5e"
	csPathAPI       = "/cityservice/getservicepath"
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
func csApprove(k *testkit.Kit, appid string, grant map[string]any) map[string]any {
	t := k.T()
	t.Helper()
	a := k.Control("POST", csApplications, csApplication(appid))
	if a.Status != 201 {
		t.Fatalf("apply: status %d: %s", a.Status, a.Raw)
	}
	if grant == nil {
		grant = map[string]any{}
	}
	b := k.Control("POST", csApplications+"/"+a.Str("id")+"/approve", grant)
	if b.Status != 200 || b.Str("status") != "approved" {
		t.Fatalf("approve: status %d: %s", b.Status, b.Raw)
	}
	return b.JSON
}

func csPath(k *testkit.Kit, tok string, body any) testkit.Answer {
	k.T().Helper()
	return k.Post(csPathAPI, tok, body)
}

// csOpenPath opens an answer's path (joining query_string) as user openid.
func csOpenPath(k *testkit.Kit, openid string, a testkit.Answer) testkit.Answer {
	t := k.T()
	t.Helper()
	o := k.Control("POST", csOpen, map[string]any{"openid": openid, "path": a.Str("path"), "query_string": a.Str("query_string")})
	if o.Status != 200 {
		t.Fatalf("open %s: status %d: %s", a.Str("path"), o.Status, o.Raw)
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

func TestCityServicePathEveryPageAndChannel(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	csApprove(k, testkit.ServiceAppID, nil)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
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
				k := k.For(t)
				body := map[string]any{"src_channel": ch}
				for k, v := range pg.body {
					body[k] = v
				}
				a := csPath(k, tok, body)
				k.WantErrcode(a, 0)
				if a.Str("app_id") != csMiniAppID || a.Str("username") != csMiniUsername {
					t.Errorf("app_id/username = %s/%s", a.Str("app_id"), a.Str("username"))
				}
				if got := a.Str("path"); !strings.HasPrefix(got, pg.pagePath) {
					t.Errorf("path = %q, want %s…", got, pg.pagePath)
				}
				if pg.page == "service_homepage" && a.Str("query_string") == "" {
					t.Errorf("page type 0 without query_string: %s", a.Raw)
				}
				if (a.Str("business_type") != "") != pg.bizType {
					t.Errorf("business_type = %q, want present: %v", a.Str("business_type"), pg.bizType)
				}
				o := csOpenPath(k, "o_user", a)
				if o.Str("page") != pg.page || testkit.Dig(o.JSON, "entry", "src_channel") != float64(ch) || testkit.Dig(o.JSON, "entry", "appid") != testkit.ServiceAppID {
					t.Errorf("opened %s", o.Raw)
				}
				body["need_path_type"] = 1
				h5 := csPath(k, tok, body)
				k.WantErrcode(h5, 0)
				if !strings.HasPrefix(h5.Str("path"), "https://city.weixin.qq.com/h5/") || h5.Str("query_string") != "" {
					t.Errorf("H5 answer %s", h5.Raw)
				}
				if o := csOpenPath(k, "o_user", h5); o.Str("page") != pg.page || testkit.Dig(o.JSON, "entry", "h5") != true {
					t.Errorf("opened H5 %s", o.Raw)
				}
			})
		}
	}
	t.Run("device_type 2", func(t *testing.T) {
		k := k.For(t)
		a := csPath(k, tok, map[string]any{"page_type": 1, "src_channel": 2, "city_name": "广州市", "device_type": 2})
		k.WantErrcode(a, 0)
		if !strings.HasPrefix(a.Str("path"), "https://city.weixin.qq.com/h5/index?") {
			t.Errorf("path = %q", a.Str("path"))
		}
	})
}

func TestCityServicePathRefusals(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	csApprove(k, testkit.ServiceAppID, nil)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
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
			k := k.For(t)
			k.Unchanged(func() { k.WantErrcode(csPath(k, tok, tc.body), tc.want) })
		})
	}
	t.Run("ten pairs are fine", func(t *testing.T) {
		k := k.For(t)
		ten, _ := json.Marshal(tooMany[:10])
		k.WantErrcode(csPath(k, tok, map[string]any{"page_type": 0, "src_channel": 0, "service_id": csNationalFund, "params": string(ten)}), 0)
	})
	t.Run("no token", func(t *testing.T) {
		k := k.For(t)
		k.Unchanged(func() {
			k.WantErrcode(k.Post(csPathAPI, "", map[string]any{"page_type": 1, "src_channel": 0, "city_name": "广州"}), 41001)
		})
	})
	t.Run("GET", func(t *testing.T) {
		k := k.For(t)
		k.Unchanged(func() { k.WantErrcode(k.API("GET", csPathAPI, tok, nil), 43002) })
	})
}

func TestCityServiceGoTwins(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	w := k.Srv.CityService()
	app := k.App(sandbox.WeChatAppSpec{Type: "official_account", ServiceType: "subscription"})
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
	p := csPath(k, k.Token(app.AppID, app.Secret), map[string]any{"page_type": 2, "src_channel": 0, "city_name": "杭州"})
	k.WantErrcode(p, 0)
	page, err := w.Open(sandbox.CityServiceOpenSpec{OpenID: "o_go", Path: p.Str("path")})
	if err != nil || page.HealthCode == nil || !page.HealthCode.ChoiceRequired {
		t.Fatalf("open: %v %+v", err, page)
	}
	popup, err := w.ChooseHealthCode(sandbox.CityServiceHealthCodeChoice{OpenID: "o_go", CityName: "杭州", ServiceID: page.HealthCode.Codes[1].ServiceID})
	if err != nil || !popup.Remembered || popup.Selected.Name != "杭州健康码" {
		t.Errorf("choose: %v %+v", err, popup)
	}
}

func TestCityServiceMoreRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"catalog of an unknown city", "GET", csCatalog + "?city=nowhere", nil, 404},
		{"reject an unknown application", "POST", csApplications + "/csa999999/reject", map[string]any{"reason": "x"}, 404},
		{"approve with an unknown field", "POST", csApplications + "/csa000001/approve", map[string]any{"grant": "all"}, 400},
		{"menu of an app without one", "GET", "/_sandbox/wechat/cityservice/menus/" + testkit.ServiceAppID, nil, 404},
		{"list with an unknown status", "GET", csApplications + "?status=lost", nil, 400},
		{"settle without a name", "POST", csServicesVerb, map[string]any{"owner_appid": testkit.ServiceAppID, "categories": []string{"社保"}}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				if r := k.Do(tc.method, tc.path, tc.body); r.Status != tc.status {
					t.Errorf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
				}
			})
		})
	}
}

func TestCityServiceMiniProgramAndCityCodes(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	csApprove(k, testkit.MiniAppID, map[string]any{"page_types": []int{0}, "src_channels": []int{1}})
	tok := k.Token(testkit.MiniAppID, testkit.MiniSecret)
	// params key city and city_id accept the city's code as well as its name.
	a := csPath(k, tok, map[string]any{"page_type": 0, "src_channel": 1, "service_id": 1005002, "params": `[{"key":"city","value":"140500"}]`})
	k.WantErrcode(a, 0)
	if o := csOpenPath(k, "o_dave", a); testkit.Dig(o.JSON, "service", "user_city") != "晋城" {
		t.Errorf("open: %s", o.Raw)
	}
	b := csPath(k, tok, map[string]any{"page_type": 0, "src_channel": 1, "service_id": csNationalFund, "params": "[]", "city_id": "440300"})
	k.WantErrcode(b, 0)
	if o := csOpenPath(k, "o_dave", b); testkit.Dig(o.JSON, "service", "user_city") != "深圳" || testkit.Dig(o.JSON, "service", "offered_in_user_city") != true {
		t.Errorf("open: %s", o.Raw)
	}
}

// BenchmarkCityServiceGetServicePath measures one getservicepath call through the whole
// pipeline (token check, validation, grant, world lookup, path).
func BenchmarkCityServiceGetServicePath(b *testing.B) {
	k := testkit.New(b)
	csApprove(k, testkit.ServiceAppID, nil)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	body := map[string]any{"page_type": 5, "src_channel": 0, "city_name": "广州", "ext_params": []map[string]string{{"key": "keyword", "value": "挂号就诊"}}}
	for b.Loop() {
		if a := csPath(k, tok, body); a.Errcode() != 0 {
			b.Fatalf("errcode %d", a.Errcode())
		}
	}
}
