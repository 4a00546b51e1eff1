package jincheng_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// listingForm builds a multipart listing application with the named file parts.
func listingForm(t testing.TB, files map[string]string, prodURL string) ([]byte, http.Header) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for name, content := range files {
		fw, err := w.CreateFormFile(name, name+".pdf")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write([]byte(content))
	}
	if prodURL != "" {
		w.WriteField("prodUrl", prodURL)
	}
	w.Close()
	return buf.Bytes(), http.Header{"Content-Type": {w.FormDataContentType()}}
}

func (e *tenv) submitListing(session, service string, files map[string]string, prodURL string) testkit.Answer {
	e.T().Helper()
	body, h := listingForm(e.T(), files, prodURL)
	h.Set("Authorization", "Bearer "+session)
	return e.DoHeader("POST", "/jincheng/admin/v1/services/"+service+"/submitListing", h, body)
}

var bothReports = map[string]string{"functionalTestReport": "", "securityTestReport": ""} // empty files: allowed while testing

// onboarded is an application taken through declaration and approval, with one service.
type onboarded struct {
	session, appID, appCode, secret, service string
}

// onboard declares an app of the given user-info type as a new vendor, has it approved, adds a
// service and registers a tester.
func (e *tenv) onboard(infoType, tester string) onboarded {
	e.T().Helper()
	v := e.Control("POST", "/_sandbox/jincheng/vendors", map[string]string{})
	if v.Status != 201 {
		e.T().Fatalf("create vendor: %d %s", v.Status, v.Raw)
	}
	o := onboarded{session: e.login(v.Data().Str("account"), v.Data().Str("password"))}
	decl := map[string]any{"appName": "晋城市不动产登记", "contactName": "赵磊", "contactPhone": "13935600300", "needUserInfo": infoType != ""}
	if infoType != "" {
		decl["userInfoType"] = infoType
	}
	r := e.vendor(o.session, "POST", "/jincheng/admin/v1/apps", decl)
	o.appID = r.Data().Str("appId")
	if r.Status != 200 || r.Data().Str("status") != "PENDING" || r.Data().Str("appCode") != "" {
		e.T().Fatalf("declare: %d %s", r.Status, r.Raw)
	}
	r = e.Control("POST", "/_sandbox/jincheng/apps/"+o.appID+"/approve", nil)
	o.appCode, o.secret = r.Data().Str("appCode"), r.Data().Str("appSecret")
	if r.Status != 200 || !strings.HasPrefix(o.appCode, "JLB") || len(o.appCode) != 13 || len(o.secret) != 43 {
		e.T().Fatalf("approve: %d %s", r.Status, r.Raw)
	}
	r = e.vendor(o.session, "POST", "/jincheng/admin/v1/apps/"+o.appID+"/services", map[string]any{
		"serviceName": "不动产登记查询", "accessMode": "APP", "serviceType": "QUERY", "module_callback_code": "BDCDJCX", "testUrl": "http://localhost:3000/bdc",
	})
	o.service = r.Data().Str("serviceCode")
	if r.Status != 200 || r.Data().Str("status") != "TESTING" || r.Data().Str("statusLabel") != "测试中" || !strings.HasPrefix(r.Data().Str("modulecode"), "M") {
		e.T().Fatalf("create service: %d %s", r.Status, r.Raw)
	}
	if r := e.vendor(o.session, "POST", "/jincheng/admin/v1/apps/"+o.appID+"/testers", map[string]string{"mobile": tester}); r.Status != 200 {
		e.T().Fatalf("add tester: %d %s", r.Status, r.Raw)
	}
	return o
}

func TestOnboardingAndUserInfoTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		infoType, tester string
		want             []string
	}{
		{"", "18635600001", []string{"userid"}},
		{"BASIC", "18635600002", []string{"mobile", "userid"}},
		{"IDENTITY", "18635600003", []string{"idnum", "mobile", "userid"}},
		{"REALNAME", "18635600004", []string{"faceimage", "idnum", "mobile", "userid"}},
	}
	for _, tt := range tests {
		o := e.onboard(tt.infoType, tt.tester)
		s := testkit.JinchengApp{AppCode: o.appCode, Secret: o.secret}
		userid, token := e.signIn(s, o.service, tt.tester, "test")
		r := e.Signed(s, "POST", "/jincheng/test/sso/v1/getUserInfo", nil, map[string]string{"token": token})
		if got := keys(r.Data()); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%q: user info fields %v, want %v", tt.infoType, got, tt.want)
		}
		if r.Data().Str("userid") != userid {
			t.Errorf("%q: userid %q, want %q", tt.infoType, r.Data().Str("userid"), userid)
		}
		// The secret is shown once: never by the portal afterwards.
		if g := e.vendor(o.session, "GET", "/jincheng/admin/v1/apps/"+o.appID, nil); strings.Contains(string(g.Raw), o.secret) || g.Data().Str("appCode") != o.appCode {
			t.Errorf("GET app shows %s", g.Raw)
		}
	}
}

func TestPortalRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.login(testkit.JinchengVendor, testkit.JinchengPassword)
	e.RefusedCode("wrong password", 401, "ADMIN-LOGIN-FAILED", func() testkit.Answer {
		return e.Do("POST", "/jincheng/admin/v1/login", jsonBody(t, map[string]string{"account": testkit.JinchengVendor, "password": "nope"}))
	})
	e.RefusedCode("unknown account", 401, "ADMIN-LOGIN-FAILED", func() testkit.Answer {
		return e.Do("POST", "/jincheng/admin/v1/login", jsonBody(t, map[string]string{"account": "ghost", "password": "x"}))
	})
	e.RefusedCode("no session", 401, "ADMIN-SESSION-INVALID", func() testkit.Answer {
		return e.Do("GET", "/jincheng/admin/v1/apps", nil)
	})
	e.RefusedCode("unknown session", 401, "ADMIN-SESSION-INVALID", func() testkit.Answer { return e.vendor("nope", "GET", "/jincheng/admin/v1/apps", nil) })
	decl := func(body map[string]any) func() testkit.Answer {
		return func() testkit.Answer { return e.vendor(s, "POST", "/jincheng/admin/v1/apps", body) }
	}
	e.RefusedCode("type without need", 400, "ADMIN-USERINFO-TYPE-INVALID", decl(map[string]any{"appName": "a", "contactName": "b", "contactPhone": "13835600100", "needUserInfo": false, "userInfoType": "BASIC"}))
	e.RefusedCode("need without type", 400, "ADMIN-USERINFO-TYPE-INVALID", decl(map[string]any{"appName": "a", "contactName": "b", "contactPhone": "13835600100", "needUserInfo": true}))
	e.RefusedCode("unknown type", 400, "INVALID-PARAMETER", decl(map[string]any{"appName": "a", "contactName": "b", "contactPhone": "13835600100", "needUserInfo": true, "userInfoType": "身份信息"}))
	e.RefusedCode("bad phone", 400, "INVALID-PARAMETER", decl(map[string]any{"appName": "a", "contactName": "b", "contactPhone": "12345", "needUserInfo": false}))
	e.RefusedCode("missing name", 400, "INVALID-PARAMETER", decl(map[string]any{"contactName": "b", "contactPhone": "13835600100", "needUserInfo": false}))
	e.RefusedCode("another vendor's app", 404, "ADMIN-NOT-FOUND", func() testkit.Answer {
		return e.vendor(s, "GET", "/jincheng/admin/v1/apps/"+testkit.JinchengOtherAppID, nil)
	})
	e.RefusedCode("another vendor's service", 404, "ADMIN-NOT-FOUND", func() testkit.Answer {
		return e.vendor(s, "PATCH", "/jincheng/admin/v1/services/"+testkit.JinchengOtherTesting, map[string]any{"serviceName": "x"})
	})
	e.RefusedCode("unknown path", 404, "NOT-FOUND", func() testkit.Answer { return e.vendor(s, "GET", "/jincheng/admin/v1/nothing", nil) })
	e.RefusedCode("wrong method", 405, "METHOD-NOT-ALLOWED", func() testkit.Answer { return e.vendor(s, "DELETE", "/jincheng/admin/v1/apps", nil) })

	// The application state machine.
	r := e.vendor(s, "POST", "/jincheng/admin/v1/apps", map[string]any{"appName": "晋城市社保服务", "contactName": "孙丽", "contactPhone": "13835600200", "needUserInfo": true, "userInfoType": "BASIC"})
	app := r.Data().Str("appId")
	if r.Status != 200 || r.Data().Str("userInfoTypeLabel") != "基本信息" {
		t.Fatalf("declare: %d %s", r.Status, r.Raw)
	}
	svc := map[string]any{"serviceName": "社保查询", "accessMode": "APP", "serviceType": "QUERY", "module_callback_code": "SBCX", "testUrl": "https://test.example.org/sb"}
	e.RefusedCode("service under a PENDING app", 409, "ADMIN-STATE", func() testkit.Answer { return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+app+"/services", svc) })
	e.RefusedCode("resubmit a PENDING app", 409, "ADMIN-STATE", func() testkit.Answer {
		return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+app+"/resubmit", map[string]any{})
	})
	e.RefusedCode("SMS for a PENDING app", 409, "ADMIN-STATE", func() testkit.Answer {
		return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+app+"/capabilities/sms", map[string]any{"purpose": "x", "templates": []map[string]string{{"content": "y"}}})
	})
	if r := e.Control("POST", "/_sandbox/jincheng/apps/"+app+"/reject", map[string]string{"reason": "联系人电话有误"}); r.Status != 200 || r.Data().Str("status") != "REJECTED" {
		t.Fatalf("reject: %d %s", r.Status, r.Raw)
	}
	e.RefusedCode("approve a REJECTED app", 409, "ADMIN-STATE", func() testkit.Answer { return e.Control("POST", "/_sandbox/jincheng/apps/"+app+"/approve", nil) })
	e.RefusedCode("reject a REJECTED app", 409, "ADMIN-STATE", func() testkit.Answer {
		return e.Control("POST", "/_sandbox/jincheng/apps/"+app+"/reject", map[string]string{"reason": "x"})
	})
	e.RefusedCode("approve an unknown app", 404, "ADMIN-NOT-FOUND", func() testkit.Answer { return e.Control("POST", "/_sandbox/jincheng/apps/APP00009999/approve", nil) })
	if r := e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+app+"/resubmit", map[string]any{"contactPhone": "13835600201"}); r.Status != 200 || r.Data().Str("status") != "PENDING" || r.Data().Str("contactPhone") != "13835600201" {
		t.Fatalf("resubmit: %d %s", r.Status, r.Raw)
	}
	if r := e.Control("POST", "/_sandbox/jincheng/apps/"+app+"/approve", nil); r.Status != 200 {
		t.Fatalf("approve: %d %s", r.Status, r.Raw)
	}
	e.RefusedCode("approve twice", 409, "ADMIN-STATE", func() testkit.Answer { return e.Control("POST", "/_sandbox/jincheng/apps/"+app+"/approve", nil) })

	// Service fields.
	create := func(over map[string]any) func() testkit.Answer {
		body := map[string]any{}
		for k, v := range svc {
			body[k] = v
		}
		for k, v := range over {
			body[k] = v
		}
		return func() testkit.Answer { return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+app+"/services", body) }
	}
	e.RefusedCode("lower-case callback code", 400, "ADMIN-CALLBACK-CODE-INVALID", create(map[string]any{"module_callback_code": "sbcx"}))
	e.RefusedCode("one-letter callback code", 400, "ADMIN-CALLBACK-CODE-INVALID", create(map[string]any{"module_callback_code": "S"}))
	e.RefusedCode("hanzi callback code", 400, "ADMIN-CALLBACK-CODE-INVALID", create(map[string]any{"module_callback_code": "社保"}))
	e.RefusedCode("http prodUrl", 400, "ADMIN-URL-NOT-HTTPS", create(map[string]any{"prodUrl": "http://sb.example.org/"}))
	e.RefusedCode("http prodUrl on loopback", 400, "ADMIN-URL-NOT-HTTPS", create(map[string]any{"prodUrl": "http://127.0.0.1/"}))
	e.RefusedCode("http testUrl off loopback", 400, "ADMIN-URL-NOT-HTTPS", create(map[string]any{"testUrl": "http://test.example.org/sb"}))
	e.RefusedCode("relative testUrl", 400, "INVALID-PARAMETER", create(map[string]any{"testUrl": "/sb"}))
	e.RefusedCode("access mode", 400, "INVALID-PARAMETER", create(map[string]any{"accessMode": "WECHAT"}))
	r = create(map[string]any{"testUrl": "http://[::1]:8080/sb"})()
	code := r.Data().Str("serviceCode")
	if r.Status != 200 || r.Data().Str("status") != "TESTING" {
		t.Fatalf("create service: %d %s", r.Status, r.Raw)
	}
	e.RefusedCode("duplicate callback code", 400, "ADMIN-CALLBACK-CODE-INVALID", create(nil))

	// The service state machine: every illegal transition is refused.
	op := func(verb string) func() testkit.Answer {
		return func() testkit.Answer {
			var body any
			if verb == "reject" {
				body = map[string]string{"reason": "标题与服务清单不一致"}
			}
			return e.Control("POST", "/_sandbox/jincheng/services/"+code+"/"+verb, body)
		}
	}
	edit := func() testkit.Answer {
		return e.vendor(s, "PATCH", "/jincheng/admin/v1/services/"+code, map[string]any{"description": "社会保险个人权益查询"})
	}
	vendorOffline := func() testkit.Answer { return e.vendor(s, "POST", "/jincheng/admin/v1/services/"+code+"/offline", nil) }
	submit := func() testkit.Answer { return e.submitListing(s, code, bothReports, "https://sb.example.org/h5") }
	illegal := func(state string, calls map[string]func() testkit.Answer) {
		t.Helper()
		for name, call := range calls {
			e.RefusedCode(name+" from "+state, 409, "ADMIN-STATE", call)
		}
	}
	illegal("TESTING", map[string]func() testkit.Answer{"approve": op("approve"), "reject": op("reject"), "offline": op("offline"), "online": op("online"), "vendor offline": vendorOffline})
	e.RefusedCode("listing without reports", 400, "ADMIN-REPORTS-MISSING", func() testkit.Answer { return e.submitListing(s, code, nil, "https://sb.example.org/h5") })
	e.RefusedCode("listing with one report", 400, "ADMIN-REPORTS-MISSING", func() testkit.Answer {
		return e.submitListing(s, code, map[string]string{"functionalTestReport": "ok"}, "https://sb.example.org/h5")
	})
	e.RefusedCode("listing without prodUrl", 400, "ADMIN-URL-NOT-HTTPS", func() testkit.Answer { return e.submitListing(s, code, bothReports, "") })
	e.RefusedCode("listing with an http prodUrl", 400, "ADMIN-URL-NOT-HTTPS", func() testkit.Answer { return e.submitListing(s, code, bothReports, "http://sb.example.org/h5") })
	e.RefusedCode("listing as JSON", 400, "INVALID-PARAMETER", func() testkit.Answer {
		return e.vendor(s, "POST", "/jincheng/admin/v1/services/"+code+"/submitListing", map[string]string{"functionalTestReport": ""})
	})
	if r := submit(); r.Status != 200 || r.Data().Str("status") != "REVIEWING" || r.Data()["reports"] == nil {
		t.Fatalf("submit listing: %d %s", r.Status, r.Raw)
	}
	illegal("REVIEWING", map[string]func() testkit.Answer{"submit": submit, "edit": edit, "offline": op("offline"), "online": op("online"), "vendor offline": vendorOffline})
	if r := op("reject")(); r.Status != 200 || r.Data().Str("status") != "REJECTED" || r.Data().Str("rejectReason") == "" {
		t.Fatalf("reject listing: %d %s", r.Status, r.Raw)
	}
	illegal("REJECTED", map[string]func() testkit.Answer{"submit": submit, "approve": op("approve"), "reject": op("reject"), "offline": op("offline"), "online": op("online")})
	if r := edit(); r.Status != 200 || r.Data().Str("status") != "TESTING" {
		t.Fatalf("edit a rejected service: %d %s", r.Status, r.Raw)
	}
	if r := submit(); r.Status != 200 {
		t.Fatalf("resubmit listing: %d %s", r.Status, r.Raw)
	}
	if r := op("approve")(); r.Status != 200 || r.Data().Str("status") != "ONLINE" || r.Data().Str("statusLabel") != "已上架" {
		t.Fatalf("approve listing: %d %s", r.Status, r.Raw)
	}
	illegal("ONLINE", map[string]func() testkit.Answer{"submit": submit, "edit": edit, "approve": op("approve"), "reject": op("reject"), "online": op("online")})
	if r := vendorOffline(); r.Status != 200 || r.Data().Str("status") != "OFFLINE" {
		t.Fatalf("vendor offline: %d %s", r.Status, r.Raw)
	}
	illegal("OFFLINE", map[string]func() testkit.Answer{"submit": submit, "edit": edit, "approve": op("approve"), "reject": op("reject"), "offline": op("offline"), "vendor offline": vendorOffline})
	if r := op("online")(); r.Status != 200 || r.Data().Str("status") != "ONLINE" {
		t.Fatalf("online: %d %s", r.Status, r.Raw)
	}

	// Testers.
	tester := func(method, path string, body any) func() testkit.Answer {
		return func() testkit.Answer {
			return e.vendor(s, method, "/jincheng/admin/v1/apps/"+app+"/testers"+path, body)
		}
	}
	if r := tester("POST", "", map[string]string{"mobile": testkit.JinchengTester})(); r.Status != 200 {
		t.Fatalf("add tester: %d %s", r.Status, r.Raw)
	}
	e.RefusedCode("duplicate tester", 409, "ADMIN-TESTER-EXISTS", tester("POST", "", map[string]string{"mobile": testkit.JinchengTester}))
	e.RefusedCode("bad tester mobile", 400, "INVALID-PARAMETER", tester("POST", "", map[string]string{"mobile": "1234"}))
	e.RefusedCode("remove a non-tester", 404, "ADMIN-NOT-FOUND", tester("DELETE", "/13800000000", nil))
	if r := tester("DELETE", "/"+testkit.JinchengTester, nil)(); r.Status != 200 || len(r.Data()["items"].([]any)) != 0 {
		t.Fatalf("remove tester: %d %s", r.Status, r.Raw)
	}

	// A session lasts 2 hours.
	e.Advance(2 * time.Hour)
	e.RefusedCode("expired session", 401, "ADMIN-SESSION-EXPIRED", func() testkit.Answer { return e.vendor(s, "GET", "/jincheng/admin/v1/apps", nil) })
}

