package scenario

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/citysandbox/citysandbox/sandbox/internal/jincheng"
)

// Target is the sandbox a scenario runs against.
type Target struct {
	// URL is the sandbox's base URL (http://127.0.0.1:8844).
	URL string
	// Client sends the requests; nil means a client that follows no redirects.
	Client *http.Client
	// StateHash returns the hash of the sandbox's stored state. Nil means asking
	// GET /_sandbox/state (in process, the server's own StateHash is cheaper and leaves the
	// journal alone).
	StateHash func(ctx context.Context) (string, error)
	// AdminToken, when set, is sent as a bearer token on the routes it guards: /_sandbox/ and
	// the simulated 晋来办 app's /jincheng/app/.
	AdminToken string
	// SettlePushes waits until every push the sandbox accepted is settled (pushes are delivered
	// off the request path). Nil means asking POST /_sandbox/wechat/push/wait (in process, the
	// server's own WaitPushes leaves the journal alone).
	SettlePushes func(ctx context.Context) error
}

// Runner runs scenarios against a target.
type Runner struct {
	Target Target
	// Out receives one line per step ("ok", "FAIL"); nil discards them.
	Out io.Writer
	// PushWait bounds how long a step waits for the pushes it expects: pushes may be delivered
	// after the request that caused them is answered. Zero: 10 s.
	PushWait time.Duration
	// KeepState runs the scenarios on the target as it is: no reset to the scenario's seed and
	// clock first (the scenario's own clock steps still move the clock). Responses and state
	// then differ from a recording's, so the expected digests and state hashes are not checked;
	// the runner says so once per scenario that pins any.
	KeepState bool

	signed int // signed requests so far in this run: their nonces
}

// StepResult is what one step did.
type StepResult struct {
	// Section is "setup" or "steps"; Index counts from 1 within it.
	Section string
	Index   int
	Name    string
	Line    int
	// Action is "GET /cgi-bin/token" or "advance 2h".
	Action string
	Status int
	// Errcode is the body's errcode, if it has one.
	Errcode *int
	// Digest is "sha256:<hex>" of the response body (every body, for a repeated request).
	Digest string
	// StateHash is the state's hash after the step.
	StateHash string
}

// Label names the step for people: `step 3 "token expires" (tokens.yaml:40)`.
func (r *StepResult) Label(file string) string {
	sec := "step"
	if r.Section == "setup" {
		sec = "setup step"
	}
	s := fmt.Sprintf("%s %d", sec, r.Index)
	if r.Name != "" {
		s += fmt.Sprintf(" %q", r.Name)
	}
	switch {
	case r.Line > 0 && file != "":
		s += fmt.Sprintf(" (%s:%d)", file, r.Line)
	case r.Line > 0:
		s += fmt.Sprintf(" (line %d)", r.Line)
	}
	return s
}

// Result is one run of a scenario.
type Result struct {
	Scenario *Scenario
	Steps    []StepResult
	Vars     Vars
}

// Failure is a step whose answer did not meet its expectations, or that could not run.
type Failure struct {
	File     string
	Step     StepResult
	Problems []string
	// Response is the answer, when there was one.
	Response []byte
	Header   http.Header
}

// Error says which step failed, each unmet expectation, and the answer.
func (f *Failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed: %s", f.Step.Label(f.File), f.Step.Action)
	for _, p := range f.Problems {
		b.WriteString("\n  " + p)
	}
	switch ct := f.Header.Get("Content-Type"); {
	case f.Response == nil:
	case !utf8.Valid(f.Response):
		fmt.Fprintf(&b, "\n  response (%d %s): %d bytes, %s", f.Step.Status, ct, len(f.Response), Digest(f.Response))
	default:
		fmt.Fprintf(&b, "\n  response (%d %s):\n    %s", f.Step.Status, ct, clipN(indentJSON(f.Response), 4000))
	}
	return b.String()
}

func indentJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "    ", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// Run resets the target to the scenario's seed and clock, then runs the setup and the steps,
// stopping at the first failure (a *Failure). The result holds every step run so far.
func (r *Runner) Run(ctx context.Context, sc *Scenario) (*Result, error) {
	res := &Result{Scenario: sc, Vars: Vars{}}
	r.signed = 0
	for k, v := range sc.Vars {
		res.Vars.SetString(k, v)
	}
	if !r.KeepState {
		reset, _ := json.Marshal(map[string]any{"seed": sc.SeedValue(), "clock": sc.ClockValue().Format(time.RFC3339Nano)})
		if resp, err := r.do(ctx, http.MethodPost, "/_sandbox/reset", nil, reset); err != nil {
			return res, fmt.Errorf("scenario %s: reset the sandbox: %w", sc.file, err)
		} else if resp.status != http.StatusOK {
			return res, fmt.Errorf("scenario %s: reset the sandbox: %d %s", sc.file, resp.status, resp.body)
		}
	}
	var pushes *hosted
	if len(sc.Receivers) > 0 {
		h, stop, err := r.hostReceivers(ctx, sc)
		if err != nil {
			return res, err
		}
		defer stop()
		pushes = h
	}
	r.printf("== %s (%s)\n", sc.Name, sc.file)
	if r.KeepState {
		if n := pinned(sc); n > 0 {
			r.printf("note: state kept: %d expected digest(s) and state hash(es) not checked\n", n)
		}
	}
	for _, sec := range []struct {
		name  string
		steps []Step
	}{{"setup", sc.Setup}, {"steps", sc.Steps}} {
		for i := range sec.steps {
			sr, err := r.step(ctx, sc, &sec.steps[i], res.Vars, pushes)
			sr.Section, sr.Index = sec.name, i+1
			res.Steps = append(res.Steps, sr)
			if err != nil {
				if f, ok := err.(*Failure); ok {
					f.Step = sr
					r.printf("FAIL %s\n", sr.Label(sc.file))
					return res, f
				}
				r.printf("FAIL %s\n", sr.Label(sc.file))
				return res, &Failure{File: sc.file, Step: sr, Problems: []string{err.Error()}}
			}
			line := fmt.Sprintf("ok   %s  %s → %d", sr.Label(""), sr.Action, sr.Status)
			if sr.Errcode != nil {
				line += fmt.Sprintf(" errcode %d", *sr.Errcode)
			}
			r.printf("%s\n", line)
		}
	}
	r.printf("PASS %s (%d steps)\n", sc.Name, len(res.Steps))
	return res, nil
}

// pinned counts the digests and state hashes a scenario's steps expect.
func pinned(sc *Scenario) int {
	n := 0
	for _, steps := range [][]Step{sc.Setup, sc.Steps} {
		for _, st := range steps {
			if e := st.Expect; e != nil {
				if e.Digest != "" {
					n++
				}
				if e.StateHash != "" {
					n++
				}
			}
		}
	}
	return n
}

func (r *Runner) printf(format string, args ...any) {
	if r.Out != nil {
		fmt.Fprintf(r.Out, format, args...)
	}
}

// step runs one step; a failed expectation is a *Failure.
func (r *Runner) step(ctx context.Context, sc *Scenario, st *Step, vars Vars, pushes *hosted) (StepResult, error) {
	sr := StepResult{Name: st.Name, Line: st.line}
	var method, path string
	var query url.Values
	var header http.Header
	var body []byte
	switch {
	case st.Request != nil:
		var err error
		method, path, query, header, body, err = vars.build(st.Request)
		if err != nil {
			return sr, err
		}
		// The action shows the templates, which say more than 128 random characters would.
		sr.Action = method + " " + st.Request.Path
		for i, k := range sortedKeys(st.Request.Query) {
			sep := "&"
			if i == 0 {
				sep = "?"
			}
			sr.Action += sep + k + "=" + st.Request.Query[k]
		}
	case st.Advance != "":
		d, err := vars.Expand(st.Advance)
		if err != nil {
			return sr, err
		}
		method, path, sr.Action = http.MethodPost, "/_sandbox/clock", "advance "+d
		body, _ = json.Marshal(map[string]string{"advance": d})
	default:
		t, err := vars.Expand(st.Set)
		if err != nil {
			return sr, err
		}
		method, path, sr.Action = http.MethodPost, "/_sandbox/clock", "set "+t
		body, _ = json.Marshal(map[string]string{"set": t})
	}
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	n := max(1, st.Repeat)
	mark := pushes.mark()
	h := sha256.New()
	var resp *response
	for i := range n {
		if st.Request != nil && st.Request.Sign != nil {
			if err := r.sign(ctx, st.Request.Sign, vars, method, path, body, header); err != nil {
				return sr, err
			}
		}
		var err error
		resp, err = r.do(ctx, method, path, header, body)
		if err != nil {
			return sr, err
		}
		sr.Status = resp.status
		if ec := gjson.GetBytes(resp.body, "errcode"); ec.Type == gjson.Number {
			code := int(ec.Int())
			sr.Errcode = &code
		}
		if n == 1 {
			h.Write(resp.body)
		} else {
			sum := sha256.Sum256(resp.body)
			h.Write(sum[:])
		}
		problems := vars.check(st.Expect, resp)
		// The sandbox never answers 5xx of its own accord: unless a step expects one (an injected
		// fault), it is a failure even where the step checks nothing else.
		if resp.status >= 500 && (st.Expect == nil || st.Expect.Status == 0) {
			problems = append(problems, fmt.Sprintf("status: got %d, a server error (expect it with status: %d if a fault injects it)", resp.status, resp.status))
		}
		if st.Request == nil && st.Expect == nil && resp.status != http.StatusOK {
			problems = append(problems, fmt.Sprintf("status: want 200 from the clock, got %d", resp.status))
		}
		if len(problems) > 0 {
			if n > 1 {
				problems = append([]string{fmt.Sprintf("(on repetition %d of %d)", i+1, n)}, problems...)
			}
			return sr, &Failure{File: sc.file, Problems: problems, Response: resp.body, Header: resp.header}
		}
	}
	sr.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if st.Expect != nil && st.Expect.Pushes != nil {
		wait := r.PushWait
		if wait <= 0 {
			wait = defaultPushWait
		}
		// Pushes are delivered off the request path: settling first means a step that expects
		// none (or fewer than come) sees the ones it did not expect.
		if err := r.settle(ctx); err != nil {
			return sr, err
		}
		if problems := pushes.check(ctx, vars, mark, *st.Expect.Pushes, wait); len(problems) > 0 {
			return sr, &Failure{File: sc.file, Problems: problems, Response: resp.body, Header: resp.header}
		}
	}
	hash, err := r.stateHash(ctx)
	if err != nil {
		return sr, fmt.Errorf("state hash: %w", err)
	}
	sr.StateHash = hash
	var problems []string
	if e := st.Expect; e != nil && !r.KeepState {
		if e.Digest != "" && e.Digest != sr.Digest {
			problems = append(problems, fmt.Sprintf("response diverged: digest want %s, got %s", e.Digest, sr.Digest))
		}
		if e.StateHash != "" && e.StateHash != sr.StateHash {
			problems = append(problems, fmt.Sprintf("state diverged: state_hash want %s, got %s", e.StateHash, sr.StateHash))
		}
	}
	if len(problems) > 0 {
		return sr, &Failure{File: sc.file, Problems: problems, Response: resp.body, Header: resp.header}
	}
	for _, name := range sortedKeys(st.Capture) {
		raw, err := capture(st.Capture[name], resp)
		if err != nil {
			return sr, &Failure{File: sc.file, Problems: []string{fmt.Sprintf("capture %s: %v", name, err)}, Response: resp.body, Header: resp.header}
		}
		vars[name] = raw
	}
	return sr, nil
}

