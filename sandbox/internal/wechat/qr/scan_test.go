package qr_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/qr"
)

// link links two accounts through POST /_sandbox/wechat/apps/{appid}/links.
func link(k *testkit.Kit, a, b *sandbox.WeChatApp) {
	k.T().Helper()
	if out := k.Control(http.MethodPost, "/_sandbox/wechat/apps/"+a.AppID+"/links", map[string]any{"appid": b.AppID}); out.Status != http.StatusCreated {
		k.T().Fatalf("link %s %s: %s", a.AppID, b.AppID, out)
	}
}

// scan plays a user scanning link (as a role towards the Mini Program; "" is a user) through
// POST /_sandbox/wechat/scan and returns what WeChat does.
func scan(k *testkit.Kit, link, as string) testkit.Object {
	k.T().Helper()
	body := map[string]any{"url": link}
	if as != "" {
		body["as"] = as
	}
	out := k.Control(http.MethodPost, "/_sandbox/wechat/scan", body)
	if out.Status != http.StatusOK {
		k.T().Fatalf("scan %s as %q: %s", link, as, out)
	}
	return out.JSON
}

func TestScanServiceAccountCode(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	u := w.code("table-7")
	got := scan(w.Kit, u, "")
	if got["action"] != "follow_official_account" || got["appid"] != w.oa.AppID || got["scene"] != "table-7" || got["ticket"] == nil || !strings.HasPrefix(got["openid"].(string), "o") {
		t.Errorf("scan without a rule = %v, want follow_official_account of %s with scene table-7", got, w.oa.AppID)
	}
	w.OK(jumpAdd, w.oaTok, w.serviceRule(u, "pages/order/index?shop=7"))
	if got := scan(w.Kit, u, "developer"); got["action"] != "follow_official_account" {
		t.Errorf("scan of an unpublished service-account rule = %v, want follow_official_account", got)
	}
	w.OK(jumpPublish, w.oaTok, map[string]any{"prefix": u})
	got = scan(w.Kit, u, "")
	want := map[string]any{
		"action": "open_mini_program", "appid": w.mp.AppID, "path": "pages/order/index", "version": "release",
		"q": u, "scancode_time": float64(w.Now().Unix()), "prefix": u,
		"query": map[string]any{"shop": "7", "q": url.QueryEscape(u), "scancode_time": strconv.FormatInt(w.Now().Unix(), 10)},
	}
	if b1, b2 := mustJSON(got), mustJSON(want); b1 != b2 {
		t.Errorf("scan of a published rule =\n%s\nwant\n%s", b1, b2)
	}
	// Every scan of an issued code is journalled for the service account.
	out := w.Control(http.MethodGet, "/_sandbox/requests?event=scan&appid="+w.oa.AppID, nil)
	reqs, _ := out.JSON["requests"].([]any)
	if out.Status != http.StatusOK || len(reqs) != 3 {
		t.Fatalf("scan events = %s, want 3", out)
	}
	events := make([]map[string]any, len(reqs))
	for i, r := range reqs {
		if err := json.Unmarshal([]byte(r.(map[string]any)["response_body"].(string)), &events[i]); err != nil {
			t.Fatal(err)
		}
	}
	// Each scan without a user is a stranger's, who follows; the scan that opens the Mini
	// Program gives the account no event.
	if ev := events[0]; ev["Event"] != "subscribe" || ev["EventKey"] != "qrscene_table-7" || ev["ToUserName"] != w.oa.OriginalID || !strings.HasPrefix(ev["FromUserName"].(string), "o") {
		t.Errorf("first scan event = %v", ev)
	}
	if ev := events[2]; ev["Action"] != "open_mini_program" || ev["Event"] != nil {
		t.Errorf("the scan that opened the Mini Program journalled %v, want no event", ev)
	}
	// Deleting takes effect at once.
	w.OK(jumpDelete, w.oaTok, map[string]any{"prefix": u, "appid": w.mp.AppID})
	if got := scan(w.Kit, u, ""); got["action"] != "follow_official_account" {
		t.Errorf("scan after delete = %v, want follow_official_account", got)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestScanInvalidCodes(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	temp := w.Post(qrCreate, w.oaTok, map[string]any{"action_name": "QR_SCENE", "expire_seconds": 60, "action_info": map[string]any{"scene": map[string]any{"scene_id": 5}}}).JSON["url"].(string)
	if got := scan(w.Kit, temp, ""); got["action"] != "follow_official_account" || got["scene"] != "5" {
		t.Errorf("live temporary code = %v", got)
	}
	w.Advance(61 * time.Second)
	if got := scan(w.Kit, temp, ""); got["action"] != "invalid_code" || got["reason"] != "expired" {
		t.Errorf("expired code = %v, want invalid_code expired", got)
	}
	if got := scan(w.Kit, "http://weixin.qq.com/q/neverissued", ""); got["action"] != "invalid_code" || got["reason"] != "unknown" {
		t.Errorf("unknown code = %v, want invalid_code unknown", got)
	}
	if got := scan(w.Kit, "https://www.example.cn/page", ""); got["action"] != "open_web_page" || got["url"] != "https://www.example.cn/page" {
		t.Errorf("plain link = %v, want open_web_page", got)
	}
	for _, body := range []map[string]any{
		{"url": "hello"},
		{"url": "mailto:a@b.cn"},
		{"url": "https://a.example.cn/", "as": "boss"},
		{"as": "user"},
		{"url": "https://a.example.cn/", "extra": 1},
	} {
		w.Unchanged(func() {
			if out := w.Control(http.MethodPost, "/_sandbox/wechat/scan", body); out.Status != http.StatusBadRequest {
				t.Errorf("scan %v: %d %v, want 400", body, out.Status, out)
			}
		})
	}
}

func TestScanOrdinaryRules(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	const base = "https://city.example.cn/bus"
	w.OK(jumpAdd, w.mpTok, ordinaryRule(base, "pages/bus/index", 3, 1))
	w.OK(jumpPublish, w.mpTok, map[string]any{"prefix": base})
	w.OK(jumpAdd, w.mpTok, ordinaryRule(base+"/dev", "pages/dev/index", 1, 1, base+"/dev/1"))
	w.OK(jumpAdd, w.mpTok, ordinaryRule(base+"/trial", "pages/trial/index", 2, 1, base+"/trial/1"))
	w.OK(jumpAdd, w.mpTok, ordinaryRule(base+"/all", "pages/all/index", 3, 1, base+"/all/1"))
	for _, tc := range []struct {
		link, as, path, version string
	}{
		{base + "/x", "user", "pages/bus/index", "release"},
		{base + "/dev/1", "user", "pages/bus/index", "release"},
		{base + "/dev/1", "developer", "pages/dev/index", "develop"},
		{base + "/dev/1", "admin", "pages/bus/index", "release"},
		{base + "/dev/2", "developer", "pages/bus/index", "release"}, // not a debug_url
		{base + "/trial/1", "admin", "pages/trial/index", "trial"},
		{base + "/trial/1", "tester", "pages/trial/index", "trial"},
		{base + "/trial/1", "developer", "pages/bus/index", "release"},
		{base + "/all/1", "developer", "pages/all/index", "release"},
		{base + "/all/1", "tester", "pages/all/index", "release"},
		{base + "/all/1", "user", "pages/bus/index", "release"},
	} {
		got := scan(w.Kit, tc.link, tc.as)
		if got["action"] != "open_mini_program" || got["path"] != tc.path || got["version"] != tc.version || got["appid"] != w.mp.AppID {
			t.Errorf("scan %s as %s = %v, want %s (%s)", tc.link, tc.as, got, tc.path, tc.version)
		}
	}
	if got := scan(w.Kit, "https://city.example.cn/bu", "developer"); got["action"] != "open_web_page" {
		t.Errorf("a link shorter than every prefix = %v, want open_web_page", got)
	}
	// Ownership of sub-rules: another Mini Program's longer rule, added before this one occupied
	// the prefix, stops matching once an occupying rule above it is published.
	other := miniProgram(w.Kit)
	otherTok := w.AppToken(other)
	w.OK(jumpAdd, otherTok, ordinaryRule("https://shop.example.cn/a/b", "pages/other/index", 3, 1))
	w.OK(jumpPublish, otherTok, map[string]any{"prefix": "https://shop.example.cn/a/b"})
	if got := scan(w.Kit, "https://shop.example.cn/a/b/c", ""); got["appid"] != other.AppID {
		t.Errorf("before occupation: %v, want %s", got, other.AppID)
	}
	w.OK(jumpAdd, w.mpTok, ordinaryRule("https://shop.example.cn/a", "pages/own/index", 3, 2))
	w.OK(jumpPublish, w.mpTok, map[string]any{"prefix": "https://shop.example.cn/a"})
	if got := scan(w.Kit, "https://shop.example.cn/a/b/c", ""); got["appid"] != w.mp.AppID || got["path"] != "pages/own/index" {
		t.Errorf("after occupation: %v, want %s pages/own/index", got, w.mp.AppID)
	}
	// Delete works at once.
	w.OK(jumpDelete, w.mpTok, map[string]any{"prefix": base})
	if got := scan(w.Kit, base+"/x", ""); got["action"] != "open_web_page" {
		t.Errorf("after delete: %v, want open_web_page", got)
	}
}

func TestLinks(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	oa, mp, other := serviceAccount(k), miniProgram(k), serviceAccount(k)
	link(k, mp, oa)
	for _, a := range []*sandbox.WeChatApp{oa, mp} {
		out := k.Control(http.MethodGet, "/_sandbox/wechat/apps/"+a.AppID+"/links", nil)
		links, _ := out.JSON["links"].([]any)
		if out.Status != http.StatusOK || len(links) != 1 {
			t.Fatalf("links of %s: %s, want one", a.AppID, out)
		}
	}
	before := k.StateHash()
	if a := k.Control(http.MethodPost, "/_sandbox/wechat/apps/"+oa.AppID+"/links", map[string]any{"appid": mp.AppID}); a.Status != http.StatusCreated {
		t.Errorf("linking again: %d, want 201", a.Status)
	}
	if k.StateHash() != before {
		t.Error("linking again changed the state")
	}
	for _, tc := range []struct {
		name, from string
		body       any
		status     int
	}{
		{"unknown app", "wx0000000000000000", map[string]any{"appid": mp.AppID}, http.StatusNotFound},
		{"unknown other", oa.AppID, map[string]any{"appid": "wx0000000000000000"}, http.StatusBadRequest},
		{"itself", oa.AppID, map[string]any{"appid": oa.AppID}, http.StatusBadRequest},
		{"two official accounts", oa.AppID, map[string]any{"appid": other.AppID}, http.StatusBadRequest},
		{"no appid", oa.AppID, map[string]any{}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				if out := k.Control(http.MethodPost, "/_sandbox/wechat/apps/"+tc.from+"/links", tc.body); out.Status != tc.status {
					t.Errorf("%s, want %d", out, tc.status)
				}
			})
		})
	}
}