func TestVendorVerbs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.Control("POST", "/_sandbox/jincheng/vendors", map[string]string{"account": "acme", "password": "acme-password", "name": "Acme 科技"})
	if r.Status != 201 || r.Data().Str("account") != "acme" || r.Data().Str("password") != "acme-password" {
		t.Fatalf("create vendor: %d %s", r.Status, r.Raw)
	}
	e.RefusedCode("duplicate vendor", 409, "ADMIN-VENDOR-EXISTS", func() testkit.Answer {
		return e.Control("POST", "/_sandbox/jincheng/vendors", map[string]string{"account": "acme"})
	})
	e.RefusedCode("short password", 400, "invalid", func() testkit.Answer {
		return e.Control("POST", "/_sandbox/jincheng/vendors", map[string]string{"account": "acme2", "password": "x"})
	})
	if tok := e.login("acme", "acme-password"); tok == "" {
		t.Fatal("no session")
	}
	l := e.Control("GET", "/_sandbox/jincheng/vendors", nil)
	if n := len(l.JSON["items"].([]any)); n != 3 {
		t.Errorf("%d vendors, want 3 (two fixtures and acme)", n)
	}
	if strings.Contains(string(l.Raw), "password") {
		t.Errorf("vendor list shows passwords: %s", l.Raw)
	}
	e.RefusedCode("citizen with a taken mobile", 409, "APP-CITIZEN-EXISTS", func() testkit.Answer {
		return e.Control("POST", "/_sandbox/jincheng/citizens", map[string]string{"mobile": testkit.JinchengTester})
	})
	e.RefusedCode("citizen with a bad mobile", 400, "invalid", func() testkit.Answer {
		return e.Control("POST", "/_sandbox/jincheng/citizens", map[string]string{"mobile": "10000000000"})
	})
	e.RefusedCode("unknown citizen", 404, "APP-CITIZEN-NOT-FOUND", func() testkit.Answer { return e.Control("GET", "/_sandbox/jincheng/citizens/nobody", nil) })
	e.RefusedCode("listing decision on an unknown service", 404, "ADMIN-NOT-FOUND", func() testkit.Answer {
		return e.Control("POST", "/_sandbox/jincheng/services/S00000000/approve", nil)
	})
	e.RefusedCode("SMS decision on an unknown app", 404, "ADMIN-NOT-FOUND", func() testkit.Answer {
		return e.Control("POST", "/_sandbox/jincheng/apps/APP00000000/sms/approve", nil)
	})
	e.RefusedCode("SMS decision without an application", 409, "ADMIN-STATE", func() testkit.Answer {
		return e.Control("POST", "/_sandbox/jincheng/apps/"+testkit.JinchengOtherAppID+"/sms/approve", nil)
	})
	e.RefusedCode("reject without a reason", 400, "invalid", func() testkit.Answer {
		return e.Control("POST", "/_sandbox/jincheng/services/"+testkit.JinchengTesting+"/reject", map[string]string{})
	})
	c := e.Control("POST", "/_sandbox/jincheng/citizens", map[string]string{"name": "测试用户"})
	if c.Status != 201 || c.Data().Str("name") != "测试用户" || len(c.Data().Str("idnum")) != 18 {
		t.Errorf("create citizen: %d %s", c.Status, c.Raw)
	}
	if g := e.Control("GET", "/_sandbox/jincheng/citizens/"+c.Data().Str("userid"), nil); g.Data().Str("mobile") != c.Data().Str("mobile") {
		t.Errorf("get citizen: %s", g.Raw)
	}
}

