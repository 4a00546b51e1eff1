package spec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/citysandbox/citysandbox/openapi"
)

func loadSpec(t testing.TB) *Spec {
	t.Helper()
	s, err := Load(openapi.FS)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sample builds a value for s: the example or default when there is one, else the first enum
// value, else something of the type with every property filled.
func sample(s *openapi3.Schema, depth int) any {
	if s == nil || depth > 6 {
		return nil
	}
	switch {
	case s.Example != nil:
		return s.Example
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	}
	typ := ""
	if s.Type != nil && len(*s.Type) > 0 {
		typ = (*s.Type)[0]
	}
	switch typ {
	case "string":
		return strings.Repeat("a", max(1, int(s.MinLength)))
	case "integer", "number":
		if s.Min != nil {
			return *s.Min
		}
		return 1
	case "boolean":
		return true
	case "array":
		if s.Items == nil {
			return []any{}
		}
		return []any{sample(s.Items.Value, depth+1)}
	case "object":
		m := map[string]any{}
		for name, p := range s.Properties {
			m[name] = sample(p.Value, depth+1)
		}
		return m
	}
	return "x"
}

// mutants returns v and values near it: each field dropped, nulled, of another type, out of
// range, and an unknown field added, in a stable order.
func mutants(v any) []any {
	out := []any{v}
	odd := []any{nil, "", "1", "x\u00e9", strings.Repeat("z", 300), 0, -1, 1.5, 1e20, 9007199254740993.0, true, false, map[string]any{}, []any{}, []any{nil}}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			drop := clone(x)
			delete(drop, k)
			out = append(out, drop)
			for _, o := range odd {
				m := clone(x)
				m[k] = o
				out = append(out, m)
			}
			for _, inner := range mutants(x[k])[1:] {
				m := clone(x)
				m[k] = inner
				out = append(out, m)
			}
		}
		extra := clone(x)
		extra["unknown_field"] = 1
		out = append(out, extra)
	case []any:
		out = append(out, []any{}, append(append([]any{}, x...), x...))
		for i := range x {
			for _, inner := range mutants(x[i])[1:] {
				y := append([]any{}, x...)
				y[i] = inner
				out = append(out, y)
			}
		}
	}
	return out
}

