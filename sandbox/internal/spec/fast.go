package spec

import (
	"context"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// Fast acceptance of valid requests.
//
// kin-openapi validates a request by decoding it into generic values and walking the schema
// over them, which allocates for every parameter and every field of every request. Most requests
// are valid, and proving one valid needs none of that: each operation's parameters and JSON body
// schema are compiled, once, into a checker that reads the raw query values and body bytes. It
// answers "valid" only when it is sure; anything else — an invalid request, an escape in a
// string, a schema keyword it does not know — goes to kin-openapi, which decides and explains.
// So no answer differs from kin-openapi's; valid requests are only cheaper to accept.

// fastChecker accepts the requests of one operation that it can prove valid.
type fastChecker struct {
	// schemes are the security schemes of which one must pass, in the document's order.
	schemes []string
	params  []fastParam
	// body is the JSON body's schema; nil when the operation takes no JSON body. hasBody tells
	// that the operation declares a request body at all.
	body         *fastNode
	hasBody      bool
	bodyRequired bool
}

// fastParam is one parameter to check.
type fastParam struct {
	name     string
	in       string // query, path or header
	required bool
	node     *fastNode
}

// JSON types a fastNode admits.
const (
	fastString = iota + 1
	fastInteger
	fastNumber
	fastBoolean
	fastObject
	fastArray
)

// fastNode is a schema of the subset the checker knows.
type fastNode struct {
	typ      int // 0: any value
	nullable bool

	strEnum []string
	numEnum []float64
	hasEnum bool

	pattern        *regexp.Regexp
	minLen, maxLen int // maxLen < 0: none

	min, max       float64
	hasMin, hasMax bool
	intMin, intMax int64 // the range of an integer format

	props    map[string]int // property name → index in propNode
	propNode []*fastNode
	required []int // indices of the required properties
	closed   bool  // additionalProperties: false
	extra    *fastNode

	items              *fastNode
	minItems, maxItems int // maxItems < 0: none
}

// fastKeywords are the schema keywords the checker understands (or may ignore: annotations).
var fastKeywords = map[string]bool{
	"type": true, "nullable": true, "enum": true, "pattern": true, "minLength": true, "maxLength": true,
	"minimum": true, "maximum": true, "format": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true, "minItems": true, "maxItems": true,
	"title": true, "description": true, "default": true, "example": true, "deprecated": true,
	"writeOnly": true, "externalDocs": true,
}

// compileFast builds the checker of an operation; nil when the operation has something the
// checker does not know, so that every request goes to kin-openapi.
func compileFast(doc *openapi3.T, item *openapi3.PathItem, o *openapi3.Operation) *fastChecker {
	if doc.IsOpenAPI31OrLater() {
		return nil
	}
	fc := &fastChecker{}
	sec := o.Security
	if sec == nil {
		sec = &doc.Security
	}
	for _, req := range *sec {
		if len(req) != 1 {
			return nil // a requirement of several schemes at once
		}
		for name := range req {
			fc.schemes = append(fc.schemes, name)
		}
	}
	params := openapi3.Parameters{}
	for _, p := range item.Parameters {
		if o.Parameters.GetByInAndName(p.Value.In, p.Value.Name) == nil {
			params = append(params, p)
		}
	}
	params = append(params, o.Parameters...)
	for _, ref := range params {
		p := ref.Value
		if p == nil || p.Content != nil || p.AllowEmptyValue || p.Style != "" || p.Explode != nil {
			return nil
		}
		if p.In != openapi3.ParameterInQuery && p.In != openapi3.ParameterInPath && p.In != openapi3.ParameterInHeader {
			return nil
		}
		fp := fastParam{name: p.Name, in: p.In, required: p.Required}
		if p.Schema != nil {
			n := compileNode(p.Schema.Value, 0)
			if n == nil || n.typ == 0 || n.typ == fastObject || n.typ == fastArray || n.nullable {
				return nil
			}
			fp.node = n
		}
		fc.params = append(fc.params, fp)
	}
	if rb := o.RequestBody; rb != nil {
		if rb.Value == nil {
			return nil
		}
		fc.hasBody, fc.bodyRequired = true, rb.Value.Required
		mt := rb.Value.Content.Get("application/json")
		if mt == nil || len(rb.Value.Content) != 1 || mt.Schema == nil {
			return nil // a multipart body, or more than one media type
		}
		if fc.body = compileNode(mt.Schema.Value, 0); fc.body == nil {
			return nil
		}
	}
	return fc
}

// compileNode compiles s, or returns nil when s uses a keyword the checker does not know.
func compileNode(s *openapi3.Schema, depth int) *fastNode {
	if s == nil || depth > 32 || s.ReadOnly || s.ExclusiveMin.IsSet() || s.ExclusiveMax.IsSet() {
		return nil
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil
	}
	var keys map[string]json.RawMessage
	if json.Unmarshal(raw, &keys) != nil {
		return nil
	}
	for k := range keys {
		if !fastKeywords[k] && !strings.HasPrefix(k, "x-") {
			return nil
		}
	}
	n := &fastNode{nullable: s.Nullable, minLen: int(s.MinLength), maxLen: -1, maxItems: -1, minItems: int(s.MinItems)}
	if s.MaxLength != nil {
		n.maxLen = int(*s.MaxLength)
	}
	if s.MaxItems != nil {
		n.maxItems = int(*s.MaxItems)
	}
	if s.Min != nil {
		n.min, n.hasMin = *s.Min, true
	}
	if s.Max != nil {
		n.max, n.hasMax = *s.Max, true
	}
	if s.Type != nil {
		if len(*s.Type) != 1 {
			return nil
		}
		n.typ = map[string]int{
			"string": fastString, "integer": fastInteger, "number": fastNumber, "boolean": fastBoolean,
			"object": fastObject, "array": fastArray,
		}[(*s.Type)[0]]
		if n.typ == 0 {
			return nil
		}
	}
	switch {
	case s.Format == "":
	case n.typ == fastInteger && s.Format == "int32":
		n.intMin, n.intMax = math.MinInt32, math.MaxInt32
	case n.typ == fastInteger && s.Format == "int64":
	default:
		return nil // a format kin-openapi may check
	}
	if n.typ == fastInteger && n.intMin == 0 && n.intMax == 0 {
		n.intMin, n.intMax = math.MinInt64, math.MaxInt64
	}
	if s.Pattern != "" {
		if n.typ != fastString {
			return nil
		}
		if n.pattern, err = regexp.Compile(intoGoRegexpCopy(s.Pattern)); err != nil {
			return nil
		}
	}
	if len(s.Enum) > 0 && !n.compileEnum(s.Enum) {
		return nil
	}
	if n.typ == 0 && (n.hasEnum || n.pattern != nil || n.hasMin || n.hasMax || n.minLen > 0 || n.maxLen >= 0 ||
		len(s.Properties) > 0 || len(s.Required) > 0 || s.Items != nil) {
		return nil // keywords without a type apply to some types only
	}
	if n.typ == fastObject || n.typ == 0 && s.AdditionalProperties.Has != nil {
		n.props = map[string]int{}
		names := mapsKeys(s.Properties)
		slices.Sort(names)
		for _, name := range names {
			ref := s.Properties[name]
			if ref == nil {
				return nil
			}
			child := compileNode(ref.Value, depth+1)
			if child == nil {
				return nil
			}
			n.props[name] = len(n.propNode)
			n.propNode = append(n.propNode, child)
		}
		for _, name := range s.Required {
			i, ok := n.props[name]
			if !ok {
				return nil // required but undeclared: left to kin-openapi
			}
			n.required = append(n.required, i)
		}
		ap := s.AdditionalProperties
		switch {
		case ap.Has != nil && !*ap.Has:
			n.closed = true
		case ap.Schema != nil:
			if n.extra = compileNode(ap.Schema.Value, depth+1); n.extra == nil {
				return nil
			}
		}
	}
	if n.typ == fastArray {
		if s.Items == nil {
			return nil
		}
		if n.items = compileNode(s.Items.Value, depth+1); n.items == nil {
			return nil
		}
	}
	return n
}

func mapsKeys(m openapi3.Schemas) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// intoGoRegexpCopy turns a pattern into Go's syntax exactly as kin-openapi does (\uXXXX into
// \x{XXXX}), so that both match the same strings.
func intoGoRegexpCopy(re string) string {
	return patRewriteCodepoints.ReplaceAllString(re, `\x{${code}}`)
}

var patRewriteCodepoints = regexp.MustCompile(`(?P<replaced_with_slash_x>\\u)(?P<code>[0-9A-F]{4})`)

// compileEnum keeps an enum of strings, or of numbers, for the node's type.
func (n *fastNode) compileEnum(values []any) bool {
	n.hasEnum = true
	for _, v := range values {
		switch x := v.(type) {
		case string:
			if n.typ != fastString {
				return false
			}
			n.strEnum = append(n.strEnum, x)
		case float64:
			if n.typ != fastInteger && n.typ != fastNumber {
				return false
			}
			n.numEnum = append(n.numEnum, x)
		case int:
			if n.typ != fastInteger && n.typ != fastNumber {
				return false
			}
			n.numEnum = append(n.numEnum, float64(x))
		default:
			return false
		}
	}
	return true
}

// accepts reports whether it can prove r valid: one security scheme passes, every parameter and
// the body fit their schemas. False means only "not sure": kin-openapi decides.
func (fc *fastChecker) accepts(ctx context.Context, r Request) bool {
	if len(fc.schemes) > 0 && r.Auth != nil {
		passed := false
		for _, scheme := range fc.schemes {
			if r.Auth.Authenticate(ctx, scheme) == nil {
				passed = true
				break
			}
		}
		if !passed {
			return false
		}
	}
	for i := range fc.params {
		if !fc.params[i].accepts(r) {
			return false
		}
	}
	if !fc.hasBody {
		return true
	}
	body := trimSpace(r.Body)
	if len(body) == 0 {
		return !fc.bodyRequired
	}
	if containsFold(r.HTTP.Header.Get("Content-Type"), "charset") {
		return false // a charset the full check looks at
	}
	p := fastParser{b: body}
	if !p.value(fc.body) {
		return false
	}
	p.space()
	return p.i == len(p.b)
}

// containsFold reports whether s contains the lower-case ASCII word, in any case.
func containsFold(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(word)], word) {
			return true
		}
	}
	return false
}

