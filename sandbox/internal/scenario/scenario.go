// Package scenario reads, runs and records citysandbox scenarios: YAML files that pin a seed and
// a clock, set up state, then run steps — HTTP requests to any emulated API or to the control
// plane, with expectations and captures, and clock moves — against a sandbox reached over HTTP.
// It also keeps the per-operation contract report (GET /_sandbox/contract).
//
// A scenario replays byte for byte: the runner resets the sandbox with the scenario's seed and
// freezes its clock at the scenario's time, so the same steps give the same responses; after each
// step it takes the hash of the stored state, and Compare names the first step at which two runs
// differ. The format is documented in scenarios/README.md and scenarios/scenario.schema.json.
//
// Decoding is strict: an unknown key, a malformed ${...} expression, a variable used before any
// step captures it, or an unknown matcher is an error that names the file and line.
package scenario

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/yamldoc"
)

// DefaultClock is where a scenario's clock starts when it names none: 2026-03-02 10:00 Beijing
// time, as in sandboxtest.
var DefaultClock = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

// Scenario is one parsed scenario file.
type Scenario struct {
	// Name says what the scenario shows; the file name when empty.
	Name        string `yaml:"name,omitempty"`
	Description string `yaml:"description,omitempty"`
	// Seed seeds the sandbox's random values. Nil means 1.
	Seed *uint64 `yaml:"seed,omitempty"`
	// Clock is the RFC 3339 time the sandbox clock is frozen at before the first step. Empty
	// means DefaultClock.
	Clock string `yaml:"clock,omitempty"`
	// Vars are variables available to every step as ${name}.
	Vars map[string]string `yaml:"vars,omitempty"`
	// Receivers are push receivers the runner hosts on loopback for the run; the sandbox reaches
	// each at http://<name>.receiver.invalid/ (any path), a host the runner maps to the receiver's
	// port (PUT /_sandbox/hosts/{host}) so that no port enters the state.
	Receivers []Receiver `yaml:"receivers,omitempty"`
	// Setup runs before Steps; it is reported apart so that a failure there reads as "the
	// scenario could not start" rather than as a failed expectation.
	Setup []Step `yaml:"setup,omitempty"`
	Steps []Step `yaml:"steps"`

	file string
}

// File returns the name the scenario was parsed from.
func (s *Scenario) File() string { return s.file }

// SeedValue returns the seed, with its default.
func (s *Scenario) SeedValue() uint64 {
	if s.Seed == nil {
		return 1
	}
	return *s.Seed
}

// ClockValue returns the start time, with its default.
func (s *Scenario) ClockValue() time.Time {
	if s.Clock == "" {
		return DefaultClock
	}
	t, _ := time.Parse(time.RFC3339, s.Clock) // checked by Parse
	return t
}

// Receiver is a push receiver the runner hosts: an integrator's server as an account's push
// configuration describes it. It answers WeChat's URL handshake, checks every push's signature
// (and msg_signature when encrypted), decrypts compatible- and safe-mode pushes, and keeps the
// decrypted events for the steps' expectations.
type Receiver struct {
	// Name is the receiver's host label: a lower-case letter, then letters, digits or '-' (at
	// most 32).
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	// EncodingAESKey decrypts compatible- and safe-mode pushes (43 letters and digits).
	EncodingAESKey string `yaml:"encoding_aes_key,omitempty"`
	// Format is json (the default) or xml; Mode is plaintext (the default), compatible or safe.
	Format string `yaml:"format,omitempty"`
	Mode   string `yaml:"mode,omitempty"`
	// AppID, when set, is the appid the encrypted trailer must carry; it may hold ${...}, read
	// when a push arrives.
	AppID string `yaml:"appid,omitempty"`
	// Answer is what the receiver answers a verified push; default "success".
	Answer string `yaml:"answer,omitempty"`
}

// Host is the logical host the sandbox posts to for this receiver.
func (r Receiver) Host() string { return r.Name + ReceiverDomain }

