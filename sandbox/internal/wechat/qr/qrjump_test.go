package qr_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

const (
	jumpAdd      = "/cgi-bin/wxopen/qrcodejumpadd"
	jumpGet      = "/cgi-bin/wxopen/qrcodejumpget"
	jumpPublish  = "/cgi-bin/wxopen/qrcodejumppublish"
	jumpDelete   = "/cgi-bin/wxopen/qrcodejumpdelete"
	jumpDownload = "/cgi-bin/wxopen/qrcodejumpdownload"
)

// jumpWorld is a linked service account and Mini Program with their tokens.
type jumpWorld struct {
	*testkit.Kit
	oa, mp       *sandbox.WeChatApp
	oaTok, mpTok string
}

// in is the same world reporting to t, a subtest.
func (w *jumpWorld) in(t *testing.T) *jumpWorld {
	c := *w
	c.Kit = w.For(t)
	return &c
}

func newJumpWorld(t *testing.T) *jumpWorld {
	t.Helper()
	k := testkit.New(t)
	w := &jumpWorld{Kit: k, oa: serviceAccount(k), mp: miniProgram(k)}
	link(k, w.oa, w.mp)
	w.oaTok, w.mpTok = k.AppToken(w.oa), k.AppToken(w.mp)
	return w
}

// code creates a permanent code of the service account and returns its url.
func (w *jumpWorld) code(scene string) string {
	w.T().Helper()
	out := w.Post(qrCreate, w.oaTok, map[string]any{"action_name": "QR_LIMIT_STR_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_str": scene}}})
	u := out.Str("url")
	if u == "" {
		w.T().Fatalf("qrcode/create: %s", out)
	}
	return u
}

func (w *jumpWorld) serviceRule(prefix, path string) map[string]any {
	return map[string]any{"prefix": prefix, "appid": w.mp.AppID, "path": path, "is_edit": 0}
}

func ordinaryRule(prefix, path string, openVersion, permit int, debug ...string) map[string]any {
	m := map[string]any{"prefix": prefix, "path": path, "is_edit": 0, "open_version": openVersion, "permit_sub_rule": permit}
	if debug != nil {
		m["debug_url"] = debug
	}
	return m
}

func ruleList(t *testing.T, out testkit.Answer) []map[string]any {
	t.Helper()
	if out.Errcode() != 0 {
		t.Fatalf("qrcodejumpget: %s", out)
	}
	var rules []map[string]any
	for _, r := range out.JSON["rule_list"].([]any) {
		rules = append(rules, r.(map[string]any))
	}
	if n := int(out.JSON.Num("list_size")); n != len(rules) {
		t.Errorf("list_size = %d, rule_list has %d", n, len(rules))
	}
	return rules
}

func prefixes(rules []map[string]any) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r["prefix"].(string))
	}
	return out
}

func TestQRJumpServiceVariant(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	u := w.code("shop-1")
	w.OK(jumpAdd, w.oaTok, w.serviceRule(u, "pages/shop/index"))
	out := w.Post(jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID})
	rules := ruleList(t, out)
	if len(rules) != 1 || !sameKeys(rules[0], "prefix", "path", "state") || rules[0]["state"] != 1.0 || rules[0]["path"] != "pages/shop/index" {
		t.Fatalf("rules = %v, want one unpublished rule with prefix, path and state only", rules)
	}
	for k, want := range map[string]float64{"total_count": 1, "qrcodejump_open": 1, "qrcodejump_pub_quota": 100} {
		if out.JSON[k] != want {
			t.Errorf("%s = %v, want %v", k, out.JSON[k], want)
		}
	}
	// Modify while unpublished.
	edit := w.serviceRule(u, "pages/shop/v2")
	edit["is_edit"] = 1
	w.OK(jumpAdd, w.oaTok, edit)
	w.OK(jumpPublish, w.oaTok, map[string]any{"prefix": u})
	out = w.Post(jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID, "get_type": 1, "prefix_list": []string{u}})
	if rules := ruleList(t, out); len(rules) != 1 || rules[0]["state"] != 2.0 || rules[0]["path"] != "pages/shop/v2" {
		t.Errorf("after modify and publish: %v", rules)
	}
	if out.JSON["qrcodejump_pub_quota"] != 99.0 {
		t.Errorf("qrcodejump_pub_quota = %v after one publish, want 99", out.JSON["qrcodejump_pub_quota"])
	}
	edit["path"] = "pages/shop/v3"
	w.Refused(jumpAdd, w.oaTok, edit, 40097)
	w.OK(jumpDelete, w.oaTok, map[string]any{"prefix": u, "appid": w.mp.AppID})
	if rules := ruleList(t, w.Post(jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID})); len(rules) != 0 {
		t.Errorf("after delete: %v", rules)
	}
	// The Mini Program's own listing leaves service-account rules out.
	w.OK(jumpAdd, w.oaTok, w.serviceRule(u, "pages/shop/index"))
	if rules := ruleList(t, w.Post(jumpGet, w.mpTok, map[string]any{})); len(rules) != 0 {
		t.Errorf("the Mini Program's ordinary-link listing shows %v", rules)
	}
}

