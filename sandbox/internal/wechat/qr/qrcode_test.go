package qr_test

import (
	"bytes"
	"image/jpeg"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/citysandbox/citysandbox/sandbox"
)

const qrCreate = "/cgi-bin/qrcode/create"

var qrURLPattern = regexp.MustCompile(`^http://weixin\.qq\.com/q/[A-Za-z0-9]{20}$`)

func scene(action string, sc map[string]any) map[string]any {
	return map[string]any{"action_name": action, "action_info": map[string]any{"scene": sc}}
}

func TestCreateQRCodeTemporary(t *testing.T) {
	t.Parallel()
	e := newQREnv(t)
	tok := e.token(e.serviceAccount())
	for _, tc := range []struct {
		name   string
		body   map[string]any
		expire float64
	}{
		{"default lifetime", scene("QR_SCENE", map[string]any{"scene_id": 123}), 60},
		{"given lifetime", withExpire(scene("QR_SCENE", map[string]any{"scene_id": 4294967295}), 300), 300},
		{"over the maximum is lowered", withExpire(scene("QR_STR_SCENE", map[string]any{"scene_str": "order-1"}), 9999999), 2592000},
		{"zero means the default", withExpire(scene("QR_STR_SCENE", map[string]any{"scene_str": strings.Repeat("字", 64)}), 0), 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := e.post(qrCreate, tok, tc.body)
			if !sameKeys(out, "ticket", "expire_seconds", "url") {
				t.Fatalf("answer keys = %v, want exactly ticket, expire_seconds, url (no errcode/errmsg): %v", keys(out), out)
			}
			if out["expire_seconds"] != tc.expire {
				t.Errorf("expire_seconds = %v, want %v", out["expire_seconds"], tc.expire)
			}
			if u, _ := out["url"].(string); !qrURLPattern.MatchString(u) {
				t.Errorf("url = %q, want http://weixin.qq.com/q/<20 alphanumerics>", u)
			}
		})
	}
	// A temporary scene is not a code: asking twice gives two codes.
	a := e.post(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 7}))
	b := e.post(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 7}))
	if a["ticket"] == b["ticket"] || a["url"] == b["url"] {
		t.Errorf("two temporary codes for scene 7 share ticket or url: %v %v", a, b)
	}
}

func withExpire(m map[string]any, s int) map[string]any {
	m["expire_seconds"] = s
	return m
}

func TestCreateQRCodePermanent(t *testing.T) {
	t.Parallel()
	e := newQREnv(t)
	oa := e.serviceAccount()
	tok := e.token(oa)
	first := e.post(qrCreate, tok, withExpire(scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 100000}), 300))
	if !sameKeys(first, "ticket", "url") {
		t.Fatalf("permanent answer keys = %v, want exactly ticket and url", keys(first))
	}
	again := e.post(qrCreate, tok, scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 100000}))
	if again["ticket"] != first["ticket"] || again["url"] != first["url"] {
		t.Errorf("same permanent scene: %v then %v, want the same ticket and url", first, again)
	}
	str := e.post(qrCreate, tok, scene("QR_LIMIT_STR_SCENE", map[string]any{"scene_str": "100000"}))
	if str["url"] == first["url"] {
		t.Error("QR_LIMIT_STR_SCENE \"100000\" got the url of QR_LIMIT_SCENE 100000")
	}
	other := e.token(e.serviceAccount())
	if o := e.post(qrCreate, other, scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 100000})); o["url"] == first["url"] {
		t.Error("another account's permanent scene 100000 got the same url")
	}
	// A permanent code outlives any temporary lifetime.
	e.advance(40 * 24 * time.Hour)
	tok = e.token(oa)
	if again := e.post(qrCreate, tok, scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 100000})); again["url"] != first["url"] {
		t.Errorf("after 40 days the permanent scene has url %v, want %v", again["url"], first["url"])
	}
	resp, _ := e.do(http.MethodGet, "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="+url.QueryEscape(first["ticket"].(string)), nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("showqrcode of a 40-day-old permanent code: %d, want 200", resp.StatusCode)
	}
}

