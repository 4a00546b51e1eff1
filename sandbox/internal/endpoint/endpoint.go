// Package endpoint is the request pipeline every platform shares. Each request goes straight
// through it, top to bottom:
//
//  1. a journal entry is opened (its id is the platform's request id: WeChat's rid);
//  2. the body is read (at most MaxBody bytes) and the request is validated against its OpenAPI
//     operation, with the platform's authentication as the security check;
//  3. fault-injection rules are consulted (after authentication, so a fault can name the app
//     behind an access token);
//  4. the platform admits the call (account type, permission set, quota);
//  5. the handler runs its business rules against the store;
//  6. the platform renders the result or error in its envelope; with response validation on
//     (always in tests) the answer is checked against the spec, its code included: an error
//     answer must carry a code its operation declares (an injected fault's excepted);
//  7. the journal entry is closed, and the request logged (one line at info, when the logger
//     is enabled at info: method, path, appid, status, errcode, reason, duration, rid).
//
// A handler returns a value or an *apierr.Error; any other error, and any panic, becomes the
// platform's internal error and is logged with the operation.
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/spec"
)

// MaxBody is the largest request body accepted (1 MiB), unless the platform says otherwise for
// an operation (BodyLimiter); a larger one is refused with the platform's "content too large"
// code.
const MaxBody = 1 << 20

// BodyLimiter is implemented by a platform some of whose operations take bodies of another size
// than MaxBody: the control plane's state restore takes whatever the state snapshot returned.
type BodyLimiter interface {
	// BodyLimit returns the largest body op accepts; zero or less means no limit.
	BodyLimit(op *spec.Operation) int64
}

// HandlerFunc serves one operation. It returns the success value the platform renders (or a Raw
// or Redirect response), or an error.
type HandlerFunc func(c *Call) (any, error)

// Raw is a response a handler writes as is: an image, a page, a plain-text echo.
type Raw struct {
	Status      int
	ContentType string
	Header      http.Header
	Body        []byte
}

// Stream is a response a handler writes over time, after the pipeline has sent the status and
// headers: server-sent events. Write returns when the stream ends (the client went away, or the
// handler's own end); the journal records the request then, without its body.
type Stream struct {
	ContentType string
	Header      http.Header
	Write       func(w http.ResponseWriter)
}

// Redirect answers with a 302 to URL.
type Redirect struct {
	URL string
}

// Response is a rendered answer.
type Response struct {
	Status      int
	ContentType string
	Header      http.Header
	Body        []byte
	// Errcode and ErrorName are what the journal records (0 and "" for success).
	Errcode   int
	ErrorName string
}

// Platform is what differs between WeChat, Jincheng and the control plane: ids, credentials,
// admission and the envelope.
type Platform interface {
	// Name is the value of the documents' x-sandbox-platform.
	Name() string
	// RequestID returns the id of a request that arrived at now.
	RequestID(now time.Time) string
	// Authenticate checks one security scheme of c.Op, setting c.AppID and c.Principal.
	Authenticate(c *Call, scheme string) error
	// Admit runs after validation: authorisation beyond credentials, and quotas.
	Admit(c *Call) error
	// Render turns a handler's value, or an error, into bytes.
	Render(c *Call, value any, err *apierr.Error) Response
}

// Call is one request on its way through the pipeline.
type Call struct {
	Gin *gin.Context
	// Op is the operation; nil for an unknown path.
	Op *spec.Operation
	// Platform serves this call.
	Platform Platform
	// Body is the request body, read in full.
	Body []byte
	// ID is the request id (WeChat's rid).
	ID string
	// Now is the sandbox time at which the request arrived; a request sees one instant.
	Now time.Time
	// AppID is the calling app, once known (journal and quotas use it).
	AppID string
	// Principal is whatever the platform's Authenticate established.
	Principal any
	// Reason, if set by a handler, is recorded in the journal next to a successful answer.
	Reason string

	entry journal.Entry
	held  []Held
	leak  *journal.Leak
	// started is the wall time the request arrived at, taken only when the request is logged
	// (logged): the duration in the log line measures the sandbox, not sandbox time.
	started time.Time
	logged  bool
}

// MarkLeak marks the call's journal entry as a production leak of kind (a journal.Leak*
// constant) with the credential the sandbox does not know. The call is answered as usual.
func (c *Call) MarkLeak(kind, credential string) {
	c.leak = &journal.Leak{Kind: kind, Host: c.Gin.Request.Host, Credential: credential}
}

