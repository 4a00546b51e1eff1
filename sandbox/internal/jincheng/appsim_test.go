package jincheng_test

import (
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

func TestAppPageLists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, query string
		want, not   []string
	}{
		{"tester, test env", "env=test&persona=" + testkit.JinchengTester, []string{testkit.JinchengOnline, testkit.JinchengTesting}, []string{testkit.JinchengOtherTesting}},
		{"tester, prod env", "env=prod&persona=" + testkit.JinchengTester, []string{testkit.JinchengOnline}, []string{testkit.JinchengTesting, testkit.JinchengOtherTesting}},
		{"other app's tester", "env=test&persona=" + testkit.JinchengOtherTester, []string{testkit.JinchengOtherTesting}, []string{testkit.JinchengOnline, testkit.JinchengTesting}},
		{"default persona and env", "", []string{`data-env="test"`}, nil},
	}
	for _, tt := range tests {
		r := e.Do("GET", "/jincheng/app/?"+tt.query, nil)
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
	js := e.Do("GET", "/jincheng/sdk/jlb-bridge.js", nil)
	if js.Status != 200 || !strings.HasPrefix(js.Header.Get("Content-Type"), "application/javascript") ||
		!strings.Contains(string(js.Raw), "ssoTicket") || !strings.Contains(string(js.Raw), "onReady") {
		t.Errorf("bridge script: %d %s", js.Status, js.Header.Get("Content-Type"))
	}
}

func TestAppSimulatorRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	get := func(path string) func() testkit.Answer {
		return func() testkit.Answer { return e.Do("GET", path, nil) }
	}
	post := func(path string, body any) func() testkit.Answer {
		return func() testkit.Answer { return e.Do("POST", path, jsonBody(t, body)) }
	}
	e.RefusedCode("page for an unknown persona", 404, "APP-CITIZEN-NOT-FOUND", get("/jincheng/app/?persona=13800000000"))
	e.RefusedCode("page for an unknown env", 400, "INVALID-PARAMETER", get("/jincheng/app/?env=staging"))
	e.RefusedCode("open as a non-tester", 403, "APP-NOT-TESTER", get("/jincheng/app/open?service="+testkit.JinchengTesting+"&persona="+testkit.JinchengOtherTester+"&env=test"))
	e.RefusedCode("open a TESTING service in prod", 409, "APP-SERVICE-UNAVAILABLE", get("/jincheng/app/open?service="+testkit.JinchengTesting+"&persona="+testkit.JinchengTester+"&env=prod"))
	e.RefusedCode("open without a service", 400, "INVALID-PARAMETER", get("/jincheng/app/open?persona="+testkit.JinchengTester+"&env=test"))
	e.RefusedCode("bridge ticket for a non-tester", 403, "APP-NOT-TESTER", post("/jincheng/app/api/ticket", map[string]string{"service": testkit.JinchengTesting, "persona": testkit.JinchengOtherTester, "env": "test"}))
	e.RefusedCode("title check of an unknown service", 404, "ADMIN-NOT-FOUND", post("/jincheng/app/api/titleCheck", map[string]string{"service": "S0", "persona": testkit.JinchengTester, "env": "test", "title": "x"}))
	e.RefusedCode("title check without a title", 400, "INVALID-PARAMETER", post("/jincheng/app/api/titleCheck", map[string]string{"service": testkit.JinchengTesting, "persona": testkit.JinchengTester, "env": "test"}))
	r := post("/jincheng/app/api/ticket", map[string]string{"service": testkit.JinchengTesting, "persona": testkit.JinchengTester, "env": "test"})()
	if r.JSON["success"] != true || len(r.Data().Str("ticket")) != 32 {
		t.Fatalf("bridge ticket: %s", r.Raw)
	}
	if x := e.exchange(demoApp, "test", r.Data().Str("ticket")); x.JSON["success"] != true {
		t.Errorf("a bridge ticket should exchange: %s", x.Raw)
	}
	r = post("/jincheng/app/api/titleCheck", map[string]string{"service": testkit.JinchengTesting, "persona": testkit.JinchengTester, "env": "test", "title": " 公积金查询 "})()
	if r.Data()["match"] != true {
		t.Errorf("title check with blanks around the name: %s", r.Raw)
	}
}

// TestGoTwins: the package sandbox verbs do what the control plane does.
func TestGoTwins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	j := e.Srv.Jincheng()
	v, err := j.CreateVendor(sandbox.JinchengVendorSpec{})
	if err != nil || v.Account == "" || v.Password == "" || !strings.HasSuffix(v.Name, "有限公司") {
		t.Fatalf("CreateVendor = %+v, %v", v, err)
	}
	e.login(v.Account, v.Password)
	l, err := j.Launch(testkit.JinchengTesting, testkit.JinchengTester, "test")
	if err != nil || !strings.Contains(l.Location, "ticket="+l.Ticket) {
		t.Fatalf("Launch = %+v, %v", l, err)
	}
	if _, err := j.Launch(testkit.JinchengTesting, testkit.JinchengOtherTester, "test"); err == nil || !strings.Contains(err.Error(), "APP-NOT-TESTER") {
		t.Errorf("Launch for a non-tester: %v", err)
	}
	if checks, err := j.TitleChecks(""); err != nil || len(checks) != 0 {
		t.Errorf("TitleChecks = %v, %v", checks, err)
	}
}
