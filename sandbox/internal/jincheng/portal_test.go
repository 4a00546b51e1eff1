package jincheng_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
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

func (e *tenv) submitListing(session, service string, files map[string]string, prodURL string) reply {
	e.t.Helper()
	body, h := listingForm(e.t, files, prodURL)
	h.Set("Authorization", "Bearer "+session)
	return e.request("POST", "/jincheng/admin/v1/services/"+service+"/submitListing", body, h)
}

var bothReports = map[string]string{"functionalTestReport": "", "securityTestReport": ""} // empty files: allowed while testing

// onboarded is an application taken through declaration and approval, with one service.
type onboarded struct {
	session, appID, appCode, secret, service string
}

// onboard declares an app of the given user-info type as a new vendor, has it approved, adds a
// service and registers a tester.
func (e *tenv) onboard(infoType, tester string) onboarded {
	e.t.Helper()
	v := e.control("POST", "/_sandbox/jincheng/vendors", map[string]string{})
	if v.Status != 201 {
		e.t.Fatalf("create vendor: %d %s", v.Status, v.Raw)
	}
	o := onboarded{session: e.login(v.str("account"), v.str("password"))}
	decl := map[string]any{"appName": "晋城市不动产登记", "contactName": "赵磊", "contactPhone": "13935600300", "needUserInfo": infoType != ""}
	if infoType != "" {
		decl["userInfoType"] = infoType
	}
	r := e.vendor(o.session, "POST", "/jincheng/admin/v1/apps", decl)
	o.appID = r.str("appId")
	if r.Status != 200 || r.str("status") != "PENDING" || r.str("appCode") != "" {
		e.t.Fatalf("declare: %d %s", r.Status, r.Raw)
	}
	r = e.control("POST", "/_sandbox/jincheng/apps/"+o.appID+"/approve", nil)
	o.appCode, o.secret = r.str("appCode"), r.str("appSecret")
	if r.Status != 200 || !strings.HasPrefix(o.appCode, "JLB") || len(o.appCode) != 13 || len(o.secret) != 43 {
		e.t.Fatalf("approve: %d %s", r.Status, r.Raw)
	}
	r = e.vendor(o.session, "POST", "/jincheng/admin/v1/apps/"+o.appID+"/services", map[string]any{
		"serviceName": "不动产登记查询", "accessMode": "APP", "serviceType": "QUERY", "module_callback_code": "BDCDJCX", "testUrl": "http://localhost:3000/bdc",
	})
	o.service = r.str("serviceCode")
	if r.Status != 200 || r.str("status") != "TESTING" || r.str("statusLabel") != "测试中" || !strings.HasPrefix(r.str("modulecode"), "M") {
		e.t.Fatalf("create service: %d %s", r.Status, r.Raw)
	}
	if r := e.vendor(o.session, "POST", "/jincheng/admin/v1/apps/"+o.appID+"/testers", map[string]string{"mobile": tester}); r.Status != 200 {
		e.t.Fatalf("add tester: %d %s", r.Status, r.Raw)
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
		s := signer{o.appCode, o.secret}
		userid, token := e.signIn(s, o.service, tt.tester, "test")
		r := e.signed(s, "POST", "/jincheng/test/sso/v1/getUserInfo", nil, map[string]string{"token": token})
		if got := keys(r.data()); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%q: user info fields %v, want %v", tt.infoType, got, tt.want)
		}
		if r.str("userid") != userid {
			t.Errorf("%q: userid %q, want %q", tt.infoType, r.str("userid"), userid)
		}
		// The secret is shown once: never by the portal afterwards.
		if g := e.vendor(o.session, "GET", "/jincheng/admin/v1/apps/"+o.appID, nil); strings.Contains(string(g.Raw), o.secret) || g.str("appCode") != o.appCode {
			t.Errorf("GET app shows %s", g.Raw)
		}
	}
}

func TestPortalRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.login(fxVendor, fxPassword)
	e.refused("wrong password", 401, "ADMIN-LOGIN-FAILED", func() reply {
		return e.request("POST", "/jincheng/admin/v1/login", jsonBody(t, map[string]string{"account": fxVendor, "password": "nope"}), nil)
	})
	e.refused("unknown account", 401, "ADMIN-LOGIN-FAILED", func() reply {
		return e.request("POST", "/jincheng/admin/v1/login", jsonBody(t, map[string]string{"account": "ghost", "password": "x"}), nil)
	})
	e.refused("no session", 401, "ADMIN-SESSION-INVALID", func() reply {
		return e.request("GET", "/jincheng/admin/v1/apps", nil, nil)
	})
	e.refused("unknown session", 401, "ADMIN-SESSION-INVALID", func() reply { return e.vendor("nope", "GET", "/jincheng/admin/v1/apps", nil) })
	decl := func(body map[string]any) func() reply {
		return func() reply { return e.vendor(s, "POST", "/jincheng/admin/v1/apps", body) }
	}
	e.refused("type without need", 400, "ADMIN-USERINFO-TYPE-INVALID", decl(map[string]any{"appName": "a", "contactName": "b", "contactPhone": "13835600100", "needUserInfo": false, "userInfoType": "BASIC"}))
	e.refused("need without type", 400, "ADMIN-USERINFO-TYPE-INVALID", decl(map[string]any{"appName": "a", "contactName": "b", "contactPhone": "13835600100", "needUserInfo": true}))
	e.refused("unknown type", 400, "INVALID-PARAMETER", decl(map[string]any{"appName": "a", "contactName": "b", "contactPhone": "13835600100", "needUserInfo": true, "userInfoType": "身份信息"}))
	e.refused("bad phone", 400, "INVALID-PARAMETER", decl(map[string]any{"appName": "a", "contactName": "b", "contactPhone": "12345", "needUserInfo": false}))
	e.refused("missing name", 400, "INVALID-PARAMETER", decl(map[string]any{"contactName": "b", "contactPhone": "13835600100", "needUserInfo": false}))
	e.refused("another vendor's app", 404, "ADMIN-NOT-FOUND", func() reply { return e.vendor(s, "GET", "/jincheng/admin/v1/apps/"+fxOtherAppID, nil) })
	e.refused("another vendor's service", 404, "ADMIN-NOT-FOUND", func() reply {
		return e.vendor(s, "PATCH", "/jincheng/admin/v1/services/"+fxOtherTesting, map[string]any{"serviceName": "x"})
	})
	e.refused("unknown path", 404, "NOT-FOUND", func() reply { return e.vendor(s, "GET", "/jincheng/admin/v1/nothing", nil) })
	e.refused("wrong method", 405, "METHOD-NOT-ALLOWED", func() reply { return e.vendor(s, "DELETE", "/jincheng/admin/v1/apps", nil) })

	// The application state machine.
	r := e.vendor(s, "POST", "/jincheng/admin/v1/apps", map[string]any{"appName": "晋城市社保服务", "contactName": "孙丽", "contactPhone": "13835600200", "needUserInfo": true, "userInfoType": "BASIC"})
	app := r.str("appId")
	if r.Status != 200 || r.str("userInfoTypeLabel") != "基本信息" {
		t.Fatalf("declare: %d %s", r.Status, r.Raw)
	}
	svc := map[string]any{"serviceName": "社保查询", "accessMode": "APP", "serviceType": "QUERY", "module_callback_code": "SBCX", "testUrl": "https://test.example.org/sb"}
	e.refused("service under a PENDING app", 409, "ADMIN-STATE", func() reply { return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+app+"/services", svc) })
	e.refused("resubmit a PENDING app", 409, "ADMIN-STATE", func() reply { return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+app+"/resubmit", map[string]any{}) })
	e.refused("SMS for a PENDING app", 409, "ADMIN-STATE", func() reply {
		return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+app+"/capabilities/sms", map[string]any{"purpose": "x", "templates": []map[string]string{{"content": "y"}}})
	})
	if r := e.control("POST", "/_sandbox/jincheng/apps/"+app+"/reject", map[string]string{"reason": "联系人电话有误"}); r.Status != 200 || r.str("status") != "REJECTED" {
		t.Fatalf("reject: %d %s", r.Status, r.Raw)
	}
	e.refused("approve a REJECTED app", 409, "ADMIN-STATE", func() reply { return e.control("POST", "/_sandbox/jincheng/apps/"+app+"/approve", nil) })
	e.refused("reject a REJECTED app", 409, "ADMIN-STATE", func() reply {
		return e.control("POST", "/_sandbox/jincheng/apps/"+app+"/reject", map[string]string{"reason": "x"})
	})
	e.refused("approve an unknown app", 404, "ADMIN-NOT-FOUND", func() reply { return e.control("POST", "/_sandbox/jincheng/apps/APP00009999/approve", nil) })
	if r := e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+app+"/resubmit", map[string]any{"contactPhone": "13835600201"}); r.Status != 200 || r.str("status") != "PENDING" || r.str("contactPhone") != "13835600201" {
		t.Fatalf("resubmit: %d %s", r.Status, r.Raw)
	}
	if r := e.control("POST", "/_sandbox/jincheng/apps/"+app+"/approve", nil); r.Status != 200 {
		t.Fatalf("approve: %d %s", r.Status, r.Raw)
	}
	e.refused("approve twice", 409, "ADMIN-STATE", func() reply { return e.control("POST", "/_sandbox/jincheng/apps/"+app+"/approve", nil) })

	// Service fields.
	create := func(over map[string]any) func() reply {
		body := map[string]any{}
		for k, v := range svc {
			body[k] = v
		}
		for k, v := range over {
			body[k] = v
		}
		return func() reply { return e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+app+"/services", body) }
	}
	e.refused("lower-case callback code", 400, "ADMIN-CALLBACK-CODE-INVALID", create(map[string]any{"module_callback_code": "sbcx"}))
	e.refused("one-letter callback code", 400, "ADMIN-CALLBACK-CODE-INVALID", create(map[string]any{"module_callback_code": "S"}))
	e.refused("hanzi callback code", 400, "ADMIN-CALLBACK-CODE-INVALID", create(map[string]any{"module_callback_code": "社保"}))
	e.refused("http prodUrl", 400, "ADMIN-URL-NOT-HTTPS", create(map[string]any{"prodUrl": "http://sb.example.org/"}))
	e.refused("http prodUrl on loopback", 400, "ADMIN-URL-NOT-HTTPS", create(map[string]any{"prodUrl": "http://127.0.0.1/"}))
	e.refused("http testUrl off loopback", 400, "ADMIN-URL-NOT-HTTPS", create(map[string]any{"testUrl": "http://test.example.org/sb"}))
	e.refused("relative testUrl", 400, "INVALID-PARAMETER", create(map[string]any{"testUrl": "/sb"}))
	e.refused("access mode", 400, "INVALID-PARAMETER", create(map[string]any{"accessMode": "WECHAT"}))
	r = create(map[string]any{"testUrl": "http://[::1]:8080/sb"})()
	code := r.str("serviceCode")
	if r.Status != 200 || r.str("status") != "TESTING" {
		t.Fatalf("create service: %d %s", r.Status, r.Raw)
	}
	e.refused("duplicate callback code", 400, "ADMIN-CALLBACK-CODE-INVALID", create(nil))

	// The service state machine: every illegal transition is refused.
	op := func(verb string) func() reply {
		return func() reply {
			var body any
			if verb == "reject" {
				body = map[string]string{"reason": "标题与服务清单不一致"}
			}
			return e.control("POST", "/_sandbox/jincheng/services/"+code+"/"+verb, body)
		}
	}
	edit := func() reply {
		return e.vendor(s, "PATCH", "/jincheng/admin/v1/services/"+code, map[string]any{"description": "社会保险个人权益查询"})
	}
	vendorOffline := func() reply { return e.vendor(s, "POST", "/jincheng/admin/v1/services/"+code+"/offline", nil) }
	submit := func() reply { return e.submitListing(s, code, bothReports, "https://sb.example.org/h5") }
	illegal := func(state string, calls map[string]func() reply) {
		t.Helper()
		for name, call := range calls {
			e.refused(name+" from "+state, 409, "ADMIN-STATE", call)
		}
	}
	illegal("TESTING", map[string]func() reply{"approve": op("approve"), "reject": op("reject"), "offline": op("offline"), "online": op("online"), "vendor offline": vendorOffline})
	e.refused("listing without reports", 400, "ADMIN-REPORTS-MISSING", func() reply { return e.submitListing(s, code, nil, "https://sb.example.org/h5") })
	e.refused("listing with one report", 400, "ADMIN-REPORTS-MISSING", func() reply {
		return e.submitListing(s, code, map[string]string{"functionalTestReport": "ok"}, "https://sb.example.org/h5")
	})
	e.refused("listing without prodUrl", 400, "ADMIN-URL-NOT-HTTPS", func() reply { return e.submitListing(s, code, bothReports, "") })
	e.refused("listing with an http prodUrl", 400, "ADMIN-URL-NOT-HTTPS", func() reply { return e.submitListing(s, code, bothReports, "http://sb.example.org/h5") })
	e.refused("listing as JSON", 400, "INVALID-PARAMETER", func() reply {
		return e.vendor(s, "POST", "/jincheng/admin/v1/services/"+code+"/submitListing", map[string]string{"functionalTestReport": ""})
	})
	if r := submit(); r.Status != 200 || r.str("status") != "REVIEWING" || r.data()["reports"] == nil {
		t.Fatalf("submit listing: %d %s", r.Status, r.Raw)
	}
	illegal("REVIEWING", map[string]func() reply{"submit": submit, "edit": edit, "offline": op("offline"), "online": op("online"), "vendor offline": vendorOffline})
	if r := op("reject")(); r.Status != 200 || r.str("status") != "REJECTED" || r.str("rejectReason") == "" {
		t.Fatalf("reject listing: %d %s", r.Status, r.Raw)
	}
	illegal("REJECTED", map[string]func() reply{"submit": submit, "approve": op("approve"), "reject": op("reject"), "offline": op("offline"), "online": op("online")})
	if r := edit(); r.Status != 200 || r.str("status") != "TESTING" {
		t.Fatalf("edit a rejected service: %d %s", r.Status, r.Raw)
	}
	if r := submit(); r.Status != 200 {
		t.Fatalf("resubmit listing: %d %s", r.Status, r.Raw)
	}
	if r := op("approve")(); r.Status != 200 || r.str("status") != "ONLINE" || r.str("statusLabel") != "已上架" {
		t.Fatalf("approve listing: %d %s", r.Status, r.Raw)
	}
	illegal("ONLINE", map[string]func() reply{"submit": submit, "edit": edit, "approve": op("approve"), "reject": op("reject"), "online": op("online")})
	if r := vendorOffline(); r.Status != 200 || r.str("status") != "OFFLINE" {
		t.Fatalf("vendor offline: %d %s", r.Status, r.Raw)
	}
	illegal("OFFLINE", map[string]func() reply{"submit": submit, "edit": edit, "approve": op("approve"), "reject": op("reject"), "offline": op("offline"), "vendor offline": vendorOffline})
	if r := op("online")(); r.Status != 200 || r.str("status") != "ONLINE" {
		t.Fatalf("online: %d %s", r.Status, r.Raw)
	}

	// Testers.
	tester := func(method, path string, body any) func() reply {
		return func() reply { return e.vendor(s, method, "/jincheng/admin/v1/apps/"+app+"/testers"+path, body) }
	}
	if r := tester("POST", "", map[string]string{"mobile": fxTester})(); r.Status != 200 {
		t.Fatalf("add tester: %d %s", r.Status, r.Raw)
	}
	e.refused("duplicate tester", 409, "ADMIN-TESTER-EXISTS", tester("POST", "", map[string]string{"mobile": fxTester}))
	e.refused("bad tester mobile", 400, "INVALID-PARAMETER", tester("POST", "", map[string]string{"mobile": "1234"}))
	e.refused("remove a non-tester", 404, "ADMIN-NOT-FOUND", tester("DELETE", "/13800000000", nil))
	if r := tester("DELETE", "/"+fxTester, nil)(); r.Status != 200 || len(r.data()["items"].([]any)) != 0 {
		t.Fatalf("remove tester: %d %s", r.Status, r.Raw)
	}

	// A session lasts 2 hours.
	e.srv.Advance(2 * time.Hour)
	e.refused("expired session", 401, "ADMIN-SESSION-EXPIRED", func() reply { return e.vendor(s, "GET", "/jincheng/admin/v1/apps", nil) })
}