func TestCreateQRCodeRefusals(t *testing.T) {
	t.Parallel()
	e := newQREnv(t)
	tok := e.token(e.serviceAccount())
	for _, tc := range []struct {
		name string
		body any
		code int
	}{
		{"unknown action", scene("QR_FOO", map[string]any{"scene_id": 1}), 40052},
		{"action missing", map[string]any{"action_info": map[string]any{"scene": map[string]any{"scene_id": 1}}}, 40052},
		{"action not a string", map[string]any{"action_name": 1, "action_info": map[string]any{"scene": map[string]any{"scene_id": 1}}}, 40052},
		{"action_info missing", map[string]any{"action_name": "QR_SCENE"}, 40053},
		{"scene missing", map[string]any{"action_name": "QR_SCENE", "action_info": map[string]any{}}, 40053},
		{"scene_id zero", scene("QR_SCENE", map[string]any{"scene_id": 0}), 40053},
		{"scene_id negative", scene("QR_SCENE", map[string]any{"scene_id": -5}), 40053},
		{"scene_id over 32 bits", scene("QR_SCENE", map[string]any{"scene_id": 4294967296}), 40053},
		{"scene_id not an integer", scene("QR_SCENE", map[string]any{"scene_id": 1.5}), 47001},
		{"scene_id a string", scene("QR_SCENE", map[string]any{"scene_id": "1"}), 47001},
		{"permanent scene_id over 100000", scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 100001}), 40053},
		{"permanent scene_id zero", scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 0}), 40053},
		{"int action with scene_str only", scene("QR_SCENE", map[string]any{"scene_str": "a"}), 40053},
		{"str action with scene_id only", scene("QR_LIMIT_STR_SCENE", map[string]any{"scene_id": 1}), 40053},
		{"scene_str empty", scene("QR_STR_SCENE", map[string]any{"scene_str": ""}), 40053},
		{"scene_str 65 characters", scene("QR_LIMIT_STR_SCENE", map[string]any{"scene_str": strings.Repeat("a", 65)}), 40053},
		{"expire_seconds a string", withExpire(scene("QR_SCENE", map[string]any{"scene_id": 1}), 0), 0},
		{"unknown field", map[string]any{"action_name": "QR_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_id": 1}}, "foo": 1}, 40097},
		{"empty body", "", 44002},
		{"not JSON", "{", 47001},
	} {
		if tc.code == 0 {
			m := tc.body.(map[string]any)
			m["expire_seconds"] = "60"
			tc.code = 47001
		}
		t.Run(tc.name, func(t *testing.T) { e.refused(qrCreate, tok, tc.body, tc.code) })
	}
	t.Run("GET", func(t *testing.T) {
		before := e.hash()
		if out := e.wx(http.MethodGet, qrCreate, tok, nil); errcode(out) != 43002 {
			t.Errorf("GET qrcode/create: %v, want 43002", out)
		}
		if e.hash() != before {
			t.Error("state changed")
		}
	})
}

func TestCreateQRCodeAccounts(t *testing.T) {
	t.Parallel()
	e := newQREnv(t)
	body := scene("QR_SCENE", map[string]any{"scene_id": 1})
	sub := e.app(sandbox.WeChatAppSpec{Type: "official_account", ServiceType: "subscription"})
	if out := e.post(qrCreate, e.token(sub), body); out["ticket"] == nil {
		t.Errorf("subscription account: %v, want a code", out)
	}
	e.refused(qrCreate, e.token(e.miniProgram()), body, 48001)
	unverified := false
	e.refused(qrCreate, e.token(e.app(sandbox.WeChatAppSpec{Type: "official_account", Verified: &unverified})), body, 48001)
	e.refused(qrCreate, "", body, 41001)
}

func TestCreateQRCodePermanentCap(t *testing.T) {
	t.Parallel()
	e := newQREnv(t)
	oa := e.serviceAccount()
	tok := e.token(oa)
	kept := e.post(qrCreate, tok, scene("QR_LIMIT_STR_SCENE", map[string]any{"scene_str": "kept"}))
	// Reaching 100,000 codes takes 100,000 requests; the counter is set instead.
	e.patchState(map[string]string{"wechat:qrcode:count:" + oa.AppID: `{"permanent":100000}`})
	e.refused(qrCreate, tok, scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 9}), 45009)
	e.refused(qrCreate, tok, scene("QR_LIMIT_STR_SCENE", map[string]any{"scene_str": "new"}), 45009)
	if again := e.post(qrCreate, tok, scene("QR_LIMIT_STR_SCENE", map[string]any{"scene_str": "kept"})); again["url"] != kept["url"] {
		t.Errorf("an existing permanent scene at the cap: %v, want its url %v", again, kept["url"])
	}
	if out := e.post(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 9})); out["ticket"] == nil {
		t.Errorf("a temporary code at the permanent cap: %v, want a code", out)
	}
}

