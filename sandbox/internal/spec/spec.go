// Package spec loads the OpenAPI documents in openapi/ and is the only package that imports
// kin-openapi. The documents drive the sandbox: every operation becomes a route, its parameters
// and body are validated before the handler runs, its x-sandbox extensions declare quotas,
// account types, permission sets and documented errcodes, and in tests every response is checked
// against it.
//
// Extensions read here (all optional):
//
//	x-sandbox-platform (document)       wechat | jincheng | control: which envelope and auth apply
//	x-sandbox-quota (operation)          {per_second, per_minute, per_day, per_month, lifetime}
//	x-wechat-account-types (operation)   account types allowed to call it (48001 otherwise)
//	x-wechat-permission-sets (operation) third-party permission sets that grant it (61007 otherwise)
//	x-errcode-invalid (operation)        the code for a schema violation (default: the platform's)
//	x-errcodes (operation)               the errcodes the operation is documented to return
//	x-error-codes (operation)            the symbolic codes (Jincheng's errorCode) it may answer
//	x-wechat-errmsg-hint (operation)     the errcodes whose errmsg carries WeChat's
//	                                     " hint: [<id>]" before the rid on this API
//	x-errcode / x-errcode-missing        on a parameter or body property: the code when it is
//	                                     wrong / absent
//	x-errcode-type                       on a parameter or body property: the code when its
//	                                     value has the wrong JSON type (default: the platform's
//	                                     format error, WeChat's 47001)
package spec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"mime"
	"net/http"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/quota"
)

// Document is one loaded OpenAPI file.
type Document struct {
	Name     string // file name without extension: "wechat", "sandbox", "jincheng"
	Platform string // x-sandbox-platform
	Title    string // info.title
	Raw      []byte // the file as loaded, served at /_sandbox/openapi/
	doc      *openapi3.T
	// parsed is closed once doc is parsed, when LoadIndexed parses it in the background (nil
	// when Load parsed it); err is what went wrong then.
	parsed chan struct{}
	err    error
	// parse starts the background parse that closes parsed (see Spec.Parse).
	parse func()
}

// wait blocks until the document is parsed. A document that LoadIndexed could not parse, or
// that its index does not describe, is a defect of the build, which the test suite catches
// (TestOperationIndexIsCurrent): it panics.
func (d *Document) wait() {
	if d.parsed == nil {
		return
	}
	d.parse()
	<-d.parsed
	if d.err != nil {
		panic(d.err)
	}
}

// Operation is one method on one path, with the sandbox's extensions decoded.
type Operation struct {
	ID       string
	Method   string
	Path     string // OpenAPI form: /a/{b}
	Document *Document
	Summary  string
	// Security lists the names of the security schemes of which one must pass (empty: none).
	Security       []string
	Quota          quota.Limits
	AccountTypes   []string
	PermissionSets []int
	InvalidCode    int
	Errcodes       []int
	// ErrmsgHintCodes are the errcodes whose errmsg carries a hint on this operation.
	ErrmsgHintCodes []int
	// ErrorNames are the symbolic error codes (x-error-codes) the operation may answer.
	ErrorNames []string
	// BodyRequired reports whether the operation declares a required request body.
	BodyRequired bool
	// Page reports whether the operation answers a page or an image rather than JSON (a web
	// resource such as an authorization page or showqrcode).
	Page bool

	route *routers.Route
	// acceptsAll reports that the operation declares no security, parameter or body, so that
	// every request to it is valid: ValidateRequest need not wait for its document.
	acceptsAll bool
	// fast accepts the valid requests it can prove valid without kin-openapi (fast.go); nil
	// when the operation uses something it does not know. It is compiled on the operation's
	// first request (see checker), not at start-up.
	fast     *fastChecker
	fastOnce sync.Once
}

// rt returns the operation's kin-openapi route, once its document is parsed.
func (op *Operation) rt() *routers.Route {
	op.Document.wait()
	return op.route
}

// checker returns the operation's fast checker, compiling it on first use.
func (op *Operation) checker() *fastChecker {
	op.fastOnce.Do(func() {
		rt := op.rt()
		op.fast = compileFast(op.Document.doc, rt.PathItem, rt.Operation)
	})
	return op.fast
}