func TestQRJumpServiceRefusals(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	u := w.code("a")
	w.OK(jumpAdd, w.oaTok, w.serviceRule(u, "pages/index/index"))
	unlinked := miniProgram(w.Kit)
	personal := app(w.Kit, sandbox.WeChatAppSpec{Type: "mini_program", SubjectType: "personal"})
	f := false
	unverifiedMP := app(w.Kit, sandbox.WeChatAppSpec{Type: "mini_program", Verified: &f})
	link(w.Kit, w.oa, personal)
	link(w.Kit, w.oa, unverifiedMP)
	// Another service account, linked to the same Mini Program, with a code of its own.
	other := serviceAccount(w.Kit)
	link(w.Kit, other, w.mp)
	otherTok := w.AppToken(other)
	otherCode := w.Post(qrCreate, otherTok, map[string]any{"action_name": "QR_LIMIT_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_id": 1}}}).JSON["url"].(string)
	unverifiedOA := app(w.Kit, sandbox.WeChatAppSpec{Type: "official_account", Verified: &f})
	link(w.Kit, unverifiedOA, w.mp)
	sub := app(w.Kit, sandbox.WeChatAppSpec{Type: "official_account", ServiceType: "subscription"})
	link(w.Kit, sub, w.mp)

	rule := func(mod func(m map[string]any)) map[string]any {
		m := w.serviceRule("http://weixin.qq.com/q/new0001", "pages/index/index")
		mod(m)
		return m
	}
	for _, tc := range []struct {
		name  string
		path  string
		token string
		body  any
		code  int
	}{
		{"not linked", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["appid"] = unlinked.AppID }), 40166},
		{"unknown appid", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["appid"] = "wx0000000000000000" }), 40166},
		{"appid of an official account", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["appid"] = other.AppID }), 40166},
		{"personal Mini Program", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["appid"] = personal.AppID }), 85075},
		{"unverified Mini Program", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["appid"] = unverifiedMP.AppID }), 85075},
		{"unverified service account", jumpAdd, w.AppToken(unverifiedOA), rule(func(map[string]any) {}), 85075},
		{"subscription account", jumpAdd, w.AppToken(sub), rule(func(map[string]any) {}), 48001},
		{"no appid", jumpAdd, w.oaTok, rule(func(m map[string]any) { delete(m, "appid") }), 48001},
		{"ordinary prefix", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["prefix"] = "https://shop.example.cn/q/1" }), 85066},
		{"https code link", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["prefix"] = "https://weixin.qq.com/q/abc" }), 85066},
		{"bare code prefix", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["prefix"] = "http://weixin.qq.com/q/" }), 85066},
		{"code prefix with a path", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["prefix"] = "http://weixin.qq.com/q/abc/def" }), 85066},
		{"prefix too long", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["prefix"] = "http://weixin.qq.com/q/" + strings.Repeat("a", 1024) }), 85066},
		{"duplicate", jumpAdd, w.oaTok, w.serviceRule(u, "pages/other/index"), 85071},
		{"another account's code", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["prefix"] = otherCode }), 85072},
		{"another account's rule", jumpAdd, otherTok, func() map[string]any {
			m := w.serviceRule(u, "pages/index/index")
			return m
		}(), 85072},
		{"modify a missing rule", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["is_edit"] = 1 }), 40097},
		{"is_edit 2", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["is_edit"] = 2 }), 40097},
		{"no path", jumpAdd, w.oaTok, rule(func(m map[string]any) { delete(m, "path") }), 40097},
		{"no prefix", jumpAdd, w.oaTok, rule(func(m map[string]any) { delete(m, "prefix") }), 40097},
		{"no is_edit", jumpAdd, w.oaTok, rule(func(m map[string]any) { delete(m, "is_edit") }), 40097},
		{"absolute path", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["path"] = "/pages/index/index" }), 40097},
		{"path with a space", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["path"] = "pages/in dex" }), 40097},
		{"is_edit a string", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["is_edit"] = "0" }), 47001}, // a wrong JSON type is a format error
		{"path a number", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["path"] = 5 }), 47001},
		{"unknown field", jumpAdd, w.oaTok, rule(func(m map[string]any) { m["foo"] = 1 }), 40097},
		{"empty body", jumpAdd, w.oaTok, "", 44002},
		{"not JSON", jumpAdd, w.oaTok, "{", 47001},
		{"no token", jumpAdd, "", rule(func(map[string]any) {}), 41001},
		{"get type 1 without list", jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID, "get_type": 1}, 40097},
		{"get 201 prefixes", jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID, "get_type": 1, "prefix_list": make([]string, 201)}, 40097},
		{"get type 2 without page", jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID, "get_type": 2}, 40097},
		{"get page 0", jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID, "get_type": 2, "page_num": 0, "page_size": 10}, 40097},
		{"get page size 201", jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID, "get_type": 2, "page_num": 1, "page_size": 201}, 40097},
		{"get type 3", jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID, "get_type": 3}, 40097},
		{"get not linked", jumpGet, w.oaTok, map[string]any{"appid": unlinked.AppID}, 40166},
		{"get personal", jumpGet, w.oaTok, map[string]any{"appid": personal.AppID}, 85075},
		{"get without appid", jumpGet, w.oaTok, map[string]any{}, 48001},
		{"publish a missing rule", jumpPublish, w.oaTok, map[string]any{"prefix": "http://weixin.qq.com/q/none"}, 40097},
		{"publish another's rule", jumpPublish, otherTok, map[string]any{"prefix": u}, 40097},
		{"publish without prefix", jumpPublish, w.oaTok, map[string]any{}, 40097},
		{"delete a missing rule", jumpDelete, w.oaTok, map[string]any{"prefix": "http://weixin.qq.com/q/none", "appid": w.mp.AppID}, 40097},
		{"delete another's rule", jumpDelete, otherTok, map[string]any{"prefix": u, "appid": w.mp.AppID}, 40097},
		{"delete without appid", jumpDelete, w.oaTok, map[string]any{"prefix": u}, 48001},
		{"download by a service account", jumpDownload, w.oaTok, map[string]any{}, 48001},
	} {
		t.Run(tc.name, func(t *testing.T) { w.For(t).Refused(tc.path, tc.token, tc.body, tc.code) })
	}
	t.Run("GET", func(t *testing.T) {
		w := w.in(t)
		w.Unchanged(func() {
			if out := w.API(http.MethodGet, jumpGet, w.oaTok, nil); out.Errcode() != 43002 {
				t.Errorf("GET qrcodejumpget: %v, want 43002", out)
			}
		})
	})
}