// accepts reports whether the parameter is present when required and fits its schema.
func (fp *fastParam) accepts(r Request) bool {
	var value string
	found := false
	switch fp.in {
	case openapi3.ParameterInQuery:
		var n int
		value, n = QueryValue(r.HTTP.URL.RawQuery, fp.name)
		if found = n > 0; found && n != 1 {
			return false
		}
	case openapi3.ParameterInPath:
		value, found = r.PathParams[fp.name]
	case openapi3.ParameterInHeader:
		values := r.HTTP.Header.Values(fp.name)
		if found = len(values) > 0; found {
			if len(values) != 1 {
				return false
			}
			value = values[0]
		}
	}
	if !found {
		return !fp.required
	}
	if value == "" {
		return false // an empty value: kin-openapi's rules for it are its own
	}
	if fp.node == nil {
		return true
	}
	n := fp.node
	switch n.typ {
	case fastString:
		return n.acceptsString(value)
	case fastInteger, fastNumber:
		if !canonicalInteger(value) && n.typ == fastInteger {
			return false
		}
		if n.typ == fastNumber && !canonicalInteger(value) {
			return false // decimals in a query: left to kin-openapi's parsing
		}
		return n.acceptsNumber(value, false)
	case fastBoolean:
		return value == "true" || value == "false"
	}
	return false
}

