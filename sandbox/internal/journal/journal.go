// Package journal keeps a capped, in-memory log of the requests a sandbox has answered: the
// control plane lists it (GET /_sandbox/requests), WeChat's openapi/rid/get looks rids up in it,
// and contract reports summarise it. The oldest entry is dropped when the cap is reached.
package journal

import (
	"sync"
	"time"
)

// DefaultCapacity is the number of entries kept when no capacity is configured.
const DefaultCapacity = 10000

// bodyCap bounds the request and response bodies kept per entry.
const bodyCap = 16 << 10

// Entry is one request and its answer. Times are sandbox-clock times.
type Entry struct {
	ID          string    `json:"id"`
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	Platform    string    `json:"platform"`
	Operation   string    `json:"operation,omitempty"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Query       string    `json:"query,omitempty"`
	AppID       string    `json:"appid,omitempty"`
	ClientIP    string    `json:"client_ip"`
	Status      int       `json:"status"`
	Errcode     int       `json:"errcode"`
	ErrorName   string    `json:"error_name,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Validation  string    `json:"validation_error,omitempty"`
	Fault       string    `json:"fault,omitempty"`
	CostMillis  int64     `json:"cost_in_ms"`
	RequestBody string    `json:"request_body,omitempty"`
	Response    string    `json:"response_body,omitempty"`
	// Event marks entries that record a simulated happening (a scan, a push) rather than a request.
	Event string `json:"event,omitempty"`
	// Leak marks a request that tried to reach the real platforms, or carried credentials that
	// look like production ones; nil for every other request.
	Leak *Leak `json:"leak,omitempty"`
}

// Leak says why a request counts as an attempt to reach the real platforms.
type Leak struct {
	// Kind is one of the Leak* constants.
	Kind string `json:"kind"`
	// Host is the host (and port, when the request named one) that the request was for.
	Host string `json:"host"`
	// Credential is the appid or appCode that the sandbox does not know, for the credential kinds.
	Credential string `json:"credential,omitempty"`
}

// PlatformProxy is the platform of the entries for requests that the forward proxy answered
// itself, refusing them, without handing them to a platform.
const PlatformProxy = "proxy"

// The kinds of leak.
const (
	// LeakHostNotEmulated is a proxied request (CONNECT or an absolute URL) for a host the
	// sandbox does not emulate: refused, never forwarded.
	LeakHostNotEmulated = "host_not_emulated"
	// LeakPortNotEmulated is a CONNECT to an emulated host on a port other than 443, or an
	// absolute URL with a port the platform does not serve: refused.
	LeakPortNotEmulated = "port_not_emulated"
	// LeakUnknownAppID is a WeChat credential exchange naming an appid of WeChat's form that no
	// sandbox app has: answered as WeChat would, and marked.
	LeakUnknownAppID = "unknown_appid"
	// LeakUnknownAppCode is a signed Jincheng call whose appCode no sandbox app has: answered
	// as the gateway would, and marked.
	LeakUnknownAppCode = "unknown_appcode"
)

// Trim caps a body for storage in an entry.
func Trim(b []byte) string {
	if len(b) > bodyCap {
		return string(b[:bodyCap]) + "…(truncated)"
	}
	return string(b)
}

// Journal is the capped log. It is safe for concurrent use.
type Journal struct {
	mu      sync.RWMutex
	cap     int
	entries []Entry // ring buffer, grown up to cap
	next    int     // where the next entry goes
	full    bool
	seq     uint64
	// observers see every entry as it is added (contract reports count them); set before use.
	observers []func(Entry)
	// changed is closed, and forgotten, at the next Add or Clear (see Changed).
	changed chan struct{}
}

// Changed returns a channel closed at the next Add or Clear: a follower of the journal (the
// console's live stream) takes it, lists what is new, then waits on it, and misses nothing.
func (j *Journal) Changed() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.changed == nil {
		j.changed = make(chan struct{})
	}
	return j.changed
}

// notify closes the channel Changed gave out; the caller holds the lock.
func (j *Journal) notify() {
	if j.changed != nil {
		close(j.changed)
		j.changed = nil
	}
}

// LastSeq returns the sequence number of the newest entry (0 when there is none).
func (j *Journal) LastSeq() uint64 {
	j.mu.RLock()
	defer j.mu.RUnlock()
	return j.seq
}

