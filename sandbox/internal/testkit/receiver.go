package testkit

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Receiver is an integrator's push receiver, written the way an integrator writes one from
// WeChat's documentation and with its own implementation of the message encryption (not the
// sandbox's package push): it answers the URL handshake, checks signature on every request and
// msg_signature on encrypted ones, decrypts AES-256-CBC with the key
// Base64(EncodingAESKey+"="), IV = key[:16], 32-byte PKCS#7 padding, checks the appid trailer,
// and keeps the decrypted events. Anything it cannot verify fails the test at cleanup (and is
// answered 400, so the sandbox retries).
//
// Pushes may arrive after the request that caused them has been answered: wait for them with
// Wait, which bounds a failure only.
type Receiver struct {
	*httptest.Server
	// Token, EncodingAESKey, Format ("xml" or "json") and Mode ("plaintext", "compatible" or
	// "safe") are what the account's push configuration must say.
	Token, EncodingAESKey, Format, Mode string
	// AppID is the appid the encrypted trailer must carry.
	AppID string
	// Answer is the body answered to a verified push; "success" unless set before the push.
	Answer string

	t        testing.TB
	mu       sync.Mutex
	events   []PushEvent
	problems []string
	arrived  chan struct{}
}

// PushEvent is one verified, decrypted push.
type PushEvent struct {
	// Fields are the message's fields: XML elements as strings (nested ones as objects), or the
	// decoded JSON object.
	Fields Object
	// Plain is the decrypted message (the body itself in plaintext mode).
	Plain []byte
	// Query is the push URL's query (signature, timestamp, nonce, encrypt_type, msg_signature).
	Query url.Values
	// Path is the path the push was posted to.
	Path string
}

// Str is a field as a string, whichever format carried it ("" when absent).
func (e PushEvent) Str(name string) string {
	switch v := e.Fields[name].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// Has reports whether the message has the field.
func (e PushEvent) Has(name string) bool { _, ok := e.Fields[name]; return ok }

// NewReceiver starts a receiver for the account appid and closes it when the test ends.
func NewReceiver(t testing.TB, appid, token, encodingAESKey, format, mode string) *Receiver {
	r := &Receiver{Token: token, EncodingAESKey: encodingAESKey, Format: format, Mode: mode, AppID: appid, Answer: "success", t: t, arrived: make(chan struct{}, 1)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(func() {
		r.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, p := range r.problems {
			t.Errorf("push receiver: %s", p)
		}
	})
	return r
}

// PushConfig is the body of PUT /_sandbox/wechat/apps/{appid}/push that points the account at
// this receiver.
func (r *Receiver) PushConfig() map[string]any {
	return map[string]any{"url": r.URL + "/wechat", "token": r.Token, "encoding_aes_key": r.EncodingAESKey, "format": r.Format, "mode": r.Mode}
}

// Events returns the events received so far.
func (r *Receiver) Events() []PushEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PushEvent(nil), r.events...)
}

// Wait returns the events once at least n have arrived, failing the test if they have not
// within 10 seconds.
func (r *Receiver) Wait(n int) []PushEvent {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if ev := r.Events(); len(ev) >= n {
			return ev
		}
		select {
		case <-r.arrived:
		case <-deadline:
			r.t.Fatalf("push receiver: %d events arrived within 10 s, want %d: %v", len(r.Events()), n, r.Events())
			return nil
		}
	}
}

