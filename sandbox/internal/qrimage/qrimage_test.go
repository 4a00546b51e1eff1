package qrimage_test

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/citysandbox/citysandbox/sandbox/internal/qrimage"
)

// decode reads a QR code back out of a JPEG with ZXing's decoder, as a phone would.
func decode(t *testing.T, b []byte) string {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("jpeg.Decode: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("NewBinaryBitmapFromImage: %v", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	return res.GetText()
}

func TestJPEGReadsBack(t *testing.T) {
	t.Parallel()
	for _, content := range []string{
		"http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI",
		"https://city.example.cn/service/bus?line=12&stop=中心广场",
		"x",
	} {
		b, err := qrimage.JPEG(content, qrimage.Size)
		if err != nil {
			t.Fatalf("JPEG(%q): %v", content, err)
		}
		if !bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) {
			t.Errorf("JPEG(%q) does not start with the JPEG SOI marker: % x", content, b[:3])
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("jpeg.Decode: %v", err)
		}
		if got := img.Bounds().Dx(); got != qrimage.Size {
			t.Errorf("width = %d, want %d", got, qrimage.Size)
		}
		if got := decode(t, b); got != content {
			t.Errorf("decoded %q, want %q", got, content)
		}
	}
}

func TestJPEGDeterministic(t *testing.T) {
	t.Parallel()
	a, err := qrimage.JPEG("http://weixin.qq.com/q/abc", qrimage.Size)
	if err != nil {
		t.Fatal(err)
	}
	b, err := qrimage.JPEG("http://weixin.qq.com/q/abc", qrimage.Size)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two encodings of the same content differ")
	}
}

func TestJPEGRefuses(t *testing.T) {
	t.Parallel()
	if _, err := qrimage.JPEG("x", 10); err == nil {
		t.Error("JPEG with size 10: no error")
	}
	if _, err := qrimage.JPEG(string(make([]byte, 4000)), qrimage.Size); err == nil {
		t.Error("JPEG of 4000 bytes (beyond QR capacity): no error")
	}
}

// TestDecode reads a code back from its JPEG and from a PNG of it; bytes that are no image and an
// image without a code are told apart.
func TestDecode(t *testing.T) {
	t.Parallel()
	const content = "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"
	b, err := qrimage.JPEG(content, qrimage.Size)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := qrimage.Decode(b); err != nil || got != content {
		t.Errorf("Decode(JPEG) = %q, %v; want %q", got, err, content)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var pngBytes bytes.Buffer
	if err := png.Encode(&pngBytes, img); err != nil {
		t.Fatal(err)
	}
	if got, err := qrimage.Decode(pngBytes.Bytes()); err != nil || got != content {
		t.Errorf("Decode(PNG) = %q, %v; want %q", got, err, content)
	}
	if _, err := qrimage.Decode([]byte("not an image")); !errors.Is(err, qrimage.ErrNotAnImage) {
		t.Errorf("Decode(text) error = %v, want ErrNotAnImage", err)
	}
	blank := image.NewGray(image.Rect(0, 0, 64, 64))
	var blankPNG bytes.Buffer
	if err := png.Encode(&blankPNG, blank); err != nil {
		t.Fatal(err)
	}
	if _, err := qrimage.Decode(blankPNG.Bytes()); !errors.Is(err, qrimage.ErrNoCode) {
		t.Errorf("Decode(blank) error = %v, want ErrNoCode", err)
	}
}