// Observe makes fn see every entry added from now on, outside the journal's lock, so that
// counters kept elsewhere outlive the cap. Call it while wiring, before requests arrive.
func (j *Journal) Observe(fn func(Entry)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.observers = append(j.observers, fn)
}

// New returns a journal that keeps at most capacity entries (DefaultCapacity when <= 0).
func New(capacity int) *Journal {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Journal{cap: capacity}
}

// Add appends e, assigning its sequence number, and returns it.
func (j *Journal) Add(e Entry) Entry {
	e = j.add(e)
	for _, fn := range j.observers {
		fn(e)
	}
	return e
}

func (j *Journal) add(e Entry) Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Seq = j.seq
	if j.full {
		j.entries[j.next] = e
	} else {
		j.entries = append(j.entries, e)
	}
	j.next++
	if j.next == j.cap {
		j.next, j.full = 0, true
	}
	j.notify()
	return e
}

// Get returns the newest entry with the given id, if it is still kept. It looks through the
// entries from the newest: an index by id cost every request a map insert and delete, where a
// lookup (rid/get, a tester's question) is rare and a scan of the default 10,000 entries takes
// microseconds.
func (j *Journal) Get(id string) (Entry, bool) {
	if id == "" {
		return Entry{}, false
	}
	j.mu.RLock()
	defer j.mu.RUnlock()
	for i := range j.len() {
		e := &j.entries[(j.next-1-i+len(j.entries))%len(j.entries)]
		if e.ID == id {
			return *e, true
		}
	}
	return Entry{}, false
}

func (j *Journal) len() int {
	if j.full {
		return len(j.entries)
	}
	return j.next
}

// Filter selects entries; zero fields match everything.
type Filter struct {
	Path      string // exact path, or a prefix when it ends in "*"
	AppID     string
	Errcode   *int
	Since     time.Time // entries at or after this sandbox time
	Operation string
	Event     string
	ID        string // the request id (WeChat's rid)
	After     uint64 // entries whose Seq is greater
	Before    uint64 // entries whose Seq is less; 0 = no bound
	NoControl bool   // leave out the control plane's own requests (platform "control")
	Limit     int    // newest N after filtering; 0 = all
}

func (f Filter) match(e *Entry) bool {
	if f.Path != "" {
		if n := len(f.Path); f.Path[n-1] == '*' {
			if len(e.Path) < n-1 || e.Path[:n-1] != f.Path[:n-1] {
				return false
			}
		} else if e.Path != f.Path {
			return false
		}
	}
	if f.AppID != "" && e.AppID != f.AppID {
		return false
	}
	if f.Errcode != nil && e.Errcode != *f.Errcode {
		return false
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if f.Operation != "" && e.Operation != f.Operation {
		return false
	}
	if f.Event != "" && e.Event != f.Event {
		return false
	}
	if f.ID != "" && e.ID != f.ID {
		return false
	}
	if f.NoControl && e.Platform == "control" {
		return false
	}
	if f.Before != 0 && e.Seq >= f.Before {
		return false
	}
	return e.Seq > f.After
}

// List returns the matching entries, oldest first.
func (j *Journal) List(f Filter) []Entry {
	j.mu.RLock()
	defer j.mu.RUnlock()
	out := []Entry{}
	n := j.len()
	start := 0
	if j.full {
		start = j.next
	}
	for i := range n {
		e := &j.entries[(start+i)%len(j.entries)]
		if f.match(e) {
			out = append(out, *e)
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out
}

// Each calls fn for every kept entry, oldest first, until fn returns false.
func (j *Journal) Each(fn func(e *Entry) bool) {
	j.mu.RLock()
	defer j.mu.RUnlock()
	n := j.len()
	start := 0
	if j.full {
		start = j.next
	}
	for i := range n {
		if !fn(&j.entries[(start+i)%len(j.entries)]) {
			return
		}
	}
}

// Clear forgets every entry and restarts the numbering.
func (j *Journal) Clear() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = nil
	// Numbering restarts too, so that a reset sandbox answers the same journal to the same
	// requests (scenario replays compare responses byte for byte).
	j.next, j.full, j.seq = 0, false, 0
	j.notify()
}
