package sandbox

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// DefaultMaxNamespaces is how many namespaces a Hub keeps at once unless WithMaxNamespaces says
// otherwise.
const DefaultMaxNamespaces = 100

// namespacePrefix starts the paths of a namespace: /ns/<name>/cgi-bin/token.
const namespacePrefix = "/ns/"

// namespaceHostLabel is the label after a namespace's name in its host: <name>.ns.<any host>.
const namespaceHostLabel = "ns"

// namespaceKey holds a namespace's own record in its store: bookkeeping, outside the state hash.
const namespaceKey = store.Bookkeeping + "namespace"

// Hub serves many sandboxes from one handler. The default sandbox answers the root paths, as a
// sandbox of its own does; each namespace is a whole Server of its own — store, clock, seed,
// quotas, journal, faults, pushes, contract report — reached under /ns/<name>/ (the control
// plane at /ns/<name>/_sandbox/, Jincheng at /ns/<name>/jincheng/) or on the host
// <name>.ns.<any host>. Namespaces are created, listed and deleted at /_sandbox/namespaces on the
// root (with the admin token, when one is set) or with the Go twins; using one needs no token:
// its name is its capability.
//
// Namespaces share the parsed OpenAPI documents and the fixtures' baseline state, so creating
// one costs about as much as copying that baseline into a new store. With WithNamespaceDir each
// lives in a file of its own and survives restarts; an idle one goes after its ttl of wall time.
type Hub struct {
	cfg    config // what every namespace is built from
	def    *Server
	wall   func() time.Time
	dir    string // "" keeps the namespaces in memory
	owner  *store.Owner
	logger *slog.Logger
	max    int
	// baselineAt is the instant (the hub's start, to the second) that the fixtures of a
	// namespace with a running clock are loaded as at, so that such namespaces share a
	// baseline instead of each generating its own.
	baselineAt time.Time

	mu       sync.RWMutex
	spaces   map[string]*namespace
	creating map[string]bool // names reserved by a creation in progress
	closed   bool
}

// namespace is one named sandbox of a hub.
type namespace struct {
	name    string
	srv     *Server
	ttl     time.Duration // 0: never expires
	created time.Time
	// lastUsed is the wall time (Unix ns) of the latest request; saved is the value last
	// recorded in the namespace's store, so that only a change is written.
	lastUsed atomic.Int64
	saved    atomic.Int64
	// gate is held shared by every request the namespace serves and exclusively by its removal,
	// which so waits for the requests in flight before it closes the store.
	gate sync.RWMutex
	gone bool // under gate: removed, its store closed
}

// namespaceRecord is what a namespace's store keeps about the namespace itself.
type namespaceRecord struct {
	Name       string        `json:"name"`
	CreatedAt  time.Time     `json:"created_at"`
	TTL        time.Duration `json:"ttl,omitempty"`
	LastUsedAt time.Time     `json:"last_used_at"`
}

// NamespaceSpec describes a namespace to create: the Go twin of the body of
// POST /_sandbox/namespaces.
type NamespaceSpec struct {
	// Name is the namespace's name: 1 to 63 of a-z, 0-9 and "-". Empty: one is generated
	// ("ns-" and 16 random characters, hard to guess, since a name is a capability).
	Name string
	// Seed seeds the namespace's random values. Nil: the hub's seed (WithSeed).
	Seed *uint64
	// Clock, when not zero, freezes the namespace's clock at that instant before its fixtures
	// load, as a reset with a clock does. Zero: the hub's clock option (WithFrozenClock), or a
	// clock that follows wall time.
	Clock time.Time
	// TTL is how long the namespace may stay unused, on wall time, before the hub removes it.
	// Zero: the hub's WithNamespaceTTL (by default, kept until deleted).
	TTL time.Duration
}

