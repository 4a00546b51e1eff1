// Package yamldoc decodes YAML documents strictly: an unknown key is an error, and every error
// names the file and line. It is the only package that imports a YAML library; fixtures and
// scenarios both read through it.
package yamldoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode decodes data (from the named file) into v, refusing unknown keys.
func Decode(name string, data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: empty document", name)
		}
		return positioned(name, err)
	}
	return nil
}

// yamlLine matches the position yaml.v3 puts in its messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// positioned rewrites yaml.v3's "line N: ..." messages as "name:N: ...", one per problem, the
// form editors and terminals turn into links.
func positioned(name string, err error) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		if loc := yamlLine.FindStringSubmatch(m); loc != nil {
			m = strings.Replace(strings.TrimPrefix(m[len(loc[0]):], "field "), " not found in type ", ": unknown key in ", 1)
			if strings.Contains(m, ": unknown key in ") {
				m = "unknown key " + strconv.Quote(strings.SplitN(m, ":", 2)[0]) + " (in " + strings.SplitN(m, ": unknown key in ", 2)[1] + ")"
			}
			out = append(out, fmt.Sprintf("%s:%s: %s", name, loc[1], m))
			continue
		}
		out = append(out, name+": "+strings.TrimPrefix(m, "yaml: "))
	}
	return &Error{Msg: strings.Join(out, "\n"), Err: err}
}

// Error is a decoding failure; Msg names the file and line of each problem.
type Error struct {
	Msg string
	Err error
}

// Error returns the positioned message.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the YAML library's error.
func (e *Error) Unwrap() error { return e.Err }

// Node is a parsed YAML node, for callers that need positions (line numbers) of their own.
type Node = yaml.Node

// Parse parses data into a node tree.
func Parse(name string, data []byte) (*Node, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &n, nil
}

// DecodeNode decodes a node into v, refusing unknown keys; errors name the file and line.
func DecodeNode(name string, n *Node, v any) error {
	// yaml.v3 only checks known fields through a Decoder, so re-encode the node and decode it.
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(n); err != nil {
		return fmt.Errorf("%s:%d: %w", name, n.Line, err)
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s:%d: %w", name, n.Line, err)
	}
	return nil
}

// Marshal encodes v as YAML.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("yamldoc: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Node kinds and styles, re-exported so that callers need not import the YAML library.
const (
	MappingNode  = yaml.MappingNode
	SequenceNode = yaml.SequenceNode
	ScalarNode   = yaml.ScalarNode
	AliasNode    = yaml.AliasNode
	DocumentNode = yaml.DocumentNode
	FlowStyle    = yaml.FlowStyle
)

// FromJSON parses a JSON document into a node tree that keeps the document's key order, in block
// style (so that it encodes as ordinary YAML rather than as JSON).
func FromJSON(data []byte) (*Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("yamldoc: JSON as YAML: %w", err)
	}
	n := &doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	blockStyle(n)
	return n, nil
}

// blockStyle clears flow and quoting styles; the encoder quotes a string again wherever plain
// YAML would read it as another type.
func blockStyle(n *Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// ScalarJSON converts a scalar node to its JSON value, by the node's resolved tag.
func ScalarJSON(n *Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return n.Value, nil
}