// Held is what admission holds for a call until the call ends: a quota reservation.
type Held interface {
	// Commit makes the hold count for good; the call succeeded.
	Commit() error
	// Release gives the hold back; the call failed.
	Release()
}

// Hold makes h end with the call: committed, before the answer is written, if the call succeeds;
// released if it fails. A refused request so leaves the state unchanged, and what it held
// counted only while it ran.
func (c *Call) Hold(h Held) { c.held = append(c.held, h) }

// settle ends what the call holds: committed after a success (a failure to commit fails the
// call), released after a failure.
func (c *Call) settle(err error) error {
	if err == nil {
		for i, h := range c.held {
			if cerr := h.Commit(); cerr != nil {
				for _, rest := range c.held[i+1:] {
					rest.Release()
				}
				return cerr
			}
		}
		return nil
	}
	for _, h := range c.held {
		h.Release()
	}
	return err
}

// Request returns the HTTP request.
func (c *Call) Request() *http.Request { return c.Gin.Request }

// Query returns a query parameter as sent: a padded value is not the value (a secret with a
// trailing space is a wrong secret).
func (c *Call) Query(name string) string {
	v, _ := spec.QueryValue(c.Gin.Request.URL.RawQuery, name)
	return v
}

// QueryNumber returns a numeric query parameter trimmed of surrounding blanks, for the APIs
// where clients are known to pad numbers (one SDK sends getwxamplinkforshow "page=%200").
func (c *Call) QueryNumber(name string) string { return strings.TrimSpace(c.Query(name)) }

// Param returns a path parameter.
func (c *Call) Param(name string) string { return c.Gin.Param(name) }

// Bind decodes the JSON body into v. The spec has already validated it, so a failure here is a
// mismatch between spec and code, reported as invalid input.
func (c *Call) Bind(v any) error {
	if len(c.Body) == 0 {
		return nil
	}
	if err := jsonenc.Unmarshal(c.Body, v); err != nil {
		return &apierr.Error{Kind: apierr.Invalid, Cause: apierr.CauseWrongType, Reason: "decode body: " + err.Error()}
	}
	return nil
}

// ClientIP returns the caller's IP address.
func (c *Call) ClientIP() string { return c.Gin.ClientIP() }

// Routes maps operation ids to handlers. Each API family registers its handlers here.
type Routes map[string]HandlerFunc

// Handle registers fn for the operation id.
func (r Routes) Handle(operationID string, fn HandlerFunc) {
	if _, dup := r[operationID]; dup {
		panic("endpoint: operation " + operationID + " registered twice")
	}
	r[operationID] = fn
}

// Deps are what the pipeline needs.
type Deps struct {
	Spec      *spec.Spec
	Routes    Routes
	Platforms []Platform
	Journal   *journal.Journal
	Clock     clock.Clock
	Faults    *Faults
	Logger    *slog.Logger
	// ResponseCheck, when set, receives every response's validation result against the spec
	// (nil error for a valid one). Tests set it; servers leave it nil to save the time.
	ResponseCheck func(op *spec.Operation, err error)
	// Fallback picks the platform that answers unknown paths and wrong methods.
	Fallback func(path string) Platform
	// UnknownReason, when set, says why r has no API when the sandbox knows more than that
	// (the namespace it names does not exist); "" keeps the plain reason.
	UnknownReason func(r *http.Request) string
}

// Pipeline serves every operation of the spec.
type Pipeline struct {
	deps      Deps
	platforms map[string]Platform
}

// Mount registers a gin route for every operation in the spec and checks that every operation
// has a handler and every handler an operation.
func Mount(engine *gin.Engine, deps Deps) (*Pipeline, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{deps: deps, platforms: map[string]Platform{}}
	for _, pl := range deps.Platforms {
		p.platforms[pl.Name()] = pl
	}
	if err := Parity(deps.Spec, deps.Routes); err != nil {
		return nil, err
	}
	for _, op := range deps.Spec.Operations {
		pl, ok := p.platforms[op.Document.Platform]
		if !ok {
			return nil, fmt.Errorf("endpoint: %s: no platform %q", op.ID, op.Document.Platform)
		}
		op, h := op, deps.Routes[op.ID]
		engine.Handle(op.Method, spec.GinPath(op.Path), func(g *gin.Context) { p.serve(g, op, pl, h) })
	}
	// The transport never answers like a web framework: no redirect for a trailing slash or a
	// path in another case; such a path is unknown and answers in the platform's envelope.
	engine.RedirectTrailingSlash = false
	engine.RedirectFixedPath = false
	engine.HandleMethodNotAllowed = true
	engine.NoMethod(func(g *gin.Context) { p.serveUnrouted(g, true) })
	engine.NoRoute(func(g *gin.Context) { p.serveUnrouted(g, false) })
	return p, nil
}

