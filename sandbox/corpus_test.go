package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/openapi"
	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/spec"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// malformed is one generated bad request to an operation.
type malformed struct {
	name   string
	method string
	path   string // the path as sent, without the query
	query  url.Values
	header http.Header
	body   []byte
	// sign signs the request as a Jincheng app after everything else is set.
	sign bool
	// unknownPath says the request names no operation: the platform's unknown-path answer is due.
	unknownPath bool
}

// corpus holds what the generated requests need: credentials of every kind.
type corpus struct {
	k          *testkit.Kit
	spec       *spec.Spec
	wechatTok  string
	compTok    string
	session    string
	jinchengAp testkit.JinchengApp
}

// TestMalformedRequestCorpus drives every operation of every platform through a generated set of
// malformed requests — wrong methods, trailing slashes and a path in another case, missing and
// garbled credentials, query values of the wrong type or outside their enum, missing required
// inputs, and JSON bodies that do not parse, are not objects, are null, exceed 1 MiB, are not
// UTF-8 or declare another charset, carry an unknown field, or give a field the wrong type, null
// or a value outside its enum — and checks each answer: no 5xx, a JSON body (pages and images
// excepted), no success, no change to the stored state or the sandbox's memory, and a code the
// operation declares (on an unknown path, the platform's unknown-path code).
func TestMalformedRequestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("the corpus sends thousands of requests")
	}
	t.Parallel()
	s, err := spec.Load(openapi.FS)
	if err != nil {
		t.Fatal(err)
	}
	c := newCorpus(t, s)
	var problems []string
	sent := 0
	for _, op := range s.Operations {
		for _, m := range c.requests(op) {
			sent++
			problems = append(problems, c.check(op, m)...)
		}
	}
	t.Logf("%d malformed requests to %d operations", sent, len(s.Operations))
	if sent < 3000 {
		t.Errorf("the corpus has %d requests, want at least 3000", sent)
	}
	sort.Strings(problems)
	for _, p := range slices.Compact(problems) {
		t.Error(p)
	}
}

func newCorpus(t *testing.T, s *spec.Spec) *corpus {
	k := testkit.New(t)
	c := &corpus{k: k, spec: s, jinchengAp: testkit.JinchengApp{AppCode: testkit.JinchengAppCode, Secret: testkit.JinchengAppSecret}}
	c.wechatTok = k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	comp := k.App(sandbox.WeChatAppSpec{Type: "component"})
	ticket, err := k.Srv.WeChat().PushComponentTicket(comp.AppID)
	if err != nil {
		t.Fatal(err)
	}
	tok := k.Post("/cgi-bin/component/api_component_token", "", map[string]any{
		"component_appid": comp.AppID, "component_appsecret": comp.Secret, "component_verify_ticket": ticket.Ticket,
	})
	if c.compTok = tok.Str("component_access_token"); c.compTok == "" {
		t.Fatalf("component token: %s", tok)
	}
	login := k.Do(http.MethodPost, "/jincheng/admin/v1/login", map[string]any{"account": testkit.JinchengVendor, "password": testkit.JinchengPassword})
	if c.session, _ = login.Data()["sessionToken"].(string); c.session == "" {
		t.Fatalf("Jincheng login: %s", login)
	}
	return c
}

// pathValue is a placeholder for a path parameter.
func pathValue(name string) string {
	switch name {
	case "appid", "authorizer_appid":
		return testkit.ServiceAppID
	case "env":
		return "test"
	case "appId":
		return testkit.JinchengAppID
	case "serviceCode":
		return testkit.JinchengTesting
	case "name":
		return "wechat.yaml"
	}
	return "x1"
}

// base is a request to op with its path filled, its credentials and its required query values.
func (c *corpus) base(op *spec.Operation) malformed {
	m := malformed{method: op.Method, query: url.Values{}, header: http.Header{}}
	path := op.Path
	for _, in := range op.Inputs() {
		switch in.In {
		case "path":
			path = strings.ReplaceAll(path, "{"+in.Name+"}", pathValue(in.Name))
		case "query":
			if in.Required && in.Name != "access_token" && in.Name != "component_access_token" {
				m.query.Set(in.Name, validValue(in))
			}
		}
	}
	m.path = path
	for _, scheme := range op.Security {
		switch scheme {
		case "accessToken":
			m.query.Set("access_token", c.wechatTok)
		case "componentAccessToken":
			m.query.Set("component_access_token", c.compTok)
		case "vendorSession":
			m.header.Set("Authorization", "Bearer "+c.session)
		case "jlbSignature":
			m.sign = true
		}
	}
	return m
}

// validValue is a value of an input's type.
func validValue(in spec.Input) string {
	if len(in.Enum) > 0 {
		return fmt.Sprint(in.Enum[0])
	}
	switch in.Type {
	case "integer", "number":
		return "1"
	case "boolean":
		return "true"
	}
	return "x"
}