// Namespace describes a namespace, as POST and GET /_sandbox/namespaces show it.
type Namespace struct {
	// Name is the namespace's name; Path ("/ns/<name>") prefixes its paths.
	Name string
	Path string
	// Seed is the seed its world was made from (or reseeded with, by a reset).
	Seed uint64
	// Clock is its sandbox time now; ClockFrozen says whether that clock stands still.
	Clock       time.Time
	ClockFrozen bool
	// TTL is how long it may stay unused (0: until deleted); ExpiresAt, when TTL is set, is
	// when it goes if unused until then. Times here are wall times.
	TTL        time.Duration
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	// Keys and Bytes are the size of its stored state.
	Keys, Bytes int
}

// NewHub builds a hub: its default sandbox from opts, exactly as New would, and, with
// WithNamespaceDir, the namespaces it finds in that directory. Every option of New applies to
// the default sandbox and, where it makes sense, to every namespace: fixtures, specs, logger,
// version, sync policy, push timing, response validation, journal size, host mappings, and seed
// and clock unless a namespace names its own. The admin token guards the default sandbox's
// control plane (namespace management included), not the namespaces; a recorder records the
// default sandbox only.
func NewHub(opts ...Option) (*Hub, error) {
	cfg := configure(opts)
	world := foreseenWorld(cfg) // the default sandbox's, if its store is fresh
	if cfg.spec == nil {
		loaded, err := loadSpecs(cfg.specs)
		if err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		cfg.spec = loaded
		cfg.shared = &Spec{s: loaded, baselines: map[baselineKey][]store.Entry{}}
	}
	if cfg.shared == nil || cfg.ownFixtures {
		// The baseline cache is kept per set of fixtures: a hub with fixtures of its own gets
		// a cache of its own, which all its namespaces share.
		cfg.shared = &Spec{s: cfg.spec, baselines: map[baselineKey][]store.Entry{}}
		cfg.ownFixtures = false
	}
	h := &Hub{
		cfg: cfg, wall: cfg.wall, logger: cfg.logger, max: cfg.maxNamespaces,
		spaces: map[string]*namespace{}, creating: map[string]bool{},
	}
	if h.wall == nil {
		h.wall = time.Now
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler) // disabled at every level: a log line costs nothing
	}
	if h.max <= 0 {
		h.max = DefaultMaxNamespaces
	}
	// The world's instant, not the hub's bookkeeping: wall time even under WithWallClock.
	h.baselineAt = time.Now().UTC().Truncate(time.Second)
	if cfg.namespaceDir != "" && cfg.namespaceDir != store.Memory {
		h.dir = cfg.namespaceDir
		if err := os.MkdirAll(h.dir, 0o755); err != nil {
			return nil, fmt.Errorf("sandbox: namespace directory: %w", err)
		}
		var err error
		if h.owner, err = store.Own(filepath.Join(h.dir, "namespaces")); err != nil {
			return nil, fmt.Errorf("sandbox: namespace directory: %w", err)
		}
	}
	defCfg := cfg
	defCfg.hub, defCfg.world = h, world
	var err error
	if h.def, err = newServer(defCfg); err != nil {
		_ = h.owner.Release()
		return nil, err
	}
	if err := h.reopen(); err != nil {
		_ = h.Close()
		return nil, err
	}
	return h, nil
}

// Default returns the default sandbox: the one at the root paths.
func (h *Hub) Default() *Server { return h.def }

// Handler returns the hub's HTTP handler: namespaces by path prefix or host, the default sandbox
// for everything else.
func (h *Hub) Handler() http.Handler { return http.HandlerFunc(h.serveHTTP) }