// Parity reports operations without handlers and handlers without operations.
func Parity(s *spec.Spec, routes Routes) error {
	var problems []string
	known := map[string]bool{}
	for _, op := range s.Operations {
		known[op.ID] = true
		if routes[op.ID] == nil {
			problems = append(problems, fmt.Sprintf("operation %s (%s %s) has no handler", op.ID, op.Method, op.Path))
		}
	}
	for id := range routes {
		if !known[id] {
			problems = append(problems, fmt.Sprintf("handler %s has no operation in the spec", id))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("endpoint: spec and routes differ:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

type outerPathKey struct{}

// WithOuterPath returns ctx carrying the path (escaped, as sent) of a request whose path was
// re-rooted before it reached this pipeline: a namespace's requests arrive without their
// /ns/<name> prefix. A check computed by the client over the path it sent (a signature) may
// accept that one too.
func WithOuterPath(ctx context.Context, escapedPath string) context.Context {
	return context.WithValue(ctx, outerPathKey{}, escapedPath)
}

// OuterPath returns the path r was sent to before it was re-rooted (see WithOuterPath), or ""
// when it was not.
func OuterPath(r *http.Request) string {
	p, _ := r.Context().Value(outerPathKey{}).(string)
	return p
}

func (p *Pipeline) open(g *gin.Context, op *spec.Operation, pl Platform) *Call {
	now := p.deps.Clock.Now()
	c := &Call{Gin: g, Op: op, Platform: pl, Now: now, ID: pl.RequestID(now)}
	c.entry = journal.Entry{
		ID: c.ID, Time: now, Platform: pl.Name(), Method: g.Request.Method,
		Path: g.Request.URL.Path, Query: g.Request.URL.RawQuery, ClientIP: g.ClientIP(),
	}
	if op != nil {
		c.entry.Operation = op.ID
	}
	// A disabled logger costs this one check: nothing is measured or allocated for it.
	if c.logged = p.deps.Logger.Enabled(g.Request.Context(), slog.LevelInfo); c.logged {
		c.started = time.Now() // wall time on purpose: the log line times the sandbox itself
	}
	return c
}

func (p *Pipeline) serve(g *gin.Context, op *spec.Operation, pl Platform, h HandlerFunc) {
	c := p.open(g, op, pl)
	value, err := p.run(c, h)
	err = c.settle(err)
	if err == errDropped {
		p.close(c, Response{Status: 0}, nil)
		return
	}
	p.finish(c, value, err)
}

var errDropped = errors.New("connection dropped by fault")

// contentTypeValues hold the header values of the content types answered, made once: setting a
// header allocates its value slice, and every answer sets this one. A value slice is never
// appended to in place (its length is its capacity).
var contentTypeValues sync.Map

func contentTypeValue(ct string) []string {
	if v, ok := contentTypeValues.Load(ct); ok {
		return v.([]string)
	}
	v, _ := contentTypeValues.LoadOrStore(ct, []string{ct})
	return v.([]string)
}

// authenticating is a Call as the spec's Authenticator: its platform checks the scheme. (A
// pointer type, so that handing it over allocates nothing.)
type authenticating Call

// Authenticate implements spec.Authenticator.
func (a *authenticating) Authenticate(_ context.Context, scheme string) error {
	c := (*Call)(a)
	return c.Platform.Authenticate(c, scheme)
}

// readBody reads the request body, refusing one over limit (0: no limit) with an
// *http.MaxBytesError. A body whose length the client declared is read into a buffer of that
// size at once; net/http stops a body at its declared length, so only a body of unknown length
// needs the reader that counts.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if n := r.ContentLength; n > 0 && (limit <= 0 || n <= limit) {
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	if r.ContentLength > 0 {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	reader := r.Body
	if limit > 0 {
		reader = http.MaxBytesReader(w, reader, limit)
	}
	return io.ReadAll(reader)
}

// run is steps 2 to 5. Panics in any of them become internal errors.
func (p *Pipeline) run(c *Call, h HandlerFunc) (value any, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.deps.Logger.Error("handler panic", "op", c.entry.Operation, "panic", r, "stack", string(debug.Stack()))
			value, err = nil, &apierr.Error{Kind: apierr.Internal, Reason: fmt.Sprintf("panic: %v", r)}
		}
	}()
	limit := int64(MaxBody)
	if bl, ok := c.Platform.(BodyLimiter); ok {
		limit = bl.BodyLimit(c.Op)
	}
	body, err := readBody(c.Gin.Writer, c.Gin.Request, limit)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &apierr.Error{Kind: apierr.Invalid, Cause: apierr.CauseBodyTooLarge, Reason: fmt.Sprintf("request body over %d bytes", limit)}
		}
		return nil, &apierr.Error{Kind: apierr.Invalid, Cause: apierr.CauseBodyMalformed, Reason: "read body: " + err.Error()}
	}
	c.Body = body
	c.entry.RequestBody = journal.Trim(body)
	var params map[string]string
	if len(c.Gin.Params) > 0 {
		params = make(map[string]string, len(c.Gin.Params))
		for _, prm := range c.Gin.Params {
			params[prm.Key] = prm.Value
		}
	}
	err = c.Op.ValidateRequest(c.Gin.Request.Context(), spec.Request{
		HTTP: c.Gin.Request, Body: body, PathParams: params, Auth: (*authenticating)(c),
	})
	if err != nil {
		if e := apierr.As(err); e != nil && e.Kind == apierr.Invalid {
			c.entry.Validation = e.Reason
		}
		return nil, err
	}
	if p.deps.Faults != nil {
		f, err := p.deps.Faults.match(c)
		if err != nil {
			return nil, err
		}
		if f != nil {
			c.entry.Fault = f.ID
			p.logFault(c, f)
			if f.LatencyMillis > 0 {
				time.Sleep(time.Duration(f.LatencyMillis) * time.Millisecond)
			}
			if f.Drop {
				if hj, ok := c.Gin.Writer.(http.Hijacker); ok {
					if conn, _, herr := hj.Hijack(); herr == nil {
						_ = conn.Close()
						return nil, errDropped
					}
				}
				c.Gin.Abort()
				return nil, errDropped
			}
			if f.Errcode != 0 || f.ErrorName != "" {
				return nil, &apierr.Error{Kind: apierr.Unavailable, Code: f.Errcode, Name: f.ErrorName, Status: f.Status, Reason: "injected by fault " + f.ID}
			}
		}
	}
	if err := c.Platform.Admit(c); err != nil {
		return nil, err
	}
	return h(c)
}

