package sandbox

import (
	"io/fs"
	"log/slog"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/spec"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/tlsca"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/cityservice"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	// world is the City Service world already building for this configuration's first
	// fixture load (foreseenWorld), or nil.
	world       *cityservice.World
	seed        uint64
	storePath   string
	sync        store.Sync
	start       time.Time
	frozen      bool
	fixtures    fs.FS
	specs       fs.FS
	spec        *spec.Spec
	shared      *Spec
	ownFixtures bool
	adminToken  string
	// trustedProxies are the senders whose X-Forwarded-For and X-Real-IP count (WithTrustedProxies).
	trustedProxies []string
	logger         *slog.Logger
	journalSize    int
	responseCheck  func(operationID string, err error)
	version        string
	pushTimeout    time.Duration
	pushTries      int
	recorder       *Recorder
	resolve        []string
	caDir          string
	hosts          []string

	// Hub options (NewHub); New ignores them.
	namespaceDir  string
	maxNamespaces int
	namespaceTTL  time.Duration
	wall          func() time.Time

	// Set by a Hub on the servers it builds.
	hub *Hub // on the default server: the hub whose namespaces /_sandbox/namespaces manages
	// namespace is the name of the namespace this server is ("" for a hub's default server or a
	// sandbox of its own).
	namespace string
	// baselineAt, when set for a running clock, is the instant the fixtures of a fresh store are
	// loaded as at: a namespace created without a clock copies the baseline its hub made at that
	// instant instead of generating the world anew, then its clock follows wall time.
	baselineAt time.Time
	// caSource, when set, is where the sandbox's certificate authority comes from: a
	// namespace's is its hub's.
	caSource func() (*tlsca.CA, error)
}

// WithSeed seeds every random value (ids, tokens, fake data). Default 1.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// WithStorePath keeps state in the buntdb file at path. Default ":memory:" (nothing on disk).
func WithStorePath(path string) Option { return func(c *config) { c.storePath = path } }

// Sync says when a store file is flushed to the disk. Every acknowledged change is written to the
// file before it is answered, so it survives the process being killed whatever the policy; the
// policy decides what a power loss or a kernel crash can take.
type Sync int

// The sync policies.
const (
	// SyncEverySecond flushes the file once a second: a power loss can lose the last second.
	SyncEverySecond Sync = Sync(store.SyncEverySecond)
	// SyncAlways flushes at every write: nothing acknowledged is lost, at the cost of an fsync
	// per write.
	SyncAlways Sync = Sync(store.SyncAlways)
)

// ParseSync reads a sync policy by name: "second" (SyncEverySecond) or "always" (SyncAlways).
func ParseSync(name string) (Sync, error) {
	s, err := store.ParseSync(name)
	return Sync(s), err
}

// String names the policy as ParseSync reads it.
func (s Sync) String() string { return store.Sync(s).String() }

// WithSync sets when the store file is flushed to the disk. Default: SyncEverySecond. It does
// nothing for a store in memory.
func WithSync(s Sync) Option { return func(c *config) { c.sync = store.Sync(s) } }

// WithFrozenClock starts a clock that stands at t until moved: by Server.Advance or
// Server.SetTime, POST /_sandbox/clock, or a scenario. It also applies to a store that recorded
// another clock. Default: the clock a store file recorded (a frozen instant, or a running clock's
// offset from wall time), or, for a new store, one that follows wall time (moving it then shifts
// it by an offset).
func WithFrozenClock(t time.Time) Option {
	return func(c *config) { c.start, c.frozen = t, true }
}

// WithFixtures replaces the built-in fixtures with a directory of the same layout. Default: the
// embedded fixtures/.
func WithFixtures(fsys fs.FS) Option {
	return func(c *config) { c.fixtures, c.ownFixtures = fsys, true }
}

// WithSpecs replaces the built-in OpenAPI documents. Default: the embedded openapi/.
func WithSpecs(fsys fs.FS) Option { return func(c *config) { c.specs = fsys } }

// WithAdminToken requires the token on every route that is not a platform API: the control
// plane under /_sandbox/ (but the health check and the CA certificate) and the simulated 晋来办
// app under /jincheng/app/. A request without it is answered 401 before anything else looks at
// it; the token goes as "Authorization: Bearer <token>", or as an HTTP Basic password (what a
// browser prompts for on the app's pages). Default: no token, those routes are open.
func WithAdminToken(token string) Option { return func(c *config) { c.adminToken = token } }

