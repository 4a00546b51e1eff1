// Package qrimage draws QR codes as JPEG images, the form in which WeChat's showqrcode serves a
// parametric code. It is the only package that imports the QR encoder (github.com/skip2/go-qrcode);
// the JPEG step is the standard library's image/jpeg.
package qrimage

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"

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