// Spec is the set of loaded documents.
type Spec struct {
	Documents  []*Document
	Operations []*Operation
	// parse starts the background parse of a Spec from LoadIndexed (nil otherwise), and
	// parsing says it has.
	parse   func()
	parsing atomic.Bool
}

// Load reads every *.yaml file at the root of fsys and validates each as an OpenAPI document.
func Load(fsys fs.FS) (*Spec, error) { return load(fsys, true) }

// LoadValidated is Load for documents known to be valid — the built-in ones, which the test
// suite validates (TestBuiltInDocumentsAreValid) — and skips their validation, a third of the
// time parsing takes, and so of a sandbox's start-up.
func LoadValidated(fsys fs.FS) (*Spec, error) { return load(fsys, false) }

func load(fsys fs.FS, validate bool) (*Spec, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("spec: list documents: %w", err)
	}
	sort.Strings(names)
	// Parsing is most of a sandbox's start-up time: parse the documents side by side.
	docs := make([]*Document, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			docs[i], errs[i] = loadDocument(fsys, name, validate)
		}()
	}
	wg.Wait()
	s := &Spec{}
	for i, d := range docs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		s.Documents = append(s.Documents, d)
		ops, err := operations(d)
		if err != nil {
			return nil, fmt.Errorf("spec: %s: %w", names[i], err)
		}
		s.Operations = append(s.Operations, ops...)
	}
	seen := map[string]bool{}
	for _, op := range s.Operations {
		if op.ID == "" {
			return nil, fmt.Errorf("spec: %s %s has no operationId", op.Method, op.Path)
		}
		if seen[op.ID] {
			return nil, fmt.Errorf("spec: operationId %s is used twice", op.ID)
		}
		seen[op.ID] = true
	}
	return s, nil
}

// loadDocument reads, parses and validates one document.
func loadDocument(fsys fs.FS, name string, validate bool) (*Document, error) {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("spec: read %s: %w", name, err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("spec: parse %s: %w", name, err)
	}
	if validate {
		if err := doc.Validate(context.Background()); err != nil {
			return nil, fmt.Errorf("spec: validate %s: %w", name, err)
		}
	}
	d := &Document{Name: strings.TrimSuffix(name, path.Ext(name)), Raw: raw, doc: doc}
	if doc.Info != nil {
		d.Title = doc.Info.Title
	}
	if err := decodeExt(doc.Extensions, "x-sandbox-platform", &d.Platform); err != nil {
		return nil, fmt.Errorf("spec: %s: %w", name, err)
	}
	if d.Platform == "" {
		return nil, fmt.Errorf("spec: %s: no x-sandbox-platform", name)
	}
	return d, nil
}

func operations(d *Document) ([]*Operation, error) {
	var out []*Operation
	for _, p := range d.doc.Paths.InMatchingOrder() {
		item := d.doc.Paths.Value(p)
		methods := make([]string, 0, 4)
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			o := item.GetOperation(m)
			op := &Operation{ID: o.OperationID, Method: m, Path: p, Document: d, Summary: o.Summary}
			sec := o.Security
			if sec == nil {
				sec = &d.doc.Security
			}
			for _, req := range *sec {
				for name := range req {
					op.Security = append(op.Security, name)
				}
			}
			sort.Strings(op.Security)
			for key, dst := range map[string]any{
				"x-sandbox-quota":          &op.Quota,
				"x-wechat-account-types":   &op.AccountTypes,
				"x-wechat-permission-sets": &op.PermissionSets,
				"x-errcode-invalid":        &op.InvalidCode,
				"x-errcodes":               &op.Errcodes,
				"x-wechat-errmsg-hint":     &op.ErrmsgHintCodes,
				"x-error-codes":            &op.ErrorNames,
			} {
				if err := decodeExt(o.Extensions, key, dst); err != nil {
					return nil, fmt.Errorf("%s %s: %w", m, p, err)
				}
			}
			op.BodyRequired = o.RequestBody != nil && o.RequestBody.Value != nil && o.RequestBody.Value.Required
			op.Page = answersPage(o)
			op.route = &routers.Route{Spec: d.doc, Path: p, PathItem: item, Method: m, Operation: o}
			out = append(out, op)
		}
	}
	return out, nil
}

