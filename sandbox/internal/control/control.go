// Package control serves the sandbox's own control plane under /_sandbox/: health, reset, the
// clock, the request journal, fault injection, state snapshots and the OpenAPI documents. Its
// envelope is plain JSON; errors are {"error":{"code","message"}} with a matching HTTP status.
// When an admin token is configured every route but those its document declares open (health,
// the CA certificate) requires it (see Guard, which also guards the simulated 晋来办 app).
package control

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/hostmap"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/spec"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// Deps are what the control plane acts on.
type Deps struct {
	Store   *store.Store
	Journal *journal.Journal
	Clock   *clock.Controllable
	Faults  *endpoint.Faults
	Spec    *spec.Spec
	Version string
	// AdminToken, when not empty, is required as "Authorization: Bearer <token>".
	AdminToken string
	// Reset restores the fixtures; platform names one platform ("wechat", "jincheng") or all.
	Reset func(platform string) error
	// Reseed makes seed the sandbox's seed from the next reset on.
	Reseed func(seed uint64)
	// Restore replaces the state with a snapshot.
	Restore func(snapshot []byte) error
	// ClockMoved, when set, runs after every clock move: it records the clock (a move is
	// acknowledged only once recorded) and delivers the pushes that fell due.
	ClockMoved func() error
	// Hosts is the map of hosts to local addresses that /_sandbox/hosts shows and changes.
	Hosts *hostmap.Map
	// Logger gets a line per clock move (LogClockMove). Nil: no lines.
	Logger *slog.Logger
}

// Plane is the control plane.
type Plane struct {
	deps    Deps
	streams streams
}

// New returns the control plane.
func New(d Deps) *Plane {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Plane{deps: d}
}

// LogClockMove writes the line of a clock move (at info): move is "advance" (by d), "set",
// "freeze", "thaw" or "real"; the line says where the clock now stands and whether it is frozen.
func (p *Plane) LogClockMove(move string, d time.Duration) {
	ctx := context.Background()
	if !p.deps.Logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{slog.String("move", move)}
	if move == "advance" {
		attrs = append(attrs, slog.Duration("by", d))
	}
	attrs = append(attrs, slog.Time("now", p.deps.Clock.Now()), slog.Bool("frozen", p.deps.Clock.Frozen()))
	p.deps.Logger.LogAttrs(ctx, slog.LevelInfo, "clock moved", attrs...)
}

// Name implements endpoint.Platform.
func (p *Plane) Name() string { return "control" }

// RequestID implements endpoint.Platform; control-plane requests are numbered by the journal.
func (p *Plane) RequestID(time.Time) string { return "" }

// Authenticate implements endpoint.Platform: the admin token, as Guard takes it. (Guard, in
// front of the router, refuses first; this keeps the control plane closed wherever it is
// mounted.)
func (p *Plane) Authenticate(c *endpoint.Call, scheme string) error {
	if p.deps.AdminToken == "" {
		return nil
	}
	if !authorized(c.Request(), p.deps.AdminToken) {
		return &apierr.Error{Kind: apierr.Unauthenticated, Name: "unauthorized", Status: http.StatusUnauthorized, Reason: "this sandbox requires Authorization: Bearer <admin token> on /_sandbox/ routes"}
	}
	return nil
}

// BodyLimit implements endpoint.BodyLimiter: a state restore takes a snapshot of any size, since
// it must take back whatever GET /_sandbox/state returned; every other route keeps
// endpoint.MaxBody.
func (p *Plane) BodyLimit(op *spec.Operation) int64 {
	if op != nil && op.ID == "putState" {
		return 0
	}
	return endpoint.MaxBody
}

// Admit implements endpoint.Platform; the control plane has no quotas.
func (p *Plane) Admit(*endpoint.Call) error { return nil }

