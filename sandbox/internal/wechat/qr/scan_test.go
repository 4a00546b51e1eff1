package qr_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func (e *qrEnv) scan(link, as string) map[string]any {
	e.t.Helper()
	body := map[string]any{"url": link}
	if as != "" {
		body["as"] = as
	}
	status, out := e.ctl(http.MethodPost, "/_sandbox/wechat/scan", body)
	if status != http.StatusOK {
		e.t.Fatalf("scan %s as %q: %d %v", link, as, status, out)
	}
	return out
}

func TestScanServiceAccountCode(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	u := w.code("table-7")
	got := w.scan(u, "")
	if got["action"] != "follow_official_account" || got["appid"] != w.oa.AppID || got["scene"] != "table-7" || got["ticket"] == nil || !strings.HasPrefix(got["openid"].(string), "o") {
		t.Errorf("scan without a rule = %v, want follow_official_account of %s with scene table-7", got, w.oa.AppID)
	}
	w.ok(jumpAdd, w.oaTok, w.serviceRule(u, "pages/order/index?shop=7"))
	if got := w.scan(u, "developer"); got["action"] != "follow_official_account" {
		t.Errorf("scan of an unpublished service-account rule = %v, want follow_official_account", got)
	}
	w.ok(jumpPublish, w.oaTok, map[string]any{"prefix": u})
	got = w.scan(u, "")
	want := map[string]any{
		"action": "open_mini_program", "appid": w.mp.AppID, "path": "pages/order/index", "version": "release",
		"q": u, "scancode_time": float64(w.srv.Now().Unix()), "prefix": u,
		"query": map[string]any{"shop": "7", "q": url.QueryEscape(u), "scancode_time": strconv.FormatInt(w.srv.Now().Unix(), 10)},
	}
	if b1, b2 := mustJSON(got), mustJSON(want); b1 != b2 {
		t.Errorf("scan of a published rule =\n%s\nwant\n%s", b1, b2)
	}
	// Every scan of an issued code is journalled for the service account.
	status, out := w.ctl(http.MethodGet, "/_sandbox/requests?event=scan&appid="+w.oa.AppID, nil)
	reqs, _ := out["requests"].([]any)
	if status != http.StatusOK || len(reqs) != 3 {
		t.Fatalf("scan events = %d %v, want 3", status, out)
	}
	last := reqs[2].(map[string]any)
	var ev map[string]any
	if err := json.Unmarshal([]byte(last["response_body"].(string)), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["EventKey"] != "table-7" || ev["ToUserName"] != w.oa.OriginalID || !strings.HasPrefix(ev["FromUserName"].(string), "o") {
		t.Errorf("scan event = %v", ev)
	}
	// Deleting takes effect at once.
	w.ok(jumpDelete, w.oaTok, map[string]any{"prefix": u, "appid": w.mp.AppID})
	if got := w.scan(u, ""); got["action"] != "follow_official_account" {
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
	temp := w.post(qrCreate, w.oaTok, map[string]any{"action_name": "QR_SCENE", "expire_seconds": 60, "action_info": map[string]any{"scene": map[string]any{"scene_id": 5}}})["url"].(string)
	if got := w.scan(temp, ""); got["action"] != "follow_official_account" || got["scene"] != "5" {
		t.Errorf("live temporary code = %v", got)
	}
	w.advance(61 * time.Second)
	if got := w.scan(temp, ""); got["action"] != "invalid_code" || got["reason"] != "expired" {
		t.Errorf("expired code = %v, want invalid_code expired", got)
	}
	if got := w.scan("http://weixin.qq.com/q/neverissued", ""); got["action"] != "invalid_code" || got["reason"] != "unknown" {
		t.Errorf("unknown code = %v, want invalid_code unknown", got)
	}
	if got := w.scan("https://www.example.cn/page", ""); got["action"] != "open_web_page" || got["url"] != "https://www.example.cn/page" {
		t.Errorf("plain link = %v, want open_web_page", got)
	}
	for _, body := range []map[string]any{
		{"url": "hello"},
		{"url": "mailto:a@b.cn"},
		{"url": "https://a.example.cn/", "as": "boss"},
		{"as": "user"},
		{"url": "https://a.example.cn/", "extra": 1},
	} {
		before := w.hash()
		if status, out := w.ctl(http.MethodPost, "/_sandbox/wechat/scan", body); status != http.StatusBadRequest {
			t.Errorf("scan %v: %d %v, want 400", body, status, out)
		}
		if w.hash() != before {
			t.Errorf("scan %v changed the state", body)
		}
	}
}

func TestScanOrdinaryRules(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	const base = "https://city.example.cn/bus"
	w.ok(jumpAdd, w.mpTok, ordinaryRule(base, "pages/bus/index", 3, 1))
	w.ok(jumpPublish, w.mpTok, map[string]any{"prefix": base})
	w.ok(jumpAdd, w.mpTok, ordinaryRule(base+"/dev", "pages/dev/index", 1, 1, base+"/dev/1"))
	w.ok(jumpAdd, w.mpTok, ordinaryRule(base+"/trial", "pages/trial/index", 2, 1, base+"/trial/1"))
	w.ok(jumpAdd, w.mpTok, ordinaryRule(base+"/all", "pages/all/index", 3, 1, base+"/all/1"))
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
		got := w.scan(tc.link, tc.as)
		if got["action"] != "open_mini_program" || got["path"] != tc.path || got["version"] != tc.version || got["appid"] != w.mp.AppID {
			t.Errorf("scan %s as %s = %v, want %s (%s)", tc.link, tc.as, got, tc.path, tc.version)
		}
	}
	if got := w.scan("https://city.example.cn/bu", "developer"); got["action"] != "open_web_page" {
		t.Errorf("a link shorter than every prefix = %v, want open_web_page", got)
	}
	// Ownership of sub-rules: another Mini Program's longer rule, added before this one occupied
	// the prefix, stops matching once an occupying rule above it is published.
	other := w.miniProgram()
	otherTok := w.token(other)
	w.ok(jumpAdd, otherTok, ordinaryRule("https://shop.example.cn/a/b", "pages/other/index", 3, 1))
	w.ok(jumpPublish, otherTok, map[string]any{"prefix": "https://shop.example.cn/a/b"})
	if got := w.scan("https://shop.example.cn/a/b/c", ""); got["appid"] != other.AppID {
		t.Errorf("before occupation: %v, want %s", got, other.AppID)
	}
	w.ok(jumpAdd, w.mpTok, ordinaryRule("https://shop.example.cn/a", "pages/own/index", 3, 2))
	w.ok(jumpPublish, w.mpTok, map[string]any{"prefix": "https://shop.example.cn/a"})
	if got := w.scan("https://shop.example.cn/a/b/c", ""); got["appid"] != w.mp.AppID || got["path"] != "pages/own/index" {
		t.Errorf("after occupation: %v, want %s pages/own/index", got, w.mp.AppID)
	}
	// Delete works at once.
	w.ok(jumpDelete, w.mpTok, map[string]any{"prefix": base})
	if got := w.scan(base+"/x", ""); got["action"] != "open_web_page" {
		t.Errorf("after delete: %v, want open_web_page", got)
	}
}