func clone(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// queries returns query strings for op: its parameters sampled, then each one missing, empty,
// repeated, and of odd values.
func queries(op *Operation) []url.Values {
	base := url.Values{}
	var names []*openapi3.Parameter
	for _, ref := range append(append(openapi3.Parameters{}, op.route.PathItem.Parameters...), op.route.Operation.Parameters...) {
		if p := ref.Value; p != nil && p.In == openapi3.ParameterInQuery {
			names = append(names, p)
			if p.Schema != nil {
				base.Set(p.Name, fmt.Sprint(sample(p.Schema.Value, 0)))
			} else {
				base.Set(p.Name, "x")
			}
		}
	}
	out := []url.Values{base}
	for _, p := range names {
		for _, v := range []any{nil, "", "abc", "-1", "0", "007", "1.5", "99999999999999999999", "true", []string{"1", "2"}} {
			q := url.Values{}
			for k, vs := range base {
				q[k] = vs
			}
			switch x := v.(type) {
			case nil:
				delete(q, p.Name)
			case string:
				q.Set(p.Name, x)
			case []string:
				q[p.Name] = x
			}
			out = append(out, q)
		}
	}
	return out
}

// request builds the request for op with the query and body.
func request(op *Operation, q url.Values, body []byte) Request {
	path := op.Path
	params := map[string]string{}
	for _, seg := range strings.Split(op.Path, "/") {
		if strings.HasPrefix(seg, "{") {
			name := strings.Trim(seg, "{}")
			params[name] = "p1"
			path = strings.Replace(path, seg, "p1", 1)
		}
	}
	hr := httptest.NewRequest(op.Method, path+"?"+q.Encode(), nil)
	hr.Header.Set("Content-Type", "application/json")
	return Request{HTTP: hr, Body: body, PathParams: params, Auth: AuthFunc(func(context.Context, string) error { return nil })}
}

// TestFastAcceptanceAgreesWithKinOpenAPI runs requests near every operation's valid ones — each
// field dropped, nulled, of the wrong type, out of range, unknown fields, odd query values —
// through the fast checker and through kin-openapi: whatever the checker accepts, kin-openapi
// accepts too. It also checks the checker accepts the hot path's valid requests, or the test
// would pass with a checker that accepts nothing.
func TestFastAcceptanceAgreesWithKinOpenAPI(t *testing.T) {
	s := loadSpec(t)
	ctx := context.Background()
	checked, accepted := 0, 0
	for _, op := range s.Operations {
		if op.checker() == nil {
			continue
		}
		var bodies [][]byte
		if sch := op.bodySchema(); sch != nil {
			for _, v := range mutants(sample(sch, 0)) {
				b, _ := json.Marshal(v)
				bodies = append(bodies, b)
			}
			bodies = append(bodies, nil, []byte(`{"a":"\u00e9"}`), []byte(`{"x":1}`), []byte(`[]`), []byte(`"s"`), []byte(`{`))
		} else {
			bodies = append(bodies, nil)
		}
		for _, q := range queries(op) {
			for _, body := range bodies {
				r := request(op, q, body)
				checked++
				if !op.checker().accepts(ctx, r) {
					continue
				}
				accepted++
				if err := op.validateFully(ctx, r); err != nil {
					t.Errorf("%s: the fast check accepted what kin-openapi refuses (%v): query %s body %s", op.ID, err, q.Encode(), body)
				}
			}
		}
	}
	t.Logf("%d requests, %d accepted by the fast check", checked, accepted)
	for _, c := range []struct {
		id    string
		query url.Values
		body  string
	}{
		{"getApiQuota", url.Values{"access_token": {"t"}}, `{"cgi_path":"/cgi-bin/token"}`},
		{"createQRCode", url.Values{"access_token": {"t"}}, `{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"bench-1"}}}`},
		{"getAccessToken", url.Values{"grant_type": {"client_credential"}, "appid": {"wx5a1d0c0e00000001"}, "secret": {"5a1d0c0e5a1d0c0e5a1d0c0e00000001"}}, ``},
	} {
		op := operationByID(t, s, c.id)
		if op.checker() == nil || !op.checker().accepts(ctx, request(op, c.query, []byte(c.body))) {
			t.Errorf("%s: the fast check does not accept the valid request %s %s", c.id, c.query.Encode(), c.body)
		}
	}
}

// TestFastAcceptanceNeedsASchemeThatPasses: a request whose credentials fail is never accepted
// fast; kin-openapi then reports the failure.
func TestFastAcceptanceNeedsASchemeThatPasses(t *testing.T) {
	s := loadSpec(t)
	op := operationByID(t, s, "getApiQuota")
	r := request(op, url.Values{"access_token": {"t"}}, []byte(`{"cgi_path":"/cgi-bin/token"}`))
	r.Auth = AuthFunc(func(context.Context, string) error { return errors.New("no") })
	if op.checker().accepts(context.Background(), r) {
		t.Error("accepted with failing credentials")
	}
}

func operationByID(t testing.TB, s *Spec, id string) *Operation {
	t.Helper()
	for _, op := range s.Operations {
		if op.ID == id {
			return op
		}
	}
	t.Fatalf("no operation %s", id)
	return nil
}

// FuzzFastAcceptance: for any body and query, what the fast check accepts kin-openapi accepts.
func FuzzFastAcceptance(f *testing.F) {
	s := loadSpec(f)
	var ops []*Operation
	for _, op := range s.Operations {
		if op.checker() != nil {
			ops = append(ops, op)
		}
	}
	f.Add(0, "access_token=t", `{"cgi_path":"/cgi-bin/token"}`)
	f.Add(3, "a=1&a=2", `{"x":[1,2,{"y":null}]}`)
	f.Add(7, "", `{"action_name":"QR_SCENE","expire_seconds":60,"action_info":{"scene":{"scene_id":1}}}`)
	f.Fuzz(func(t *testing.T, which int, query, body string) {
		op := ops[(which%len(ops)+len(ops))%len(ops)]
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		r := request(op, q, []byte(body))
		if op.checker().accepts(context.Background(), r) {
			if err := op.validateFully(context.Background(), r); err != nil {
				t.Errorf("%s: the fast check accepted what kin-openapi refuses (%v): query %q body %q", op.ID, err, query, body)
			}
		}
	})
}

// BenchmarkValidateRequest is one valid quota/get request's validation, fast and full.
func BenchmarkValidateRequest(b *testing.B) {
	s := loadSpec(b)
	op := operationByID(b, s, "getApiQuota")
	r := request(op, url.Values{"access_token": {"t"}}, []byte(`{"cgi_path":"/cgi-bin/token"}`))
	ctx := context.Background()
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if err := op.ValidateRequest(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kin-openapi", func(b *testing.B) {
		for b.Loop() {
			if err := op.validateFully(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBuiltInDocumentsAreValid validates the built-in documents as OpenAPI, which LoadValidated,
// the sandbox's way of loading them, skips.
func TestBuiltInDocumentsAreValid(t *testing.T) {
	t.Parallel()
	if _, err := Load(openapi.FS); err != nil {
		t.Fatal(err)
	}
	// Load validates: a document that parses but is no valid OpenAPI is refused.
	bad := fstest.MapFS{"bad.yaml": {Data: []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\nx-sandbox-platform: wechat\npaths:\n  /a:\n    get:\n      operationId: a\n      responses: {}\n")}}
	if _, err := Load(bad); err == nil {
		t.Error("Load accepted an operation without responses")
	}
	if _, err := LoadValidated(bad); err != nil {
		t.Errorf("LoadValidated: %v", err)
	}
}