func TestCreateQRCodeDailyQuota(t *testing.T) {
	t.Parallel()
	e := newQREnv(t)
	oa := e.app(sandbox.WeChatAppSpec{Type: "official_account", Tier: "production"})
	tok := e.token(oa)
	// 100,000 calls a day; the day's counter is set to its last value.
	e.patchState(map[string]string{"quota:" + oa.AppID + "|/cgi-bin/qrcode/create:day:20260302": "99999"})
	e.post(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 1}))
	e.refused(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 1}), 45009)
	e.advance(24 * time.Hour)
	tok = e.token(oa)
	if out := e.post(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 1})); out["ticket"] == nil {
		t.Errorf("the next day: %v, want a code", out)
	}
}

// decodeQR reads the QR code in a JPEG with ZXing's decoder, as a phone would.
func decodeQR(t *testing.T, b []byte) string {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("jpeg.Decode: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	return res.GetText()
}

func TestShowQRCode(t *testing.T) {
	t.Parallel()
	e := newQREnv(t)
	tok := e.token(e.serviceAccount())
	show := func(rawTicket string) (*http.Response, []byte) {
		return e.do(http.MethodGet, "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="+rawTicket, nil)
	}
	// Tickets are base64 and contain "+", "/" or "=" now and then; make one that does.
	var code map[string]any
	for i := 1; i < 50; i++ {
		code = e.post(qrCreate, tok, withExpire(scene("QR_SCENE", map[string]any{"scene_id": i}), 120))
		if strings.ContainsAny(code["ticket"].(string), "+/") {
			break
		}
	}
	ticket := code["ticket"].(string)
	resp, img := show(url.QueryEscape(ticket))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("showqrcode: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "image/jpg" {
		t.Errorf("Content-Type = %q, want image/jpg", ct)
	}
	if got := decodeQR(t, img); got != code["url"] {
		t.Errorf("the image decodes to %q, want the code's url %q", got, code["url"])
	}
	if strings.Contains(ticket, "+") {
		// A client that forgot to encode the ticket sends "+" as-is (a space once decoded).
		if resp, _ := show(ticket); resp.StatusCode != http.StatusOK {
			t.Errorf("unencoded ticket with '+': status %d, want 200", resp.StatusCode)
		}
	}
	// The api host serves it too.
	if resp, _ := e.do(http.MethodGet, "https://api.weixin.qq.com/cgi-bin/showqrcode?ticket="+url.QueryEscape(ticket), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("showqrcode on api.weixin.qq.com: %d", resp.StatusCode)
	}
	for name, tk := range map[string]string{
		"missing":  "",
		"garbage":  "not-a-ticket",
		"altered":  url.QueryEscape(strings.Replace(ticket, ticket[len(ticket)-6:len(ticket)-5], "A", 1) + "x"),
		"base64ok": url.QueryEscape("gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw=="),
	} {
		resp, body := show(tk)
		if resp.StatusCode != http.StatusNotFound || len(body) != 0 {
			t.Errorf("%s ticket: status %d with %d bytes, want a bare 404", name, resp.StatusCode, len(body))
		}
	}
	e.advance(119 * time.Second)
	if resp, _ := show(url.QueryEscape(ticket)); resp.StatusCode != http.StatusOK {
		t.Errorf("after 119 s of 120: status %d, want 200", resp.StatusCode)
	}
	e.advance(time.Second)
	if resp, body := show(url.QueryEscape(ticket)); resp.StatusCode != http.StatusNotFound || len(body) != 0 {
		t.Errorf("expired ticket: status %d with %d bytes, want a bare 404", resp.StatusCode, len(body))
	}
}
