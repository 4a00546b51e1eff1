package qr_test

import (
	"bytes"
	"fmt"
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
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

const qrCreate = "/cgi-bin/qrcode/create"

var qrURLPattern = regexp.MustCompile(`^http://weixin\.qq\.com/q/[A-Za-z0-9]{20}$`)

func scene(action string, sc map[string]any) map[string]any {
	return map[string]any{"action_name": action, "action_info": map[string]any{"scene": sc}}
}

func TestCreateQRCodeTemporary(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.AppToken(serviceAccount(k))
	for _, tc := range []struct {
		name   string
		body   map[string]any
		expire float64
	}{
		{"default lifetime", scene("QR_SCENE", map[string]any{"scene_id": 123}), 60},
		{"given lifetime", withExpire(scene("QR_SCENE", map[string]any{"scene_id": 4294967295}), 300), 300},
		{"over the maximum is lowered", withExpire(scene("QR_STR_SCENE", map[string]any{"scene_str": "order-1"}), 9999999), 2592000},
		{"zero means the default", withExpire(scene("QR_STR_SCENE", map[string]any{"scene_str": strings.Repeat("字", 64)}), 0), 60},
		{"a negative lifetime means the default", withExpire(scene("QR_SCENE", map[string]any{"scene_id": 8}), -86400), 60},
		{"one over the maximum is lowered", withExpire(scene("QR_SCENE", map[string]any{"scene_id": 9}), 2592001), 2592000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			out := k.Post(qrCreate, tok, tc.body)
			if !sameKeys(out.JSON, "ticket", "expire_seconds", "url") {
				t.Fatalf("answer keys = %v, want exactly ticket, expire_seconds, url (no errcode/errmsg): %v", out.JSON.Keys(), out)
			}
			if out.JSON["expire_seconds"] != tc.expire {
				t.Errorf("expire_seconds = %v, want %v", out.JSON["expire_seconds"], tc.expire)
			}
			if u, _ := out.JSON["url"].(string); !qrURLPattern.MatchString(u) {
				t.Errorf("url = %q, want http://weixin.qq.com/q/<20 alphanumerics>", u)
			}
		})
	}
	// A temporary scene is not a code: asking twice gives two codes.
	a := k.Post(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 7}))
	b := k.Post(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 7}))
	if a.JSON["ticket"] == b.JSON["ticket"] || a.JSON["url"] == b.JSON["url"] {
		t.Errorf("two temporary codes for scene 7 share ticket or url: %v %v", a, b)
	}
}

// A url token starts with its creation time on the sandbox clock, in base 62, so that tokens
// made later sort after; the rest is seeded.
func TestQRTokenSortsByCreationTime(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	k.SetTime(time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC))
	app := serviceAccount(k)
	token := func() string {
		u, _ := k.Post(qrCreate, k.AppToken(app), withExpire(scene("QR_SCENE", map[string]any{"scene_id": 5}), 600)).JSON["url"].(string)
		return strings.TrimPrefix(u, "http://weixin.qq.com/q/")
	}
	first, same := token(), token()
	if first[:7] != same[:7] || first == same {
		t.Fatalf("two codes made at one instant: %q and %q, want the same 7-character time and different rest", first, same)
	}
	// 2026-12-03T08:00:00Z is 1,796,284,800,000 ms since 1970.
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	ms := int64(0)
	for _, c := range first[:7] {
		ms = ms*62 + int64(strings.IndexRune(digits, c))
	}
	if want := k.Now().UnixMilli(); ms != want {
		t.Errorf("token %q says %d ms, want the sandbox clock's %d", first, ms, want)
	}
	prev := first
	for _, step := range []time.Duration{time.Millisecond, time.Second, 61 * time.Second, 1000 * time.Hour} {
		k.Advance(step)
		next := token()
		if next <= prev {
			t.Errorf("after %v the token %q sorts before the earlier %q", step, next, prev)
		}
		prev = next
	}
}

func withExpire(m map[string]any, s int) map[string]any {
	m["expire_seconds"] = s
	return m
}