// sign sets the signature headers of a request, at the sandbox's current time.
func (r *Runner) sign(ctx context.Context, sg *Signing, vars Vars, method, target string, body []byte, header http.Header) error {
	code, err := vars.Expand(sg.AppCode)
	if err != nil {
		return err
	}
	secret, err := vars.Expand(sg.AppSecret)
	if err != nil {
		return err
	}
	resp, err := r.do(ctx, http.MethodGet, "/_sandbox/clock", nil, nil)
	if err != nil {
		return fmt.Errorf("sign: read the sandbox clock: %w", err)
	}
	now, err := time.Parse(time.RFC3339Nano, gjson.GetBytes(resp.body, "now").String())
	if err != nil {
		return fmt.Errorf("sign: the sandbox clock: %w", err)
	}
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	r.signed++
	req := jincheng.SignedRequest{
		Method: method, Path: u.Path, Query: u.Query(), AppCode: code,
		Timestamp: strconv.FormatInt(now.UnixMilli(), 10),
		Nonce:     fmt.Sprintf("scenario-nonce-%06d", r.signed), Body: body,
	}
	header.Set(jincheng.HeaderAppCode, req.AppCode)
	header.Set(jincheng.HeaderTimestamp, req.Timestamp)
	header.Set(jincheng.HeaderNonce, req.Nonce)
	header.Set(jincheng.HeaderMethod, jincheng.SignatureMethod)
	header.Set(jincheng.HeaderSignature, jincheng.Sign(secret, req))
	return nil
}

// build expands a request's templates.
func (v Vars) build(req *Request) (method, path string, query url.Values, header http.Header, body []byte, err error) {
	method = req.Method
	if path, err = v.Expand(req.Path); err != nil {
		return
	}
	query = url.Values{}
	for _, k := range sortedKeys(req.Query) {
		var val string
		if val, err = v.Expand(req.Query[k]); err != nil {
			return
		}
		query.Set(k, val)
	}
	header = http.Header{}
	for _, k := range sortedKeys(req.Headers) {
		var val string
		if val, err = v.Expand(req.Headers[k]); err != nil {
			return
		}
		header.Set(k, val)
	}
	switch {
	case req.JSON.Kind != 0:
		if body, err = v.expandJSON(&req.JSON); err != nil {
			return
		}
		if header.Get("Content-Type") == "" {
			header.Set("Content-Type", "application/json")
		}
	case req.Body != nil:
		var s string
		if s, err = v.Expand(*req.Body); err != nil {
			return
		}
		body = []byte(s)
	}
	return
}

