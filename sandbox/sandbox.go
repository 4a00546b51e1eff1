// Package sandbox is citysandbox as a library: an emulation of the WeChat and Jincheng ("晋来办")
// platforms that city-service integrators build against, served over HTTP on the platforms' own
// paths, with its state in buntdb and its time on a controllable clock.
//
// New builds a sandbox. Its Handler serves WeChat's paths at the root, Jincheng's under
// /jincheng/ and the control plane under /_sandbox/: mount it anywhere and point an SDK's base
// URL at it (see the example of New). The control verbs have Go twins, returned by
// Server.WeChat, Server.CityService, Server.Charge and Server.Jincheng; Server.Advance and
// Server.SetTime move the clock; RunScenario and Replay run scenario files.
//
// Package sandboxtest wraps this one for Go tests, as net/http/httptest wraps net/http, and the
// command citysandbox serves it: both run exactly this code.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/citysandbox/citysandbox/fixtures"
	"github.com/citysandbox/citysandbox/openapi"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/control"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/hostmap"
	"github.com/citysandbox/citysandbox/sandbox/internal/jincheng"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/proxy"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/quota"
	"github.com/citysandbox/citysandbox/sandbox/internal/scenario"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/spec"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/tlsca"
	"github.com/citysandbox/citysandbox/sandbox/internal/tripwire"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/charge"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/cityservice"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/component"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/qr"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/review"
)

// Server is one sandbox: its store, clock, journal and HTTP handler.
type Server struct {
	cfg       config
	store     *store.Store
	clock     *clock.Controllable
	journal   *journal.Journal
	quota     *quota.Engine
	faults    *endpoint.Faults
	rand      *seeded.Source
	faker     *fixture.Faker
	spec      *spec.Spec
	fixtures  *fixture.Set
	wechat    *wechat.Platform
	qr        *qr.Emulator
	review    *review.Emulator
	component *component.Emulator
	city      *cityservice.Emulator
	charge    *charge.Emulator
	push      *push.Deliverer
	hosts     *hostmap.Map
	jincheng  *jincheng.Platform
	control   *control.Plane
	engine    *gin.Engine
	logger    *slog.Logger
	// streams counts the random streams this state has begun (see meta.Streams).
	streams  uint64
	contract *scenario.Contract
	// handler is engine, wrapped by the recorder when one is configured.
	handler http.Handler
	// seed is the configured seed, or the one a reset with a seed set since (scenario replays).
	seed atomic.Uint64
	// public is handler behind the refusal of CONNECT: what Handler returns.
	public   http.Handler
	proxy    *proxy.Proxy
	tripwire *tripwire.Tripwire
	// ca is the certificate authority, made on first use (caOnce).
	caOnce sync.Once
	ca     *tlsca.CA
	caErr  error
}

// Spec is a loaded set of OpenAPI documents that several sandboxes may share. It also keeps the
// baseline state the built-in fixtures produce for a seed and start time, so that a sandbox after
// the first copies it instead of decoding and generating the fixtures again. It is safe for
// concurrent use.
type Spec struct {
	s *spec.Spec

	mu        sync.Mutex
	baselines map[baselineKey][]store.Entry
}

type baselineKey struct {
	seed uint64
	at   int64 // clock time (ns) at which the fixtures were loaded: they record it
}

// LoadSpec loads the built-in OpenAPI documents.
func LoadSpec() (*Spec, error) {
	s, err := spec.LoadIndexed(openapi.FS, openapi.Index)
	if err != nil {
		return nil, err
	}
	return &Spec{s: s, baselines: map[baselineKey][]store.Entry{}}, nil
}

// loadSpecs loads the OpenAPI documents of fsys, validating them unless they are the built-in
// ones, which the test suite validates. The built-in ones load from their operation index and
// parse in the background (spec.LoadIndexed), from the moment the sandbox is built: it answers
// its health check while they parse, and the first request that needs them waits.
func loadSpecs(fsys fs.FS) (*spec.Spec, error) {
	if fsys == fs.FS(openapi.FS) {
		return spec.LoadIndexed(fsys, openapi.Index)
	}
	return spec.Load(fsys)
}

