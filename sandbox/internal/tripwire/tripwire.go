// Package tripwire is the production-leak tripwire: it lists every request that tried to reach
// the real platforms through the sandbox, or that carried credentials which look like production
// ones, so that a CI job can fail when its system under test would have talked to WeChat or the
// Jincheng gateway for real.
//
// It learns of them from the journal: the forward proxy journals each request it refuses (a host
// the sandbox does not emulate, a port the platform does not serve), and the platforms mark the
// journal entry of a credential exchange naming an app the sandbox does not know
// (endpoint.Call.MarkLeak). Each leak is logged at warn level as it happens and kept in memory —
// the newest Capacity of them, with a count of all — across sandbox resets, until cleared; it is
// never part of the stored state, so replays and state hashes do not see it.
//
// What counts, precisely, is documented on GET /_sandbox/leaks in openapi/sandbox.yaml.
package tripwire

import (
	"log/slog"
	"sync"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
)

// Capacity is how many leaks are kept; older ones are dropped, but still counted.
const Capacity = 1000

// Leak is one request that tried to reach the real platforms, or carried production credentials.
type Leak struct {
	// Kind is a journal.Leak* constant.
	Kind string `json:"kind"`
	// Host is the host (and port, when the request named one) the request was for.
	Host   string `json:"host"`
	Method string `json:"method"`
	// Path is the request's path; empty for a CONNECT.
	Path string `json:"path,omitempty"`
	// Credential is the appid or appCode that no sandbox app has.
	Credential string `json:"credential,omitempty"`
	// Time is the sandbox time of the request.
	Time time.Time `json:"time"`
	// Client is the IP address of the client.
	Client string `json:"client"`
	// RequestID is the journal id of the request (WeChat's rid), when it has one.
	RequestID string `json:"request_id,omitempty"`
}

// Tripwire keeps the leaks. It is safe for concurrent use.
type Tripwire struct {
	logger *slog.Logger

	mu    sync.Mutex
	leaks []Leak // the newest Capacity, oldest first
	count int
}

// New returns an empty tripwire that logs each leak to logger.
func New(logger *slog.Logger) *Tripwire { return &Tripwire{logger: logger} }

// Observe records e if it is marked as a leak; it is a journal observer.
func (t *Tripwire) Observe(e journal.Entry) {
	if e.Leak == nil {
		return
	}
	l := Leak{
		Kind: e.Leak.Kind, Host: e.Leak.Host, Method: e.Method, Path: e.Path, Credential: e.Leak.Credential,
		Time: e.Time, Client: e.ClientIP, RequestID: e.ID,
	}
	t.logger.Warn("production leak: a request for the real platforms",
		"kind", l.Kind, "host", l.Host, "method", l.Method, "path", l.Path, "credential", l.Credential, "client", l.Client)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.count++
	if len(t.leaks) == Capacity {
		copy(t.leaks, t.leaks[1:])
		t.leaks = t.leaks[:Capacity-1]
	}
	t.leaks = append(t.leaks, l)
}

// List returns the kept leaks, oldest first, and the count of every leak since the start or the
// last Clear.
func (t *Tripwire) List() ([]Leak, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Leak{}, t.leaks...), t.count
}

// Clear forgets every leak.
func (t *Tripwire) Clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.leaks, t.count = nil, 0
}

// Routes registers the tripwire's control-plane handlers.
func (t *Tripwire) Routes(r endpoint.Routes) {
	r.Handle("listLeaks", t.handleList)   // GET /_sandbox/leaks
	r.Handle("clearLeaks", t.handleClear) // DELETE /_sandbox/leaks
}

func (t *Tripwire) handleList(*endpoint.Call) (any, error) {
	leaks, count := t.List()
	return map[string]any{"count": count, "leaks": leaks}, nil
}

func (t *Tripwire) handleClear(*endpoint.Call) (any, error) {
	t.Clear()
	return nil, nil
}