// Declares reports whether the operation documents an error answer: a numeric errcode among its
// x-errcodes (WeChat), a symbolic one among its x-error-codes (Jincheng). The control plane's
// documents declare no codes, and an answer without a code (a success) is always declared.
func (op *Operation) Declares(errcode int, name string) bool {
	switch {
	case op.Document.Platform == "control":
		return true
	case errcode != 0:
		return slices.Contains(op.Errcodes, errcode)
	case name != "":
		return slices.Contains(op.ErrorNames, name)
	}
	return true
}

// UndeclaredError is an answer with a code its operation does not document.
type UndeclaredError struct {
	Operation string
	Errcode   int
	Name      string
}

func (e *UndeclaredError) Error() string {
	if e.Errcode != 0 {
		return fmt.Sprintf("spec: %s answered errcode %d, which its x-errcodes does not declare", e.Operation, e.Errcode)
	}
	return fmt.Sprintf("spec: %s answered %s, which its x-error-codes does not declare", e.Operation, e.Name)
}

// CheckDeclared is Declares as an error for the response check.
func (op *Operation) CheckDeclared(errcode int, name string) error {
	if op.Declares(errcode, name) {
		return nil
	}
	return &UndeclaredError{Operation: op.ID, Errcode: errcode, Name: name}
}

// Input is one thing a request to an operation carries: a parameter, or a top-level field of its
// JSON body. It describes the operation's inputs for tools that generate requests (the
// malformed-request corpus).
type Input struct {
	// In is "query", "path", "header", "cookie" or "body".
	In   string
	Name string
	// Type is the declared JSON type ("string", "integer", "number", "boolean", "object",
	// "array"), or "" when none is declared.
	Type     string
	Required bool
	Nullable bool
	// Enum lists the allowed values, when the schema restricts them.
	Enum []any
}

// Inputs lists the operation's parameters and the top-level fields of its JSON body.
func (op *Operation) Inputs() []Input {
	var out []Input
	o := op.rt().Operation
	params := append(openapi3.Parameters{}, op.rt().PathItem.Parameters...)
	params = append(params, o.Parameters...)
	for _, ref := range params {
		p := ref.Value
		if p == nil {
			continue
		}
		in := Input{In: p.In, Name: p.Name, Required: p.Required}
		if p.Schema != nil && p.Schema.Value != nil {
			in.Type, in.Nullable, in.Enum = schemaType(p.Schema.Value), p.Schema.Value.Nullable, p.Schema.Value.Enum
		}
		out = append(out, in)
	}
	if s := op.bodySchema(); s != nil {
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			v := s.Properties[name].Value
			if v == nil {
				continue
			}
			out = append(out, Input{In: "body", Name: name, Type: schemaType(v), Required: slices.Contains(s.Required, name), Nullable: v.Nullable, Enum: v.Enum})
		}
	}
	return out
}

// HasJSONBody reports whether the operation takes a JSON request body; ClosedBody whether that
// body is an object that admits no field but its own (additionalProperties: false).
func (op *Operation) HasJSONBody() bool { return op.bodySchema() != nil }

// ClosedBody reports whether the JSON body admits no field but its declared ones.
func (op *Operation) ClosedBody() bool {
	s := op.bodySchema()
	return s != nil && s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has
}

func (op *Operation) bodySchema() *openapi3.Schema {
	rb := op.rt().Operation.RequestBody
	if rb == nil || rb.Value == nil {
		return nil
	}
	mt := rb.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	return mt.Schema.Value
}

func schemaType(s *openapi3.Schema) string {
	if s.Type == nil || len(*s.Type) == 0 {
		return ""
	}
	return (*s.Type)[0]
}

// answersPage reports whether an operation's success answer is HTML or an image.
func answersPage(o *openapi3.Operation) bool {
	if o.Responses == nil {
		return false
	}
	for code, ref := range o.Responses.Map() {
		if !strings.HasPrefix(code, "2") || ref == nil || ref.Value == nil {
			continue
		}
		for ct := range ref.Value.Content {
			if strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "image/") {
				return true
			}
		}
	}
	return false
}

func decodeExt(ext map[string]any, key string, dst any) error {
	v, ok := ext[key]
	if !ok {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("extension %s: %w", key, err)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("extension %s: %w", key, err)
	}
	return nil
}

// GinPath turns an OpenAPI path (/a/{b}) into a gin route (/a/:b).
func GinPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '{':
			b.WriteByte(':')
		case '}':
		default:
			b.WriteByte(p[i])
		}
	}
	return b.String()
}