// capture reads one variable from an answer, as JSON.
func capture(c Capture, resp *response) (json.RawMessage, error) {
	var val gjson.Result
	if c.Header != "" {
		h := resp.header.Get(c.Header)
		if h == "" {
			return nil, fmt.Errorf("no header %s in the answer", c.Header)
		}
		val = gjson.Result{Type: gjson.String, Str: h}
	} else {
		val = gjson.GetBytes(resp.body, c.Path)
		if !val.Exists() {
			return nil, fmt.Errorf("no field %s in the answer", c.Path)
		}
	}
	if c.re == nil && c.Regex != "" {
		re, err := regexp.Compile(c.Regex)
		if err != nil {
			return nil, fmt.Errorf("regex: %w", err)
		}
		c.re = re
	}
	if c.re != nil {
		m := c.re.FindStringSubmatch(val.String())
		if m == nil {
			return nil, fmt.Errorf("%q does not match /%s/", val.String(), c.Regex)
		}
		s := m[0]
		if len(m) > 1 {
			s = m[1]
		}
		return json.Marshal(s)
	}
	if c.Header != "" {
		return json.Marshal(val.Str)
	}
	return json.RawMessage(val.Raw), nil
}

// do sends one request to the target.
func (r *Runner) do(ctx context.Context, method, path string, header http.Header, body []byte) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(r.Target.URL, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Target.AdminToken != "" && (strings.HasPrefix(path, "/_sandbox/") || strings.HasPrefix(path, "/jincheng/app")) && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+r.Target.AdminToken)
	}
	client := r.Target.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func (r *Runner) stateHash(ctx context.Context) (string, error) {
	// Pushes are delivered off the request path: the state a step leaves includes how its pushes
	// went, so the hash waits for them.
	if err := r.settle(ctx); err != nil {
		return "", err
	}
	if r.Target.StateHash != nil {
		return r.Target.StateHash(ctx)
	}
	resp, err := r.do(ctx, http.MethodGet, "/_sandbox/state", nil, nil)
	if err != nil {
		return "", err
	}
	if resp.status != http.StatusOK {
		return "", fmt.Errorf("GET /_sandbox/state: %d", resp.status)
	}
	return gjson.GetBytes(resp.body, "hash").String(), nil
}

// settle waits until the target's pushes are settled.
func (r *Runner) settle(ctx context.Context) error {
	if r.Target.SettlePushes != nil {
		return r.Target.SettlePushes(ctx)
	}
	resp, err := r.do(ctx, http.MethodPost, "/_sandbox/wechat/push/wait", nil, nil)
	switch {
	case err != nil:
		return err
	case resp.status == http.StatusNotFound:
		return nil // a sandbox without the verb delivers its pushes within the request
	case resp.status != http.StatusOK:
		return fmt.Errorf("POST /_sandbox/wechat/push/wait: %d", resp.status)
	case !gjson.GetBytes(resp.body, "idle").Bool():
		return fmt.Errorf("pushes still being tried after 10 s (%d left): a receiver that hangs leaves the state unsettled", gjson.GetBytes(resp.body, "busy").Int())
	}
	return nil
}

// Divergence is the first step at which two runs of a scenario differ.
type Divergence struct {
	Step StepResult
	// What is "response", "state" or "steps" (one run stopped earlier).
	What      string
	Want, Got string
}

// String names the step and what differs.
func (d *Divergence) String() string {
	return fmt.Sprintf("%s diverged (%s): want %s, got %s", d.Step.Label(""), d.What, d.Want, d.Got)
}

// Compare returns the first step whose response or state differs between want and got, or nil
// when the runs are the same.
func Compare(want, got *Result) *Divergence {
	for i := range min(len(want.Steps), len(got.Steps)) {
		w, g := want.Steps[i], got.Steps[i]
		if w.Digest != g.Digest {
			return &Divergence{Step: g, What: "response", Want: w.Digest, Got: g.Digest}
		}
		if w.StateHash != g.StateHash {
			return &Divergence{Step: g, What: "state", Want: w.StateHash, Got: g.StateHash}
		}
	}
	if len(want.Steps) != len(got.Steps) {
		i := min(len(want.Steps), len(got.Steps))
		var s StepResult
		if i < len(got.Steps) {
			s = got.Steps[i]
		} else {
			s = want.Steps[i]
		}
		return &Divergence{Step: s, What: "steps", Want: fmt.Sprint(len(want.Steps)), Got: fmt.Sprint(len(got.Steps))}
	}
	return nil
}