// ReceiverDomain ends every receiver's host name (the reserved TLD .invalid never resolves).
const ReceiverDomain = ".receiver.invalid"

// Step is one action. Exactly one of Request, Advance and Set is given.
type Step struct {
	Name string `yaml:"name,omitempty"`
	// Request sends an HTTP request to the sandbox: an emulated API or a /_sandbox/ verb.
	Request *Request `yaml:"request,omitempty"`
	// Advance moves the sandbox clock forward by a Go duration ("90s", "2h").
	Advance string `yaml:"advance,omitempty"`
	// Set moves the sandbox clock to an RFC 3339 time.
	Set string `yaml:"set,omitempty"`
	// Repeat sends the request this many times (0 and 1 both mean once); the expectations hold
	// for every answer and captures read the last one.
	Repeat int `yaml:"repeat,omitempty"`
	// Expect checks the answer.
	Expect *Expect `yaml:"expect,omitempty"`
	// Capture stores parts of the answer into variables for later steps.
	Capture map[string]Capture `yaml:"capture,omitempty"`

	line int
	node *yamldoc.Node
}

// Line returns the line of the step in its file.
func (s *Step) Line() int { return s.line }

// Request is an HTTP request. Every string may hold ${name} expressions.
type Request struct {
	Method string `yaml:"method"`
	// Path starts with "/" and is relative to the sandbox's base URL.
	Path    string            `yaml:"path"`
	Query   map[string]string `yaml:"query,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty"`
	// JSON is a body written as YAML and sent as JSON (key order kept), with Content-Type
	// application/json unless Headers say otherwise.
	JSON yamldoc.Node `yaml:"json,omitempty"`
	// Body is a raw body, sent as is.
	Body *string `yaml:"body,omitempty"`
	// Sign adds a platform's request signature, computed at the sandbox's time.
	Sign *Signing `yaml:"sign,omitempty"`
}

// Signing says how to sign a request: for scheme "jincheng", the X-JLB-* headers of the
// Jincheng open platform's gateway (HMAC-SHA256 with the app's secret, the sandbox clock's Unix
// milliseconds, and a nonce unique within the run).
type Signing struct {
	Scheme    string `yaml:"scheme"`
	AppCode   string `yaml:"app_code"`
	AppSecret string `yaml:"app_secret"`
}

// Expect lists what the answer must be. Absent fields are not checked.
type Expect struct {
	Status int `yaml:"status,omitempty"`
	// Errcode is the body's errcode; 0 also accepts a body without one (WeChat's token answers).
	Errcode *int `yaml:"errcode,omitempty"`
	// JSON maps a path into the JSON body (gjson syntax: "quota.used", "requests.0.errcode",
	// "apps.#") to a value or a matcher ({$regex: ...}, {$exists: false}, {$type: string},
	// {$len: 3}, {$contains: ...}).
	JSON map[string]yamldoc.Node `yaml:"json,omitempty"`
	// Headers maps a header name to a value or a matcher.
	Headers map[string]yamldoc.Node `yaml:"headers,omitempty"`
	// Body is the exact body.
	Body *string `yaml:"body,omitempty"`
	// Digest is "sha256:<hex>" of the body (of every body, in order, for a repeated request).
	Digest string `yaml:"digest,omitempty"`
	// StateHash is the hash of the sandbox's stored state after the step.
	StateHash string `yaml:"state_hash,omitempty"`
	// Pushes are the pushes the step must cause, in the order they arrive: each names a
	// receiver and matches the decrypted event like a JSON body (XML elements become fields:
	// text in CDATA a string, bare digits a number). An empty list means the step must cause no
	// push; absent, pushes are not checked.
	Pushes *[]PushExpect `yaml:"pushes,omitempty"`
}

// PushExpect is one push a step must cause.
type PushExpect struct {
	Receiver string                  `yaml:"receiver"`
	JSON     map[string]yamldoc.Node `yaml:"json,omitempty"`
}