func TestQRJumpPublishNeedsRelease(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	oa := serviceAccount(k)
	f := false
	mp := app(k, sandbox.WeChatAppSpec{Type: "mini_program", Released: &f})
	link(k, oa, mp)
	tok, mpTok := k.AppToken(oa), k.AppToken(mp)
	k.OK(jumpAdd, tok, map[string]any{"prefix": "http://weixin.qq.com/q/abc", "appid": mp.AppID, "path": "pages/a/a", "is_edit": 0})
	k.OK(jumpAdd, mpTok, ordinaryRule("https://shop.example.cn/", "pages/a/a", 3, 1))
	k.Refused(jumpPublish, tok, map[string]any{"prefix": "http://weixin.qq.com/q/abc"}, 85074)
	k.Refused(jumpPublish, mpTok, map[string]any{"prefix": "https://shop.example.cn/"}, 85074)
	if out := k.Control(http.MethodPatch, "/_sandbox/wechat/apps/"+mp.AppID, map[string]any{"released": true}); out.Status != http.StatusOK {
		t.Fatalf("PATCH released: %d %v", out.Status, out)
	}
	k.OK(jumpPublish, tok, map[string]any{"prefix": "http://weixin.qq.com/q/abc"})
	k.OK(jumpPublish, mpTok, map[string]any{"prefix": "https://shop.example.cn/"})
}