func TestCreateQRCodePermanent(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	oa := serviceAccount(k)
	tok := k.AppToken(oa)
	first := k.Post(qrCreate, tok, withExpire(scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 100000}), 300))
	if !sameKeys(first.JSON, "ticket", "url") {
		t.Fatalf("permanent answer keys = %v, want exactly ticket and url", first.JSON.Keys())
	}
	again := k.Post(qrCreate, tok, scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 100000}))
	if again.JSON["ticket"] != first.JSON["ticket"] || again.JSON["url"] != first.JSON["url"] {
		t.Errorf("same permanent scene: %v then %v, want the same ticket and url", first, again)
	}
	str := k.Post(qrCreate, tok, scene("QR_LIMIT_STR_SCENE", map[string]any{"scene_str": "100000"}))
	if str.JSON["url"] == first.JSON["url"] {
		t.Error("QR_LIMIT_STR_SCENE \"100000\" got the url of QR_LIMIT_SCENE 100000")
	}
	other := k.AppToken(serviceAccount(k))
	if o := k.Post(qrCreate, other, scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 100000})); o.JSON["url"] == first.JSON["url"] {
		t.Error("another account's permanent scene 100000 got the same url")
	}
	// A permanent code outlives any temporary lifetime.
	k.Advance(40 * 24 * time.Hour)
	tok = k.AppToken(oa)
	if again := k.Post(qrCreate, tok, scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 100000})); again.JSON["url"] != first.JSON["url"] {
		t.Errorf("after 40 days the permanent scene has url %v, want %v", again.JSON["url"], first.JSON["url"])
	}
	resp := k.Do(http.MethodGet, "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="+url.QueryEscape(first.JSON["ticket"].(string)), nil)
	if resp.Status != http.StatusOK {
		t.Errorf("showqrcode of a 40-day-old permanent code: %d, want 200", resp.Status)
	}
}

func TestCreateQRCodeRefusals(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.AppToken(serviceAccount(k))
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
		t.Run(tc.name, func(t *testing.T) { k.For(t).Refused(qrCreate, tok, tc.body, tc.code) })
	}
	t.Run("GET", func(t *testing.T) {
		k := k.For(t)
		k.Unchanged(func() {
			if out := k.API(http.MethodGet, qrCreate, tok, nil); out.Errcode() != 43002 {
				t.Errorf("GET qrcode/create: %v, want 43002", out)
			}
		})
	})
}

func TestCreateQRCodeAccounts(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	body := scene("QR_SCENE", map[string]any{"scene_id": 1})
	sub := app(k, sandbox.WeChatAppSpec{Type: "official_account", ServiceType: "subscription"})
	if out := k.Post(qrCreate, k.AppToken(sub), body); out.JSON["ticket"] == nil {
		t.Errorf("subscription account: %v, want a code", out)
	}
	k.Refused(qrCreate, k.AppToken(miniProgram(k)), body, 48001)
	unverified := false
	k.Refused(qrCreate, k.AppToken(app(k, sandbox.WeChatAppSpec{Type: "official_account", Verified: &unverified})), body, 48001)
	k.Refused(qrCreate, "", body, 41001)
}

func TestCreateQRCodePermanentCap(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	oa := serviceAccount(k)
	tok := k.AppToken(oa)
	kept := k.Post(qrCreate, tok, scene("QR_LIMIT_STR_SCENE", map[string]any{"scene_str": "kept"}))
	// Reaching 100,000 codes takes 100,000 requests; the counter is set instead.
	k.PatchState(map[string]string{"wechat:qrcode:count:" + oa.AppID: `{"permanent":100000}`})
	k.Refused(qrCreate, tok, scene("QR_LIMIT_SCENE", map[string]any{"scene_id": 9}), 45009)
	k.Refused(qrCreate, tok, scene("QR_LIMIT_STR_SCENE", map[string]any{"scene_str": "new"}), 45009)
	if again := k.Post(qrCreate, tok, scene("QR_LIMIT_STR_SCENE", map[string]any{"scene_str": "kept"})); again.JSON["url"] != kept.JSON["url"] {
		t.Errorf("an existing permanent scene at the cap: %v, want its url %v", again, kept.JSON["url"])
	}
	if out := k.Post(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 9})); out.JSON["ticket"] == nil {
		t.Errorf("a temporary code at the permanent cap: %v, want a code", out)
	}
}

