package qr_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// TestQRJumpFlowExample is the "scan the service account's code to open the Mini Program" flow of
// the README, end to end through sandboxtest, with the fixture service account and Mini Program:
// create a permanent code, link the accounts, add a rule, publish it, scan, try to modify the
// published rule, delete it, scan again.
func TestQRJumpFlowExample(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	oaTok := token(t, srv, serviceAppID, serviceSecret)
	api := func(path string, body any) answer {
		t.Helper()
		return do(t, srv, http.MethodPost, "https://api.weixin.qq.com"+path+"?access_token="+oaTok, body)
	}

	// 1. A permanent parametric code for table 7; its image decodes to the url.
	code := api("/cgi-bin/qrcode/create", map[string]any{
		"action_name": "QR_LIMIT_STR_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_str": "table-7"}},
	})
	link := code.str("url")
	if link == "" || code.json["errcode"] != nil {
		t.Fatalf("qrcode/create = %s", code.raw)
	}
	img := do(t, srv, http.MethodGet, "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="+url.QueryEscape(code.str("ticket")), nil)
	if img.status != http.StatusOK || img.header.Get("Content-Type") != "image/jpg" {
		t.Fatalf("showqrcode: %d %s", img.status, img.header.Get("Content-Type"))
	}

	// 2. Link the service account and the Mini Program (the Go twin of
	// POST /_sandbox/wechat/apps/{appid}/links), then add the rule.
	if err := srv.WeChat().Link(serviceAppID, miniAppID); err != nil {
		t.Fatal(err)
	}
	rule := map[string]any{"prefix": link, "appid": miniAppID, "path": "pages/order/index?table=7", "is_edit": 0}
	wantErrcode(t, api("/cgi-bin/wxopen/qrcodejumpadd", rule), 0)

	// Before publishing, a scan still follows the account.
	scan := func() sandbox.WeChatScanResult {
		t.Helper()
		res, err := srv.WeChat().Scan(sandbox.WeChatScan{URL: link})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if got := scan(); got.Action != "follow_official_account" || got.Scene != "table-7" {
		t.Errorf("scan before publishing = %+v", got)
	}

	// 3. Publish; the scan opens the Mini Program's release version with the link in q.
	wantErrcode(t, api("/cgi-bin/wxopen/qrcodejumppublish", map[string]any{"prefix": link}), 0)
	got := scan()
	if got.Action != "open_mini_program" || got.AppID != miniAppID || got.Path != "pages/order/index" ||
		got.Version != "release" || got.Query["table"] != "7" || got.Query["q"] != url.QueryEscape(link) {
		t.Errorf("scan after publishing = %+v", got)
	}
	list := api("/cgi-bin/wxopen/qrcodejumpget", map[string]any{"appid": miniAppID, "get_type": 1, "prefix_list": []string{link}})
	wantErrcode(t, list, 0)
	if list.json["qrcodejump_pub_quota"] != 99.0 {
		t.Errorf("qrcodejump_pub_quota = %v, want 99", list.json["qrcodejump_pub_quota"])
	}

	// 4. A published rule cannot be modified (40097), and the refusal changes nothing.
	rule["is_edit"], rule["path"] = 1, "pages/menu/index"
	unchanged(t, srv, func() { wantErrcode(t, api("/cgi-bin/wxopen/qrcodejumpadd", rule), 40097) })

	// 5. Delete: at once, the code follows the account again.
	wantErrcode(t, api("/cgi-bin/wxopen/qrcodejumpdelete", map[string]any{"prefix": link, "appid": miniAppID}), 0)
	if got := scan(); got.Action != "follow_official_account" {
		t.Errorf("scan after delete = %+v", got)
	}
}