func TestQRJumpOrdinaryVariant(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	dl := w.OK(jumpDownload, w.mpTok, map[string]any{})
	if !regexp.MustCompile(`^[A-Za-z0-9]{10}\.txt$`).MatchString(dl.JSON["file_name"].(string)) || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(dl.JSON["file_content"].(string)) {
		t.Errorf("verification file = %v", dl)
	}
	if again := w.OK(jumpDownload, w.mpTok, map[string]any{}); again.JSON["file_name"] != dl.JSON["file_name"] || again.JSON["file_content"] != dl.JSON["file_content"] {
		t.Errorf("the verification file changed: %v then %v", dl, again)
	}
	w.OK(jumpAdd, w.mpTok, ordinaryRule("https://city.example.cn/bus", "pages/bus/index?from=qr", 1, 2, "https://city.example.cn/bus/1", "https://city.example.cn/bus?line=2"))
	w.OK(jumpAdd, w.mpTok, ordinaryRule("ftp://files.example.cn/", "pages/f/f", 3, 1))
	rules := ruleList(t, w.Post(jumpGet, w.mpTok, map[string]any{}))
	if len(rules) != 2 {
		t.Fatalf("rules = %v, want 2", rules)
	}
	r := rules[0]
	if r["prefix"] != "https://city.example.cn/bus" || r["open_version"] != 1.0 || r["permit_sub_rule"] != 2.0 || len(r["debug_url"].([]any)) != 2 || r["state"] != 1.0 {
		t.Errorf("first rule = %v", r)
	}
	if d, ok := rules[1]["debug_url"].([]any); !ok || len(d) != 0 {
		t.Errorf("a rule without debug_url lists %v, want []", rules[1]["debug_url"])
	}

	other := miniProgram(w.Kit)
	otherTok := w.AppToken(other)
	sixURLs := []string{}
	for i := range 6 {
		sixURLs = append(sixURLs, fmt.Sprintf("https://x.example.cn/%d", i))
	}
	for _, tc := range []struct {
		name  string
		path  string
		token string
		body  any
		code  int
	}{
		{"no dot in host", jumpAdd, w.mpTok, ordinaryRule("https://localhost/x", "pages/a/a", 3, 1), 85066},
		{"upper-case scheme", jumpAdd, w.mpTok, ordinaryRule("HTTPS://x.example.cn/", "pages/a/a", 3, 1), 85066},
		{"IP address", jumpAdd, w.mpTok, ordinaryRule("https://1.2.3.4/x", "pages/a/a", 3, 1), 85066},
		{"weixin.qq.com", jumpAdd, w.mpTok, ordinaryRule("http://weixin.qq.com/q/abc", "pages/a/a", 3, 1), 85066},
		{"mailto", jumpAdd, w.mpTok, ordinaryRule("mailto:a@x.example.cn", "pages/a/a", 3, 1), 85066},
		{"relative", jumpAdd, w.mpTok, ordinaryRule("x.example.cn/a", "pages/a/a", 3, 1), 85066},
		{"userinfo", jumpAdd, w.mpTok, ordinaryRule("https://u:p@x.example.cn/", "pages/a/a", 3, 1), 85066},
		{"reserved TLD", jumpAdd, w.mpTok, ordinaryRule("https://shop.test/a", "pages/a/a", 3, 1), 85076},
		{"debug_url elsewhere", jumpAdd, w.mpTok, ordinaryRule("https://x.example.cn/a", "pages/a/a", 3, 1, "https://x.example.cn/b"), 85068},
		{"six debug_url", jumpAdd, w.mpTok, ordinaryRule("https://x.example.cn/", "pages/a/a", 3, 1, sixURLs...), 40097},
		{"debug_url a string", jumpAdd, w.mpTok, func() map[string]any {
			m := ordinaryRule("https://x.example.cn/", "pages/a/a", 3, 1)
			m["debug_url"] = "https://x.example.cn/1"
			return m
		}(), 47001},
		{"no open_version", jumpAdd, w.mpTok, func() map[string]any {
			m := ordinaryRule("https://x.example.cn/", "pages/a/a", 3, 1)
			delete(m, "open_version")
			return m
		}(), 40097},
		{"no permit_sub_rule", jumpAdd, w.mpTok, func() map[string]any {
			m := ordinaryRule("https://x.example.cn/", "pages/a/a", 3, 1)
			delete(m, "permit_sub_rule")
			return m
		}(), 40097},
		{"open_version 4", jumpAdd, w.mpTok, ordinaryRule("https://x.example.cn/", "pages/a/a", 4, 1), 40097},
		{"permit_sub_rule 3", jumpAdd, w.mpTok, ordinaryRule("https://x.example.cn/", "pages/a/a", 3, 3), 40097},
		{"appid with a Mini Program token", jumpAdd, w.mpTok, func() map[string]any {
			m := ordinaryRule("https://x.example.cn/", "pages/a/a", 3, 1)
			m["appid"] = w.mp.AppID
			return m
		}(), 48001},
		{"duplicate", jumpAdd, w.mpTok, ordinaryRule("https://city.example.cn/bus", "pages/a/a", 3, 1), 85071},
		{"same prefix, other Mini Program", jumpAdd, otherTok, ordinaryRule("https://city.example.cn/bus", "pages/a/a", 3, 1), 85072},
		{"under an occupying prefix", jumpAdd, otherTok, ordinaryRule("https://city.example.cn/bus/12", "pages/a/a", 3, 1), 85072},
		{"personal Mini Program", jumpAdd, w.AppToken(app(w.Kit, sandbox.WeChatAppSpec{Type: "mini_program", SubjectType: "personal"})), ordinaryRule("https://y.example.cn/", "pages/a/a", 3, 1), 85075},
		{"get with appid", jumpGet, w.mpTok, map[string]any{"appid": w.mp.AppID}, 48001},
		{"get without a body", jumpGet, w.mpTok, "", 44002},
		{"download without a body", jumpDownload, w.mpTok, "", 44002},
		{"download with a field", jumpDownload, w.mpTok, map[string]any{"appid": w.mp.AppID}, 40097},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := w.in(t)
			out := w.Refused(tc.path, tc.token, tc.body, tc.code)
			if tc.code == 85076 && !strings.HasPrefix(out.JSON["errmsg"].(string), " rid: ") {
				t.Errorf("85076 errmsg = %q, want it empty before the rid", out.JSON["errmsg"])
			}
		})
	}
	// A longer prefix under one's own occupying rule is fine, as is one under another's rule
	// that does not occupy its sub-rules.
	w.OK(jumpAdd, w.mpTok, ordinaryRule("https://city.example.cn/bus/12", "pages/a/a", 3, 1))
	w.OK(jumpAdd, otherTok, ordinaryRule("ftp://files.example.cn/pub", "pages/a/a", 3, 1))
}

