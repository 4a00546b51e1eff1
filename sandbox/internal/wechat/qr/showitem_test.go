package qr_test

import (
	"net/http"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

const (
	showGet    = "/wxa/getshowwxaitem"
	showUpdate = "/wxa/updateshowwxaitem"
	showLinks  = "/wxa/getwxamplinkforshow"
)

func TestShowItem(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	mp := miniProgram(k)
	mpTok := k.AppToken(mp)
	out := k.API(http.MethodGet, showGet, mpTok, nil)
	if out.Errcode() != 0 || out.JSON["can_open"] != 0.0 || out.JSON["is_open"] != 0.0 || out.JSON["appid"] != "" {
		t.Errorf("getshowwxaitem without links = %v", out)
	}
	a := app(k, sandbox.WeChatAppSpec{Type: "official_account", Name: "甲服务号"})
	b := app(k, sandbox.WeChatAppSpec{Type: "official_account", ServiceType: "subscription", Name: "乙订阅号"})
	unlinked := serviceAccount(k)
	link(k, mp, a)
	link(k, b, mp)

	out = k.API(http.MethodGet, showLinks+"?page=0&num=20", mpTok, nil)
	if out.Errcode() != 0 || out.JSON["total_num"] != 2.0 || len(out.JSON["biz_info_list"].([]any)) != 2 {
		t.Fatalf("getwxamplinkforshow = %v, want 2 accounts", out)
	}
	first := out.JSON["biz_info_list"].([]any)[0].(map[string]any)
	// One SDK sends "page=%200".
	paged := k.API(http.MethodGet, showLinks+"?page=%200&num=1", mpTok, nil)
	if l := paged.JSON["biz_info_list"].([]any); paged.Errcode() != 0 || len(l) != 1 || l[0].(map[string]any)["appid"] != first["appid"] {
		t.Errorf("page %%200 num 1 = %v, want the first account", paged)
	}
	second := k.API(http.MethodGet, showLinks+"?page=1&num=1", mpTok, nil)
	if l := second.JSON["biz_info_list"].([]any); len(l) != 1 || l[0].(map[string]any)["appid"] == first["appid"] {
		t.Errorf("page 1 num 1 = %v, want the second account", second)
	}
	if past := k.API(http.MethodGet, showLinks+"?page=5&num=20", mpTok, nil); len(past.JSON["biz_info_list"].([]any)) != 0 || past.JSON["total_num"] != 2.0 {
		t.Errorf("page past the end = %v", past)
	}

	k.OK(showUpdate, mpTok, map[string]any{"wxa_subscribe_biz_flag": 1, "appid": a.AppID})
	out = k.API(http.MethodGet, showGet, mpTok, nil)
	if out.JSON["can_open"] != 1.0 || out.JSON["is_open"] != 1.0 || out.JSON["appid"] != a.AppID || out.JSON["nickname"] != "甲服务号" || out.JSON["headimg"] == "" {
		t.Errorf("getshowwxaitem after setting %s = %v", a.AppID, out)
	}
	for _, tc := range []struct {
		name string
		body any
		code int
	}{
		{"flag 1 without appid", map[string]any{"wxa_subscribe_biz_flag": 1}, 40097},
		{"not linked", map[string]any{"wxa_subscribe_biz_flag": 1, "appid": unlinked.AppID}, 40097},
		{"the Mini Program itself", map[string]any{"wxa_subscribe_biz_flag": 1, "appid": mp.AppID}, 40097},
		{"flag 2", map[string]any{"wxa_subscribe_biz_flag": 2, "appid": a.AppID}, 40097},
		{"no flag", map[string]any{"appid": a.AppID}, 40097},
		{"flag a string", map[string]any{"wxa_subscribe_biz_flag": "1", "appid": a.AppID}, 47001}, // a wrong JSON type is a format error
		{"appid a number", map[string]any{"wxa_subscribe_biz_flag": 1, "appid": 1}, 47001},
		{"empty body", "", 44002},
	} {
		t.Run(tc.name, func(t *testing.T) { k.For(t).Refused(showUpdate, mpTok, tc.body, tc.code) })
	}
	k.OK(showUpdate, mpTok, map[string]any{"wxa_subscribe_biz_flag": 0})
	if out := k.API(http.MethodGet, showGet, mpTok, nil); out.JSON["is_open"] != 0.0 || out.JSON["appid"] != "" || out.JSON["can_open"] != 1.0 {
		t.Errorf("after turning off = %v", out)
	}

	oaTok := k.AppToken(a)
	for _, tc := range []struct {
		name, method, path, token string
		code                      int
	}{
		{"num 21", http.MethodGet, showLinks + "?page=0&num=21", mpTok, 40097},
		{"num 0", http.MethodGet, showLinks + "?page=0&num=0", mpTok, 40097},
		{"page -1", http.MethodGet, showLinks + "?page=-1&num=5", mpTok, 40097},
		{"page abc", http.MethodGet, showLinks + "?page=abc&num=5", mpTok, 40097},
		{"no num", http.MethodGet, showLinks + "?page=0", mpTok, 40097},
		{"official account token", http.MethodGet, showGet, oaTok, 48001},
		{"official account token on links", http.MethodGet, showLinks + "?page=0&num=5", oaTok, 48001},
		{"POST getshowwxaitem", http.MethodPost, showGet, mpTok, 43001},
		{"GET updateshowwxaitem", http.MethodGet, showUpdate, mpTok, 43002},
		{"no token", http.MethodGet, showGet, "", 41001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				if out := k.API(tc.method, tc.path, tc.token, nil); out.Errcode() != tc.code {
					t.Errorf("%s %s: %v, want %d", tc.method, tc.path, out, tc.code)
				}
			})
		})
	}
}
