package scenario

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/citysandbox/citysandbox/sandbox/internal/yamldoc"
)

// RecorderConfig describes the sandbox a Recorder watches.
type RecorderConfig struct {
	// Name is the recorded scenario's name.
	Name string
	// Seed and Start are the sandbox's seed and its clock when recording began; the scenario
	// pins both.
	Seed  uint64
	Start time.Time
	// Now reads the sandbox clock; a clock move that no recorded request made (a running clock,
	// or a Go-side Advance) becomes an advance or set step.
	Now func() time.Time
	// StateHash, with Hashes, pins each step's response digest and state hash in the scenario,
	// so that a replay names the first step that diverges in any byte. Without it, recordings
	// check statuses, errcodes and fields, with generated values captured.
	StateHash func() (string, error)
	Hashes    bool
}

// Recorder writes the traffic of a sandbox as a scenario. Wrap its handler; requests are then
// served one at a time so that their order, and the random values they draw, are well defined.
type Recorder struct {
	cfg RecorderConfig

	mu    sync.Mutex
	last  time.Time
	calls []*call
}

// call is one recorded request and its answer.
type call struct {
	// advance or set is a clock move before the request that no recorded request made.
	advance time.Duration
	set     *time.Time

	method, path string
	query        url.Values
	header       http.Header
	body         []byte

	status     int
	respHeader http.Header
	respBody   []byte
	stateHash  string
}

// NewRecorder returns a recorder for the sandbox cfg describes.
func NewRecorder(cfg RecorderConfig) *Recorder {
	return &Recorder{cfg: cfg, last: cfg.Start}
}

// skipRecording lists requests that observe the sandbox without acting: health probes, state
// snapshots, the documents and the contract report.
func skipRecording(r *http.Request) bool {
	p := r.URL.Path
	return p == "/_sandbox/health" || p == "/_sandbox/contract" || strings.HasPrefix(p, "/_sandbox/openapi/") ||
		(p == "/_sandbox/state" && r.Method == http.MethodGet)
}

// requestHeadersKept are the request headers a recording replays; transport headers and the
// admin token (the replaying tool sends its own) are dropped.
func keepRequestHeader(name, path string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Host", "User-Agent", "Accept", "Accept-Encoding", "Content-Length", "Connection", "Content-Type":
		return false
	case "Authorization":
		return !strings.HasPrefix(path, "/_sandbox/")
	}
	return true
}

// Wrap returns h with recording.
func (rec *Recorder) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if skipRecording(r) {
			h.ServeHTTP(w, r)
			return
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		c := &call{method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: http.Header{}, body: body}
		for k, vs := range r.Header {
			if keepRequestHeader(k, r.URL.Path) {
				c.header[k] = vs
			}
		}
		now := rec.cfg.Now()
		switch {
		case now.After(rec.last):
			c.advance = now.Sub(rec.last)
		case now.Before(rec.last):
			c.set = &now
		}
		cw := &captureWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		rec.last = rec.cfg.Now()
		if cw.hijacked {
			return // a dropped connection has no answer to expect
		}
		c.status, c.respHeader, c.respBody = cw.statusOr200(), w.Header().Clone(), cw.body.Bytes()
		if rec.cfg.Hashes && rec.cfg.StateHash != nil {
			c.stateHash, _ = rec.cfg.StateHash()
		}
		rec.calls = append(rec.calls, c)
	})
}

// captureWriter keeps a copy of the answer.
type captureWriter struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	hijacked bool
}

// WriteHeader implements http.ResponseWriter, keeping the first status.
func (w *captureWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter, keeping a copy of the body.
func (w *captureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) statusOr200() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Hijack lets a fault drop the connection.
func (w *captureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("scenario: the response writer cannot be hijacked")
	}
	w.hijacked = true
	return hj.Hijack()
}

// Flush implements http.Flusher.
func (w *captureWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Len returns how many requests have been recorded.
func (rec *Recorder) Len() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.calls)
}

