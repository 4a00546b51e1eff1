package store

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/buntdb"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
)

// Records with a lifetime.
//
// A record the platform itself would forget (an expired token, a used ticket, a finished quota
// window) says when it may be forgotten, and Sweep removes it once the sandbox clock is past
// that instant. The families declare their records' lifetimes once, by key prefix (Forget,
// ForgetRecords); the store then keeps an index in memory of every such key and its forget time,
// updated by every write in the same transaction, so that a sweep finds what is due without
// reading anything else. The index is built from the records (Reindex, once every prefix is
// declared) and rebuilt after a restore, so it needs nothing stored of its own.
//
// buntdb's own expiry reads the wall clock, and the sandbox clock may stand still, run ahead or
// go back: the forget times are sandbox times, compared only with the instant Sweep is given.

// Forgettable is a record that says when it may be forgotten.
type Forgettable interface {
	// ForgetAt returns the sandbox time from which the record may be removed; the zero time
	// means never.
	ForgetAt() time.Time
}

// lifetime is a declared prefix and how to read its records' forget times.
type lifetime struct {
	prefix string
	// forgetAt reads a record's forget time from its key and stored value.
	forgetAt func(key, value string) (time.Time, error)
}

// Forget declares that the records under prefix have lifetimes: forgetAt reads, from a record's
// key and stored value, the sandbox time from which it may be forgotten (the zero time: never).
// Declare every prefix while wiring, before Reindex and before serving requests.
func (s *Store) Forget(prefix string, forgetAt func(key, value string) (time.Time, error)) {
	s.lifetimes = append(s.lifetimes, lifetime{prefix: prefix, forgetAt: forgetAt})
}

// ForgetRecords declares the records under prefix, JSON values of type T, as records that say
// their own forget times (T's pointer is Forgettable).
func ForgetRecords[T any, PT interface {
	*T
	Forgettable
}](s *Store, prefix string) {
	s.Forget(prefix, func(key, value string) (time.Time, error) {
		v := PT(new(T))
		if err := jsonenc.Unmarshal([]byte(value), v); err != nil {
			return time.Time{}, fmt.Errorf("store: decode %s: %w", key, err)
		}
		return v.ForgetAt(), nil
	})
}

// Reindex builds the index of forget times from the records stored under the declared prefixes.
// Call it once every prefix is declared: records written since are indexed as they are written.
func (s *Store) Reindex() error {
	return s.db.View(s.reindexIn)
}

// lifetimeOf returns the declared lifetime that key falls under, or nil.
func (s *Store) lifetimeOf(key string) *lifetime {
	for i := range s.lifetimes {
		if strings.HasPrefix(key, s.lifetimes[i].prefix) {
			return &s.lifetimes[i]
		}
	}
	return nil
}

// Sweep removes every record whose forget time is at or before now, at most batch records per
// transaction (so that requests in between are not held up), and returns how many it removed.
func (s *Store) Sweep(now time.Time, batch int) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	total := 0
	for {
		n := 0
		err := s.Update(func(tx *Tx) error {
			for _, key := range s.expiry.due(now, batch) {
				if err := tx.Delete(key); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			s.reindex() // the keys taken off the queue are back in it
			return total, fmt.Errorf("store: sweep: %w", err)
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}

// Due returns how many records are due to be forgotten at now (a sweep would remove them).
func (s *Store) Due(now time.Time) int {
	return s.expiry.count(now)
}

// change is a write's effect on the index: key's new forget time (zero: none, or deleted).
type change struct {
	key string
	at  time.Time
}

// expiryIndex is the index of forget times: authoritative in at, ordered in due (a heap that
// may hold stale entries, skipped when they come up).
type expiryIndex struct {
	mu    sync.Mutex
	at    map[string]int64
	queue dueQueue
}

type dueItem struct {
	at  int64
	key string
}

// dueQueue is a binary heap of dueItems, earliest first. Its operations take and give dueItems
// as they are (container/heap would box each into an interface: an allocation per write).
type dueQueue []dueItem

func (q dueQueue) less(i, j int) bool {
	return q[i].at < q[j].at || q[i].at == q[j].at && q[i].key < q[j].key
}

// push adds it.
func (q *dueQueue) push(it dueItem) {
	*q = append(*q, it)
	h := *q
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

// pop removes and returns the earliest item; the queue must not be empty.
func (q *dueQueue) pop() dueItem {
	h := *q
	n := len(h) - 1
	h[0], h[n] = h[n], h[0]
	h.down(0, n)
	it := h[n]
	h[n] = dueItem{} // the backing array keeps no key alive
	*q = h[:n]
	return it
}

// down moves the item at i down to its place among the first n.
func (q dueQueue) down(i, n int) {
	for {
		j := 2*i + 1
		if j >= n {
			return
		}
		if r := j + 1; r < n && q.less(r, j) {
			j = r
		}
		if !q.less(j, i) {
			return
		}
		q[i], q[j] = q[j], q[i]
		i = j
	}
}

// init orders the whole queue as a heap.
func (q dueQueue) init() {
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.down(i, len(q))
	}
}

// index adds the records under lt's prefix, read in btx.
func (x *expiryIndex) index(btx *buntdb.Tx, lt lifetime) error {
	var changes []change
	var ferr error
	err := btx.AscendGreaterOrEqual("", lt.prefix, func(k, v string) bool {
		if !strings.HasPrefix(k, lt.prefix) {
			return false
		}
		at, err := lt.forgetAt(k, v)
		if err != nil {
			ferr = err
			return false
		}
		changes = append(changes, change{k, at})
		return true
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("store: index lifetimes under %s: %w", lt.prefix, err)
	}
	x.apply(changes)
	return nil
}

// reset empties the index.
func (x *expiryIndex) reset() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.at, x.queue = nil, nil
}

// apply records committed changes.
func (x *expiryIndex) apply(changes []change) {
	if len(changes) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.at == nil {
		x.at = map[string]int64{}
	}
	for _, c := range changes {
		if c.at.IsZero() {
			delete(x.at, c.key)
			continue
		}
		at := c.at.UnixNano()
		if old, ok := x.at[c.key]; ok && old == at {
			continue
		}
		x.at[c.key] = at
		x.queue.push(dueItem{at, c.key})
	}
	// Rewritten and deleted records leave stale entries behind; drop them when they outnumber
	// the live ones.
	if len(x.queue) > 2*len(x.at)+1024 {
		x.queue = x.queue[:0]
		for k, at := range x.at {
			x.queue = append(x.queue, dueItem{at, k})
		}
		x.queue.init()
	}
}

// due takes up to n keys due at now off the queue. The caller deletes them in the write
// transaction it calls due from, which removes them from at.
func (x *expiryIndex) due(now time.Time, n int) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	limit := now.UnixNano()
	var keys []string
	for len(keys) < n && len(x.queue) > 0 && x.queue[0].at <= limit {
		it := x.queue.pop()
		if at, ok := x.at[it.key]; ok && at == it.at {
			keys = append(keys, it.key)
		}
	}
	return keys
}

// count returns how many keys are due at now.
func (x *expiryIndex) count(now time.Time) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	limit, n := now.UnixNano(), 0
	for _, at := range x.at {
		if at <= limit {
			n++
		}
	}
	return n
}
