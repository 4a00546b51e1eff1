// Package quota counts calls per scope (an app and an API, typically) in fixed windows: second,
// minute, day (reset at Beijing midnight, as WeChat does), calendar month and lifetime. It admits
// a call only if every window has room, counting the calls admitted and not yet finished, and a
// call counts for good only once it succeeded (Reservation.Commit): a limit of N admits exactly N
// calls even under concurrency, and a call its handler refuses (Reservation.Release) never takes
// the turn of a valid one — a caller that finds the last room held by unfinished calls waits
// for them instead of being refused.
//
// Second and minute windows live in memory (they are over before a restart matters); day, month
// and lifetime windows live in the store, so a restarted sandbox keeps its counters. A stored
// day or month counter is forgotten once its window is over (at the next Beijing midnight, or
// the first of the next month): nothing answers for a window past.
package quota

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// Window is a counting period.
type Window int

// The windows, shortest first.
const (
	Second Window = iota
	Minute
	Day
	Month
	Lifetime
)

var windowNames = [...]string{"second", "minute", "day", "month", "lifetime"}

// String names the window.
func (w Window) String() string { return windowNames[w] }

// Limits are the maximum calls per window; zero means no limit in that window.
type Limits struct {
	PerSecond int `json:"per_second,omitempty" yaml:"per_second"`
	PerMinute int `json:"per_minute,omitempty" yaml:"per_minute"`
	PerDay    int `json:"per_day,omitempty" yaml:"per_day"`
	PerMonth  int `json:"per_month,omitempty" yaml:"per_month"`
	Lifetime  int `json:"lifetime,omitempty" yaml:"lifetime"`
}

// Of returns the limit for window w.
func (l Limits) Of(w Window) int {
	return [...]int{l.PerSecond, l.PerMinute, l.PerDay, l.PerMonth, l.Lifetime}[w]
}

// Scaled divides every limit by div, keeping a non-zero limit at least 1 (the test tier).
func (l Limits) Scaled(div int) Limits {
	f := func(n int) int {
		if n == 0 {
			return 0
		}
		return max(1, n/div)
	}
	return Limits{f(l.PerSecond), f(l.PerMinute), f(l.PerDay), f(l.PerMonth), f(l.Lifetime)}
}

// Zero reports whether no window is limited.
func (l Limits) Zero() bool { return l == Limits{} }

// Denial says which window refused a call.
type Denial struct {
	Window Window
	Limit  int
}

// Engine counts calls. It is safe for concurrent use.
type Engine struct {
	store  *store.Store
	clock  clock.Clock
	prefix string

	mu sync.Mutex
	// changed is signalled whenever a reservation ends, for callers waiting on one.
	changed *sync.Cond
	// mem counts the committed calls of the second and minute windows.
	mem map[memKey]int
	// pending counts, per window, the calls reserved and neither committed nor released.
	pending map[memKey]int
}

type memKey struct {
	scope  string
	window Window
	bucket int64
}

// New returns an Engine over st, reading time from c, whose stored counters live under prefix
// (the platform's, "wechat:quota:", so that a reset of the platform resets its counters too).
func New(st *store.Store, c clock.Clock, prefix string) *Engine {
	st.Forget(prefix, counterForgetAt)
	e := &Engine{store: st, clock: c, prefix: prefix, mem: map[memKey]int{}, pending: map[memKey]int{}}
	e.changed = sync.NewCond(&e.mu)
	return e
}

// counterForgetAt reads when a stored counter's window is over from its key, which ends in
// ":<window>:<bucket>".
func counterForgetAt(key, _ string) (time.Time, error) {
	i := strings.LastIndexByte(key, ':')
	j := strings.LastIndexByte(key[:max(i, 0)], ':')
	if i < 0 || j < 0 {
		return time.Time{}, fmt.Errorf("quota: counter key %q has no window", key)
	}
	bucket := key[i+1:]
	switch key[j+1 : i] {
	case Day.String():
		d, err := time.ParseInLocation("20060102", bucket, clock.Beijing)
		return d.AddDate(0, 0, 1), err
	case Month.String():
		m, err := time.ParseInLocation("200601", bucket, clock.Beijing)
		return m.AddDate(0, 1, 0), err
	}
	return time.Time{}, nil // lifetime counters are kept
}