// ridPattern is a WeChat rid; recorded messages match any rid in its place.
var ridPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}`)

// timeKey names fields that hold a time: their value depends on the clock, not on the code.
var timeKey = regexp.MustCompile(`(?i)(time|_at|^at|unix|timestamp|^now|date)$`)

// Bounds on a recorded step: fields checked per answer, and the shortest generated value that
// is captured when a later request reuses it (shorter ones would match by chance).
const (
	maxRecordedFields = 40
	minCaptureLen     = 8
)

// literal is a generated value that a later request reuses, and the variable that holds it.
type literal struct {
	value string
	name  string
	num   bool // a JSON number
}

// Scenario builds the scenario of what has been recorded so far.
func (rec *Recorder) Scenario() *Scenario {
	rec.mu.Lock()
	calls := append([]*call(nil), rec.calls...)
	rec.mu.Unlock()

	seed := rec.cfg.Seed
	sc := &Scenario{
		Name:        rec.cfg.Name,
		Description: "Recorded by citysandbox " + strconv.Itoa(len(calls)) + " requests; generated tokens, ids and tickets are captured into variables.",
		Seed:        &seed,
		Clock:       rec.cfg.Start.Format(time.RFC3339Nano),
	}
	reqText := make([]string, len(calls))
	for i, c := range calls {
		reqText[i] = requestText(c)
	}
	usedLater := func(v string, i int) bool {
		for j := range calls {
			if j <= i && strings.Contains(reqText[j], v) {
				return false // the client knew it first: not generated by the sandbox
			}
		}
		for j := i + 1; j < len(calls); j++ {
			if strings.Contains(reqText[j], v) {
				return true
			}
		}
		return false
	}
	var lits []literal
	names := map[string]bool{}
	captured := map[string]bool{}
	for i, c := range calls {
		if c.advance > 0 {
			sc.Steps = append(sc.Steps, Step{Advance: c.advance.String()})
		} else if c.set != nil {
			sc.Steps = append(sc.Steps, Step{Set: c.set.Format(time.RFC3339Nano)})
		}
		st := Step{Request: &Request{Method: c.method}}
		// The request, with earlier captures in place of the values they hold.
		subst := substituter(lits)
		st.Request.Path = subst(c.path)
		if len(c.query) > 0 {
			st.Request.Query = map[string]string{}
			for k, vs := range c.query {
				if len(vs) > 0 {
					st.Request.Query[k] = subst(escapeTemplate(vs[0]))
				}
			}
		}
		if len(c.header) > 0 {
			st.Request.Headers = map[string]string{}
			for k := range c.header {
				st.Request.Headers[k] = subst(escapeTemplate(c.header.Get(k)))
			}
		}
		if len(bytes.TrimSpace(c.body)) > 0 {
			if n, err := yamldoc.FromJSON(c.body); err == nil && json.Valid(c.body) {
				substNode(n, lits)
				st.Request.JSON = *n
			} else {
				s := subst(escapeTemplate(string(c.body)))
				st.Request.Body = &s
			}
		}
		// The expectations, and new captures.
		e := &Expect{Status: c.status}
		if ct := c.respHeader.Get("Content-Type"); ct != "" {
			e.Headers = map[string]yamldoc.Node{"Content-Type": scalarNode(escapeTemplate(ct))}
		}
		if loc := c.respHeader.Get("Location"); loc != "" {
			if u, err := url.Parse(loc); err == nil {
				for k, vs := range u.Query() {
					if v := vs[0]; len(v) >= minCaptureLen && !captured[v] && usedLater(v, i) {
						name := uniqueName(names, k)
						lits = append(lits, literal{value: v, name: name})
						captured[v] = true
						setCapture(&st, name, Capture{Header: "Location", Regex: `[?&]` + regexp.QuoteMeta(k) + `=([^&#]*)`})
					}
				}
			}
			e.Headers["Location"] = matcherNode("$exists", "true", "!!bool")
		}
		body := c.respBody
		if json.Valid(body) && len(bytes.TrimSpace(body)) > 0 {
			root := gjson.ParseBytes(body)
			if ec := root.Get("errcode"); ec.Type == gjson.Number {
				code := int(ec.Int())
				e.Errcode = &code
			}
			fields := 0
			leaves(root, "", "", func(path, key string, v gjson.Result) {
				text := v.String()
				if v.Type == gjson.Number {
					text = v.Raw
				}
				long := len(text) >= minCaptureLen && (v.Type == gjson.String || v.Type == gjson.Number && len(text) >= 6)
				if long && !captured[text] && usedLater(text, i) {
					name := uniqueName(names, key)
					lits = append(lits, literal{value: text, name: name, num: v.Type == gjson.Number})
					captured[text] = true
					setCapture(&st, name, Capture{Path: path})
					return
				}
				if v.Type == gjson.String {
					if u, err := url.Parse(text); err == nil && u.RawQuery != "" {
						for k, vs := range u.Query() {
							if q := vs[0]; len(q) >= minCaptureLen && !captured[q] && usedLater(q, i) {
								name := uniqueName(names, k)
								lits = append(lits, literal{value: q, name: name})
								captured[q] = true
								setCapture(&st, name, Capture{Path: path, Regex: `[?&]` + regexp.QuoteMeta(k) + `=([^&#]*)`})
							}
						}
					}
				}
				if path == "errcode" || fields >= maxRecordedFields {
					return
				}
				fields++
				if e.JSON == nil {
					e.JSON = map[string]yamldoc.Node{}
				}
				e.JSON[path] = expectedLeaf(key, v, lits)
			})
		} else if len(body) > 0 {
			e.Digest = Digest(body)
		}
		if rec.cfg.Hashes {
			e.Digest = Digest(body)
			e.StateHash = c.stateHash
		}
		st.Expect = e
		sc.Steps = append(sc.Steps, st)
	}
	if !rec.cfg.Hashes {
		sc.Steps = mergeRepeats(sc.Steps)
	}
	return sc
}