func TestVendorVerbs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.control("POST", "/_sandbox/jincheng/vendors", map[string]string{"account": "acme", "password": "acme-password", "name": "Acme 科技"})
	if r.Status != 201 || r.str("account") != "acme" || r.str("password") != "acme-password" {
		t.Fatalf("create vendor: %d %s", r.Status, r.Raw)
	}
	e.refused("duplicate vendor", 409, "ADMIN-VENDOR-EXISTS", func() reply {
		return e.control("POST", "/_sandbox/jincheng/vendors", map[string]string{"account": "acme"})
	})
	e.refused("short password", 400, "invalid", func() reply {
		return e.control("POST", "/_sandbox/jincheng/vendors", map[string]string{"account": "acme2", "password": "x"})
	})
	if tok := e.login("acme", "acme-password"); tok == "" {
		t.Fatal("no session")
	}
	l := e.control("GET", "/_sandbox/jincheng/vendors", nil)
	if n := len(l.Body["items"].([]any)); n != 3 {
		t.Errorf("%d vendors, want 3 (two fixtures and acme)", n)
	}
	if strings.Contains(string(l.Raw), "password") {
		t.Errorf("vendor list shows passwords: %s", l.Raw)
	}
	e.refused("citizen with a taken mobile", 409, "APP-CITIZEN-EXISTS", func() reply {
		return e.control("POST", "/_sandbox/jincheng/citizens", map[string]string{"mobile": fxTester})
	})
	e.refused("citizen with a bad mobile", 400, "invalid", func() reply {
		return e.control("POST", "/_sandbox/jincheng/citizens", map[string]string{"mobile": "10000000000"})
	})
	e.refused("unknown citizen", 404, "APP-CITIZEN-NOT-FOUND", func() reply { return e.control("GET", "/_sandbox/jincheng/citizens/nobody", nil) })
	e.refused("listing decision on an unknown service", 404, "ADMIN-NOT-FOUND", func() reply {
		return e.control("POST", "/_sandbox/jincheng/services/S00000000/approve", nil)
	})
	e.refused("SMS decision on an unknown app", 404, "ADMIN-NOT-FOUND", func() reply {
		return e.control("POST", "/_sandbox/jincheng/apps/APP00000000/sms/approve", nil)
	})
	e.refused("SMS decision without an application", 409, "ADMIN-STATE", func() reply {
		return e.control("POST", "/_sandbox/jincheng/apps/"+fxOtherAppID+"/sms/approve", nil)
	})
	e.refused("reject without a reason", 400, "invalid", func() reply {
		return e.control("POST", "/_sandbox/jincheng/services/"+fxTesting+"/reject", map[string]string{})
	})
	c := e.control("POST", "/_sandbox/jincheng/citizens", map[string]string{"name": "测试用户"})
	if c.Status != 201 || c.str("name") != "测试用户" || len(c.str("idnum")) != 18 {
		t.Errorf("create citizen: %d %s", c.Status, c.Raw)
	}
	if g := e.control("GET", "/_sandbox/jincheng/citizens/"+c.str("userid"), nil); g.str("mobile") != c.str("mobile") {
		t.Errorf("get citizen: %s", g.Raw)
	}
}
