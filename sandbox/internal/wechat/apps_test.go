package wechat_test

import (
	"regexp"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

func TestCreateAppDefaultsAndRefusals(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	a := k.Control("POST", "/_sandbox/wechat/apps", `{"type":"official_account"}`)
	if a.Status != 201 {
		t.Fatalf("create: %d %s", a.Status, a.Raw)
	}
	if a.JSON["verified"] != true || a.Str("subject_type") != "enterprise" || a.Str("tier") != "production" || a.Str("service_type") != "service" {
		t.Errorf("defaults = %s", a.Raw)
	}
	for key, pattern := range map[string]string{"appid": `^wx[0-9a-f]{16}$`, "secret": `^[0-9a-f]{32}$`, "original_id": `^gh_[0-9a-f]{12}$`} {
		if !matches(pattern, a.Str(key)) {
			t.Errorf("%s = %q does not match %s", key, a.Str(key), pattern)
		}
	}
	k.Token(a.Str("appid"), a.Str("secret"))
	comp := k.Control("POST", "/_sandbox/wechat/apps", `{"type":"component"}`)
	if comp.Str("component_appid") == "" || len(comp.Str("encoding_aes_key")) != 43 || comp.Str("token") == "" {
		t.Errorf("component app lacks its credentials: %s", comp.Raw)
	}
	for _, body := range []string{
		`{"type":"bank"}`, `{}`, `{"type":"mini_program","tier":"gold"}`, `{"type":"mini_program","appid":"wx123"}`,
		`{"type":"mini_program","subject_type":"alien"}`, `{"type":"mini_program","service_type":"service"}`,
		`{"type":"mini_program","ip_whitelist":["not-an-ip"]}`, `{"type":"mini_program","colour":"red"}`, `not json`, ``,
		`{"type":"mini_program","appid":"` + testkit.MiniAppID + `"}`,
	} {
		k.Unchanged(func() {
			if a := k.Control("POST", "/_sandbox/wechat/apps", body); a.Status < 400 || a.Status >= 500 || a.JSON["error"] == nil {
				t.Errorf("create %s: %d %s, want a 4xx error object", body, a.Status, a.Raw)
			}
		})
	}
	if a := k.Control("GET", "/_sandbox/wechat/apps/wx0000000000000000", nil); a.Status != 404 {
		t.Errorf("unknown app: %d", a.Status)
	}
}

func matches(pattern, s string) bool {
	return len(s) > 0 && regexp.MustCompile(pattern).MatchString(s)
}

func TestAppInspectionShowsTokensAndQuota(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	a := k.Control("GET", "/_sandbox/wechat/apps/"+testkit.ServiceAppID, nil)
	toks := a.JSON["tokens"].([]any)
	if len(toks) != 1 || toks[0].(map[string]any)["access_token"] != tok {
		t.Errorf("tokens = %v", toks)
	}
	if q := a.JSON["quota_today"].([]any); len(q) != 1 || q[0].(map[string]any)["used"] != float64(1) {
		t.Errorf("quota_today = %v", q)
	}
	p := k.Control("PATCH", "/_sandbox/wechat/apps/"+testkit.ServiceAppID, `{"tier":"test","verified":false}`)
	if p.Str("tier") != "test" || p.JSON["verified"] != false {
		t.Errorf("patch: %s", p.Raw)
	}
	k.Unchanged(func() {
		if a := k.Control("PATCH", "/_sandbox/wechat/apps/"+testkit.ServiceAppID, `{"tier":"bronze"}`); a.Status != 400 {
			t.Errorf("bad patch: %d", a.Status)
		}
	})
}

func TestFixtureAppsGetTheCreationDefaults(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	app, err := k.Srv.WeChat().App(testkit.ServiceAppID)
	if err != nil || app == nil {
		t.Fatal(app, err)
	}
	if !app.Verified || app.Tier != "production" {
		t.Errorf("fixture service account: verified=%v tier=%q, want the defaults (verified, production)", app.Verified, app.Tier)
	}
}
