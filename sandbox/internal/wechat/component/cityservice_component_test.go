package component_test

import (
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
)

// A third-party platform calls getservicepath with an authorizer token: the authorizer's own
// approval decides; set 22 opens the API for an official account, 105 for a Mini Program.
func TestCityServiceThroughAuthorizerToken(t *testing.T) {
	t.Parallel()
	h := newCompEnv(t)
	cs := h.srv.CityService()
	for _, appid := range []string{fixtureService, fixtureMini} {
		a, err := cs.Apply(sandbox.CityServiceApplicationSpec{
			SubjectName: "晋城市政务服务管理局", AppID: appid, JumpScenes: []int{0, 1}, PageTypes: []int{1},
			ContactUnit: "晋城市政务服务管理局", ContactPerson: "王敏", ContactPhone: "0356-2021234", ContactWeChat: "wangmin_jc",
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.Approve(a.ID, sandbox.CityServiceGrant{}); err != nil {
			t.Fatal(err)
		}
	}
	comp := h.component()
	ctok := h.componentToken(comp)
	home := map[string]any{"page_type": 1, "src_channel": 0, "city_name": "晋城"}
	for _, tc := range []struct {
		appid string
		set   int
	}{{fixtureService, 22}, {fixtureMini, 105}} {
		tok := compStr(h.queryAuth(comp.AppID, ctok, h.authorize(comp.AppID, ctok, tc.appid, []int{tc.set})), "authorizer_access_token")
		m := h.post("/cityservice/getservicepath?access_token="+tok, home)
		wantCompErrcode(t, "getservicepath with an authorizer token", m, 0)
		if p := compStr(m, "path"); !strings.HasPrefix(p, "pages/index/index?") || !strings.Contains(p, "city_id=140500") {
			t.Errorf("%s with set %d: path %q", tc.appid, tc.set, p)
		}
	}
	// An authorizer without an approved application is refused as its own token would be.
	oa := h.account("official_account")
	oaTok := compStr(h.queryAuth(comp.AppID, ctok, h.authorize(comp.AppID, ctok, oa, []int{22})), "authorizer_access_token")
	before := h.hash()
	wantCompErrcode(t, "unapproved authorizer", h.post("/cityservice/getservicepath?access_token="+oaTok, home), 48001)
	if h.hash() != before {
		t.Error("the refused call changed the state")
	}
}
