package scenario

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/yamldoc"
)

// Matchers: a mapping whose keys all start with "$" tests a value instead of equalling it.
var matcherKeys = []string{"$exists", "$regex", "$type", "$len", "$contains", "$ne"}

var jsonTypes = []string{"string", "number", "integer", "boolean", "object", "array", "null"}

type nodeErr struct {
	line int
	msg  string
}

// isMatcher reports whether n is a matcher mapping.
func isMatcher(n *yamldoc.Node) bool {
	if n == nil || n.Kind != yamldoc.MappingNode || len(n.Content) == 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		if !strings.HasPrefix(n.Content[i].Value, "$") {
			return false
		}
	}
	return true
}

// walkMatchers checks every matcher under n: known keys, values of the right kind.
func walkMatchers(n *yamldoc.Node) *nodeErr {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yamldoc.MappingNode:
		dollar := 0
		for i := 0; i+1 < len(n.Content); i += 2 {
			if strings.HasPrefix(n.Content[i].Value, "$") {
				dollar++
			}
		}
		if dollar > 0 && dollar*2 != len(n.Content) {
			return &nodeErr{n.Line, "a matcher's keys all start with $ (mix of $keys and plain keys)"}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if dollar == 0 {
				if err := walkMatchers(v); err != nil {
					return err
				}
				continue
			}
			if !slices.Contains(matcherKeys, k.Value) {
				return &nodeErr{k.Line, fmt.Sprintf("unknown matcher %q (one of %s)", k.Value, strings.Join(matcherKeys, ", "))}
			}
			switch k.Value {
			case "$exists":
				if v.ShortTag() != "!!bool" {
					return &nodeErr{v.Line, "$exists takes true or false"}
				}
			case "$regex":
				if v.Kind != yamldoc.ScalarNode {
					return &nodeErr{v.Line, "$regex takes a regular expression"}
				}
				if !strings.Contains(v.Value, "${") {
					if _, err := regexp.Compile(v.Value); err != nil {
						return &nodeErr{v.Line, fmt.Sprintf("$regex: %v", err)}
					}
				}
			case "$type":
				if !slices.Contains(jsonTypes, v.Value) {
					return &nodeErr{v.Line, fmt.Sprintf("$type is one of %s", strings.Join(jsonTypes, ", "))}
				}
			case "$len":
				if v.ShortTag() != "!!int" {
					return &nodeErr{v.Line, "$len takes an integer"}
				}
			}
		}
	case yamldoc.SequenceNode:
		for _, c := range n.Content {
			if err := walkMatchers(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// check returns the expectations r fails, one readable line (or block) each.
func (v Vars) check(e *Expect, r *response) []string {
	if e == nil {
		return nil
	}
	var problems []string
	if e.Status != 0 && e.Status != r.status {
		problems = append(problems, fmt.Sprintf("status: want %d, got %d", e.Status, r.status))
	}
	if e.Errcode != nil {
		got := gjson.GetBytes(r.body, "errcode")
		switch {
		case !got.Exists() && *e.Errcode == 0:
		case !got.Exists():
			problems = append(problems, fmt.Sprintf("errcode: want %d, got no errcode", *e.Errcode))
		case got.Type != gjson.Number || got.Int() != int64(*e.Errcode):
			msg := gjson.GetBytes(r.body, "errmsg").String()
			problems = append(problems, fmt.Sprintf("errcode: want %d, got %s (%s)", *e.Errcode, got.Raw, msg))
		}
	}
	for _, path := range sortedKeys(e.JSON) {
		node := e.JSON[path]
		if !json.Valid(r.body) {
			problems = append(problems, fmt.Sprintf("json %s: the body is not JSON", path))
			continue
		}
		got := gjson.GetBytes(r.body, path)
		var actual any
		if got.Exists() {
			actual = decodeJSON([]byte(got.Raw))
		}
		for _, p := range v.match(&node, actual, got.Exists()) {
			problems = append(problems, "json "+path+p)
		}
	}
	for _, name := range sortedKeys(e.Headers) {
		node := e.Headers[name]
		vals, ok := r.header[http.CanonicalHeaderKey(name)]
		var actual any
		if ok {
			actual = strings.Join(vals, ", ")
		}
		for _, p := range v.match(&node, actual, ok) {
			problems = append(problems, "header "+name+p)
		}
	}
	if e.Body != nil {
		want, err := v.Expand(*e.Body)
		switch {
		case err != nil:
			problems = append(problems, "body: "+err.Error())
		case want != string(r.body):
			problems = append(problems, fmt.Sprintf("body:\n    want %s\n    got  %s", clip(want), clip(string(r.body))))
		}
	}
	return problems
}

// match compares one actual value with an expected node; each problem starts with ": " or a
// sub-path.
func (v Vars) match(n *yamldoc.Node, actual any, exists bool) []string {
	if isMatcher(n) {
		var problems []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			if p := v.matchOne(n.Content[i].Value, n.Content[i+1], actual, exists); p != "" {
				problems = append(problems, ": "+p)
			}
		}
		return problems
	}
	if !exists {
		want, _ := v.expandJSON(n)
		return []string{fmt.Sprintf(": want %s, got nothing (no such field)", clip(string(want)))}
	}
	if n.Kind == yamldoc.MappingNode {
		obj, ok := actual.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf(": want an object, got %s", clip(encodeJSON(actual)))}
		}
		var problems []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, err := v.Expand(n.Content[i].Value)
			if err != nil {
				problems = append(problems, "."+n.Content[i].Value+": "+err.Error())
				continue
			}
			sub, ok := obj[key]
			for _, p := range v.match(n.Content[i+1], sub, ok) {
				problems = append(problems, "."+key+p)
			}
		}
		return problems
	}
	if n.Kind == yamldoc.SequenceNode {
		arr, ok := actual.([]any)
		if !ok {
			return []string{fmt.Sprintf(": want an array, got %s", clip(encodeJSON(actual)))}
		}
		if len(arr) != len(n.Content) {
			want, _ := v.expandJSON(n)
			return []string{fmt.Sprintf(": want %d elements, got %d\n    want %s\n    got  %s", len(n.Content), len(arr), clip(string(want)), clip(encodeJSON(actual)))}
		}
		var problems []string
		for i, c := range n.Content {
			for _, p := range v.match(c, arr[i], true) {
				problems = append(problems, "."+strconv.Itoa(i)+p)
			}
		}
		return problems
	}
	want, err := v.expandJSON(n)
	if err != nil {
		return []string{": " + err.Error()}
	}
	if !equalJSON(decodeJSON(want), actual) {
		return []string{fmt.Sprintf(": want %s, got %s", clip(string(want)), clip(encodeJSON(actual)))}
	}
	return nil
}

