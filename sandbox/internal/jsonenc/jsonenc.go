// Package jsonenc encodes JSON the way the emulated platforms write it: UTF-8 kept as it is, and
// <, > and & left alone where encoding/json would escape them for HTML (an integrator comparing
// bytes, or a signature over a body, sees what the real platform sends), with no trailing newline.
//
// It also decodes, on the hot paths (request bodies, stored records): Unmarshal is
// encoding/json's Unmarshal, semantics included (names matched without regard to case, unknown
// fields ignored, the same types and methods), as implemented on the faster decoder that is to
// become encoding/json's (github.com/go-json-experiment/json, its v1 package; with Go's jsonv2
// experiment on, encoding/json itself).
package jsonenc

import (
	"bytes"
	"encoding/json"
	"sync"
	"time"
	"unicode/utf8"

	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Unmarshal decodes data into v with encoding/json's semantics (see the package comment).
func Unmarshal(data []byte, v any) error { return jsonv1.Unmarshal(data, v) }

// encoder is a json.Encoder with the buffer it writes to, kept for reuse: every answer the
// sandbox writes is encoded here, and a fresh encoder and buffer per answer are garbage.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// maxPooled bounds the buffer an encoder keeps when it goes back to the pool, so that one large
// answer does not pin its memory.
const maxPooled = 64 << 10

// Marshal returns the JSON encoding of v without HTML escaping. It is json.Marshal but for the
// escaping: json.Encoder is the only way to turn that off, and its trailing newline is dropped.
func Marshal(v any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer func() {
		if e.buf.Cap() <= maxPooled {
			e.buf.Reset()
			encoders.Put(e)
		}
	}()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.Clone(bytes.TrimSuffix(e.buf.Bytes(), []byte("\n"))), nil
}

// WriteString writes s to buf as a JSON string without HTML escaping.
func WriteString(buf *bytes.Buffer, s string) {
	b, _ := Marshal(s) // a string always encodes: invalid UTF-8 becomes U+FFFD
	buf.Write(b)
}

// AppendQuoted appends s as encoding/json.Marshal writes a string: quoted, with <, > and &
// escaped for HTML, U+2028 and U+2029 escaped, and invalid UTF-8 as U+FFFD. For the records
// that write their own JSON (a string that needs no escape is copied; any other goes through
// encoding/json).
func AppendQuoted(b []byte, s string) []byte {
	if !plain(s, true) {
		q, _ := json.Marshal(s) // a string always encodes
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plain reports whether s needs no escape in JSON: no control character, quote or backslash
// (nor, with html, <, > or &), only valid UTF-8, and neither U+2028 nor U+2029.
func plain(s string, html bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || html && (c == '<' || c == '>' || c == '&') {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += size
	}
	return true
}

// AppendTime appends t as encoding/json.Marshal writes a time.Time (its MarshalJSON: RFC 3339
// with nanoseconds, quoted), with MarshalJSON's error for a time it cannot write.
func AppendTime(b []byte, t time.Time) ([]byte, error) {
	if _, offset := t.Zone(); t.Year() < 0 || t.Year() > 9999 || offset <= -24*60*60 || offset >= 24*60*60 {
		q, err := t.MarshalJSON()
		return append(b, q...), err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// AppendString appends s as Marshal writes a string: quoted, <, > and & left alone, U+2028 and
// U+2029 escaped, invalid UTF-8 as U+FFFD. For the answers that write their own JSON (a string
// that needs no escape is copied; any other goes through Marshal).
func AppendString(b []byte, s string) []byte {
	if !plain(s, false) {
		q, _ := Marshal(s) // a string always encodes
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
