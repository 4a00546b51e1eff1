package wechat_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// pngBytes is a small real PNG.
func pngBytes(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestMediaUploadRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	mp := k.App(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "unlimited"})
	tok := k.AppToken(mp)
	for _, tc := range []struct {
		name, query string
		body        any
		want        int
	}{
		{"a voice", "&type=voice", "", 40004},
		{"without type", "", "", 40004},
		{"without a form", "&type=image", "not a form", 41005},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				k.WantErrcode(k.Do("POST", testkit.APIHost+"/cgi-bin/media/upload?access_token="+tok+tc.query, tc.body), tc.want)
			})
		})
	}
	t.Run("a text file", func(t *testing.T) {
		k := k.For(t)
		k.Unchanged(func() { k.WantErrcode(k.Upload(tok, "image", "media", []byte("hello, not an image")), 40005) })
	})
	t.Run("the wrong field", func(t *testing.T) {
		k := k.For(t)
		k.Unchanged(func() { k.WantErrcode(k.Upload(tok, "image", "file", pngBytes(t)), 41005) })
	})
}
