package wechat

import (
	"bytes"
	"mime/multipart"
	"testing"
)

// FuzzMultipartFile checks that the media-upload form decoder never panics, and that a file it
// finds is exactly what a real form carried.
func FuzzMultipartFile(f *testing.F) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("media", "a.png")
	fw.Write([]byte("\x89PNG\r\n\x1a\nrest"))
	mw.Close()
	f.Add(mw.FormDataContentType(), body.Bytes(), []byte("\x89PNG"))
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\n\r\n--x--"), []byte("a"))
	f.Add("text/plain", []byte("hello"), []byte{})
	f.Fuzz(func(t *testing.T, contentType string, raw, file []byte) {
		_, _ = multipartFile(contentType, raw, "media")
		if len(file) == 0 {
			return
		}
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		part, err := w.CreateFormFile("media", "f.bin")
		if err != nil {
			t.Fatal(err)
		}
		part.Write(file)
		w.Close()
		got, err := multipartFile(w.FormDataContentType(), b.Bytes(), "media")
		if err != nil || !bytes.Equal(got, file) {
			t.Fatalf("multipartFile(form with %q) = %q, %v", file, got, err)
		}
	})
}