func TestQRJumpOrdinaryCap(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	released := true
	mp := app(k, sandbox.WeChatAppSpec{Type: "mini_program", Released: &released, Tier: "production"})
	tok := k.AppToken(mp)
	for i := range 100 {
		if i%5 == 0 {
			k.Advance(time.Second) // 5 calls a second
		}
		k.OK(jumpAdd, tok, ordinaryRule(fmt.Sprintf("https://r%d.example.cn/", i), "pages/a/a", 3, 1))
	}
	k.Advance(time.Second)
	k.Refused(jumpAdd, tok, ordinaryRule("https://r100.example.cn/", "pages/a/a", 3, 1), 85073)
	// The cap is on live rules: a delete makes room.
	k.OK(jumpDelete, tok, map[string]any{"prefix": "https://r0.example.cn/"})
	k.OK(jumpAdd, tok, ordinaryRule("https://r100.example.cn/", "pages/a/a", 3, 1))
}

func TestQRJumpServiceLifetimeCap(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	if out := w.Control(http.MethodPatch, "/_sandbox/wechat/apps/"+w.mp.AppID, map[string]any{"tier": "production"}); out.Status != http.StatusOK {
		t.Fatalf("PATCH tier: %d %v", out.Status, out)
	}
	w.OK(jumpAdd, w.oaTok, w.serviceRule("http://weixin.qq.com/q/first", "pages/a/a"))
	w.OK(jumpDelete, w.oaTok, map[string]any{"prefix": "http://weixin.qq.com/q/first", "appid": w.mp.AppID})
	// 100,000 creations take 100,000 requests; the Mini Program's count is set instead.
	w.PatchState(map[string]string{"wechat:qrjump:mp:" + w.mp.AppID: `{"service_created":99999}`})
	w.OK(jumpAdd, w.oaTok, w.serviceRule("http://weixin.qq.com/q/last", "pages/a/a"))
	w.OK(jumpDelete, w.oaTok, map[string]any{"prefix": "http://weixin.qq.com/q/last", "appid": w.mp.AppID})
	// Deletes give nothing back.
	w.Refused(jumpAdd, w.oaTok, w.serviceRule("http://weixin.qq.com/q/more", "pages/a/a"), 85073)
	// Ordinary-link rules are counted apart.
	w.OK(jumpAdd, w.mpTok, ordinaryRule("https://x.example.cn/", "pages/a/a", 3, 1))
}