func TestCreateQRCodeDailyQuota(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	oa := app(k, sandbox.WeChatAppSpec{Type: "official_account", Tier: "production"})
	tok := k.AppToken(oa)
	// 100,000 calls a day; the day's counter is set to its last value.
	k.PatchState(map[string]string{"wechat:quota:" + oa.AppID + "|/cgi-bin/qrcode/create:day:20260302": "99999"})
	k.Post(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 1}))
	k.Refused(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 1}), 45009)
	k.Advance(24 * time.Hour)
	tok = k.AppToken(oa)
	if out := k.Post(qrCreate, tok, scene("QR_SCENE", map[string]any{"scene_id": 1})); out.JSON["ticket"] == nil {
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
	k := testkit.New(t)
	tok := k.AppToken(serviceAccount(k))
	show := func(rawTicket string) testkit.Answer {
		return k.Do(http.MethodGet, "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="+rawTicket, nil)
	}
	// Tickets are base64 and contain "+", "/" or "=" now and then; make one that does.
	var code testkit.Answer
	for i := 1; i < 50; i++ {
		code = k.Post(qrCreate, tok, withExpire(scene("QR_SCENE", map[string]any{"scene_id": i}), 120))
		if strings.ContainsAny(code.JSON["ticket"].(string), "+/") {
			break
		}
	}
	ticket := code.JSON["ticket"].(string)
	resp := show(url.QueryEscape(ticket))
	if resp.Status != http.StatusOK {
		t.Fatalf("showqrcode: status %d", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "image/jpg" {
		t.Errorf("Content-Type = %q, want image/jpg", ct)
	}
	if got := decodeQR(t, resp.Raw); got != code.JSON["url"] {
		t.Errorf("the image decodes to %q, want the code's url %q", got, code.JSON["url"])
	}
	if strings.Contains(ticket, "+") {
		// A client that forgot to encode the ticket sends "+" as-is (a space once decoded).
		if resp := show(ticket); resp.Status != http.StatusOK {
			t.Errorf("unencoded ticket with '+': status %d, want 200", resp.Status)
		}
	}
	// The api host serves it too.
	if resp := k.Do(http.MethodGet, "https://api.weixin.qq.com/cgi-bin/showqrcode?ticket="+url.QueryEscape(ticket), nil); resp.Status != http.StatusOK {
		t.Errorf("showqrcode on api.weixin.qq.com: %d", resp.Status)
	}
	for name, tk := range map[string]string{
		"missing":  "",
		"garbage":  "not-a-ticket",
		"altered":  url.QueryEscape(strings.Replace(ticket, ticket[len(ticket)-6:len(ticket)-5], "A", 1) + "x"),
		"base64ok": url.QueryEscape("gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw=="),
	} {
		resp := show(tk)
		if resp.Status != http.StatusNotFound || len(resp.Raw) != 0 {
			t.Errorf("%s ticket: status %d with %d bytes, want a bare 404", name, resp.Status, len(resp.Raw))
		}
	}
	k.Advance(119 * time.Second)
	if resp := show(url.QueryEscape(ticket)); resp.Status != http.StatusOK {
		t.Errorf("after 119 s of 120: status %d, want 200", resp.Status)
	}
	k.Advance(time.Second)
	if resp := show(url.QueryEscape(ticket)); resp.Status != http.StatusNotFound || len(resp.Raw) != 0 {
		t.Errorf("expired ticket: status %d with %d bytes, want a bare 404", resp.Status, len(resp.Raw))
	}
}

// TestRefusedCallsNeverTakeAValidCallersQuota sends, at once, valid calls and calls the handler
// refuses (40053: no scene_str) against the day's last allowance: with N calls left, N valid
// callers among any number of refused ones all succeed; with more valid callers than that,
// exactly N do.
func TestRefusedCallsNeverTakeAValidCallersQuota(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		left, valid   int
		refused, want int
	}{
		{"as many valid callers as calls left", 20, 20, 100, 20},
		{"more valid callers than calls left", 10, 30, 60, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := testkit.New(t)
			oa := app(k, sandbox.WeChatAppSpec{Type: "official_account", Tier: "production"})
			tok := k.AppToken(oa)
			k.PatchState(map[string]string{"wechat:quota:" + oa.AppID + "|/cgi-bin/qrcode/create:day:20260302": fmt.Sprint(100000 - tc.left)})
			// The valid calls are spread among the refused ones (7919 is prime to both totals).
			total := tc.valid + tc.refused
			valid := func(i int) bool { return i*7919%total < tc.valid }
			answers := k.Concurrently(total, func(i int) (testkit.Answer, error) {
				body := any(scene("QR_SCENE", map[string]any{"scene_id": i + 1}))
				if !valid(i) {
					body = `{"action_name":"QR_STR_SCENE","action_info":{"scene":{}}}`
				}
				return k.Try(http.MethodPost, testkit.APIHost+qrCreate+"?access_token="+tok, nil, body)
			})
			created, quota := 0, 0
			for i, a := range answers {
				switch {
				case valid(i) && a.Str("ticket") != "":
					created++
				case valid(i) && a.Errcode() == 45009:
					quota++
				case valid(i):
					t.Errorf("valid call %d: %s", i, a)
				case a.Errcode() != 40053 && a.Errcode() != 45009:
					// 45009 once the valid calls have used the day up: quota comes before the body.
					t.Errorf("refused call %d: %s, want 40053 or 45009", i, a)
				}
			}
			if created != tc.want || quota != tc.valid-tc.want {
				t.Errorf("%d valid callers with %d calls left: %d created, %d refused 45009; want %d and %d", tc.valid, tc.left, created, quota, tc.want, tc.valid-tc.want)
			}
			if used := k.Post("/cgi-bin/openapi/quota/get", tok, `{"cgi_path":"/cgi-bin/qrcode/create"}`).JSON.Get("quota", "used"); used != float64(100000-tc.left+tc.want) {
				t.Errorf("quota used = %v, want %d", used, 100000-tc.left+tc.want)
			}
		})
	}
}
