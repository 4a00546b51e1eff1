// Package qrimage draws QR codes as JPEG images, the form in which WeChat's showqrcode serves a
// parametric code, and reads them back out of an image, as a phone's camera does for the scan
// simulator. It is the only package that imports the QR encoder (github.com/skip2/go-qrcode) and
// the decoder (github.com/makiuchi-d/gozxing, a port of ZXing); the image formats are the
// standard library's.
package qrimage

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // Decode reads GIF images too
	"image/jpeg"
	_ "image/png" // and PNG ones

	"github.com/makiuchi-d/gozxing"
	zxingqr "github.com/makiuchi-d/gozxing/qrcode"
	qrcode "github.com/skip2/go-qrcode"
)

// Size is the side, in pixels, of the images WeChat's showqrcode returns (430 × 430).
const Size = 430

// quality keeps the black and white modules crisp enough for any phone or decoder while the file
// stays in the tens of kilobytes, as WeChat's are.
const quality = 90

// JPEG encodes content as a QR code (error correction level M, with the standard four-module
// quiet zone) and returns it as a size × size JPEG. The same content always gives the same bytes.
func JPEG(content string, size int) ([]byte, error) {
	if size < 21 {
		return nil, fmt.Errorf("qrimage: size %d is smaller than the smallest QR code", size)
	}
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qrimage: encode %d bytes: %w", len(content), err)
	}
	// The encoder draws a two-colour paletted image; JPEG wants a full-colour one, so it is
	// copied onto a grey canvas first (a QR code has no colour to lose).
	src := q.Image(size)
	dst := image.NewGray(src.Bounds())
	draw.Draw(dst, dst.Bounds(), &image.Uniform{C: color.White}, image.Point{}, draw.Src)
	draw.Draw(dst, dst.Bounds(), src, src.Bounds().Min, draw.Src)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("qrimage: jpeg: %w", err)
	}
	return buf.Bytes(), nil
}

// ErrNotAnImage is returned by Decode for bytes that are not a PNG, JPEG or GIF image.
var ErrNotAnImage = errors.New("qrimage: not a PNG, JPEG or GIF image")

// ErrNoCode is returned by Decode for an image in which no QR code can be read.
var ErrNoCode = errors.New("qrimage: no QR code found in the image")

// Decode reads the content of the QR code in a PNG, JPEG or GIF image, trying hard (as a phone
// does with a photo): the image need not be a clean render. It answers ErrNotAnImage or ErrNoCode,
// wrapped, when there is nothing to read.
func Decode(b []byte) (string, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotAnImage, err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoCode, err)
	}
	hints := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}
	res, err := zxingqr.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoCode, err)
	}
	return res.GetText(), nil
}