func TestQRJumpPublishQuota(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	if out := w.Control(http.MethodPatch, "/_sandbox/wechat/apps/"+w.mp.AppID, map[string]any{"tier": "production"}); out.Status != http.StatusOK {
		t.Fatalf("PATCH tier: %d %v", out.Status, out)
	}
	for _, pf := range []string{"http://weixin.qq.com/q/a", "http://weixin.qq.com/q/b"} {
		w.OK(jumpAdd, w.oaTok, w.serviceRule(pf, "pages/a/a"))
	}
	w.OK(jumpAdd, w.mpTok, ordinaryRule("https://x.example.cn/", "pages/a/a", 3, 1))
	w.OK(jumpPublish, w.oaTok, map[string]any{"prefix": "http://weixin.qq.com/q/a"})
	// 100 publishes take 100 requests; this month's count is set to 99 (the key is the month in
	// Beijing time).
	w.PatchState(map[string]string{"wechat:qrjump:pub:" + w.mp.AppID + ":202603": "99"})
	w.OK(jumpPublish, w.mpTok, map[string]any{"prefix": "https://x.example.cn/"})
	if q := w.Post(jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID}).JSON["qrcodejump_pub_quota"]; q != 0.0 {
		t.Errorf("qrcodejump_pub_quota = %v after 100 publishes, want 0", q)
	}
	out := w.Refused(jumpPublish, w.oaTok, map[string]any{"prefix": "http://weixin.qq.com/q/b"}, 886000)
	if msg := out.JSON["errmsg"].(string); !strings.HasPrefix(msg, " rid: ") {
		t.Errorf("886000 errmsg = %q, want it empty before the rid", msg)
	}
	// A new calendar month (Beijing time) gives 100 again.
	w.SetTime(time.Date(2026, 3, 31, 16, 0, 0, 0, time.UTC)) // 2026-04-01 00:00 in Beijing
	w.oaTok = w.AppToken(w.oa)
	w.OK(jumpPublish, w.oaTok, map[string]any{"prefix": "http://weixin.qq.com/q/b"})
	if q := w.Post(jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID}).JSON["qrcodejump_pub_quota"]; q != 99.0 {
		t.Errorf("qrcodejump_pub_quota = %v in April after one publish, want 99", q)
	}
	// Publishing a rule that is already published succeeds again and is counted again: the
	// monthly limit counts publish calls.
	w.OK(jumpPublish, w.oaTok, map[string]any{"prefix": "http://weixin.qq.com/q/b"})
	if q := w.Post(jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID}).JSON["qrcodejump_pub_quota"]; q != 98.0 {
		t.Errorf("qrcodejump_pub_quota = %v after publishing the published rule again, want 98", q)
	}
}