// ValidNamespaceName reports whether name can name a namespace: 1 to 63 of a-z, 0-9 and "-".
func ValidNamespaceName(name string) bool {
	if len(name) == 0 || len(name) > 63 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// nameRule is how a refusal states the rule.
const nameRule = "1 to 63 of a-z, 0-9 and -"

// route is where a request goes: the namespace it names, if any, and how.
type route struct {
	name string // as written; not necessarily a valid name
	// byHost is set when the host named the namespace; otherwise the path prefix did, and
	// innerPath and innerRaw are the path inside the namespace.
	byHost              bool
	innerPath, innerRaw string
	// invalid, when set, is why the request cannot reach any namespace.
	invalid string
}

// routeOf finds the namespace a request names: the host <name>.ns.<host> first, then the path
// prefix /ns/<name>/. ok is false for a request to the default sandbox.
func routeOf(r *http.Request) (rt route, ok bool) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if labels := strings.SplitN(host, ".", 3); len(labels) == 3 && labels[1] == namespaceHostLabel && labels[2] != "" {
		rt = route{name: labels[0], byHost: true}
		if !ValidNamespaceName(rt.name) {
			rt.invalid = fmt.Sprintf("host %s names no namespace: a namespace name is %s", host, nameRule)
		}
		return rt, true
	}
	if !strings.HasPrefix(r.URL.Path, namespacePrefix) {
		return route{}, false
	}
	// The name is read from the path as sent, so that an encoded slash cannot move the
	// boundary between the name and the path inside the namespace.
	escaped := r.URL.EscapedPath()
	rest, found := strings.CutPrefix(escaped, namespacePrefix)
	if !found {
		return route{name: "", invalid: "the namespace prefix is encoded: " + escaped}, true
	}
	name, inner, _ := strings.Cut(rest, "/")
	rt = route{name: name, innerRaw: "/" + inner}
	switch {
	case strings.Contains(name, "%"):
		rt.invalid = fmt.Sprintf("namespace name %q is percent-encoded: a name is %s, written as is", name, nameRule)
	case !ValidNamespaceName(name):
		rt.invalid = fmt.Sprintf("%q is not a namespace name: a name is %s", name, nameRule)
	default:
		p, err := url.PathUnescape(rt.innerRaw)
		if err != nil {
			rt.invalid = "the path inside namespace " + name + " is not a valid escaped path"
			break
		}
		rt.innerPath = p
	}
	return rt, true
}

// pathInNamespace returns path without a leading /ns/<name>: the path a namespace would see.
func pathInNamespace(path string) string {
	rest, ok := strings.CutPrefix(path, namespacePrefix)
	if !ok {
		return path
	}
	_, inner, _ := strings.Cut(rest, "/")
	return "/" + inner
}

type refusalKey struct{}

// unknownNamespaceReason is the journal's reason for a request that named a namespace the hub
// could not serve it from (the hub says why), or that reached a sandbox serving no namespaces.
func unknownNamespaceReason(r *http.Request) string {
	if reason, ok := r.Context().Value(refusalKey{}).(string); ok {
		return reason
	}
	if strings.HasPrefix(r.URL.Path, namespacePrefix) {
		return "no API at " + r.Method + " " + r.URL.Path + ": this sandbox serves no namespaces (a hub's root does: citysandbox serve)"
	}
	return ""
}

func (h *Hub) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := routeOf(r)
	if !ok {
		h.def.public.ServeHTTP(w, r)
		return
	}
	if rt.invalid != "" {
		h.refuse(w, r, rt, rt.invalid)
		return
	}
	ns := h.lookup(rt.name)
	if ns == nil {
		h.refuse(w, r, rt, fmt.Sprintf("no namespace %q: it was never created, or was deleted or expired (POST /_sandbox/namespaces creates one)", rt.name))
		return
	}
	now := h.wall()
	if ns.expired(now) {
		h.remove(ns, "expired")
		h.refuse(w, r, rt, fmt.Sprintf("no namespace %q: it expired, unused for its ttl of %s", rt.name, ns.ttl))
		return
	}
	ns.gate.RLock()
	defer ns.gate.RUnlock()
	if ns.gone {
		h.refuse(w, r, rt, fmt.Sprintf("no namespace %q: it was deleted", rt.name))
		return
	}
	ns.lastUsed.Store(now.UnixNano())
	if rt.byHost {
		ns.srv.public.ServeHTTP(w, r)
		return
	}
	// As http.StripPrefix does: the namespace sees its own paths, as a sandbox of its own would,
	// and the path as sent stays known (a Jincheng client may have signed it).
	r2 := r.WithContext(endpoint.WithOuterPath(r.Context(), r.URL.EscapedPath()))
	r2.URL = new(url.URL)
	*r2.URL = *r.URL
	r2.URL.Path, r2.URL.RawPath = rt.innerPath, rt.innerRaw
	r2.RequestURI = r2.URL.RequestURI()
	ns.srv.public.ServeHTTP(w, r2)
}

