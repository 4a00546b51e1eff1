package jincheng_test

import (
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
)

func TestAppPageLists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, query string
		want, not   []string
	}{
		{"tester, test env", "env=test&persona=" + fxTester, []string{fxOnline, fxTesting}, []string{fxOtherTesting}},
		{"tester, prod env", "env=prod&persona=" + fxTester, []string{fxOnline}, []string{fxTesting, fxOtherTesting}},
		{"other app's tester", "env=test&persona=" + fxOtherTester, []string{fxOtherTesting}, []string{fxOnline, fxTesting}},
		{"default persona and env", "", []string{`data-env="test"`}, nil},
	}
	for _, tt := range tests {
		r := e.request("GET", "/jincheng/app/?"+tt.query, nil, nil)
		page := string(r.Raw)
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", tt.name, r.Status, r.Header.Get("Content-Type"))
		}
		for _, w := range tt.want {
			if !strings.Contains(page, w) {
				t.Errorf("%s: page lacks %s", tt.name, w)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(page, `data-service="`+n+`"`) {
				t.Errorf("%s: page lists %s", tt.name, n)
			}
		}
		if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
			t.Errorf("%s: the page refers to an external asset", tt.name)
		}
	}
	js := e.request("GET", "/jincheng/sdk/jlb-bridge.js", nil, nil)
	if js.Status != 200 || !strings.HasPrefix(js.Header.Get("Content-Type"), "application/javascript") ||
		!strings.Contains(string(js.Raw), "ssoTicket") || !strings.Contains(string(js.Raw), "onReady") {
		t.Errorf("bridge script: %d %s", js.Status, js.Header.Get("Content-Type"))
	}
}

func TestAppSimulatorRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	get := func(path string) func() reply { return func() reply { return e.request("GET", path, nil, nil) } }
	post := func(path string, body any) func() reply {
		return func() reply { return e.request("POST", path, jsonBody(t, body), nil) }
	}
	e.refused("page for an unknown persona", 404, "APP-CITIZEN-NOT-FOUND", get("/jincheng/app/?persona=13800000000"))
	e.refused("page for an unknown env", 400, "INVALID-PARAMETER", get("/jincheng/app/?env=staging"))
	e.refused("open as a non-tester", 403, "APP-NOT-TESTER", get("/jincheng/app/open?service="+fxTesting+"&persona="+fxOtherTester+"&env=test"))
	e.refused("open a TESTING service in prod", 409, "APP-SERVICE-UNAVAILABLE", get("/jincheng/app/open?service="+fxTesting+"&persona="+fxTester+"&env=prod"))
	e.refused("open without a service", 400, "INVALID-PARAMETER", get("/jincheng/app/open?persona="+fxTester+"&env=test"))
	e.refused("bridge ticket for a non-tester", 403, "APP-NOT-TESTER", post("/jincheng/app/api/ticket", map[string]string{"service": fxTesting, "persona": fxOtherTester, "env": "test"}))
	e.refused("title check of an unknown service", 404, "ADMIN-NOT-FOUND", post("/jincheng/app/api/titleCheck", map[string]string{"service": "S0", "persona": fxTester, "env": "test", "title": "x"}))
	e.refused("title check without a title", 400, "INVALID-PARAMETER", post("/jincheng/app/api/titleCheck", map[string]string{"service": fxTesting, "persona": fxTester, "env": "test"}))
	r := post("/jincheng/app/api/ticket", map[string]string{"service": fxTesting, "persona": fxTester, "env": "test"})()
	if r.Body["success"] != true || len(r.str("ticket")) != 32 {
		t.Fatalf("bridge ticket: %s", r.Raw)
	}
	if x := e.exchange(demoApp, "test", r.str("ticket")); x.Body["success"] != true {
		t.Errorf("a bridge ticket should exchange: %s", x.Raw)
	}
	r = post("/jincheng/app/api/titleCheck", map[string]string{"service": fxTesting, "persona": fxTester, "env": "test", "title": " 公积金查询 "})()
	if r.data()["match"] != true {
		t.Errorf("title check with blanks around the name: %s", r.Raw)
	}
}

// TestGoTwins: the package sandbox verbs do what the control plane does.
func TestGoTwins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := e.srv.Jincheng()
	v, err := j.CreateVendor(sandbox.JinchengVendorSpec{})
	if err != nil || v.Account == "" || v.Password == "" || !strings.HasSuffix(v.Name, "有限公司") {
		t.Fatalf("CreateVendor = %+v, %v", v, err)
	}
	e.login(v.Account, v.Password)
	l, err := j.Launch(fxTesting, fxTester, "test")
	if err != nil || !strings.Contains(l.Location, "ticket="+l.Ticket) {
		t.Fatalf("Launch = %+v, %v", l, err)
	}
	if _, err := j.Launch(fxTesting, fxOtherTester, "test"); err == nil || !strings.Contains(err.Error(), "APP-NOT-TESTER") {
		t.Errorf("Launch for a non-tester: %v", err)
	}
	if checks, err := j.TitleChecks(""); err != nil || len(checks) != 0 {
		t.Errorf("TitleChecks = %v, %v", checks, err)
	}
}