// WithTrustedProxies names the senders, as IP addresses or CIDR ranges ("10.0.0.0/8",
// "127.0.0.1"), whose X-Forwarded-For or X-Real-IP header gives the client's address: a reverse
// proxy in front of the sandbox. The client address decides the accounts' IP whitelists (40164,
// 61004) and is what the journal records. Default: none — the address is the connection's, and
// a forwarding header from anyone is ignored, so no caller can claim a whitelisted address.
func WithTrustedProxies(proxies ...string) Option {
	return func(c *config) { c.trustedProxies = append([]string(nil), proxies...) }
}

// WithLogger sends the sandbox's logs to l. Default: discarded.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithJournalSize caps the request journal. Default 10,000 entries.
func WithJournalSize(n int) Option { return func(c *config) { c.journalSize = n } }

// WithResponseValidation checks every response against the OpenAPI documents and reports each
// result to fn (err is nil for a valid response). Default: off; sandboxtest turns it on.
func WithResponseValidation(fn func(operationID string, err error)) Option {
	return func(c *config) { c.responseCheck = fn }
}

// WithVersion sets the version that /_sandbox/health reports. Default "dev".
func WithVersion(v string) Option { return func(c *config) { c.version = v } }

// WithLoadedSpec shares an already loaded set of documents, and the baseline state that the
// built-in fixtures produce, between sandboxes: it saves parsing and generating them for every
// sandbox (sandboxtest uses it). Default: each sandbox loads its own from WithSpecs.
func WithLoadedSpec(s *Spec) Option { return func(c *config) { c.spec, c.shared = s.s, s } }

// WithPushTiming sets how long one push delivery waits for the integrator's answer and how many
// tries it gets in all. Default (zero values): WeChat's 5 seconds and 3 tries. Tests use a short
// timeout with a receiver that hangs, so that a retry happens without anyone sleeping.
func WithPushTiming(timeout time.Duration, tries int) Option {
	return func(c *config) { c.pushTimeout, c.pushTries = timeout, tries }
}

// WithResolve maps hosts to local addresses, each given as "HOST=ADDR:PORT" (the form of
// citysandbox serve --resolve): the QR-jump verification file is fetched from a mapped host, and
// pushes to a mapped host's URLs go to its address. ADDR must be a loopback, private or
// link-local IP literal. Default: no host is mapped. More can be mapped at run time
// (Server.MapHost, PUT /_sandbox/hosts/{host}).
func WithResolve(mappings ...string) Option {
	return func(c *config) { c.resolve = append(c.resolve, mappings...) }
}

// WithCADir keeps the sandbox's certificate authority (the CA its TLS listener and forward proxy
// sign the platform hosts' certificates with) in dir, creating it there on first use. Default:
// the directory of the store file, or memory only for a ":memory:" store.
func WithCADir(dir string) Option { return func(c *config) { c.caDir = dir } }

// WithEmulatedHosts adds host names the sandbox answers for, over its forward proxy and TLS
// listener, beside the WeChat hosts it always answers for (DefaultEmulatedHosts): the Jincheng
// gateway name an integrator's configuration uses, for one. Default: none.
func WithEmulatedHosts(hosts ...string) Option {
	return func(c *config) { c.hosts = append(c.hosts, hosts...) }
}

// WithNamespaceDir keeps each namespace of a Hub in its own buntdb file in dir ("<name>.db"),
// created when the hub opens; the hub reopens the namespaces it finds there, so they survive a
// restart. Default "" (or ":memory:"): namespaces are kept in memory and end with the process.
// New ignores it.
func WithNamespaceDir(dir string) Option { return func(c *config) { c.namespaceDir = dir } }

// WithMaxNamespaces caps how many namespaces a Hub keeps at once; creating one more is refused
// (409 namespace_limit). Default (0): DefaultMaxNamespaces. New ignores it.
func WithMaxNamespaces(n int) Option { return func(c *config) { c.maxNamespaces = n } }

// WithNamespaceTTL sets how long a namespace created without a ttl of its own may stay unused
// (on wall time) before the Hub removes it. Default (0): such a namespace stays until deleted.
// New ignores it.
func WithNamespaceTTL(d time.Duration) Option { return func(c *config) { c.namespaceTTL = d } }

// WithWallClock replaces the wall clock of a Hub's own bookkeeping: when each namespace was
// created and last used, and so when an idle one expires. The namespaces' own sandbox clocks are
// not affected. Default: time.Now. Tests use it to expire namespaces without sleeping. New
// ignores it.
func WithWallClock(now func() time.Time) Option { return func(c *config) { c.wall = now } }