// refuse answers a request for a namespace that cannot serve it as the default sandbox answers
// an unknown path — in the envelope of the platform the path inside the namespace names — and
// journals it there with reason. The path it journals always starts with /ns/<name>, so that no
// route of the default sandbox can match it.
func (h *Hub) refuse(w http.ResponseWriter, r *http.Request, rt route, reason string) {
	r2 := r.WithContext(context.WithValue(r.Context(), refusalKey{}, reason))
	if rt.byHost || !strings.HasPrefix(r.URL.Path, namespacePrefix) {
		r2.URL = new(url.URL)
		*r2.URL = *r.URL
		r2.URL.Path, r2.URL.RawPath = namespacePrefix+url.PathEscape(rt.name)+r.URL.Path, ""
	}
	h.def.public.ServeHTTP(w, r2)
}

func (h *Hub) lookup(name string) *namespace {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.spaces[name]
}

func (ns *namespace) expired(now time.Time) bool {
	return ns.ttl > 0 && now.Sub(time.Unix(0, ns.lastUsed.Load())) >= ns.ttl
}

// namespaceConfig derives a namespace's configuration from the hub's.
func (h *Hub) namespaceConfig(name string) config {
	cfg := h.cfg
	cfg.hub, cfg.namespace = nil, name
	cfg.adminToken = "" // a namespace's name is its capability
	cfg.recorder = nil  // a recording is of the default sandbox
	cfg.storePath = store.Memory
	if h.dir != "" {
		cfg.storePath = h.dataFile(name)
	}
	cfg.caSource = h.def.certificateAuthority // one CA for the hub, whose listeners are the root's
	return cfg
}

// dataFile is the file of a (valid) namespace name: inside the directory, whatever the name.
func (h *Hub) dataFile(name string) string { return filepath.Join(h.dir, name+".db") }

// CreateNamespace creates a namespace: the Go twin of POST /_sandbox/namespaces.
func (h *Hub) CreateNamespace(ns NamespaceSpec) (Namespace, error) {
	if ns.Name == "" {
		ns.Name = generatedName()
	}
	if !ValidNamespaceName(ns.Name) {
		return Namespace{}, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_namespace", Reason: fmt.Sprintf("%q is not a namespace name: a name is %s", ns.Name, nameRule)}
	}
	if ns.TTL < 0 {
		return Namespace{}, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_namespace", Reason: "ttl must not be negative"}
	}
	if err := h.reserve(ns.Name); err != nil {
		return Namespace{}, err
	}
	defer func() {
		h.mu.Lock()
		delete(h.creating, ns.Name)
		h.mu.Unlock()
	}()
	cfg := h.namespaceConfig(ns.Name)
	if ns.Seed != nil {
		cfg.seed = *ns.Seed
	}
	if !ns.Clock.IsZero() {
		cfg.frozen, cfg.start = true, ns.Clock
	} else if !cfg.frozen {
		cfg.baselineAt = h.baselineAt
	}
	if h.dir != "" {
		// A file of this name that no namespace owns is what a creation interrupted by a crash
		// left behind: the new namespace starts afresh rather than in that world.
		h.removeFiles(ns.Name)
	}
	srv, err := newServer(cfg)
	if err != nil {
		h.removeFiles(ns.Name)
		return Namespace{}, err
	}
	now := h.wall()
	space := &namespace{name: ns.Name, srv: srv, ttl: ns.TTL, created: now.UTC()}
	if space.ttl == 0 {
		space.ttl = h.cfg.namespaceTTL
	}
	space.lastUsed.Store(now.UnixNano())
	if err := space.save(); err != nil {
		_ = srv.Close()
		h.removeFiles(ns.Name)
		return Namespace{}, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = srv.Close()
		return Namespace{}, errHubClosed
	}
	h.spaces[ns.Name] = space
	h.mu.Unlock()
	h.logger.Info("namespace created", "name", ns.Name, "seed", srv.seed.Load(), "ttl", space.ttl)
	return space.describe(now)
}

