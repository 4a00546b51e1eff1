// Package yamldoc decodes YAML documents strictly: an unknown key is an error, and every error
// names the file and line. It is the only package that imports a YAML library; fixtures and
// scenarios both read through it.
package yamldoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"

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
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

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