// Authenticator checks one security scheme of an operation; a nil error means it passed.
type Authenticator interface {
	Authenticate(ctx context.Context, scheme string) error
}

// AuthFunc is a function that is an Authenticator.
type AuthFunc func(ctx context.Context, scheme string) error

// Authenticate implements Authenticator.
func (f AuthFunc) Authenticate(ctx context.Context, scheme string) error { return f(ctx, scheme) }

// Request is what ValidateRequest checks.
type Request struct {
	HTTP       *http.Request
	Body       []byte
	PathParams map[string]string
	// Auth checks the security schemes; nil passes them all.
	Auth Authenticator
}

// ValidateRequest checks a request against its operation: security first (through Auth), then
// parameters, then the body. A failure is an *apierr.Error of kind Invalid (or whatever Auth
// returned) whose Cause, Field and Code say what failed, with the precise reason in Reason.
func (op *Operation) ValidateRequest(ctx context.Context, r Request) error {
	if op.acceptsAll {
		return nil
	}
	if fc := op.checker(); fc != nil && fc.accepts(ctx, r) {
		return nil
	}
	return op.validateFully(ctx, r)
}

// validateFully is ValidateRequest through kin-openapi alone.
func (op *Operation) validateFully(ctx context.Context, r Request) error {
	if op.BodyRequired && len(bytes.TrimSpace(r.Body)) == 0 {
		return &apierr.Error{Kind: apierr.Invalid, Cause: apierr.CauseBodyEmpty, Reason: "request body is empty"}
	}
	if len(bytes.TrimSpace(r.Body)) > 0 && op.rt().Operation.RequestBody != nil {
		if !json.Valid(r.Body) {
			return &apierr.Error{Kind: apierr.Invalid, Cause: apierr.CauseBodyMalformed, Reason: "request body is not valid JSON"}
		}
		if reason := textProblem(r.HTTP.Header.Get("Content-Type"), r.Body); reason != "" {
			return &apierr.Error{Kind: apierr.Invalid, Cause: apierr.CauseBodyMalformed, Reason: reason}
		}
	}
	if err := op.checkNulls(r.Body); err != nil {
		return err
	}
	req := r.HTTP.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(r.Body))
	req.ContentLength = int64(len(r.Body))
	// Platforms here read JSON whatever Content-Type the client sent (WeChat does).
	if op.rt().Operation.RequestBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if len(bytes.TrimSpace(r.Body)) == 0 {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: r.PathParams,
		Route:      op.rt(),
		Options: &openapi3filter.Options{
			// The sandbox never sends a schema's text back; keep kin-openapi's errors short.
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
			AuthenticationFunc: func(ctx context.Context, ai *openapi3filter.AuthenticationInput) error {
				if r.Auth == nil {
					return nil
				}
				return r.Auth.Authenticate(ctx, ai.SecuritySchemeName)
			},
		},
	}
	err := openapi3filter.ValidateRequest(ctx, in)
	if err == nil {
		return nil
	}
	return op.explain(err)
}

// checkNulls refuses a null where the body schema does not declare the field nullable. The
// schema validator lets a null through for a field that has a default (it reads as "use the
// default"), which would save the null; the platforms here take a field's value or its absence,
// never null for a field that cannot hold it.
func (op *Operation) checkNulls(body []byte) error {
	rb := op.rt().Operation.RequestBody
	if rb == nil || rb.Value == nil || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	mt := rb.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return nil // refused as malformed elsewhere
	}
	ptr, ok := nullWithout(mt.Schema.Value, v, nil)
	if ok {
		return nil
	}
	out := &apierr.Error{Kind: apierr.Invalid, Cause: apierr.CauseOutOfRange, Code: op.InvalidCode, Field: strings.Join(ptr, ".")}
	out.Reason = "body: Value is not nullable"
	if out.Field != "" {
		out.Reason = "body field " + out.Field + ": Value is not nullable"
	}
	if prop := op.bodyProperty(ptr); prop != nil {
		if code := fieldCode(prop.Extensions, out.Cause); code != 0 {
			out.Code = code
		}
	}
	return out
}