var errHubClosed = &apierr.Error{Kind: apierr.Unavailable, Name: "closed", Reason: "the sandbox is shutting down"}

// reserve claims name for a creation, within the cap.
func (h *Hub) reserve(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return errHubClosed
	case h.spaces[name] != nil || h.creating[name]:
		return &apierr.Error{Kind: apierr.Conflict, Name: "namespace_exists", Status: http.StatusConflict, Reason: fmt.Sprintf("namespace %q exists: delete it first, or choose another name", name)}
	case len(h.spaces)+len(h.creating) >= h.max:
		return &apierr.Error{Kind: apierr.Conflict, Name: "namespace_limit", Status: http.StatusConflict, Reason: fmt.Sprintf("%d namespaces exist, as many as this sandbox keeps (--max-namespaces): delete one first", h.max)}
	}
	h.creating[name] = true
	return nil
}

// generatedName is a name nobody can guess: a namespace's name is the capability to use it, so
// it comes from the system's secure source rather than a seed (nothing inside any namespace
// depends on it).
func generatedName() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "ns-" + string(b)
}

// save records the namespace's own record in its store.
func (ns *namespace) save() error {
	used := ns.lastUsed.Load()
	rec := namespaceRecord{Name: ns.name, CreatedAt: ns.created, TTL: ns.ttl, LastUsedAt: time.Unix(0, used).UTC()}
	if err := ns.srv.store.Update(func(tx *store.Tx) error { return tx.Put(namespaceKey, rec) }); err != nil {
		return fmt.Errorf("sandbox: namespace %s: record: %w", ns.name, err)
	}
	ns.saved.Store(used)
	return nil
}

// describe reads what a listing shows of the namespace.
func (ns *namespace) describe(now time.Time) (Namespace, error) {
	keys, bytes, err := ns.srv.store.Size()
	if err != nil {
		return Namespace{}, fmt.Errorf("sandbox: namespace %s: %w", ns.name, err)
	}
	d := Namespace{
		Name: ns.name, Path: namespacePrefix + ns.name, Seed: ns.srv.seed.Load(),
		Clock: ns.srv.clock.Now(), ClockFrozen: ns.srv.clock.Frozen(),
		TTL: ns.ttl, CreatedAt: ns.created, LastUsedAt: time.Unix(0, ns.lastUsed.Load()).UTC(),
		Keys: keys, Bytes: bytes,
	}
	if ns.ttl > 0 {
		d.ExpiresAt = d.LastUsedAt.Add(ns.ttl)
	}
	return d, nil
}

// Namespace returns the sandbox of a namespace, for its Go twins (WeChat, Jincheng, Advance...),
// and whether it exists. Using it through the Go twins does not count as use for its ttl.
func (h *Hub) Namespace(name string) (*Server, bool) {
	ns := h.lookup(name)
	if ns == nil {
		return nil, false
	}
	return ns.srv, true
}

