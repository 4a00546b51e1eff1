// Package jsonenc encodes JSON the way the emulated platforms write it: UTF-8 kept as it is, and
// <, > and & left alone where encoding/json would escape them for HTML (an integrator comparing
// bytes, or a signature over a body, sees what the real platform sends), with no trailing newline.
package jsonenc

import (
	"bytes"
	"encoding/json"
)

// Marshal returns the JSON encoding of v without HTML escaping. It is json.Marshal but for the
// escaping: json.Encoder is the only way to turn that off, and its trailing newline is dropped.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// WriteString writes s to buf as a JSON string without HTML escaping.
func WriteString(buf *bytes.Buffer, s string) {
	b, _ := Marshal(s) // a string always encodes: invalid UTF-8 becomes U+FFFD
	buf.Write(b)
}