// nullWithout walks v along s and returns the path of the first null that s does not allow
// (ok false), or ok true.
func nullWithout(s *openapi3.Schema, v any, path []string) ([]string, bool) {
	if s == nil {
		return nil, true
	}
	switch x := v.(type) {
	case nil:
		if s.Nullable || s.Type == nil || len(*s.Type) == 0 && len(s.AnyOf)+len(s.OneOf)+len(s.AllOf) == 0 {
			return nil, true
		}
		return path, false
	case map[string]any:
		for _, name := range sortedKeys(x) {
			prop, ok := s.Properties[name]
			if !ok || prop.Value == nil {
				continue // unknown fields are the schema validator's
			}
			if p, ok := nullWithout(prop.Value, x[name], append(path, name)); !ok {
				return p, false
			}
		}
	case []any:
		if s.Items == nil || s.Items.Value == nil {
			return nil, true
		}
		for i, e := range x {
			if p, ok := nullWithout(s.Items.Value, e, append(path, strconv.Itoa(i))); !ok {
				return p, false
			}
		}
	}
	return nil, true
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// textProblem says why a JSON body is not text the platforms read, or "" when it is: a charset
// other than UTF-8 (no platform here transcodes), bytes that are not UTF-8, or a \u escape of
// half a surrogate pair — each of which a JSON decoder would otherwise turn into U+FFFD.
func textProblem(contentType string, body []byte) string {
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		if cs := strings.ToLower(strings.TrimSpace(params["charset"])); cs != "" && cs != "utf-8" && cs != "utf8" {
			return fmt.Sprintf("the body's charset is %q: JSON bodies are UTF-8", params["charset"])
		}
	}
	if !utf8.Valid(body) {
		i := 0
		for i < len(body) {
			r, n := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return fmt.Sprintf("the body is not UTF-8 (byte %d is 0x%02x)", i, body[i])
	}
	if i := loneSurrogate(body); i >= 0 {
		return fmt.Sprintf("the body escapes half a UTF-16 surrogate pair at byte %d", i)
	}
	return ""
}

// loneSurrogate returns the offset of a \uD800–\uDFFF escape inside a JSON string that is not
// half of a well-formed pair, or -1. body is valid JSON.
func loneSurrogate(body []byte) int {
	inString := false
	for i := 0; i < len(body); i++ {
		switch b := body[i]; {
		case b == '"':
			inString = !inString
		case inString && b == '\\' && i+1 < len(body):
			if body[i+1] != 'u' || i+6 > len(body) {
				i++ // an escaped character
				continue
			}
			r := hexRune(body[i+2 : i+6])
			switch {
			case r >= 0xD800 && r < 0xDC00: // high half: a low half must follow
				if i+12 <= len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
					if lo := hexRune(body[i+8 : i+12]); lo >= 0xDC00 && lo < 0xE000 {
						i += 11
						continue
					}
				}
				return i
			case r >= 0xDC00 && r < 0xE000: // a low half alone
				return i
			}
			i += 5
		}
	}
	return -1
}

func hexRune(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return -1
		}
	}
	return r
}

// explain turns a kin-openapi validation error into an *apierr.Error.
func (op *Operation) explain(err error) error {
	if e := apierr.As(err); e != nil {
		return e // from the platform's AuthFunc
	}
	var secErr *openapi3filter.SecurityRequirementsError
	if errors.As(err, &secErr) {
		return &apierr.Error{Kind: apierr.Unauthenticated, Reason: err.Error()}
	}
	out := &apierr.Error{Kind: apierr.Invalid, Cause: apierr.CauseOutOfRange, Code: op.InvalidCode, Reason: err.Error()}
	var reqErr *openapi3filter.RequestError
	if !errors.As(err, &reqErr) {
		return out
	}
	if p := reqErr.Parameter; p != nil {
		out.Field = p.Name
		out.Reason = fmt.Sprintf("parameter %q in %s: %s", p.Name, p.In, strings.TrimPrefix(reqErr.Error(), "parameter \""+p.Name+"\" in "+p.In+" has an error: "))
		var sch *openapi3.SchemaError
		missing := errors.Is(reqErr.Err, openapi3filter.ErrInvalidRequired)
		switch {
		case missing:
			out.Cause = apierr.CauseMissing
		case errors.As(err, &sch) && sch.SchemaField == "type":
			out.Cause = apierr.CauseWrongType
		}
		var parseErr *openapi3filter.ParseError
		if errors.As(err, &parseErr) {
			out.Cause = apierr.CauseWrongType
		}
		// A value of the wrong type is WeChat's "data format error" whatever the field.
		if code := fieldCode(p.Extensions, out.Cause); code != 0 {
			out.Code = code
		}
		return out
	}
	var sch *openapi3.SchemaError
	if errors.As(err, &sch) {
		ptr := sch.JSONPointer()
		out.Field = strings.Join(ptr, ".")
		switch {
		case sch.SchemaField == "required":
			out.Cause = apierr.CauseMissing
		case sch.SchemaField == "type", !fitsType(sch.Value, sch.Schema):
			// kin-openapi may report an enum or range failure first for a value that is not
			// even of the right type ("1" for an integer field): that is a format error.
			out.Cause = apierr.CauseWrongType
		}
		where := "body"
		if out.Field != "" {
			where = "body field " + out.Field
		}
		out.Reason = fmt.Sprintf("%s: %s", where, sch.Reason)
		if prop := op.bodyProperty(ptr); prop != nil {
			if code := fieldCode(prop.Extensions, out.Cause); code != 0 {
				out.Code = code
			}
		}
	}
	return out
}