// Render implements endpoint.Platform.
func (p *Plane) Render(c *endpoint.Call, value any, err *apierr.Error) endpoint.Response {
	resp := endpoint.Response{Status: http.StatusOK, ContentType: "application/json; charset=utf-8"}
	if err != nil {
		resp.Status = statusFor(err)
		resp.ErrorName = err.Name
		if resp.ErrorName == "" {
			resp.ErrorName = err.Kind.String()
		}
		resp.Body = encode(map[string]any{"error": map[string]any{"code": resp.ErrorName, "message": err.Reason}})
		return resp
	}
	if cv, ok := value.(endpoint.CreatedValue); ok {
		resp.Status = http.StatusCreated
		value = cv.Value
	}
	if value == nil {
		value = map[string]any{"ok": true}
	}
	resp.Body = encode(value)
	return resp
}

func statusFor(err *apierr.Error) int {
	if err.Status != 0 {
		return err.Status
	}
	switch err.Kind {
	case apierr.Invalid:
		if err.Cause == apierr.CauseBodyTooLarge {
			return http.StatusRequestEntityTooLarge
		}
		if err.Cause == apierr.CauseWrongMethod {
			return http.StatusMethodNotAllowed
		}
		return http.StatusBadRequest
	case apierr.Unauthenticated:
		return http.StatusUnauthorized
	case apierr.Forbidden:
		return http.StatusForbidden
	case apierr.NotFound:
		return http.StatusNotFound
	case apierr.Conflict, apierr.Expired:
		return http.StatusConflict
	case apierr.QuotaExceeded:
		return http.StatusTooManyRequests
	case apierr.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// encode is v as the control plane's body; a value that does not encode is its internal error.
func encode(v any) []byte {
	b, err := jsonenc.Marshal(v)
	if err != nil {
		return []byte(`{"error":{"code":"internal","message":"encode response"}}`)
	}
	return b
}

// Routes registers the control-plane handlers.
func (p *Plane) Routes(r endpoint.Routes) {
	r.Handle("health", p.handleHealth)                  // GET /_sandbox/health
	r.Handle("reset", p.handleReset)                    // POST /_sandbox/reset
	r.Handle("getClock", p.handleGetClock)              // GET /_sandbox/clock
	r.Handle("moveClock", p.handleMoveClock)            // POST /_sandbox/clock
	r.Handle("listRequests", p.handleRequests)          // GET /_sandbox/requests
	r.Handle("listFaults", p.handleListFaults)          // GET /_sandbox/faults
	r.Handle("addFault", p.handleAddFault)              // POST /_sandbox/faults
	r.Handle("deleteFaults", p.handleDelFaults)         // DELETE /_sandbox/faults
	r.Handle("getState", p.handleGetState)              // GET /_sandbox/state
	r.Handle("putState", p.handlePutState)              // PUT /_sandbox/state
	r.Handle("getOpenAPI", p.handleOpenAPI)             // GET /_sandbox/openapi/{name}
	r.Handle("listOpenAPI", p.handleListOpenAPI)        // GET /_sandbox/openapi/
	r.Handle("listHosts", p.handleListHosts)            // GET /_sandbox/hosts
	r.Handle("putHost", p.handlePutHost)                // PUT /_sandbox/hosts/{host}
	r.Handle("deleteHost", p.handleDeleteHost)          // DELETE /_sandbox/hosts/{host}
	r.Handle("streamRequests", p.handleStreamRequests)  // GET /_sandbox/requests/stream
	r.Handle("getConsole", p.handleConsole)             // GET /_sandbox/console/
	r.Handle("getConsoleScript", p.handleConsoleScript) // GET /_sandbox/console/console.js
	r.Handle("getIndex", p.handleIndex)                 // GET /_sandbox/
	r.Handle("getJinchengIndex", p.handleJinchengIndex) // GET /jincheng/
}

func (p *Plane) handleHealth(c *endpoint.Call) (any, error) {
	return map[string]any{"status": "ok", "version": p.deps.Version}, nil
}

func (p *Plane) handleReset(c *endpoint.Call) (any, error) {
	var req struct {
		Platform string  `json:"platform"`
		Seed     *uint64 `json:"seed"`
		Clock    string  `json:"clock"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	// A scenario replay pins the seed and freezes the clock before the fixtures load, so that
	// what they generate is reproducible too.
	if (req.Seed != nil || req.Clock != "") && req.Platform != "" {
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_reset", Reason: "seed and clock apply to a reset of every platform"}
	}
	if req.Clock != "" {
		t, err := time.Parse(time.RFC3339, req.Clock)
		if err != nil {
			return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_reset", Reason: fmt.Sprintf("clock %q is not an RFC 3339 time", req.Clock)}
		}
		p.deps.Clock.Freeze(t.UTC()) // as sandboxtest and New's clocks: times render the same
		p.LogClockMove("freeze", 0)
	}
	if req.Seed != nil && p.deps.Reseed != nil {
		p.deps.Reseed(*req.Seed)
	}
	if err := p.deps.Reset(req.Platform); err != nil {
		return nil, err
	}
	return map[string]any{"ok": true, "platform": req.Platform}, nil
}

type clockView struct {
	Now    time.Time `json:"now"`
	Unix   int64     `json:"unix"`
	Frozen bool      `json:"frozen"`
}

func (p *Plane) clockView() clockView {
	now := p.deps.Clock.Now()
	return clockView{Now: now, Unix: now.Unix(), Frozen: p.deps.Clock.Frozen()}
}

func (p *Plane) handleGetClock(*endpoint.Call) (any, error) { return p.clockView(), nil }

func (p *Plane) handleMoveClock(c *endpoint.Call) (any, error) {
	var req struct {
		Advance string `json:"advance"`
		Set     string `json:"set"`
		Real    bool   `json:"real"`
		Freeze  *bool  `json:"freeze"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	invalid := func(format string, args ...any) error {
		return &apierr.Error{Kind: apierr.Invalid, Name: "invalid_clock", Reason: fmt.Sprintf(format, args...)}
	}
	move, by := "", time.Duration(0)
	given := 0
	for _, g := range []bool{req.Advance != "", req.Set != "", req.Real, req.Freeze != nil} {
		if g {
			given++
		}
	}
	switch {
	case given > 1:
		return nil, invalid("give one of advance, set, real or freeze, not several")
	case req.Advance != "":
		d, err := time.ParseDuration(req.Advance)
		if err != nil {
			return nil, invalid("advance %q is not a duration such as 90s or 2h", req.Advance)
		}
		if d < 0 {
			return nil, invalid("advance must not be negative; use set to go back, or real for wall time")
		}
		p.deps.Clock.Advance(d)
		move, by = "advance", d
	case req.Set != "":
		t, err := time.Parse(time.RFC3339, req.Set)
		if err != nil {
			return nil, invalid("set %q is not an RFC 3339 time", req.Set)
		}
		p.deps.Clock.Set(t)
		move = "set"
	case req.Real:
		// Back to wall time: running, no offset, whether the clock was moved or frozen.
		p.deps.Clock.Run(0)
		move = "real"
	case req.Freeze != nil && *req.Freeze:
		// Stop where it is now; a frozen clock stays where it stands.
		if !p.deps.Clock.Frozen() {
			p.deps.Clock.Freeze(p.deps.Clock.Now())
		}
		move = "freeze"
	case req.Freeze != nil:
		// Run on from the instant it stands at (real drops the offset instead).
		p.deps.Clock.Thaw()
		move = "thaw"
	default:
		return nil, invalid("give advance, set, real or freeze")
	}
	p.LogClockMove(move, by)
	if p.deps.ClockMoved != nil {
		if err := p.deps.ClockMoved(); err != nil {
			return nil, err
		}
	}
	return p.clockView(), nil
}

func (p *Plane) handleRequests(c *endpoint.Call) (any, error) {
	f, err := journalFilter(c)
	if err != nil {
		return nil, err
	}
	if v := c.Query("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_filter", Reason: "since must be an RFC 3339 time"}
		}
		f.Since = t
	}
	if f.Before, err = seqParam(c, "before"); err != nil {
		return nil, err
	}
	if f.After, err = seqParam(c, "after"); err != nil {
		return nil, err
	}
	entries := p.deps.Journal.List(f)
	return map[string]any{"requests": entries, "count": len(entries)}, nil
}

func (p *Plane) handleListFaults(*endpoint.Call) (any, error) {
	return map[string]any{"faults": p.deps.Faults.List()}, nil
}

func (p *Plane) handleAddFault(c *endpoint.Call) (any, error) {
	var f endpoint.Fault
	if err := c.Bind(&f); err != nil {
		return nil, err
	}
	if f.Path == "" && f.AppID == "" {
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_fault", Reason: "a fault needs a path, an appid or both"}
	}
	if f.Errcode == 0 && f.ErrorName == "" && f.LatencyMillis == 0 && !f.Drop {
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_fault", Reason: "a fault needs an errcode, error_name, latency_ms or drop"}
	}
	added, err := p.deps.Faults.Add(f)
	if err != nil {
		return nil, err
	}
	return endpoint.Created(added), nil
}

// handleDelFaults removes one fault (?id=fault-3) or, with no id at all, every fault. An empty
// id is refused: "?id=$ID" with ID unset must not delete everything.
func (p *Plane) handleDelFaults(c *endpoint.Call) (any, error) {
	id, given := c.Gin.GetQuery("id")
	if given && id == "" {
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_fault", Reason: "id is empty: give a fault's id, or no id at all to delete every fault"}
	}
	removed, err := p.deps.Faults.Remove(id)
	if err != nil {
		return nil, err
	}
	if !removed && id != "" {
		return nil, &apierr.Error{Kind: apierr.NotFound, Name: "fault_not_found", Reason: "no fault " + id}
	}
	return nil, nil
}

func (p *Plane) handleGetState(*endpoint.Call) (any, error) {
	snap, err := p.deps.Store.Snapshot()
	if err != nil {
		return nil, err
	}
	hash, err := p.deps.Store.Hash()
	if err != nil {
		return nil, err
	}
	return map[string]any{"hash": hash, "clock": p.clockView(), "entries": json.RawMessage(snap)}, nil
}

func (p *Plane) handlePutState(c *endpoint.Call) (any, error) {
	var req struct {
		Entries json.RawMessage `json:"entries"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	if err := p.deps.Restore(req.Entries); err != nil {
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_snapshot", Reason: err.Error()}
	}
	hash, err := p.deps.Store.Hash()
	if err != nil {
		return nil, err
	}
	return map[string]any{"ok": true, "hash": hash}, nil
}

func (p *Plane) handleListOpenAPI(*endpoint.Call) (any, error) {
	names := []string{}
	for _, d := range p.deps.Spec.Documents {
		names = append(names, d.Name+".yaml")
	}
	return map[string]any{"documents": names}, nil
}

func (p *Plane) handleOpenAPI(c *endpoint.Call) (any, error) {
	name := strings.TrimSuffix(c.Param("name"), ".yaml")
	d := p.deps.Spec.Document(name)
	if d == nil {
		return nil, &apierr.Error{Kind: apierr.NotFound, Name: "document_not_found", Reason: "no OpenAPI document " + c.Param("name")}
	}
	return endpoint.Raw{ContentType: "application/yaml", Body: d.Raw}, nil
}

func (p *Plane) handleListHosts(*endpoint.Call) (any, error) {
	return map[string]any{"hosts": p.deps.Hosts.Mappings()}, nil
}

// handlePutHost maps a host to a local address: the user's own test server, or a scenario
// runner's receiver.
func (p *Plane) handlePutHost(c *endpoint.Call) (any, error) {
	var req struct {
		Addr string `json:"addr"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	m, err := p.deps.Hosts.Set(c.Param("host"), req.Addr)
	if err != nil {
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_host_mapping", Reason: err.Error()}
	}
	return m, nil
}

func (p *Plane) handleDeleteHost(c *endpoint.Call) (any, error) {
	if !p.deps.Hosts.Delete(c.Param("host")) {
		return nil, &apierr.Error{Kind: apierr.NotFound, Name: "host_not_mapped", Reason: "no mapping for host " + c.Param("host")}
	}
	return nil, nil
}