// Namespaces lists the namespaces by name: the Go twin of GET /_sandbox/namespaces. Idle
// namespaces past their ttl are removed first.
func (h *Hub) Namespaces() ([]Namespace, error) {
	h.RemoveIdle()
	h.mu.RLock()
	spaces := make([]*namespace, 0, len(h.spaces))
	for _, ns := range h.spaces {
		spaces = append(spaces, ns)
	}
	h.mu.RUnlock()
	slices.SortFunc(spaces, func(a, b *namespace) int { return strings.Compare(a.name, b.name) })
	now := h.wall()
	out := make([]Namespace, 0, len(spaces))
	for _, ns := range spaces {
		d, err := ns.describe(now)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// DescribeNamespace describes one namespace: the Go twin of GET /_sandbox/namespaces/{name}.
func (h *Hub) DescribeNamespace(name string) (Namespace, error) {
	h.RemoveIdle()
	ns := h.lookup(name)
	if ns == nil {
		return Namespace{}, noNamespace(name)
	}
	return ns.describe(h.wall())
}

func noNamespace(name string) error {
	return &apierr.Error{Kind: apierr.NotFound, Name: "namespace_not_found", Reason: fmt.Sprintf("no namespace %q", name)}
}

// DeleteNamespace removes a namespace and its data, after the requests it is serving: the Go
// twin of DELETE /_sandbox/namespaces/{name}.
func (h *Hub) DeleteNamespace(name string) error {
	ns := h.lookup(name)
	if ns == nil {
		return noNamespace(name)
	}
	if !h.remove(ns, "deleted") {
		return noNamespace(name)
	}
	return nil
}

// RemoveIdle removes the namespaces left unused for their ttl (wall time, on the hub's clock)
// and returns their names. The hub's Serve calls it periodically; listings call it first.
func (h *Hub) RemoveIdle() []string {
	now := h.wall()
	h.mu.RLock()
	var idle []*namespace
	for _, ns := range h.spaces {
		if ns.expired(now) {
			idle = append(idle, ns)
		}
	}
	h.mu.RUnlock()
	var names []string
	for _, ns := range idle {
		if h.remove(ns, "expired") {
			names = append(names, ns.name)
		}
	}
	slices.Sort(names)
	return names
}

// remove takes ns out of the hub, waits for its requests in flight, closes its store and deletes
// its files. It reports whether it did (false: another removal got there first).
func (h *Hub) remove(ns *namespace, why string) bool {
	h.mu.Lock()
	if h.spaces[ns.name] != ns {
		h.mu.Unlock()
		return false
	}
	delete(h.spaces, ns.name)
	h.mu.Unlock()
	ns.gate.Lock()
	ns.gone = true
	err := ns.srv.Close()
	ns.gate.Unlock()
	if err != nil {
		h.logger.Warn("namespace close", "name", ns.name, "err", err)
	}
	if h.dir != "" {
		h.removeFiles(ns.name)
	}
	h.logger.Info("namespace removed", "name", ns.name, "why", why)
	return true
}

// removeFiles deletes a namespace's data file and its lock file. The hub owns the directory, so
// no other process can be holding or about to take that lock.
func (h *Hub) removeFiles(name string) {
	if h.dir == "" {
		return
	}
	for _, p := range []string{h.dataFile(name), h.dataFile(name) + ".lock"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			h.logger.Warn("namespace files", "name", name, "err", err)
		}
	}
}

// reopen opens every namespace found in the directory, as it was when the hub that made it
// stopped: its world, clock, seed and faults from its store, its ttl and last use from its
// record.
func (h *Hub) reopen() error {
	if h.dir == "" {
		return nil
	}
	files, err := filepath.Glob(filepath.Join(h.dir, "*.db"))
	if err != nil {
		return fmt.Errorf("sandbox: namespace directory: %w", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".db")
		if !ValidNamespaceName(name) {
			continue // not a file a hub made
		}
		if len(h.spaces) >= h.max {
			return fmt.Errorf("sandbox: %s holds more than %d namespaces (--max-namespaces)", h.dir, h.max)
		}
		cfg := h.namespaceConfig(name)
		cfg.frozen = false // the clock the namespace recorded
		srv, err := newServer(cfg)
		var inUse *store.InUseError
		if errors.As(err, &inUse) {
			return fmt.Errorf("sandbox: reopen namespace %s: %w", name, err)
		}
		if err != nil {
			// One damaged file (a creation cut short by a crash) must not keep the others
			// from being served: its namespace is left out, its file kept until the name is
			// created again.
			h.logger.Error("namespace not reopened", "name", name, "file", f, "err", err)
			continue
		}
		var rec namespaceRecord
		err = srv.store.View(func(tx *store.Tx) error {
			_, err := tx.Get(namespaceKey, &rec)
			return err
		})
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("sandbox: reopen namespace %s: %w", name, err)
		}
		ns := &namespace{name: name, srv: srv, ttl: rec.TTL, created: rec.CreatedAt}
		used := rec.LastUsedAt
		if used.IsZero() {
			used = h.wall()
		}
		if ns.created.IsZero() {
			ns.created = used.UTC()
		}
		ns.lastUsed.Store(used.UnixNano())
		ns.saved.Store(used.UnixNano())
		h.spaces[name] = ns
	}
	return nil
}

