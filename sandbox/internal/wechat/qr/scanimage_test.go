package qr_test

import (
	"bytes"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/qrimage"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// TestListQRCodes: the issued codes, newest first, temporary and permanent, each with the path
// of its image, which showqrcode serves.
func TestListQRCodes(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	perm := k.Post("/cgi-bin/qrcode/create", tok, `{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":7}}}`)
	k.Advance(time.Second)
	temp := k.Post("/cgi-bin/qrcode/create", tok, `{"action_name":"QR_STR_SCENE","expire_seconds":600,"action_info":{"scene":{"scene_str":"table-7"}}}`)
	a := k.Control(http.MethodGet, "/_sandbox/wechat/qrcodes?appid="+testkit.ServiceAppID, nil)
	if a.Status != http.StatusOK || a.JSON["total"] != float64(2) {
		t.Fatalf("qrcodes: %s", a)
	}
	codes := a.JSON["qrcodes"].([]any)
	first, second := codes[0].(map[string]any), codes[1].(map[string]any)
	if first["url"] != temp.Str("url") || first["permanent"] != false || first["scene"] != "table-7" || first["expires_at"] == nil || first["live"] != true {
		t.Errorf("newest code = %v, want the temporary one %s", first, temp.Str("url"))
	}
	if second["url"] != perm.Str("url") || second["permanent"] != true || second["scene"] != "7" || second["expires_at"] != nil || second["action_name"] != "QR_LIMIT_SCENE" {
		t.Errorf("second code = %v, want the permanent one %s", second, perm.Str("url"))
	}
	img := k.Do(http.MethodGet, first["image"].(string), nil)
	if img.Status != http.StatusOK {
		t.Fatalf("image %s: %d", first["image"], img.Status)
	}
	if got, err := qrimage.Decode(img.Raw); err != nil || got != temp.Str("url") {
		t.Errorf("image reads %q, %v; want %s", got, err, temp.Str("url"))
	}
	if a := k.Control(http.MethodGet, "/_sandbox/wechat/qrcodes?limit=1", nil); len(a.JSON["qrcodes"].([]any)) != 1 || a.JSON["total"] != float64(2) {
		t.Errorf("limit=1: %s", a)
	}
	if a := k.Control(http.MethodGet, "/_sandbox/wechat/qrcodes?appid=wxnobody", nil); a.JSON["total"] != float64(0) || len(a.JSON["qrcodes"].([]any)) != 0 {
		t.Errorf("another appid: %s", a)
	}
	k.Advance(601 * time.Second)
	if a := k.Control(http.MethodGet, "/_sandbox/wechat/qrcodes?limit=1", nil); a.JSON["qrcodes"].([]any)[0].(map[string]any)["live"] != false {
		t.Errorf("an expired code is still live: %s", a)
	}
	if a := k.Control(http.MethodGet, "/_sandbox/wechat/qrcodes?limit=0", nil); a.Status != http.StatusBadRequest {
		t.Errorf("limit=0: %s, want 400", a)
	}
}

// TestScanImage: the image showqrcode serves, uploaded, scans as the pasted url does: the user
// follows, the journal has the scan; bad images are refused and change nothing.
func TestScanImage(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	code := k.Post("/cgi-bin/qrcode/create", tok, `{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":7}}}`)
	img := k.Do(http.MethodGet, "/cgi-bin/showqrcode?ticket="+url.QueryEscape(code.Str("ticket")), nil)
	if img.Status != http.StatusOK {
		t.Fatalf("showqrcode: %d", img.Status)
	}
	scan := func(q string, body []byte) testkit.Answer {
		t.Helper()
		return k.DoHeader(http.MethodPost, "/_sandbox/wechat/scan/image"+q, http.Header{"Content-Type": {"image/jpeg"}}, body)
	}
	a := scan("?user=alice", img.Raw)
	if a.Status != http.StatusOK || a.Str("action") != "follow_official_account" || a.Str("event") != "subscribe" || a.Str("scene") != "7" || a.Str("read") != code.Str("url") {
		t.Fatalf("scan of the image: %s", a)
	}
	// The same user scanning the url is now a follower: SCAN, the same openid.
	again := k.Control(http.MethodPost, "/_sandbox/wechat/scan", map[string]any{"url": code.Str("url"), "user": "alice"})
	if again.Str("event") != "SCAN" || again.Str("openid") != a.Str("openid") {
		t.Errorf("url scan after the image scan: %s, want SCAN by %s", again, a.Str("openid"))
	}
	if j := k.Control(http.MethodGet, "/_sandbox/requests?event=scan", nil); j.JSON["count"] != float64(2) {
		t.Errorf("scan lines in the journal: %s", j)
	}
	blank := image.NewGray(image.Rect(0, 0, 64, 64))
	var blankPNG bytes.Buffer
	if err := png.Encode(&blankPNG, blank); err != nil {
		t.Fatal(err)
	}
	text, err := qrimage.JPEG("just words", 200)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, q string
		body    []byte
		want    string
	}{
		{"empty", "", nil, "invalid_image"},
		{"text", "", []byte("not an image"), "invalid_image"},
		{"blank", "", blankPNG.Bytes(), "no_qr_code"},
		{"not a link", "", text, "invalid_scan"},
		{"bad role", "?as=boss", img.Raw, "as"},
	} {
		k.Unchanged(func() {
			if a := scan(c.q, c.body); a.Status != http.StatusBadRequest || !strings.Contains(string(a.Raw), c.want) {
				t.Errorf("%s: %s, want 400 %s", c.name, a, c.want)
			}
		})
	}
}