// requestText is everything a request says, for finding reused values.
func requestText(c *call) string {
	var b strings.Builder
	b.WriteString(c.path)
	for k, vs := range c.query {
		b.WriteString(" " + k + "=" + strings.Join(vs, ","))
	}
	for _, vs := range c.header {
		b.WriteString(" " + strings.Join(vs, ","))
	}
	b.WriteString(" ")
	b.Write(c.body)
	return b.String()
}

// escapeTemplate keeps a literal "${" from reading as an expression.
func escapeTemplate(s string) string { return strings.ReplaceAll(s, "${", "$${") }

// substituter replaces captured values by their variables, longest first.
func substituter(lits []literal) func(string) string {
	sorted := append([]literal(nil), lits...)
	sort.SliceStable(sorted, func(i, j int) bool { return len(sorted[i].value) > len(sorted[j].value) })
	return func(s string) string {
		for _, l := range sorted {
			s = strings.ReplaceAll(s, l.value, "${"+l.name+"}")
		}
		return s
	}
}

// substNode puts variables into a JSON body: inside strings, and for a whole captured number.
func substNode(n *yamldoc.Node, lits []literal) {
	subst := substituter(lits)
	switch n.Kind {
	case yamldoc.ScalarNode:
		if n.ShortTag() == "!!str" {
			n.Value = subst(escapeTemplate(n.Value))
			return
		}
		for _, l := range lits {
			if l.num && n.Value == l.value {
				n.Tag, n.Value = "!!str", "${"+l.name+"}"
			}
		}
	default:
		for i, c := range n.Content {
			if n.Kind == yamldoc.MappingNode && i%2 == 0 {
				c.Value = escapeTemplate(c.Value)
				continue
			}
			substNode(c, lits)
		}
	}
}