// saveUse records each namespace's last use that changed since it was last recorded, so that
// a restart keeps counting its idle time from there.
func (h *Hub) saveUse() {
	h.mu.RLock()
	spaces := make([]*namespace, 0, len(h.spaces))
	for _, ns := range h.spaces {
		if ns.lastUsed.Load() != ns.saved.Load() {
			spaces = append(spaces, ns)
		}
	}
	h.mu.RUnlock()
	for _, ns := range spaces {
		ns.gate.RLock()
		if !ns.gone {
			if err := ns.save(); err != nil {
				h.logger.Warn("namespace last use", "name", ns.name, "err", err)
			}
		}
		ns.gate.RUnlock()
	}
}

// Close closes every namespace's store and then the default sandbox's, recording each
// namespace's last use first. Call it after Serve has returned.
func (h *Hub) Close() error {
	h.saveUse()
	h.mu.Lock()
	h.closed = true
	spaces := h.spaces
	h.spaces = map[string]*namespace{}
	h.mu.Unlock()
	var errs []error
	for _, ns := range spaces {
		ns.gate.Lock()
		ns.gone = true
		if err := ns.srv.Close(); err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", ns.name, err))
		}
		ns.gate.Unlock()
	}
	if h.def != nil {
		if err := h.def.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := h.owner.Release(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ListenAndServe binds addr first (so "address in use" is returned at once), calls ready (when
// not nil) with the bound address, then serves until ctx is cancelled. It does not close the hub.
func (h *Hub) ListenAndServe(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sandbox: listen %s: %w", addr, err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return h.Serve(ctx, ln)
}

// Serve serves the hub on ln until ctx is cancelled, as Server.Serve serves one sandbox; its
// background work also delivers what falls due in each namespace with a running clock, removes
// the namespaces idle past their ttl and records when each was last used. It does not close
// the hub.
//
// The listener is also the default sandbox's forward proxy (see Server.Serve): a request that
// reaches an emulated host through it is served by the hub, so a namespace's host or path
// prefix works there too.
func (h *Hub) Serve(ctx context.Context, ln net.Listener) error {
	return h.def.serve(ctx, ln, h.tick)
}

// ServeTLS serves HTTPS on ln for the platforms' own host names, as Server.ServeTLS does for
// the default sandbox, handing each request to the hub. It does not close the hub.
func (h *Hub) ServeTLS(ctx context.Context, ln net.Listener) error { return h.def.ServeTLS(ctx, ln) }

// tick is the hub's periodic background work.
func (h *Hub) tick() {
	h.def.tick()
	h.mu.RLock()
	spaces := make([]*namespace, 0, len(h.spaces))
	for _, ns := range h.spaces {
		spaces = append(spaces, ns)
	}
	h.mu.RUnlock()
	for _, ns := range spaces {
		ns.gate.RLock()
		if !ns.gone {
			ns.srv.tick()
		}
		ns.gate.RUnlock()
	}
	h.RemoveIdle()
	h.saveUse()
}