// wrongJSON are JSON values that are not of the type t.
func wrongJSON(t string) []any {
	switch t {
	case "string":
		return []any{12345, true, map[string]any{"a": "b"}, []any{"a"}}
	case "integer":
		return []any{"12", 1.5, false, map[string]any{}, []any{1}}
	case "number":
		return []any{"12", true, map[string]any{}, []any{1}}
	case "boolean":
		return []any{"true", 1, map[string]any{}, []any{true}}
	case "array":
		return []any{map[string]any{}, "a", 1}
	case "object":
		return []any{[]any{1}, "a", 1}
	}
	return nil
}

func (m malformed) with(name string, edit func(*malformed)) malformed {
	n := m
	n.name = name
	n.query = url.Values{}
	for k, v := range m.query {
		n.query[k] = slices.Clone(v)
	}
	n.header = m.header.Clone()
	edit(&n)
	return n
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// requests generates the malformed requests of op.
func (c *corpus) requests(op *spec.Operation) []malformed {
	b := c.base(op)
	var out []malformed
	add := func(name string, edit func(*malformed)) { out = append(out, b.with(name, edit)) }
	// The transport: wrong methods, a trailing slash, a path in another case.
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if method != op.Method && c.operationAt(method, op) == nil {
			add("method "+method, func(m *malformed) { m.method = method })
		}
	}
	if !strings.HasSuffix(op.Path, "/") {
		add("trailing slash", func(m *malformed) { m.path += "/"; m.unknownPath = true })
	}
	add("path in upper case", func(m *malformed) { m.path = strings.ToUpper(m.path); m.unknownPath = true })
	// Credentials.
	for _, scheme := range op.Security {
		switch scheme {
		case "accessToken", "componentAccessToken":
			for _, name := range []string{"access_token", "component_access_token"} {
				if b.query.Get(name) == "" {
					continue
				}
				add("no "+name, func(m *malformed) { m.query.Del(name) })
				add("empty "+name, func(m *malformed) { m.query.Set(name, "") })
				add("garbled "+name, func(m *malformed) { m.query.Set(name, "garbled-token") })
				add("well-formed unknown "+name, func(m *malformed) { m.query.Set(name, "86_"+strings.Repeat("A", 128)) })
				add("padded "+name, func(m *malformed) { m.query.Set(name, m.query.Get(name)+" ") })
			}
		case "vendorSession":
			add("no session", func(m *malformed) { m.header.Del("Authorization") })
			add("garbled session", func(m *malformed) { m.header.Set("Authorization", "Bearer garbled") })
			add("not a bearer", func(m *malformed) { m.header.Set("Authorization", "Basic "+c.session) })
		case "jlbSignature":
			add("unsigned", func(m *malformed) { m.sign = false })
			add("garbled signature", func(m *malformed) { m.header.Set("X-Garble", "signature") })
		}
	}
	// Query values.
	for _, in := range op.Inputs() {
		if in.In != "query" || in.Name == "access_token" || in.Name == "component_access_token" {
			continue
		}
		switch {
		case in.Type == "integer" || in.Type == "number":
			add("query "+in.Name+" not a number", func(m *malformed) { m.query.Set(in.Name, "abc") })
			if in.Type == "integer" {
				add("query "+in.Name+" not an integer", func(m *malformed) { m.query.Set(in.Name, "1.5") })
			}
		case in.Type == "boolean":
			add("query "+in.Name+" not a boolean", func(m *malformed) { m.query.Set(in.Name, "maybe") })
		case len(in.Enum) > 0:
			add("query "+in.Name+" outside its enum", func(m *malformed) { m.query.Set(in.Name, "zz-none") })
		}
		if in.Required {
			add("query "+in.Name+" missing", func(m *malformed) { m.query.Del(in.Name) })
		}
	}
	if !op.HasJSONBody() {
		return out
	}
	// Bodies.
	raw := func(name string, body []byte, ct string) {
		add(name, func(m *malformed) {
			m.body = body
			m.header.Set("Content-Type", ct)
		})
	}
	raw("body not JSON", []byte(`{"a":`), "application/json")
	raw("body an array", []byte(`[]`), "application/json")
	raw("body a string", []byte(`"x"`), "application/json")
	raw("body a number", []byte(`1`), "application/json")
	raw("body null", []byte(`null`), "application/json")
	raw("body over 1 MiB", []byte(`{"zz":"`+strings.Repeat("x", 1<<20)+`"}`), "application/json")
	raw("body not UTF-8", []byte("{\"zz\":\"caf\xe9\"}"), "application/json")
	raw("body with half a surrogate pair", []byte(`{"zz":"\ud800"}`), "application/json")
	raw("body in GBK", []byte(`{}`), "application/json; charset=gbk")
	if op.BodyRequired {
		raw("body empty", nil, "application/json")
	}
	if op.ClosedBody() {
		raw("body with an unknown field", jsonBody(map[string]any{"zz_unknown": 1}), "application/json")
	}
	for _, in := range op.Inputs() {
		if in.In != "body" {
			continue
		}
		for _, w := range wrongJSON(in.Type) {
			raw(fmt.Sprintf("body field %s as %T", in.Name, w), jsonBody(map[string]any{in.Name: w}), "application/json")
		}
		if !in.Nullable {
			raw("body field "+in.Name+" null", jsonBody(map[string]any{in.Name: nil}), "application/json")
		}
		if len(in.Enum) > 0 && in.Type == "string" {
			raw("body field "+in.Name+" outside its enum", jsonBody(map[string]any{in.Name: "zz-none"}), "application/json")
		}
		if in.Type == "string" {
			raw("body field "+in.Name+" not UTF-8", []byte("{\""+in.Name+"\":\"\xff\"}"), "application/json")
		}
	}
	return out
}

