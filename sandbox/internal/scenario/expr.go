package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/yamldoc"
)

// part is a piece of a string template: literal text or a variable reference.
type part struct {
	lit string
	ref string
}

// parseTemplate splits s into literals and ${name} references. "$${" is a literal "${".
func parseTemplate(s string) ([]part, error) {
	var parts []part
	var lit strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			lit.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("bad expression %q: no closing }", s[i:])
			}
			name := s[i+2 : i+end]
			if !varName.MatchString(name) {
				return nil, fmt.Errorf("bad expression %q: ${...} holds one variable name (letters, digits, _)", s[i:i+end+1])
			}
			if lit.Len() > 0 {
				parts = append(parts, part{lit: lit.String()})
				lit.Reset()
			}
			parts = append(parts, part{ref: name})
			i += end + 1
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	if lit.Len() > 0 || len(parts) == 0 {
		parts = append(parts, part{lit: lit.String()})
	}
	return parts, nil
}

// Vars holds a run's variables: each value is kept as JSON so that a captured number stays a
// number when a template is nothing but ${name}.
type Vars map[string]json.RawMessage

// SetString sets a string variable.
func (v Vars) SetString(name, s string) {
	raw, _ := json.Marshal(s)
	v[name] = raw
}

// text returns a variable as text: a JSON string unquoted, anything else as its JSON.
func (v Vars) text(name string) (string, bool) {
	raw, ok := v[name]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return string(raw), true
}

// Expand substitutes the variables in s.
func (v Vars) Expand(s string) (string, error) {
	parts, err := parseTemplate(s)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range parts {
		if p.ref == "" {
			b.WriteString(p.lit)
			continue
		}
		val, ok := v.text(p.ref)
		if !ok {
			return "", fmt.Errorf("variable ${%s} is not set", p.ref)
		}
		b.WriteString(val)
	}
	return b.String(), nil
}

// expandJSON converts a YAML node to JSON, keeping key order and expanding variables: a scalar
// that is exactly ${name} becomes the variable's JSON value (a captured number stays a number).
func (v Vars) expandJSON(n *yamldoc.Node) ([]byte, error) {
	var buf bytes.Buffer
	if err := v.writeJSON(&buf, n); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (v Vars) writeJSON(buf *bytes.Buffer, n *yamldoc.Node) error {
	switch n.Kind {
	case yamldoc.DocumentNode:
		if len(n.Content) == 1 {
			return v.writeJSON(buf, n.Content[0])
		}
		buf.WriteString("null")
	case yamldoc.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			key, err := v.Expand(n.Content[i].Value)
			if err != nil {
				return fmt.Errorf("line %d: %w", n.Content[i].Line, err)
			}
			jsonenc.WriteString(buf, key)
			buf.WriteByte(':')
			if err := v.writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yamldoc.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := v.writeJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yamldoc.ScalarNode:
		if n.ShortTag() != "!!str" {
			val, err := yamldoc.ScalarJSON(n)
			if err != nil {
				return err
			}
			raw, err := json.Marshal(val)
			if err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			buf.Write(raw)
			return nil
		}
		parts, err := parseTemplate(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		if len(parts) == 1 && parts[0].ref != "" {
			raw, ok := v[parts[0].ref]
			if !ok {
				return fmt.Errorf("line %d: variable ${%s} is not set", n.Line, parts[0].ref)
			}
			buf.Write(raw)
			return nil
		}
		s, err := v.Expand(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		jsonenc.WriteString(buf, s)
	default:
		return fmt.Errorf("line %d: YAML aliases are not supported in a body", n.Line)
	}
	return nil
}

// quoteIfNeeded renders a scalar for messages.
func quoteIfNeeded(s string) string {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return s
	}
	return strconv.Quote(s)
}