func (v Vars) matchOne(op string, arg *yamldoc.Node, actual any, exists bool) string {
	if op == "$exists" {
		want := arg.Value == "true"
		if want != exists {
			if want {
				return "want the field to exist, it does not"
			}
			return fmt.Sprintf("want no such field, got %s", clip(encodeJSON(actual)))
		}
		return ""
	}
	if !exists {
		return fmt.Sprintf("want %s %s, got nothing (no such field)", op, clip(arg.Value))
	}
	switch op {
	case "$regex":
		pattern, err := v.Expand(arg.Value)
		if err != nil {
			return err.Error()
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return "$regex: " + err.Error()
		}
		s, ok := actual.(string)
		if !ok {
			s = encodeJSON(actual)
		}
		if !re.MatchString(s) {
			return fmt.Sprintf("want a match of /%s/, got %s", pattern, clip(encodeJSON(actual)))
		}
	case "$type":
		if got := jsonType(actual); got != arg.Value && (arg.Value != "number" || got != "integer") {
			return fmt.Sprintf("want a %s, got %s %s", arg.Value, got, clip(encodeJSON(actual)))
		}
	case "$len":
		want, _ := strconv.Atoi(arg.Value)
		got := -1
		switch a := actual.(type) {
		case []any:
			got = len(a)
		case map[string]any:
			got = len(a)
		case string:
			got = utf8.RuneCountInString(a)
		}
		if got != want {
			return fmt.Sprintf("want length %d, got %d (%s)", want, got, clip(encodeJSON(actual)))
		}
	case "$contains":
		raw, err := v.expandJSON(arg)
		if err != nil {
			return err.Error()
		}
		want := decodeJSON(raw)
		switch a := actual.(type) {
		case string:
			if ws, ok := want.(string); !ok || !strings.Contains(a, ws) {
				return fmt.Sprintf("want a string containing %s, got %s", clip(string(raw)), clip(encodeJSON(actual)))
			}
		case []any:
			if !slices.ContainsFunc(a, func(e any) bool { return equalJSON(e, want) }) {
				return fmt.Sprintf("want an array containing %s, got %s", clip(string(raw)), clip(encodeJSON(actual)))
			}
		default:
			return fmt.Sprintf("$contains applies to strings and arrays, got %s", clip(encodeJSON(actual)))
		}
	case "$ne":
		raw, err := v.expandJSON(arg)
		if err != nil {
			return err.Error()
		}
		if equalJSON(decodeJSON(raw), actual) {
			return fmt.Sprintf("want anything but %s", clip(string(raw)))
		}
	}
	return ""
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

// decodeJSON decodes b keeping numbers exact; invalid JSON decodes as its text.
func decodeJSON(b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(b)
	}
	return v
}

// encodeJSON shows a value in a message as the platforms would send it.
func encodeJSON(v any) string {
	b, err := jsonenc.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// equalJSON compares decoded JSON values; numbers compare by value (1 == 1.0).
func equalJSON(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		fx, err1 := x.Float64()
		fy, err2 := y.Float64()
		return err1 == nil && err2 == nil && fx == fy
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equalJSON(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// clip shortens long values in messages.
func clip(s string) string { return clipN(s, 400) }

// clipN shortens s to at most n bytes, on a character boundary.
func clipN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