func (r *Receiver) fail(w http.ResponseWriter, format string, args ...any) {
	r.mu.Lock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	http.Error(w, "bad push", http.StatusBadRequest)
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	if q.Get("signature") != SHA1Sorted(r.Token, ts, nonce) {
		r.fail(w, "%s %s: bad signature", req.Method, req.URL.RawQuery)
		return
	}
	if req.Method == http.MethodGet { // the URL handshake
		_, _ = io.WriteString(w, q.Get("echostr"))
		return
	}
	body, _ := io.ReadAll(req.Body)
	fields, err := decodeMessage(r.Format, body)
	if err != nil {
		r.fail(w, "%s body %q: %v", r.Format, body, err)
		return
	}
	ev := PushEvent{Fields: fields, Plain: body, Query: q, Path: req.URL.Path}
	encrypted := q.Get("encrypt_type") == "aes"
	if encrypted != (r.Mode != "plaintext") {
		r.fail(w, "mode %s, but encrypt_type=%q", r.Mode, q.Get("encrypt_type"))
		return
	}
	if encrypted {
		enc, _ := fields["Encrypt"].(string)
		if q.Get("msg_signature") != SHA1Sorted(r.Token, ts, nonce, enc) {
			r.fail(w, "bad msg_signature in %s", req.URL.RawQuery)
			return
		}
		plain, appid, err := DecryptMessage(r.EncodingAESKey, enc)
		if err != nil {
			r.fail(w, "decrypt: %v", err)
			return
		}
		if appid != r.AppID {
			r.fail(w, "trailer appid %q, want %s", appid, r.AppID)
			return
		}
		inner, err := decodeMessage(r.Format, plain)
		if err != nil {
			r.fail(w, "decrypted %s %q: %v", r.Format, plain, err)
			return
		}
		if r.Mode == "safe" && len(fields) != 2 {
			r.fail(w, "a safe-mode envelope has ToUserName (or AppId) and Encrypt only: %s", body)
			return
		}
		if r.Mode == "compatible" {
			// The clear fields must be the message itself.
			for k, v := range inner {
				if fmt.Sprint(fields[k]) != fmt.Sprint(v) {
					r.fail(w, "compatible mode: clear %s = %v, encrypted %v", k, fields[k], v)
					return
				}
			}
		}
		ev.Fields, ev.Plain = inner, plain
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	answer := r.Answer
	r.mu.Unlock()
	select {
	case r.arrived <- struct{}{}:
	default:
	}
	_, _ = io.WriteString(w, answer)
}

// decodeMessage reads a push body: a JSON object, or WeChat's <xml> with one element per field.
func decodeMessage(format string, b []byte) (Object, error) {
	if format == "json" {
		var o Object
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, err
		}
		return o, nil
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	for err == nil {
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "xml" {
				return nil, fmt.Errorf("root element <%s>, want <xml>", se.Name.Local)
			}
			return xmlElement(dec)
		}
		tok, err = dec.Token()
	}
	return nil, fmt.Errorf("no <xml> element: %v", err)
}

// xmlElement reads the children of the element just opened, up to its end.
func xmlElement(dec *xml.Decoder) (Object, error) {
	o := Object{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			v, err := xmlValue(dec)
			if err != nil {
				return nil, err
			}
			o[t.Name.Local] = v
		case xml.EndElement:
			return o, nil
		}
	}
}

// xmlValue reads an element's text, or its children when it has some.
func xmlValue(dec *xml.Decoder) (any, error) {
	var text strings.Builder
	var children Object
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text.Write(t)
		case xml.StartElement:
			if children == nil {
				children = Object{}
			}
			v, err := xmlValue(dec)
			if err != nil {
				return nil, err
			}
			children[t.Name.Local] = v
		case xml.EndElement:
			if children != nil {
				return map[string]any(children), nil
			}
			return text.String(), nil
		}
	}
}

// SHA1Sorted is WeChat's signature: the lowercase hex SHA-1 of the parts sorted and joined.
func SHA1Sorted(parts ...string) string {
	parts = append([]string(nil), parts...)
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// DecryptMessage is WeChat's message decryption as an integrator writes it: it returns the
// message and the appid of the trailer.
func DecryptMessage(encodingAESKey, encrypted string) (msg []byte, appid string, err error) {
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, "", fmt.Errorf("bad EncodingAESKey: %v", err)
	}
	ct, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return nil, "", fmt.Errorf("Encrypt is not base64: %v", err)
	}
	if len(ct) == 0 || len(ct)%32 != 0 {
		return nil, "", fmt.Errorf("ciphertext of %d bytes is not whole 32-byte blocks", len(ct))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, "", err
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(plain, ct)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 32 {
		return nil, "", fmt.Errorf("padding byte %d out of 1..32", pad)
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return nil, "", errors.New("plaintext too short")
	}
	n := int(binary.BigEndian.Uint32(plain[16:20]))
	if 20+n > len(plain) {
		return nil, "", fmt.Errorf("message length %d beyond the plaintext", n)
	}
	return plain[20 : 20+n], string(plain[20+n:]), nil
}