// operationAt returns the operation that serves method on op's path, if any.
func (c *corpus) operationAt(method string, op *spec.Operation) *spec.Operation {
	for _, o := range c.spec.Operations {
		if o.Method == method && o.Path == op.Path {
			return o
		}
	}
	return nil
}

// check sends m and returns what is wrong with the answer.
func (c *corpus) check(op *spec.Operation, m malformed) []string {
	k := c.k
	if m.sign {
		signed := k.SignedHeader(c.jinchengAp, m.method, m.path, m.query, m.body)
		for name, vs := range signed {
			m.header[name] = vs
		}
		if m.header.Get("X-Garble") != "" {
			m.header.Set("X-JLB-Signature", "garbled")
		}
	}
	target := m.path
	if len(m.query) > 0 {
		target += "?" + m.query.Encode()
	}
	if op.Document.Platform == "wechat" {
		host := testkit.APIHost
		if op.Page {
			host = testkit.MPHost
		}
		target = host + target
	}
	before := k.Snapshot()
	var body any
	if m.body != nil {
		body = m.body
	}
	a, err := k.Try(m.method, target, m.header, body)
	where := fmt.Sprintf("%s (%s): %s %s", op.ID, m.name, m.method, m.path)
	if err != nil {
		return []string{where + ": " + err.Error()}
	}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, where+": "+fmt.Sprintf(format, args...)) }
	after := k.Snapshot()
	if after.StateHash != before.StateHash || !slices.Equal(after.Memory, before.Memory) {
		fail("the refusal changed the state or the sandbox's memory (answer %d %s)", a.Status, clipBody(a.Raw))
	}
	if a.Status >= 500 {
		fail("answered %d %s", a.Status, clipBody(a.Raw))
	}
	if a.JSON == nil && !op.Page {
		fail("answered %d %q, not a JSON object: %s", a.Status, a.Header.Get("Content-Type"), clipBody(a.Raw))
	}
	platform := op.Document.Platform
	if m.unknownPath {
		// An unknown path is answered by the platform its prefix names (WeChat owns the root).
		switch {
		case strings.HasPrefix(m.path, "/_sandbox/"):
			platform = "control"
		case strings.HasPrefix(m.path, "/jincheng/"):
			platform = "jincheng"
		default:
			platform = "wechat"
		}
	}
	switch platform {
	case "wechat":
		code := a.Errcode()
		switch {
		case a.JSON == nil && a.Status < 400:
			fail("answered %d %s: a success", a.Status, a.Header.Get("Content-Type"))
		case a.JSON != nil && code == 0:
			fail("answered a success: %s", clipBody(a.Raw))
		case m.unknownPath && code != 40066:
			fail("an unknown path answered errcode %d, want 40066", code)
		case !m.unknownPath && a.JSON != nil && !op.Declares(code, ""):
			fail("answered errcode %d, which x-errcodes does not declare", code)
		}
	case "jincheng":
		ok, _ := a.JSON["success"].(bool)
		code := a.Code()
		switch {
		case a.JSON == nil && a.Status < 400:
			fail("answered %d %s: a success", a.Status, a.Header.Get("Content-Type"))
		case ok:
			fail("answered a success: %s", clipBody(a.Raw))
		case m.unknownPath && code != "NOT-FOUND":
			fail("an unknown path answered %s, want NOT-FOUND", code)
		case !m.unknownPath && a.JSON != nil && !op.Declares(0, code):
			fail("answered %s, which x-error-codes does not declare", code)
		}
	case "control":
		switch {
		case a.Status < 400:
			fail("answered a success %d: %s", a.Status, clipBody(a.Raw))
		case m.unknownPath && (a.Status != 404 || a.Code() != "not_found"):
			fail("an unknown path answered %d %s, want 404 not_found", a.Status, a.Code())
		}
	}
	return problems
}

func clipBody(b []byte) string {
	if len(b) > 200 {
		return strconv.Quote(string(bytes.ToValidUTF8(b[:200], nil))) + "…"
	}
	return strconv.Quote(string(b))
}