// finish is steps 6 and 7.
func (p *Pipeline) finish(c *Call, value any, err error) {
	var aerr *apierr.Error
	if err != nil {
		aerr = apierr.From(err)
		if aerr.Kind == apierr.Internal {
			p.deps.Logger.Error("request failed", "op", c.entry.Operation, "path", c.entry.Path, "err", err)
		}
	}
	var resp Response
	switch v := value.(type) {
	case Stream:
		if aerr == nil {
			h := c.Gin.Writer.Header()
			for k, vs := range v.Header {
				h[k] = vs
			}
			h["Content-Type"] = contentTypeValue(v.ContentType)
			c.Gin.Writer.WriteHeader(http.StatusOK)
			v.Write(c.Gin.Writer)
			p.close(c, Response{Status: http.StatusOK, ContentType: v.ContentType}, nil)
			return
		}
		resp = c.Platform.Render(c, nil, aerr)
	case Raw:
		if aerr == nil {
			resp = Response{Status: v.Status, ContentType: v.ContentType, Header: v.Header, Body: v.Body}
			if resp.Status == 0 {
				resp.Status = http.StatusOK
			}
			break
		}
		resp = c.Platform.Render(c, nil, aerr)
	case Redirect:
		if aerr == nil {
			resp = Response{Status: http.StatusFound, Header: http.Header{"Location": {v.URL}}}
			break
		}
		resp = c.Platform.Render(c, nil, aerr)
	default:
		resp = c.Platform.Render(c, value, aerr)
	}
	h := c.Gin.Writer.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	if resp.ContentType != "" {
		h["Content-Type"] = contentTypeValue(resp.ContentType)
	}
	c.Gin.Writer.WriteHeader(resp.Status)
	_, _ = c.Gin.Writer.Write(resp.Body)
	if p.deps.ResponseCheck != nil && c.Op != nil {
		err := c.Op.ValidateResponse(c.Gin.Request.Context(), spec.Request{HTTP: c.Gin.Request, Body: c.Body}, resp.Status, h, resp.Body)
		if err == nil && c.entry.Fault == "" {
			// Every code an operation answers is one its document declares (an injected fault's
			// code is the tester's own choice).
			err = c.Op.CheckDeclared(resp.Errcode, resp.ErrorName)
		}
		p.deps.ResponseCheck(c.Op, err)
	}
	p.close(c, resp, aerr)
}