// TestExpiredTemporaryCodeIsForgottenMinutesLater follows a 60-second code past its expiry:
// showqrcode answers 404 from the expiry on, the scan simulator says "expired" until
// ExpiredCodeMemory has passed, and then the record is gone and the code is "unknown".
func TestExpiredTemporaryCodeIsForgottenMinutesLater(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	out := w.Post(qrCreate, w.oaTok, map[string]any{"action_name": "QR_SCENE", "expire_seconds": 60, "action_info": map[string]any{"scene": map[string]any{"scene_id": 6}}})
	temp, ticket := out.JSON["url"].(string), out.JSON["ticket"].(string)
	show := func() int {
		return w.Do(http.MethodGet, "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="+url.QueryEscape(ticket), nil).Status
	}
	if n := len(w.StoredKeys("wechat:qrcode:code:")); n != 1 {
		t.Fatalf("%d codes stored after qrcode/create, want 1", n)
	}
	w.Advance(60*time.Second + qr.ExpiredCodeMemory - time.Second)
	if got := scan(w.Kit, temp, ""); got["action"] != "invalid_code" || got["reason"] != "expired" {
		t.Errorf("a second before it is forgotten: %v, want invalid_code expired", got)
	}
	if status := show(); status != http.StatusNotFound {
		t.Errorf("showqrcode of the expired code: %d, want 404", status)
	}
	if n := len(w.StoredKeys("wechat:qrcode:code:")); n != 1 {
		t.Errorf("%d codes stored a second before the code is forgotten, want 1", n)
	}
	w.Advance(time.Second)
	if keys := w.StoredKeys("wechat:qrcode:code:"); len(keys) != 0 {
		t.Errorf("still stored %s after expiry: %v", qr.ExpiredCodeMemory, keys)
	}
	if got := scan(w.Kit, temp, ""); got["action"] != "invalid_code" || got["reason"] != "unknown" {
		t.Errorf("a forgotten code: %v, want invalid_code unknown", got)
	}
	if status := show(); status != http.StatusNotFound {
		t.Errorf("showqrcode of the forgotten code: %d, want 404", status)
	}
}