// New builds a sandbox and loads its fixtures into an empty store. A store file that already
// holds state is kept as it is, so a restarted sandbox remembers every app, token and counter.
//
// New touches one process-wide setting: gin's mode. The first New in a process whose GIN_MODE
// is unset, with gin still in its default debug mode, sets gin's release mode, so that no
// sandbox prints gin's "[GIN-debug]" lines; an explicit GIN_MODE (debug brings the lines back)
// or a release or test mode set before with gin.SetMode is left alone.
func New(opts ...Option) (*Server, error) {
	cfg := configure(opts)
	if cfg.shared == nil {
		cfg.world = foreseenWorld(cfg)
	}
	return newServer(cfg)
}

// foreseenWorld starts building the City Service world of cfg's fixtures and seed before
// anything else, when cfg's store is in memory or its file is new or empty and so will get the
// fixtures (see cityservice.World); otherwise it returns nil. Without a baseline cache to copy
// from, that world is the longest part of a sandbox's start.
func foreseenWorld(cfg config) *cityservice.World {
	if cfg.storePath != store.Memory {
		if fi, err := os.Stat(cfg.storePath); err == nil && fi.Size() > 0 || err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	return cityservice.PrepareWorld(fixture.New(cfg.fixtures), cfg.seed)
}

// configure applies opts to the defaults.
func configure(opts []Option) config {
	cfg := config{seed: 1, storePath: store.Memory, fixtures: fixtures.FS, specs: openapi.FS, version: "dev"}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// newServer builds a sandbox from a complete configuration: New's, or one a Hub derived for a
// namespace.
func newServer(cfg config) (*Server, error) {
	s := &Server{cfg: cfg, logger: cfg.logger}
	s.seed.Store(cfg.seed)
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler) // disabled at every level: a log line costs nothing
	}
	if cfg.namespace != "" {
		// A namespace's lines say whose they are; the hub's default sandbox's carry no name.
		s.logger = s.logger.With(slog.String("namespace", cfg.namespace))
	}
	switch {
	case cfg.frozen:
		s.clock = clock.NewFrozen(cfg.start)
	case !cfg.baselineAt.IsZero():
		// The fixtures load as at baselineAt (see config.baselineAt), then the clock runs.
		s.clock = clock.NewFrozen(cfg.baselineAt)
	default:
		s.clock = clock.NewRunning()
	}
	var err error
	if s.spec = cfg.spec; s.spec == nil {
		if s.spec, err = loadSpecs(cfg.specs); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	if s.store, err = store.Open(cfg.storePath, cfg.sync); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s.journal = journal.New(cfg.journalSize)
	s.quota = quota.New(s.store, s.clock, wechat.QuotaPrefix)
	s.rand = seeded.New(cfg.seed)
	s.faults = endpoint.NewFaults(s.rand, s.saveFaults)
	s.faker = fixture.NewFaker(cfg.seed)
	s.fixtures = fixture.New(cfg.fixtures)
	// A fresh store gets the fixtures. Their largest part, the City Service world, builds on
	// another core while the sandbox wires itself (cityservice.World): from the start, when New
	// or NewHub foresaw a fresh store, or from now.
	var world *cityservice.World
	cache, key := s.baselineCache()
	fresh, freshErr := s.isFresh()
	if freshErr == nil && fresh && cache.baseline(key) == nil {
		if world = cfg.world; world == nil {
			world = cityservice.PrepareWorld(s.fixtures, cfg.seed)
		}
	}
	var mappings []hostmap.Mapping
	for _, r := range cfg.resolve {
		m, err := hostmap.Parse(r)
		if err != nil {
			_ = s.store.Close()
			return nil, fmt.Errorf("sandbox: resolve: %w", err)
		}
		mappings = append(mappings, m)
	}
	s.hosts = hostmap.New(mappings...)
	if err := s.build(world); err != nil {
		_ = s.store.Close()
		return nil, err
	}
	if err := s.store.Reindex(); err != nil {
		_ = s.store.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	err = freshErr
	if err == nil && fresh {
		err = s.loadBaseline()
		if err == nil && !cfg.frozen && !cfg.baselineAt.IsZero() {
			s.clock.Run(0)
			err = s.saveMeta()
		}
	} else if err == nil {
		err = s.resume()
	}
	if err == nil {
		// Pushes accepted before a shutdown or a crash and not settled are sent now.
		err = s.push.Resume()
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	// Wired and loaded: the built-in documents may parse now (see spec.Spec.Parse).
	s.spec.Parse()
	return s, nil
}

// build wires the platforms and the router; world, when not nil, is the City Service world
// being prepared for the first fixture load.
func (s *Server) build(world *cityservice.World) error {
	var err error
	s.push = push.New(push.Deps{
		Store: s.store, Clock: s.clock, Rand: s.rand, Journal: s.journal,
		Timeout: s.cfg.pushTimeout, Tries: s.cfg.pushTries, Logger: s.logger,
		// A push URL on a mapped host goes to the mapped address (scenario receivers are found
		// that way); any other goes where it says.
		Client: s.hosts.Client(hostmap.MappedOrDirect, 0),
	})
	s.wechat, err = wechat.New(wechat.Deps{
		Store: s.store, Clock: s.clock, Quota: s.quota, Journal: s.journal, Rand: s.rand,
		Faker: s.faker, Fixtures: s.fixtures, Spec: s.spec, Logger: s.logger, Push: s.push,
	})
	if err != nil {
		return fmt.Errorf("sandbox: wechat: %w", err)
	}
	s.jincheng, err = jincheng.New(jincheng.Deps{
		Store: s.store, Clock: s.clock, Journal: s.journal, Rand: s.rand, Faker: s.faker,
		Fixtures: s.fixtures, Logger: s.logger, Seed: s.cfg.seed, CurrentSeed: s.seed.Load,
	})
	if err != nil {
		return fmt.Errorf("sandbox: jincheng: %w", err)
	}
	s.control = control.New(control.Deps{
		Store: s.store, Journal: s.journal, Clock: s.clock, Faults: s.faults, Spec: s.spec,
		Version: s.cfg.version, AdminToken: s.cfg.adminToken, Reset: s.reset, Restore: s.restore,
		ClockMoved: s.clockMoved,
		Reseed:     s.seed.Store,
		Hosts:      s.hosts,
		Logger:     s.logger,
	})
	s.contract = scenario.NewContract(s.spec)
	s.journal.Observe(s.contract.Observe)
	s.tripwire = tripwire.New(s.logger)
	s.journal.Observe(s.tripwire.Observe)
	s.proxy = proxy.New(proxy.Deps{
		// The handler is built below; a tunnel only ever starts once New has returned.
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.front().ServeHTTP(w, r) }),
		CA:      s.certificateAuthority, Extra: s.emulates, Hosts: s.hosts, Journal: s.journal, Clock: s.clock,
		Logger: s.logger,
	})
	routes := endpoint.Routes{}
	s.control.Routes(routes)
	s.registerNamespaceRoutes(routes)
	s.contract.Routes(routes)
	s.tripwire.Routes(routes)
	s.proxy.Routes(routes)
	s.wechat.Routes(routes)
	s.qr = qr.New(qr.Deps{Store: s.store, Clock: s.clock, Rand: s.rand, Journal: s.journal, WeChat: s.wechat, Hosts: s.hosts})
	s.qr.Routes(routes)
	s.review = review.New(review.Deps{Store: s.store, Clock: s.clock, Rand: s.rand, Faker: s.faker, WeChat: s.wechat})
	s.review.Routes(routes)
	s.component = component.New(component.Deps{Store: s.store, Clock: s.clock, Rand: s.rand, Journal: s.journal, Push: s.push, WeChat: s.wechat})
	s.component.Routes(routes)
	s.jincheng.Routes(routes)
	s.city = cityservice.New(cityservice.Deps{Store: s.store, Clock: s.clock, Faker: s.faker, Fixtures: s.fixtures, Journal: s.journal, WeChat: s.wechat, World: world})
	s.city.Routes(routes)
	s.charge, err = charge.New(charge.Deps{
		Store: s.store, Clock: s.clock, Rand: s.rand, Faker: s.faker, Fixtures: s.fixtures, Journal: s.journal, WeChat: s.wechat,
	})
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	s.charge.Routes(routes)

	quietGinDebug()
	s.engine = gin.New()
	s.engine.ContextWithFallback = true
	// The client address is the connection's; forwarding headers count only from the proxies
	// the sandbox was told to trust (none by default, where gin would trust every sender).
	if err := s.engine.SetTrustedProxies(s.cfg.trustedProxies); err != nil {
		return fmt.Errorf("sandbox: trusted proxies: %w", err)
	}
	var check func(*spec.Operation, error)
	if fn := s.cfg.responseCheck; fn != nil {
		check = func(op *spec.Operation, err error) { fn(op.ID, err) }
	}
	_, err = endpoint.Mount(s.engine, endpoint.Deps{
		Spec: s.spec, Routes: routes, Platforms: []endpoint.Platform{s.wechat, s.jincheng, s.control},
		Journal: s.journal, Clock: s.clock, Faults: s.faults, Logger: s.logger, ResponseCheck: check,
		Fallback: func(path string) endpoint.Platform {
			// A request for a namespace that the hub could not route (unknown, deleted, a name
			// that is no name) is refused by the platform its path inside the namespace names.
			path = pathInNamespace(path)
			if strings.HasPrefix(path, "/_sandbox/") {
				return s.control
			}
			if strings.HasPrefix(path, "/jincheng/") {
				return s.jincheng
			}
			return s.wechat
		},
		UnknownReason: unknownNamespaceReason,
	})
	// The admin token is checked before anything else looks at the request.
	s.handler = control.Guard(s.cfg.adminToken, control.OpenRoutes(s.spec), s.engine)
	if s.cfg.recorder != nil {
		s.handler = s.cfg.recorder.attach(s, s.handler)
	}
	s.public = proxy.RefuseConnect(s.handler, s.logger)
	return err
}

// metaKey holds the sandbox's bookkeeping about itself (see meta), rewritten whenever it
// changes, so that a restart, even after a kill, resumes where the last acknowledged change left
// it. Being bookkeeping (store.Bookkeeping), it is not part of the state hash.
const metaKey = store.Bookkeeping + "meta"

// faultsKey holds the active faults and the number of the last fault id given out.
const faultsKey = store.Bookkeeping + "faults"

// meta is what a restart needs beside the emulated state: the seed the world was made from, the
// clock, and how many random streams this state has begun.
type meta struct {
	Seed uint64 `json:"seed"`
	// ClockOffset is a running clock's distance from wall time.
	ClockOffset time.Duration `json:"clock_offset"`
	// FrozenAt, when set, is the instant a frozen clock stands at.
	FrozenAt *time.Time `json:"frozen_at,omitempty"`
	// Streams counts the random streams begun since the fixtures were loaded afresh: one per
	// restart and one per one-platform reset. Each draws from a stream of its own, so that ids
	// made after it never repeat ids made before it.
	Streams uint64 `json:"streams,omitempty"`
}

func (s *Server) isFresh() (bool, error) {
	var fresh bool
	err := s.store.View(func(tx *store.Tx) error {
		ok, err := tx.Has(metaKey)
		fresh = !ok
		return err
	})
	return fresh, err
}

// resume picks up a stored state: its seed, its clock (unless WithFrozenClock chose one), its
// faults, and a random stream it has not drawn from before.
func (s *Server) resume() error {
	var m meta
	var faults endpoint.FaultState
	err := s.store.View(func(tx *store.Tx) error {
		if _, err := tx.Get(metaKey, &m); err != nil {
			return err
		}
		_, err := tx.Get(faultsKey, &faults)
		return err
	})
	if err != nil {
		return err
	}
	if m.Seed != 0 {
		s.seed.Store(m.Seed)
	}
	if !s.cfg.frozen {
		if m.FrozenAt != nil {
			s.clock.Freeze(*m.FrozenAt)
		} else {
			s.clock.Run(m.ClockOffset)
		}
	}
	s.faults.Load(faults)
	s.streams = m.Streams
	return s.nextStream()
}

// nextStream begins a random stream this state has not drawn from and records that it did.
func (s *Server) nextStream() error {
	s.streams++
	stream := s.seed.Load() ^ servingStream ^ (s.streams * 0x9e3779b97f4a7c15)
	s.rand.Reseed(stream)
	s.faker.Reseed(stream)
	return s.saveMeta()
}

// saveMeta records the seed, the clock and the stream count.
func (s *Server) saveMeta() error {
	m := meta{Seed: s.seed.Load(), Streams: s.streams}
	if s.clock.Frozen() {
		at := s.clock.Now()
		m.FrozenAt = &at
	} else {
		m.ClockOffset = s.clock.Offset()
	}
	return s.store.Update(func(tx *store.Tx) error { return tx.Put(metaKey, m) })
}

// saveFaults records the active faults (the fault set calls it on every change).
func (s *Server) saveFaults(st endpoint.FaultState) error {
	return s.store.Update(func(tx *store.Tx) error { return tx.Put(faultsKey, st) })
}

// loadFixtures writes the fixtures of one platform (or all) into the store.
func (s *Server) loadFixtures(platform string) error {
	if platform == "" || platform == "wechat" {
		if err := s.wechat.LoadFixtures(); err != nil {
			return err
		}
	}
	if platform == "" || platform == "jincheng" {
		if err := s.jincheng.LoadFixtures(); err != nil {
			return err
		}
	}
	if platform == "" || platform == "wechat" {
		// Last: at the start its world may still be building (see newServer).
		if err := s.city.LoadFixtures(); err != nil {
			return err
		}
	}
	return nil
}

// loadBaseline fills an empty store with every platform's fixtures — copied from the shared
// cache when another sandbox already produced them for the same seed and time — and then starts
// the random sequences that requests draw from. Those start from a seed derived from the
// sandbox's seed, the same whether the fixtures were generated or copied, so the same seed,
// clock and requests give the same bytes either way.
func (s *Server) loadBaseline() error {
	s.rand.Reseed(s.seed.Load())
	s.faker.Reseed(s.seed.Load())
	cache, key := s.baselineCache()
	if entries := cache.baseline(key); entries != nil {
		if err := s.store.RestoreEntries(entries); err != nil {
			return err
		}
	} else {
		if err := s.loadFixtures(""); err != nil {
			return err
		}
		if cache != nil {
			all, err := s.store.Entries()
			if err != nil {
				return err
			}
			cache.mu.Lock()
			cache.baselines[key] = all
			cache.mu.Unlock()
		}
	}
	s.rand.Reseed(s.seed.Load() ^ servingStream)
	s.faker.Reseed(s.seed.Load() ^ servingStream)
	s.streams = 0
	return s.saveMeta()
}

// baselineCache returns the cache of baselines the sandbox shares (nil: none) and the key of
// its baseline in it.
func (s *Server) baselineCache() (*Spec, baselineKey) {
	cache := s.cfg.shared
	if s.cfg.ownFixtures {
		cache = nil
	}
	return cache, baselineKey{seed: s.seed.Load(), at: s.clock.Now().UnixNano()}
}

// baseline returns the cached entries of the baseline with key, or nil (also from no cache).
func (c *Spec) baseline(key baselineKey) []store.Entry {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.baselines[key]
}

// servingStream keeps the random values drawn by requests apart from those drawn by fixtures.
const servingStream = 0x5e41d5a4d8c3b2a1

// reset empties the store (all of it, or one platform's keys) and loads the fixtures again.
func (s *Server) reset(platform string) error {
	if err := s.resetState(platform); err != nil {
		return err
	}
	name := platform
	if name == "" {
		name = "all"
	}
	s.logger.LogAttrs(context.Background(), slog.LevelInfo, "reset", slog.String("platform", name), slog.Uint64("seed", s.seed.Load()))
	return nil
}

// resetState is reset's work.
func (s *Server) resetState(platform string) error {
	if platform == "" || platform == "wechat" {
		// Before the store changes: no delivery of the old state writes into the new one.
		s.push.Reset()
	}
	if platform == "" {
		if err := s.store.Clear(); err != nil {
			return err
		}
		s.forgetMemory("")
		if err := s.faults.Reset(); err != nil {
			return err
		}
		return s.loadBaseline()
	}
	if err := s.store.Update(func(tx *store.Tx) error {
		var keys []string
		if err := tx.AscendPrefix(platform+":", func(k, _ string) bool { keys = append(keys, k); return true }); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	s.forgetMemory(platform)
	// The platform's fixtures come out as on a fresh start; requests then draw from a stream
	// this state has not used, so nothing made after this reset repeats an id made before it,
	// whatever restarts came between.
	s.rand.Reseed(s.seed.Load())
	s.faker.Reseed(s.seed.Load())
	if err := s.loadFixtures(platform); err != nil {
		return err
	}
	return s.nextStream()
}

// forgetMemory drops what the sandbox holds in memory beside the store about one platform's
// state, or every platform's (""), as a reset of that state must: the quota windows of a
// second and a minute, and for a full reset the journal. (The push queues, with the
// deliveries' wall-time latencies, are reset before the store changes.)
func (s *Server) forgetMemory(platform string) {
	if platform == "" || platform == "wechat" {
		s.quota.ResetMemory()
	}
	if platform == "" {
		s.journal.Clear()
	}
}

func (s *Server) restore(snapshot []byte) error {
	s.push.Reset()
	if err := s.store.Restore(snapshot); err != nil {
		return err
	}
	s.forgetMemory("wechat")
	s.logger.LogAttrs(context.Background(), slog.LevelInfo, "state restored", slog.Int("bytes", len(snapshot)))
	return nil
}

// front is what the proxy and the TLS listener hand the requests they do not answer to: a
// hub's default sandbox serves the whole hub, any other sandbox itself.
func (s *Server) front() http.Handler {
	if s.cfg.hub != nil {
		return s.cfg.hub.Handler()
	}
	return s.public
}

// Handler returns the sandbox's HTTP handler, to mount anywhere. It is no proxy: it answers
// CONNECT with 405 (Serve takes CONNECT).
func (s *Server) Handler() http.Handler { return s.public }

// Reset returns the store to the fixtures, clears the journal, the faults and the in-memory
// quota counters, and restarts the random sequence. The clock and the contract report stay.
func (s *Server) Reset() error { return s.reset("") }

// Now returns the sandbox time.
func (s *Server) Now() time.Time { return s.clock.Now() }

// Advance moves the sandbox clock forward, records the move and delivers the pushes that fall
// due. A move that cannot be recorded is logged: the control verb answers it with an error.
func (s *Server) Advance(d time.Duration) {
	s.clock.Advance(d)
	s.control.LogClockMove("advance", d)
	if err := s.clockMoved(); err != nil {
		s.logger.Error("clock move", "err", err)
	}
}

// SetTime moves the sandbox clock to t, records the move and delivers the pushes that fall due.
func (s *Server) SetTime(t time.Time) {
	s.clock.Set(t)
	s.control.LogClockMove("set", 0)
	if err := s.clockMoved(); err != nil {
		s.logger.Error("clock move", "err", err)
	}
}

// RealTime returns the sandbox clock to wall time, running with no offset, whether it was moved
// or frozen; it records the move and delivers the pushes that fall due (the Go twin of
// POST /_sandbox/clock {"real":true}).
func (s *Server) RealTime() {
	s.clock.Run(0)
	s.control.LogClockMove("real", 0)
	if err := s.clockMoved(); err != nil {
		s.logger.Error("clock move", "err", err)
	}
}

// clockMoved records where the clock now is, so that a restart resumes it, then forgets the
// records the move took past their time and delivers what it made due: third-party platforms'
// ticket pushes and the paid capabilities' validity and quota warnings.
func (s *Server) clockMoved() error {
	if err := s.saveMeta(); err != nil {
		return fmt.Errorf("sandbox: record the clock: %w", err)
	}
	s.clockTicked()
	return nil
}

// clockTicked forgets the records whose time is over and delivers what time made due. A running
// clock makes things due without any move, so Serve calls it periodically too.
func (s *Server) clockTicked() {
	now := s.clock.Now()
	if _, err := s.store.Sweep(now, sweepBatch); err != nil {
		s.logger.Warn("forget expired records", "err", err)
	}
	if err := s.component.PushDueTickets(now); err != nil {
		s.logger.Warn("scheduled pushes", "err", err)
	}
	if err := s.charge.ClockMoved(now); err != nil {
		s.logger.Warn("paid-capability warnings", "err", err)
	}
}

// sweepBatch bounds the records one transaction of a sweep removes, so that a request arriving
// during a large sweep waits for one batch at most.
const sweepBatch = 500

// StateHash returns a hash of the whole stored state.
func (s *Server) StateHash() (string, error) { return s.store.Hash() }

// Close stops the push queues (cancelling the tries in flight; pushes not yet settled stay
// pending and are sent after the next start), then closes the store, which gives up the
// ownership of its file. Everything acknowledged is already in it: the clock, the seed and the
// faults are recorded as they change. Call it after Serve has returned.
func (s *Server) Close() error {
	s.push.Close()
	return s.store.Close()
}

// WaitPushes returns once every push the sandbox has accepted is settled — delivered, or its
// tries spent — or with ctx's error if ctx ends first. Pushes are delivered off the request path,
// in a queue per receiver: a test that expects one waits for it at its receiver, or here before
// it reads the delivery records (GET /_sandbox/wechat/push/deliveries).
func (s *Server) WaitPushes(ctx context.Context) error { return s.push.Wait(ctx) }

// ListenAndServe binds addr first (so "address in use" is returned at once), calls ready (when
// not nil) with the bound address, then serves until ctx is cancelled, when it shuts down
// gracefully. It does not close the store.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sandbox: listen %s: %w", addr, err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is cancelled, then shuts down in order: the HTTP server first
// (waiting up to 5 s for the requests in flight), then its background work. With a running clock
// it also delivers the pushes that fall due as time passes. It does not close the store.
//
// The listener is also a forward proxy (HTTPS_PROXY=http://<addr>): a CONNECT to one of
// EmulatedHosts on port 443 is terminated with a certificate from the sandbox's CA and served by
// the same handler, as is a plain-HTTP request with an absolute URL for one of them; a proxied
// request for any other host or port is refused with 403 and listed by GET /_sandbox/leaks.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.tick)
}

// tick is the sandbox's periodic background work: a running clock makes pushes fall due
// without any clock move.
func (s *Server) tick() {
	if !s.clock.Frozen() {
		s.clockTicked()
	}
}

// serve is Serve with tick as the work done every 10 s. A hub serves through its default
// sandbox this way: that sandbox's proxy hands the requests it does not answer itself to the
// hub (see front), and tick is the hub's.
func (s *Server) serve(ctx context.Context, ln net.Listener, tick func()) error {
	ps := s.proxy.NewServer(ln.Addr())
	hs := &http.Server{Handler: ps.Handler(), ReadHeaderTimeout: 10 * time.Second}
	hs.RegisterOnShutdown(s.control.EndStreams) // a console left open must not hold the shutdown
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ps.Listener(ln)) }()
	background, stopBackground := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(10 * time.Second)
		defer ticker.Stop()
		for {
			select {
			case <-background.Done():
				return
			case <-ticker.C:
				tick()
			}
		}
	})
	defer func() {
		stopBackground()
		wg.Wait()
	}()
	select {
	case err := <-errc:
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		perr := ps.Shutdown(shutdownCtx)
		if errors.Is(err, http.ErrServerClosed) {
			return perr
		}
		return errors.Join(fmt.Errorf("sandbox: serve: %w", err), perr)
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("sandbox: shutdown: %w", err)
		}
		// The tunnels' requests finish after the plain listener's, which started them.
		return ps.Shutdown(shutdownCtx)
	}
}