// TestRotateSecret: a rotation shows the new secret once; the old one signs for 10 minutes more.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.login(testkit.JinchengVendor, testkit.JinchengPassword)
	r := e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+testkit.JinchengAppID+"/rotateSecret", nil)
	fresh := r.Data().Str("appSecret")
	if r.Status != 200 || len(fresh) != 43 || fresh == testkit.JinchengAppSecret {
		t.Fatalf("rotate: %d %s", r.Status, r.Raw)
	}
	if g := e.vendor(s, "GET", "/jincheng/admin/v1/apps/"+testkit.JinchengAppID, nil); strings.Contains(string(g.Raw), fresh) || strings.Contains(string(g.Raw), testkit.JinchengAppSecret) {
		t.Errorf("GET app shows a secret: %s", g.Raw)
	}
	const path = "/jincheng/test/openapi/v1/todos"
	q := url.Values{"userid": {"u"}}
	list := func(secret string) func() testkit.Answer {
		return func() testkit.Answer {
			return e.Signed(testkit.JinchengApp{AppCode: testkit.JinchengAppCode, Secret: secret}, "GET", path, q, nil)
		}
	}
	for name, secret := range map[string]string{"new": fresh, "old, in grace": testkit.JinchengAppSecret} {
		if r := list(secret)(); r.Status != 200 {
			t.Errorf("%s secret: %d %s", name, r.Status, r.Raw)
		}
	}
	e.Advance(10 * time.Minute)
	e.RefusedCode("old secret after the grace period", 401, "GW-INVALID-SIGNATURE", list(testkit.JinchengAppSecret))
	if r := list(fresh)(); r.Status != 200 {
		t.Errorf("new secret: %d %s", r.Status, r.Raw)
	}
	e.RefusedCode("rotate another vendor's app", 404, "ADMIN-NOT-FOUND", func() testkit.Answer {
		return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+testkit.JinchengOtherAppID+"/rotateSecret", nil)
	})
	p := e.vendor(s, "POST", "/jincheng/admin/v1/apps", map[string]any{"appName": "x", "contactName": "y", "contactPhone": "13835600100", "needUserInfo": false})
	e.RefusedCode("rotate a PENDING app", 409, "ADMIN-STATE", func() testkit.Answer {
		return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+p.Data().Str("appId")+"/rotateSecret", nil)
	})
}