func (p *Pipeline) close(c *Call, resp Response, aerr *apierr.Error) {
	e := &c.entry
	e.AppID = c.AppID
	e.Status = resp.Status
	e.Errcode = resp.Errcode
	e.ErrorName = resp.ErrorName
	if aerr != nil {
		e.Reason = aerr.Reason
	} else if c.Reason != "" {
		e.Reason = c.Reason
	}
	if strings.HasPrefix(resp.ContentType, "application/json") || strings.HasPrefix(resp.ContentType, "text/") {
		e.Response = journal.Trim(resp.Body)
	}
	e.CostMillis = p.deps.Clock.Now().Sub(c.Now).Milliseconds()
	e.Leak = c.leak
	p.deps.Journal.Add(*e)
	if c.logged {
		p.logRequest(c, e)
	}
}

// logRequest writes the request's line: what the journal entry says of it, and how long the
// sandbox took (wall time).
func (p *Pipeline) logRequest(c *Call, e *journal.Entry) {
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs, slog.String("method", e.Method), slog.String("path", e.Path))
	if e.AppID != "" {
		attrs = append(attrs, slog.String("appid", e.AppID))
	}
	attrs = append(attrs, slog.Int("status", e.Status))
	if e.Errcode != 0 {
		attrs = append(attrs, slog.Int("errcode", e.Errcode))
	}
	if e.ErrorName != "" {
		attrs = append(attrs, slog.String("error", e.ErrorName))
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if e.Fault != "" {
		attrs = append(attrs, slog.String("fault", e.Fault))
	}
	if e.Operation != "" {
		attrs = append(attrs, slog.String("op", e.Operation))
	}
	attrs = append(attrs, slog.Duration("duration", time.Since(c.started)))
	if e.ID != "" {
		attrs = append(attrs, slog.String("rid", e.ID))
	}
	p.deps.Logger.LogAttrs(c.Gin.Request.Context(), slog.LevelInfo, "request", attrs...)
}

// logFault writes the line of a fault applied to a request.
func (p *Pipeline) logFault(c *Call, f *Fault) {
	ctx := c.Gin.Request.Context()
	if !p.deps.Logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{slog.String("fault", f.ID), slog.String("method", c.entry.Method), slog.String("path", c.entry.Path)}
	if c.AppID != "" {
		attrs = append(attrs, slog.String("appid", c.AppID))
	}
	switch {
	case f.Drop:
		attrs = append(attrs, slog.Bool("drop", true))
	case f.Errcode != 0:
		attrs = append(attrs, slog.Int("errcode", f.Errcode))
	case f.ErrorName != "":
		attrs = append(attrs, slog.String("error", f.ErrorName))
	}
	if f.LatencyMillis > 0 {
		attrs = append(attrs, slog.Int("latency_ms", f.LatencyMillis))
	}
	p.deps.Logger.LogAttrs(ctx, slog.LevelInfo, "fault fired", attrs...)
}

// serveUnrouted answers a path with no operation, or a known path with the wrong method. A
// wrong method is the call of the operation on that path (the journal, the contract report and
// the declared codes count it there), refused before anything else runs.
func (p *Pipeline) serveUnrouted(g *gin.Context, wrongMethod bool) {
	pl := p.deps.Fallback(g.Request.URL.Path)
	err := &apierr.Error{Kind: apierr.NotFound, Reason: "no API at " + g.Request.Method + " " + g.Request.URL.Path}
	if p.deps.UnknownReason != nil && !wrongMethod {
		if reason := p.deps.UnknownReason(g.Request); reason != "" {
			err.Reason = reason
		}
	}
	var matched *spec.Operation
	if wrongMethod {
		err = &apierr.Error{Kind: apierr.Invalid, Cause: apierr.CauseWrongMethod, Reason: g.Request.Method + " is not accepted on " + g.Request.URL.Path}
		for _, op := range p.deps.Spec.Operations {
			if op.Document.Platform == pl.Name() && spec.Matches(op.Path, g.Request.URL.Path) {
				matched = op
				err.Field = op.Method // the method the API takes
				if op.Page {
					// A page (HTML, an image) is a web resource, not an API: its wrong method is
					// HTTP 405, in the platform's envelope.
					err.Status = http.StatusMethodNotAllowed
				}
				break
			}
		}
	}
	c := p.open(g, matched, pl)
	p.finish(c, nil, err)
}

// CreatedValue marks a success value that the control plane answers with 201 Created.
type CreatedValue struct{ Value any }

// Created wraps v so that the control plane answers 201.
func Created(v any) CreatedValue { return CreatedValue{Value: v} }
