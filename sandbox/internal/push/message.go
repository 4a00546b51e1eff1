package push

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
)

// Format is how a push body is written: JSON or XML, as the account's push configuration says.
type Format string

// Formats.
const (
	JSON Format = "json"
	XML  Format = "xml"
)

// Mode is the account's encryption mode (消息加解密方式).
type Mode string

// Modes.
const (
	// Plaintext (明文模式) posts the message as it is, signed with signature only.
	Plaintext Mode = "plaintext"
	// Compatible (兼容模式) posts the plaintext fields and an Encrypt field of the same message.
	Compatible Mode = "compatible"
	// Safe (安全模式) posts only the outer envelope with Encrypt; the URL carries msg_signature.
	Safe Mode = "safe"
)

// Field is one named value of a Message. Value is a string, an integer, a bool, a nested Message
// or a []Message (repeated elements in XML, an array in JSON).
type Field struct {
	Name  string
	Value any
}

// Message is a push body as an ordered list of fields, so that the JSON and the XML forms keep
// WeChat's field order and the same message always gives the same bytes.
type Message []Field

// Get returns the value of the first field called name.
func (m Message) Get(name string) (any, bool) {
	for _, f := range m {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// Encode writes m in format f: a JSON object, or WeChat's <xml>…</xml> with strings in CDATA.
func (m Message) Encode(f Format) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	if f == XML {
		buf.WriteString("<xml>")
		err = m.writeXML(&buf)
		buf.WriteString("</xml>")
	} else {
		err = m.writeJSON(&buf)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (m Message) writeJSON(buf *bytes.Buffer) error {
	buf.WriteByte('{')
	for i, f := range m {
		if i > 0 {
			buf.WriteByte(',')
		}
		jsonenc.WriteString(buf, f.Name)
		buf.WriteByte(':')
		if err := writeJSONValue(buf, f.Value); err != nil {
			return fmt.Errorf("push: field %s: %w", f.Name, err)
		}
	}
	buf.WriteByte('}')
	return nil
}

func writeJSONValue(buf *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case Message:
		return v.writeJSON(buf)
	case []Message:
		buf.WriteByte('[')
		for i, m := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := m.writeJSON(buf); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case string:
		jsonenc.WriteString(buf, v)
		return nil
	case int, int64, uint32, bool:
		fmt.Fprint(buf, v)
		return nil
	}
	return fmt.Errorf("unsupported value type %T", v)
}

func (m Message) writeXML(buf *bytes.Buffer) error {
	for _, f := range m {
		if err := writeXMLElement(buf, f.Name, f.Value); err != nil {
			return fmt.Errorf("push: field %s: %w", f.Name, err)
		}
	}
	return nil
}

func writeXMLElement(buf *bytes.Buffer, name string, v any) error {
	if list, ok := v.([]Message); ok {
		for _, m := range list {
			if err := writeXMLElement(buf, name, m); err != nil {
				return err
			}
		}
		return nil
	}
	buf.WriteString("<" + name + ">")
	switch v := v.(type) {
	case Message:
		if err := v.writeXML(buf); err != nil {
			return err
		}
	case string:
		// "]]>" cannot appear inside one CDATA section: split it across two.
		buf.WriteString("<![CDATA[" + strings.ReplaceAll(v, "]]>", "]]]]><![CDATA[>") + "]]>")
	case int:
		buf.WriteString(strconv.Itoa(v))
	case int64:
		buf.WriteString(strconv.FormatInt(v, 10))
	case uint32:
		buf.WriteString(strconv.FormatUint(uint64(v), 10))
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	default:
		return fmt.Errorf("unsupported value type %T", v)
	}
	buf.WriteString("</" + name + ">")
	return nil
}

// outerFields are the fields an encrypted envelope repeats in clear: ToUserName for messages to
// an account, AppId for system pushes to a third-party platform.
var outerFields = []string{"ToUserName", "AppId"}

// Envelope builds the body that is posted for m in format f and mode mode, given the Encrypt
// value of the encoded message (ignored in plaintext mode):
//   - plaintext: the message itself;
//   - compatible: the message's fields followed by Encrypt;
//   - safe: the message's ToUserName (or AppId) followed by Encrypt.
func Envelope(m Message, f Format, mode Mode, encrypt string) ([]byte, error) {
	switch mode {
	case Plaintext:
		return m.Encode(f)
	case Compatible:
		out := append(append(Message(nil), m...), Field{"Encrypt", encrypt})
		return out.Encode(f)
	case Safe:
		var out Message
		for _, name := range outerFields {
			if v, ok := m.Get(name); ok {
				out = append(out, Field{name, v})
				break
			}
		}
		return append(out, Field{"Encrypt", encrypt}).Encode(f)
	}
	return nil, fmt.Errorf("push: unknown mode %q", mode)
}