// storedKey is the key of scope's counter for the window of w that t falls in:
// "<prefix><scope>:<window>:<bucket>", the bucket a Beijing date (20060102), month (200601) or
// "all". It is built in one allocation: every counted call reads or writes one.
func (e *Engine) storedKey(scope string, w Window, t time.Time) string {
	var buf [160]byte
	b := append(buf[:0], e.prefix...)
	b = append(b, scope...)
	b = append(b, ':')
	b = append(b, w.String()...)
	b = append(b, ':')
	// The digits written out, as AppendFormat would write "20060102" and "200601" (and does, for
	// a year beyond four digits): the key is made on every quota check.
	bj := t.In(clock.Beijing)
	y, m, d := bj.Date()
	switch {
	case (w == Day || w == Month) && (y < 0 || y > 9999):
		b = bj.AppendFormat(b, map[Window]string{Day: "20060102", Month: "200601"}[w])
	case w == Day:
		b = appendDigits(appendDigits(appendDigits(b, y, 4), int(m), 2), d, 2)
	case w == Month:
		b = appendDigits(appendDigits(b, y, 4), int(m), 2)
	default:
		b = append(b, "all"...)
	}
	return string(b)
}

// appendDigits appends v in width decimal digits, zero-padded (v is not negative and fits).
func appendDigits(b []byte, v, width int) []byte {
	for range width {
		b = append(b, 0)
	}
	for i := len(b) - 1; i >= len(b)-width; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// windowKey names the window of w that t falls in, for the in-memory tables.
func windowKey(scope string, w Window, t time.Time) memKey {
	switch w {
	case Second, Minute:
		return memKey{scope, w, memBucket(w, t)}
	case Day:
		bj := t.In(clock.Beijing)
		return memKey{scope, w, int64(bj.Year()*10000 + int(bj.Month())*100 + bj.Day())}
	case Month:
		bj := t.In(clock.Beijing)
		return memKey{scope, w, int64(bj.Year()*100 + int(bj.Month()))}
	}
	return memKey{scope, w, 0}
}

// Reservation is an admitted call's hold on its windows: it counts against the limits, as a
// pending call, until Commit counts it for good or Release gives it back. A caller that finds a
// window full only because of pending calls waits for them to end instead of being refused, so
// a call that is then refused by its handler never costs a valid concurrent caller its turn.
type Reservation struct {
	e      *Engine
	scope  string
	limits Limits
	at     time.Time
	held   []memKey
	done   bool
}

// Reserve admits one call in scope if every limited window has room, counting the calls already
// reserved in it, and returns its reservation; otherwise it returns the first window (shortest
// first) whose committed calls fill it. While a window is full only with pending reservations
// it waits for them to end. A call with no limits gets a nil reservation, which Commit and
// Release accept. Every reservation must end with Commit or Release.
func (e *Engine) Reserve(scope string, limits Limits) (*Reservation, *Denial, error) {
	if limits.Zero() {
		return nil, nil, nil
	}
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gc(now)
	for {
		stored, err := e.storedCounts(scope, limits, now)
		if err != nil {
			return nil, nil, fmt.Errorf("quota: admit %s: %w", scope, err)
		}
		keys := make([]memKey, 0, 5)
		wait := false
		for _, w := range []Window{Second, Minute, Day, Month, Lifetime} {
			lim := limits.Of(w)
			if lim == 0 {
				continue
			}
			k := windowKey(scope, w, now)
			used := stored[w]
			if w == Second || w == Minute {
				used = e.mem[k]
			}
			if used >= lim {
				return nil, &Denial{w, lim}, nil
			}
			if used+e.pending[k] >= lim {
				wait = true
			}
			keys = append(keys, k)
		}
		if !wait {
			for _, k := range keys {
				e.pending[k]++
			}
			return &Reservation{e: e, scope: scope, limits: limits, at: now, held: keys}, nil, nil
		}
		e.changed.Wait()
	}
}

// storedCounts reads the day, month and lifetime counters that limits use.
func (e *Engine) storedCounts(scope string, limits Limits, now time.Time) ([Lifetime + 1]int, error) {
	var counts [Lifetime + 1]int
	if limits.PerDay == 0 && limits.PerMonth == 0 && limits.Lifetime == 0 {
		return counts, nil
	}
	err := e.store.View(func(tx *store.Tx) error {
		for _, w := range []Window{Day, Month, Lifetime} {
			if limits.Of(w) == 0 {
				continue
			}
			n, err := readCount(tx, e.storedKey(scope, w, now))
			if err != nil {
				return err
			}
			counts[w] = n
		}
		return nil
	})
	return counts, err
}

// Commit counts the reserved call in every window it holds: in the store for the day, month and
// lifetime windows, in memory for the others. It does nothing for a nil or ended reservation.
func (r *Reservation) Commit() error {
	if r == nil || r.done {
		return nil
	}
	r.done = true
	e := r.e
	// The store first, then the pending count: in between a caller sees the call twice, which
	// can make it wait (it is woken below) but never admits one call too many.
	err := e.store.Update(func(tx *store.Tx) error {
		for _, w := range []Window{Day, Month, Lifetime} {
			if r.limits.Of(w) == 0 {
				continue
			}
			key := e.storedKey(r.scope, w, r.at)
			n, err := readCount(tx, key)
			if err != nil {
				return err
			}
			if err := tx.PutRaw(key, strconv.Itoa(n+1)); err != nil {
				return err
			}
		}
		return nil
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, k := range r.held {
		if err == nil && (k.window == Second || k.window == Minute) {
			e.mem[k]++
		}
		e.unpend(k)
	}
	e.changed.Broadcast()
	if err != nil {
		return fmt.Errorf("quota: count %s: %w", r.scope, err)
	}
	return nil
}

// Release gives the reserved call back: it leaves no trace in any window. It does nothing for a
// nil or ended reservation.
func (r *Reservation) Release() {
	if r == nil || r.done {
		return
	}
	r.done = true
	e := r.e
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, k := range r.held {
		e.unpend(k)
	}
	e.changed.Broadcast()
}

// unpend ends one pending call of k. Called with mu held.
func (e *Engine) unpend(k memKey) {
	if e.pending[k] > 1 {
		e.pending[k]--
	} else {
		delete(e.pending, k)
	}
}

// Admit is Reserve and Commit at once, for a call that counts whatever happens next (a quota
// tool's own budget).
func (e *Engine) Admit(scope string, limits Limits) (*Denial, error) {
	r, d, err := e.Reserve(scope, limits)
	if err != nil || d != nil {
		return d, err
	}
	return nil, r.Commit()
}

func memBucket(w Window, t time.Time) int64 {
	if w == Second {
		return t.Unix()
	}
	return t.Unix() / 60
}

// gc drops in-memory buckets that are over, so the map stays small. Called with mu held.
func (e *Engine) gc(now time.Time) {
	if len(e.mem) < 4096 {
		return
	}
	for k := range e.mem {
		if k.bucket != memBucket(k.window, now) {
			delete(e.mem, k)
		}
	}
}

func readCount(tx *store.Tx, key string) (int, error) {
	raw, ok, err := tx.GetRaw(key)
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, fmt.Errorf("quota: counter %s: %w", key, err)
	}
	return n, nil
}

// Used returns how many calls the current window of w has counted in scope.
func (e *Engine) Used(scope string, w Window) (int, error) {
	now := e.clock.Now()
	if w == Second || w == Minute {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.mem[memKey{scope, w, memBucket(w, now)}], nil
	}
	var n int
	err := e.store.View(func(tx *store.Tx) error {
		var err error
		n, err = readCount(tx, e.storedKey(scope, w, now))
		return err
	})
	return n, err
}

// Live returns the calls counted in the second and minute windows still open, keyed
// "<scope> <window>": what the engine holds in memory that decides the next admission. (Closed
// windows may linger in memory until collected; they decide nothing and are left out.)
func (e *Engine) Live() map[string]int {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	live := map[string]int{}
	for k, n := range e.mem {
		if k.bucket == memBucket(k.window, now) {
			live[k.scope+" "+k.window.String()] = n
		}
	}
	return live
}

// UsedIn is Used for a stored window (day, month, lifetime) inside a caller's transaction.
func (e *Engine) UsedIn(tx *store.Tx, scope string, w Window) (int, error) {
	return readCount(tx, e.storedKey(scope, w, e.clock.Now()))
}

// Clear resets the day, second and minute windows of scope, or with prefix of every scope that
// starts with it (WeChat's clear_quota resets an account's daily call counts; month and lifetime
// windows stay).
func (e *Engine) Clear(scope string, prefix bool) error {
	matches := func(s string) bool { return s == scope || prefix && strings.HasPrefix(s, scope) }
	e.mu.Lock()
	defer e.mu.Unlock()
	for k := range e.mem {
		if matches(k.scope) {
			delete(e.mem, k)
		}
	}
	return e.store.Update(func(tx *store.Tx) error {
		var keys []string
		if err := tx.AscendPrefix(e.prefix+scope, func(k, _ string) bool {
			// Scopes never contain ":day:", so this picks the day counters only.
			i := strings.Index(k, ":"+Day.String()+":")
			if i > 0 && matches(k[len(e.prefix):i]) {
				keys = append(keys, k)
			}
			return true
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ResetMemory forgets the second and minute windows, as a sandbox reset does.
func (e *Engine) ResetMemory() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.mem)
}