// canonicalInteger reports whether s is an integer written the one way: an optional minus, then
// 0 or digits without a leading zero.
func canonicalInteger(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if s == "" || s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// acceptsString checks a string value (unescaped) against a string node.
func (n *fastNode) acceptsString(s string) bool {
	if n.minLen > 0 || n.maxLen >= 0 {
		l := utf8.RuneCountInString(s)
		if l < n.minLen || n.maxLen >= 0 && l > n.maxLen {
			return false
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		return false
	}
	if n.hasEnum && !slices.Contains(n.strEnum, s) {
		return false
	}
	return true
}

// acceptsBytes is acceptsString for a string read from a body, without copying it.
func (n *fastNode) acceptsBytes(b []byte) bool {
	if n.minLen > 0 || n.maxLen >= 0 {
		l := utf8.RuneCount(b)
		if l < n.minLen || n.maxLen >= 0 && l > n.maxLen {
			return false
		}
	}
	if n.pattern != nil && !n.pattern.Match(b) {
		return false
	}
	if n.hasEnum && !slices.ContainsFunc(n.strEnum, func(e string) bool { return e == string(b) }) {
		return false
	}
	return true
}

// acceptsNumber checks a number, given as its text (a query value), against a numeric node;
// fraction tells whether the text has a fraction or an exponent.
func (n *fastNode) acceptsNumber(text string, fraction bool) bool {
	return n.acceptsNumberBytes([]byte(text), fraction)
}

// acceptsNumberBytes is acceptsNumber for a number read from a body.
func (n *fastNode) acceptsNumberBytes(text []byte, fraction bool) bool {
	var f float64
	if !fraction {
		i, ok := smallInteger(text)
		if !ok || n.typ == fastInteger && (i < n.intMin || i > n.intMax) {
			return false
		}
		f = float64(i)
	} else {
		if n.typ == fastInteger {
			return false // 1.0 may be an integer to kin-openapi: let it say
		}
		var err error
		if f, err = strconv.ParseFloat(string(text), 64); err != nil {
			return false
		}
	}
	if n.hasMin && f < n.min || n.hasMax && f > n.max {
		return false
	}
	if n.hasEnum && !slices.Contains(n.numEnum, f) {
		return false
	}
	return true
}

// smallInteger parses an integer of JSON's grammar that a float64 holds exactly (|i| ≤ 2^53),
// as kin-openapi, which decodes numbers as float64, sees it.
func smallInteger(text []byte) (int64, bool) {
	neg := len(text) > 0 && text[0] == '-'
	if neg {
		text = text[1:]
	}
	if len(text) == 0 || len(text) > 16 {
		return 0, false
	}
	var i int64
	for _, c := range text {
		if c < '0' || c > '9' {
			return 0, false
		}
		i = i*10 + int64(c-'0')
	}
	if i > 1<<53 {
		return 0, false
	}
	if neg {
		i = -i
	}
	return i, true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// fastParser reads one JSON value from b at i, checking it against a node as it goes. Every
// method returns false at the first byte it cannot vouch for.
type fastParser struct {
	b []byte
	i int
}

func (p *fastParser) space() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

// value reads a value that n (nil: any value) must admit.
func (p *fastParser) value(n *fastNode) bool {
	p.space()
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, ok := p.str()
		if !ok {
			return false
		}
		return n == nil || n.typ == 0 && !n.hasEnum || n.typ == fastString && n.acceptsBytes(s)
	case c == '{':
		return p.object(n)
	case c == '[':
		return p.array(n)
	case c == 't' || c == 'f':
		word := "true"
		if c == 'f' {
			word = "false"
		}
		if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
			return false
		}
		p.i += len(word)
		return n == nil || n.typ == 0 || n.typ == fastBoolean
	case c == 'n':
		if len(p.b)-p.i < 4 || string(p.b[p.i:p.i+4]) != "null" {
			return false
		}
		p.i += 4
		// A null is accepted only where the schema says nullable: the full check refuses the
		// others (see checkNulls), whatever kin-openapi would let through.
		return n == nil || n.nullable
	case c == '-' || c >= '0' && c <= '9':
		text, fraction, ok := p.number()
		if !ok {
			return false
		}
		if n == nil || n.typ == 0 {
			return true
		}
		return (n.typ == fastInteger || n.typ == fastNumber) && n.acceptsNumberBytes(text, fraction)
	}
	return false
}

// str reads a string without escapes (an escape is left to the full check) of valid UTF-8 and no
// control characters, and returns its bytes, unquoted.
func (p *fastParser) str() ([]byte, bool) {
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			raw := p.b[start:j]
			return raw, utf8.Valid(raw)
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// number reads a JSON number and returns its text and whether it has a fraction or exponent.
func (p *fastParser) number() ([]byte, bool, bool) {
	start, j := p.i, p.i
	if j < len(p.b) && p.b[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
			j++
		}
		return j - k
	}
	if j >= len(p.b) {
		return nil, false, false
	}
	if p.b[j] == '0' {
		j++
	} else if digits() == 0 {
		return nil, false, false
	}
	fraction := false
	if j < len(p.b) && p.b[j] == '.' {
		j++
		fraction = true
		if digits() == 0 {
			return nil, false, false
		}
	}
	if j < len(p.b) && (p.b[j] == 'e' || p.b[j] == 'E') {
		j++
		fraction = true
		if j < len(p.b) && (p.b[j] == '+' || p.b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return nil, false, false
		}
	}
	p.i = j
	return p.b[start:j], fraction, true
}

// object reads an object that n must admit: each declared property fits its schema, the
// required ones are there, and others are admitted as additionalProperties says.
func (p *fastParser) object(n *fastNode) bool {
	if n != nil && n.typ != fastObject && n.typ != 0 {
		return false
	}
	p.i++ // {
	var seen uint64
	if n != nil && len(n.propNode) > 64 {
		return false
	}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return n == nil || len(n.required) == 0
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return false
		}
		name, ok := p.str()
		if !ok {
			return false
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		var child *fastNode
		if n != nil && n.props != nil {
			if idx, declared := n.props[string(name)]; declared {
				child = n.propNode[idx]
				seen |= 1 << idx
			} else if n.closed {
				return false
			} else {
				child = n.extra
			}
		}
		if !p.value(child) {
			return false
		}
		p.space()
		if p.i >= len(p.b) {
			return false
		}
		if p.b[p.i] == ',' {
			p.i++
			continue
		}
		if p.b[p.i] != '}' {
			return false
		}
		p.i++
		break
	}
	if n != nil {
		for _, idx := range n.required {
			if seen&(1<<idx) == 0 {
				return false
			}
		}
	}
	return true
}

// array reads an array whose items n.items must admit, of a length n allows.
func (p *fastParser) array(n *fastNode) bool {
	if n != nil && n.typ != fastArray && n.typ != 0 {
		return false
	}
	var items *fastNode
	if n != nil {
		items = n.items
	}
	p.i++ // [
	count := 0
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
	} else {
		for {
			if !p.value(items) {
				return false
			}
			count++
			p.space()
			if p.i >= len(p.b) {
				return false
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] != ']' {
				return false
			}
			p.i++
			break
		}
	}
	if n != nil && (count < n.minItems || n.maxItems >= 0 && count > n.maxItems) {
		return false
	}
	return true
}