// Capture says where a variable's value comes from: a JSON path, or a header, optionally
// narrowed by a regular expression whose first group (or whole match) is kept. In YAML a plain
// string is a JSON path.
type Capture struct {
	Path   string `yaml:"path,omitempty"`
	Header string `yaml:"header,omitempty"`
	Regex  string `yaml:"regex,omitempty"`

	re *regexp.Regexp
}

// UnmarshalYAML implements yaml.Unmarshaler: a string, or a mapping of path/header/regex.
func (c *Capture) UnmarshalYAML(n *yamldoc.Node) error {
	if n.Kind == yamldoc.ScalarNode {
		c.Path = n.Value
		return nil
	}
	if n.Kind != yamldoc.MappingNode {
		return fmt.Errorf("line %d: a capture is a JSON path or a mapping of path, header and regex", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yamldoc.ScalarNode {
			return fmt.Errorf("line %d: capture %s must be a string", v.Line, k.Value)
		}
		switch k.Value {
		case "path":
			c.Path = v.Value
		case "header":
			c.Header = v.Value
		case "regex":
			c.Regex = v.Value
		default:
			return fmt.Errorf("line %d: unknown key %q in a capture (path, header, regex)", k.Line, k.Value)
		}
	}
	return nil
}

// MarshalYAML implements yaml.Marshaler: a bare path when that is all there is.
func (c Capture) MarshalYAML() (any, error) {
	if c.Header == "" && c.Regex == "" {
		return c.Path, nil
	}
	return struct {
		Path   string `yaml:"path,omitempty"`
		Header string `yaml:"header,omitempty"`
		Regex  string `yaml:"regex,omitempty"`
	}{c.Path, c.Header, c.Regex}, nil
}

// Error is a problem in a scenario file, at a line.
type Error struct {
	File string
	Line int
	Msg  string
}

// Error returns "file:line: message".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Parse decodes and checks a scenario. name is used in errors ("scenarios/tokens.yaml").
func Parse(name string, data []byte) (*Scenario, error) {
	sc := &Scenario{file: name}
	if err := yamldoc.Decode(name, data, sc); err != nil {
		return nil, err
	}
	root, err := yamldoc.Parse(name, data)
	if err != nil {
		return nil, err
	}
	if root.Kind == yamldoc.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(name[strings.LastIndex(name, "/")+1:], ".yaml")
	}
	fail := func(line int, format string, args ...any) error {
		return &Error{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if sc.Clock != "" {
		if _, err := time.Parse(time.RFC3339, sc.Clock); err != nil {
			return nil, fail(lineOf(root, "clock"), "clock %q is not an RFC 3339 time such as 2026-03-02T10:00:00+08:00", sc.Clock)
		}
	}
	if len(sc.Steps) == 0 {
		return nil, fail(lineOf(root, "steps"), "a scenario needs at least one step")
	}
	// Every string under vars, setup and steps must hold well-formed expressions.
	for _, key := range []string{"vars", "setup", "steps"} {
		if n := child(root, key); n != nil {
			if err := walkScalars(n, func(s *yamldoc.Node) error {
				if _, err := parseTemplate(s.Value); err != nil {
					return fail(s.Line, "%v", err)
				}
				return nil
			}); err != nil {
				return nil, err
			}
		}
	}
	receivers, err := checkReceivers(name, sc.Receivers, child(root, "receivers"))
	if err != nil {
		return nil, err
	}
	defined := map[string]bool{}
	for k := range sc.Vars {
		if !varName.MatchString(k) {
			return nil, fail(lineOf(child(root, "vars"), k), "variable name %q must be letters, digits and _", k)
		}
		defined[k] = true
	}
	for _, sec := range []struct {
		key   string
		steps []Step
	}{{"setup", sc.Setup}, {"steps", sc.Steps}} {
		seq := child(root, sec.key)
		for i := range sec.steps {
			st := &sec.steps[i]
			if seq != nil && i < len(seq.Content) {
				st.node, st.line = seq.Content[i], seq.Content[i].Line
			}
			if err := checkStep(name, st, defined, receivers); err != nil {
				return nil, err
			}
		}
	}
	return sc, nil
}

// checkStep checks one step and adds its captures to defined.
func checkStep(file string, st *Step, defined map[string]bool, receivers map[string]bool) error {
	fail := func(line int, format string, args ...any) error {
		if line == 0 {
			line = st.line
		}
		return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	kinds := 0
	for _, set := range []bool{st.Request != nil, st.Advance != "", st.Set != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return fail(0, "a step needs exactly one of request, advance and set")
	}
	if st.Repeat < 0 || st.Repeat > 100000 {
		return fail(lineOf(st.node, "repeat"), "repeat must be between 0 and 100000")
	}
	if st.Repeat > 0 && st.Request == nil {
		return fail(lineOf(st.node, "repeat"), "repeat applies to a request step")
	}
	if r := st.Request; r != nil {
		rn := child(st.node, "request")
		if !slices.Contains(methods, r.Method) {
			return fail(lineOf(rn, "method"), "method %q is not one of %s", r.Method, strings.Join(methods, ", "))
		}
		if !strings.HasPrefix(r.Path, "/") && !strings.HasPrefix(r.Path, "${") {
			return fail(lineOf(rn, "path"), "path %q must start with /", r.Path)
		}
		if r.JSON.Kind != 0 && r.Body != nil {
			return fail(lineOf(rn, "body"), "give json or body, not both")
		}
		if sg := r.Sign; sg != nil && (sg.Scheme != "jincheng" || sg.AppCode == "" || sg.AppSecret == "") {
			return fail(lineOf(rn, "sign"), "sign needs scheme: jincheng, app_code and app_secret")
		}
	}
	if st.Advance != "" && !strings.Contains(st.Advance, "${") {
		if d, err := time.ParseDuration(st.Advance); err != nil || d < 0 {
			return fail(lineOf(st.node, "advance"), "advance %q is not a non-negative duration such as 90s or 2h", st.Advance)
		}
	}
	if st.Set != "" && !strings.Contains(st.Set, "${") {
		if _, err := time.Parse(time.RFC3339, st.Set); err != nil {
			return fail(lineOf(st.node, "set"), "set %q is not an RFC 3339 time", st.Set)
		}
	}
	if e := st.Expect; e != nil {
		en := child(st.node, "expect")
		for _, sub := range []string{"json", "headers"} {
			if err := walkMatchers(child(en, sub)); err != nil {
				return &Error{File: file, Line: err.line, Msg: err.msg}
			}
		}
		if e.Digest != "" && !digestPattern.MatchString(e.Digest) {
			return fail(lineOf(en, "digest"), "digest %q is not sha256:<64 hex digits>", e.Digest)
		}
		if e.Pushes != nil {
			pn := child(en, "pushes")
			if st.Repeat > 1 {
				return fail(lineOf(en, "pushes"), "pushes applies to a step that runs once (not with repeat)")
			}
			for i, pe := range *e.Pushes {
				var item *yamldoc.Node
				if pn != nil && i < len(pn.Content) {
					item = pn.Content[i]
				}
				if !receivers[pe.Receiver] {
					return fail(lineOf(item, "receiver"), "push %d names receiver %q, which the scenario does not declare", i+1, pe.Receiver)
				}
				if err := walkMatchers(child(item, "json")); err != nil {
					return &Error{File: file, Line: err.line, Msg: err.msg}
				}
			}
		}
	}
	// Variables the step uses must be defined by vars or an earlier step's capture.
	var undefined error
	if st.node != nil {
		_ = walkScalars(st.node, func(s *yamldoc.Node) error {
			parts, _ := parseTemplate(s.Value)
			for _, p := range parts {
				if p.ref != "" && !defined[p.ref] && undefined == nil {
					undefined = fail(s.Line, "variable ${%s} is used before any step captures it (nor is it in vars)", p.ref)
				}
			}
			return nil
		}, "capture")
	}
	if undefined != nil {
		return undefined
	}
	cn := child(st.node, "capture")
	for k, c := range st.Capture {
		line := lineOf(cn, k)
		if !varName.MatchString(k) {
			return fail(line, "variable name %q must be letters, digits and _", k)
		}
		if (c.Path == "") == (c.Header == "") {
			return fail(line, "capture %s needs a JSON path or a header (one of them)", k)
		}
		if c.Regex != "" {
			re, err := regexp.Compile(c.Regex)
			if err != nil {
				return fail(line, "capture %s: regex: %v", k, err)
			}
			c.re = re
			st.Capture[k] = c
		}
		defined[k] = true
	}
	return nil
}

var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

var (
	receiverName   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	receiverToken  = regexp.MustCompile(`^[A-Za-z0-9]{3,32}$`)
	receiverAESKey = regexp.MustCompile(`^[A-Za-z0-9]{43}$`)
)

// checkReceivers checks the declared receivers, fills their defaults and returns their names.
func checkReceivers(file string, rs []Receiver, n *yamldoc.Node) (map[string]bool, error) {
	names := map[string]bool{}
	for i := range rs {
		r := &rs[i]
		var item *yamldoc.Node
		if n != nil && i < len(n.Content) {
			item = n.Content[i]
		}
		fail := func(key, format string, args ...any) error {
			return &Error{File: file, Line: lineOf(item, key), Msg: fmt.Sprintf(format, args...)}
		}
		if r.Format == "" {
			r.Format = "json"
		}
		if r.Mode == "" {
			r.Mode = "plaintext"
		}
		if r.Answer == "" {
			r.Answer = "success"
		}
		switch {
		case !receiverName.MatchString(r.Name) || strings.HasSuffix(r.Name, "-"):
			return nil, fail("name", "receiver name %q must be a lower-case letter, then letters, digits or - (at most 32)", r.Name)
		case names[r.Name]:
			return nil, fail("name", "receiver %q is declared twice", r.Name)
		case !receiverToken.MatchString(r.Token):
			return nil, fail("token", "receiver %s: token must be 3 to 32 letters or digits (the push configuration's rule)", r.Name)
		case r.Format != "json" && r.Format != "xml":
			return nil, fail("format", "receiver %s: format must be json or xml", r.Name)
		case r.Mode != "plaintext" && r.Mode != "compatible" && r.Mode != "safe":
			return nil, fail("mode", "receiver %s: mode must be plaintext, compatible or safe", r.Name)
		case r.Mode != "plaintext" && !receiverAESKey.MatchString(r.EncodingAESKey):
			return nil, fail("encoding_aes_key", "receiver %s: mode %s needs an encoding_aes_key of 43 letters and digits", r.Name, r.Mode)
		}
		if _, err := parseTemplate(r.AppID); err != nil {
			return nil, fail("appid", "receiver %s: %v", r.Name, err)
		}
		names[r.Name] = true
	}
	return names, nil
}

// child returns the value of key in a mapping node, or nil.
func child(n *yamldoc.Node, key string) *yamldoc.Node {
	if n == nil || n.Kind != yamldoc.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// lineOf returns the line of key in a mapping node, or the node's own line.
func lineOf(n *yamldoc.Node, key string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yamldoc.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i].Line
			}
		}
	}
	return n.Line
}

// walkScalars calls fn for every scalar value under n (mapping keys excluded), skipping the values
// of the mapping keys named in skip.
func walkScalars(n *yamldoc.Node, fn func(*yamldoc.Node) error, skip ...string) error {
	switch n.Kind {
	case yamldoc.ScalarNode:
		return fn(n)
	case yamldoc.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if slices.Contains(skip, n.Content[i].Value) {
				continue
			}
			if err := walkScalars(n.Content[i+1], fn); err != nil {
				return err
			}
		}
	case yamldoc.SequenceNode, yamldoc.DocumentNode:
		for _, c := range n.Content {
			if err := walkScalars(c, fn); err != nil {
				return err
			}
		}
	case yamldoc.AliasNode:
		return errors.New("scenario: YAML aliases are not supported")
	}
	return nil
}