// expectedLeaf is what a recorded field is expected to be: its value, with captured values as
// variables, or a matcher where the value depends on the clock or names a request (a rid).
func expectedLeaf(key string, v gjson.Result, lits []literal) yamldoc.Node {
	switch v.Type {
	case gjson.String:
		s := v.Str
		if ridPattern.MatchString(s) {
			parts := ridPattern.Split(s, -1)
			for i, p := range parts {
				parts[i] = regexp.QuoteMeta(p)
			}
			return matcherNode("$regex", "^"+strings.Join(parts, ridPattern.String())+"$", "!!str")
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err == nil || timeKey.MatchString(key) {
			return matcherNode("$type", "string", "!!str")
		}
		return scalarNode(substituter(lits)(escapeTemplate(s)))
	case gjson.Number:
		if timeKey.MatchString(key) {
			return matcherNode("$type", "number", "!!str")
		}
		for _, l := range lits {
			if l.num && l.value == v.Raw {
				return scalarNode("${" + l.name + "}")
			}
		}
		return yamldoc.Node{Kind: yamldoc.ScalarNode, Tag: numberTag(v.Raw), Value: v.Raw}
	case gjson.True, gjson.False:
		return yamldoc.Node{Kind: yamldoc.ScalarNode, Tag: "!!bool", Value: v.Raw}
	case gjson.Null:
		return yamldoc.Node{Kind: yamldoc.ScalarNode, Tag: "!!null", Value: "null"}
	}
	// An empty object or array.
	return yamldoc.Node{Kind: yamldoc.MappingNode, Content: []*yamldoc.Node{
		{Kind: yamldoc.ScalarNode, Tag: "!!str", Value: "$len"}, {Kind: yamldoc.ScalarNode, Tag: "!!int", Value: "0"},
	}}
}

func numberTag(raw string) string {
	if strings.ContainsAny(raw, ".eE") {
		return "!!float"
	}
	return "!!int"
}

func scalarNode(s string) yamldoc.Node {
	return yamldoc.Node{Kind: yamldoc.ScalarNode, Tag: "!!str", Value: s}
}

func matcherNode(op, arg, tag string) yamldoc.Node {
	return yamldoc.Node{Kind: yamldoc.MappingNode, Style: yamldoc.FlowStyle, Content: []*yamldoc.Node{
		{Kind: yamldoc.ScalarNode, Tag: "!!str", Value: op}, {Kind: yamldoc.ScalarNode, Tag: tag, Value: arg},
	}}
}

func setCapture(st *Step, name string, c Capture) {
	if st.Capture == nil {
		st.Capture = map[string]Capture{}
	}
	st.Capture[name] = c
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// uniqueName derives a variable name from a field's key.
func uniqueName(names map[string]bool, key string) string {
	base := strings.Trim(nonWord.ReplaceAllString(key, "_"), "_")
	if base == "" || (base[0] >= '0' && base[0] <= '9') {
		base = "v" + base
	}
	name := base
	for i := 2; names[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	names[name] = true
	return name
}

// leaves calls fn for every scalar (and empty container) in r, depth first in document order,
// with its gjson path and its own key.
func leaves(r gjson.Result, prefix, key string, fn func(path, key string, v gjson.Result)) {
	if r.IsObject() || r.IsArray() {
		empty := true
		r.ForEach(func(k, v gjson.Result) bool {
			empty = false
			seg := escapePath(k.String())
			childKey := k.String()
			if r.IsArray() {
				seg, childKey = strconv.Itoa(int(k.Int())), key
			}
			p := seg
			if prefix != "" {
				p = prefix + "." + seg
			}
			leaves(v, p, childKey, fn)
			return true
		})
		if empty && prefix != "" {
			fn(prefix, key, r)
		}
		return
	}
	fn(prefix, key, r)
}

// escapePath escapes gjson's special characters in one key.
func escapePath(k string) string {
	var b strings.Builder
	for _, r := range k {
		if strings.ContainsRune(`.*?|#@\!=<>%`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mergeRepeats folds identical consecutive request steps, with nothing captured, into one step
// with repeat.
func mergeRepeats(steps []Step) []Step {
	var out []Step
	var lastKey string
	for _, st := range steps {
		key := ""
		if st.Request != nil && st.Capture == nil {
			if b, err := yamldoc.Marshal(struct {
				R *Request
				E *Expect
			}{st.Request, st.Expect}); err == nil {
				key = string(b)
			}
		}
		if key != "" && key == lastKey {
			prev := &out[len(out)-1]
			prev.Repeat = max(prev.Repeat, 1) + 1
			continue
		}
		out = append(out, st)
		lastKey = key
	}
	return out
}

// Marshal encodes a scenario as YAML.
func Marshal(sc *Scenario) ([]byte, error) {
	b, err := yamldoc.Marshal(sc)
	if err != nil {
		return nil, err
	}
	head := "# " + sc.Name + "\n# Replay with: citysandbox replay <this file>\n"
	return append([]byte(head), b...), nil
}