// fitsType reports whether a decoded JSON value is of the schema's declared type (true when the
// schema declares none).
func fitsType(v any, s *openapi3.Schema) bool {
	if s == nil || s.Type == nil || len(*s.Type) == 0 {
		return true
	}
	for _, t := range *s.Type {
		switch v.(type) {
		case string:
			if t == "string" {
				return true
			}
		case bool:
			if t == "boolean" {
				return true
			}
		case float64, json.Number:
			if t == "number" || t == "integer" {
				return true
			}
		case []any:
			if t == "array" {
				return true
			}
		case map[string]any:
			if t == "object" {
				return true
			}
		case nil:
			return true // null reads as "no value": the field's own code applies
		default:
			return true
		}
	}
	return false
}

// fieldCode is the code a parameter or property declares for a failure of the given cause: a
// value of the wrong type is the platform's format error unless x-errcode-type says otherwise.
func fieldCode(ext map[string]any, cause apierr.Cause) int {
	if cause == apierr.CauseWrongType {
		var code int
		_ = decodeExt(ext, "x-errcode-type", &code)
		return code
	}
	return extCode(ext, cause == apierr.CauseMissing)
}

func extCode(ext map[string]any, missing bool) int {
	var code int
	if missing {
		_ = decodeExt(ext, "x-errcode-missing", &code)
	}
	if code == 0 {
		_ = decodeExt(ext, "x-errcode", &code)
	}
	return code
}

// bodyProperty walks the JSON request-body schema along ptr.
func (op *Operation) bodyProperty(ptr []string) *openapi3.Schema {
	rb := op.rt().Operation.RequestBody
	if rb == nil || rb.Value == nil {
		return nil
	}
	mt := rb.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	s := mt.Schema.Value
	for _, p := range ptr {
		if s == nil {
			return nil
		}
		if s.Type.Is("array") && s.Items != nil {
			s = s.Items.Value
			continue
		}
		ref, ok := s.Properties[p]
		if !ok {
			return nil
		}
		s = ref.Value
	}
	return s
}

// ValidateResponse checks a response against the operation's documented responses.
func (op *Operation) ValidateResponse(ctx context.Context, r Request, status int, header http.Header, body []byte) error {
	req := r.HTTP.Clone(ctx)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: r.PathParams, Route: op.rt(),
		},
		Status: status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			// Images and redirects are checked for status and content type only.
			ExcludeResponseBody: !strings.HasPrefix(header.Get("Content-Type"), "application/json"),
		},
	}
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		return fmt.Errorf("spec: response of %s (%s %s, status %d) does not match: %w", op.ID, op.Method, op.Path, status, err)
	}
	return nil
}

// Find returns the operation with the given id.
func (s *Spec) Find(id string) *Operation {
	for _, op := range s.Operations {
		if op.ID == id {
			return op
		}
	}
	return nil
}

// Document returns the named document.
func (s *Spec) Document(name string) *Document {
	for _, d := range s.Documents {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// Matches reports whether a request path fits an OpenAPI path template.
func Matches(template, p string) bool {
	ts := strings.Split(strings.Trim(template, "/"), "/")
	ps := strings.Split(strings.Trim(p, "/"), "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}") {
			continue
		}
		if ts[i] != ps[i] {
			return false
		}
	}
	return true
}