func TestQRJumpRateLimits(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	oa := app(k, sandbox.WeChatAppSpec{Type: "official_account", Tier: "production"})
	mp := miniProgram(k)
	link(k, oa, mp)
	tok := k.AppToken(oa)
	get := map[string]any{"appid": mp.AppID}
	for range 5 {
		k.OK(jumpGet, tok, get)
	}
	k.Refused(jumpGet, tok, get, 44990)
	// Another API has its own 5 a second.
	k.OK(jumpDownload, k.AppToken(mp), map[string]any{})
	// 200 a minute over the service-account variant: 5 a second for 39 more seconds.
	for i := 5; i < 200; i++ {
		if i%5 == 0 {
			k.Advance(time.Second)
		}
		k.OK(jumpGet, tok, get)
	}
	k.Advance(time.Second)
	k.Refused(jumpGet, tok, get, 45011)
	k.Advance(time.Minute)
	k.OK(jumpGet, tok, get)
}

func TestQRJumpPaging(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	var all []string
	for i := range 25 {
		pf := fmt.Sprintf("http://weixin.qq.com/q/p%02d", i)
		w.OK(jumpAdd, w.oaTok, w.serviceRule(pf, "pages/a/a"))
		if i%4 == 3 {
			w.OK(jumpDelete, w.oaTok, map[string]any{"prefix": pf, "appid": w.mp.AppID})
			continue
		}
		all = append(all, pf)
	}
	var paged []string
	for page := 1; ; page++ {
		out := w.Post(jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID, "get_type": 2, "page_num": page, "page_size": 7})
		if out.JSON["total_count"] != float64(len(all)) {
			t.Errorf("total_count = %v, want %d", out.JSON["total_count"], len(all))
		}
		rules := ruleList(t, out)
		if len(rules) == 0 {
			break
		}
		paged = append(paged, prefixes(rules)...)
	}
	if fmt.Sprint(paged) != fmt.Sprint(all) {
		t.Errorf("pages = %v, want %v", paged, all)
	}
	everything := prefixes(ruleList(t, w.Post(jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID, "get_type": 0})))
	if fmt.Sprint(everything) != fmt.Sprint(all) {
		t.Errorf("get_type 0 = %v, want %v", everything, all)
	}
	some := prefixes(ruleList(t, w.Post(jumpGet, w.oaTok, map[string]any{"appid": w.mp.AppID, "get_type": 1,
		"prefix_list": []string{all[5], "http://weixin.qq.com/q/p03", all[0], all[5]}})))
	if fmt.Sprint(some) != fmt.Sprint([]string{all[5], all[0]}) {
		t.Errorf("get_type 1 = %v, want %v", some, []string{all[5], all[0]})
	}
}

// TestQRJumpPublishQuotaUnderConcurrency checks that the monthly publish limit admits exactly
// what is left, however many publishes race for it.
func TestQRJumpPublishQuotaUnderConcurrency(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	if out := w.Control(http.MethodPatch, "/_sandbox/wechat/apps/"+w.mp.AppID, map[string]any{"tier": "production"}); out.Status != http.StatusOK {
		t.Fatalf("PATCH tier: %d %v", out.Status, out)
	}
	const racers = 24
	for i := range racers {
		w.OK(jumpAdd, w.oaTok, w.serviceRule(fmt.Sprintf("http://weixin.qq.com/q/race%02d", i), "pages/a/a"))
	}
	w.PatchState(map[string]string{"wechat:qrjump:pub:" + w.mp.AppID + ":202603": "90"})
	answers := w.Concurrently(racers, func(i int) (testkit.Answer, error) {
		return w.Try(http.MethodPost, testkit.APIHost+jumpPublish+"?access_token="+w.oaTok, nil,
			map[string]any{"prefix": fmt.Sprintf("http://weixin.qq.com/q/race%02d", i)})
	})
	count := map[int]int{}
	for _, a := range answers {
		if a.Status != http.StatusOK || a.JSON == nil {
			t.Errorf("%s, want HTTP 200 and a JSON object", a)
		}
		count[a.Errcode()]++
	}
	if count[0] != 10 || count[886000] != racers-10 {
		t.Errorf("outcomes = %v, want 10 successes and %d × 886000", count, racers-10)
	}
}
