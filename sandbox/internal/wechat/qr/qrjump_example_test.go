package qr_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// TestQRJumpFlowExample is the "scan the service account's code to open the Mini Program" flow of
// the README, end to end through sandboxtest, with the fixture service account and Mini Program:
// create a permanent code, link the accounts, add a rule, publish it, scan, try to modify the
// published rule, delete it, scan again.
func TestQRJumpFlowExample(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	oaTok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	api := func(path string, body any) testkit.Answer {
		t.Helper()
		return k.Post(path, oaTok, body)
	}

	// 1. A permanent parametric code for table 7; its image decodes to the url.
	code := api("/cgi-bin/qrcode/create", map[string]any{
		"action_name": "QR_LIMIT_STR_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_str": "table-7"}},
	})
	link := code.Str("url")
	if link == "" || code.JSON["errcode"] != nil {
		t.Fatalf("qrcode/create = %s", code.Raw)
	}
	img := k.Do(http.MethodGet, "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="+url.QueryEscape(code.Str("ticket")), nil)
	if img.Status != http.StatusOK || img.Header.Get("Content-Type") != "image/jpg" {
		t.Fatalf("showqrcode: %d %s", img.Status, img.Header.Get("Content-Type"))
	}

	// 2. Link the service account and the Mini Program (the Go twin of
	// POST /_sandbox/wechat/apps/{appid}/links), then add the rule.
	if err := k.Srv.WeChat().Link(testkit.ServiceAppID, testkit.MiniAppID); err != nil {
		t.Fatal(err)
	}
	rule := map[string]any{"prefix": link, "appid": testkit.MiniAppID, "path": "pages/order/index?table=7", "is_edit": 0}
	k.WantErrcode(api("/cgi-bin/wxopen/qrcodejumpadd", rule), 0)

	// Before publishing, a scan still follows the account.
	scan := func() sandbox.WeChatScanResult {
		t.Helper()
		res, err := k.Srv.WeChat().Scan(context.Background(), sandbox.WeChatScan{URL: link})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if got := scan(); got.Action != "follow_official_account" || got.Scene != "table-7" {
		t.Errorf("scan before publishing = %+v", got)
	}

	// 3. Publish; the scan opens the Mini Program's release version with the link in q.
	k.WantErrcode(api("/cgi-bin/wxopen/qrcodejumppublish", map[string]any{"prefix": link}), 0)
	got := scan()
	if got.Action != "open_mini_program" || got.AppID != testkit.MiniAppID || got.Path != "pages/order/index" ||
		got.Version != "release" || got.Query["table"] != "7" || got.Query["q"] != url.QueryEscape(link) {
		t.Errorf("scan after publishing = %+v", got)
	}
	list := api("/cgi-bin/wxopen/qrcodejumpget", map[string]any{"appid": testkit.MiniAppID, "get_type": 1, "prefix_list": []string{link}})
	k.WantErrcode(list, 0)
	if list.JSON["qrcodejump_pub_quota"] != 99.0 {
		t.Errorf("qrcodejump_pub_quota = %v, want 99", list.JSON["qrcodejump_pub_quota"])
	}

	// 4. A published rule cannot be modified (40097), and the refusal changes nothing.
	rule["is_edit"], rule["path"] = 1, "pages/menu/index"
	k.Unchanged(func() { k.WantErrcode(api("/cgi-bin/wxopen/qrcodejumpadd", rule), 40097) })

	// 5. Delete: at once, the code follows the account again.
	k.WantErrcode(api("/cgi-bin/wxopen/qrcodejumpdelete", map[string]any{"prefix": link, "appid": testkit.MiniAppID}), 0)
	if got := scan(); got.Action != "follow_official_account" {
		t.Errorf("scan after delete = %+v", got)
	}
}
