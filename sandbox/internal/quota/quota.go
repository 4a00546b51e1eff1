// Package quota counts calls per scope (an app and an API, typically) in fixed windows: second,
// minute, day (reset at Beijing midnight, as WeChat does), calendar month and lifetime. It admits
// a call only if every window has room, and counts it in all of them at once, so a limit of N
// admits exactly N calls even under concurrency.
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

	mu  sync.Mutex
	mem map[memKey]int
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
	return &Engine{store: st, clock: c, prefix: prefix, mem: map[memKey]int{}}
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

func (e *Engine) storedKey(scope string, w Window, bucket string) string {
	return e.prefix + scope + ":" + w.String() + ":" + bucket
}

func bucketOf(w Window, t time.Time) string {
	bj := t.In(clock.Beijing)
	switch w {
	case Day:
		return bj.Format("20060102")
	case Month:
		return bj.Format("200601")
	}
	return "all"
}

// Admit counts one call in scope if every limited window has room, and otherwise returns the
// first window (shortest first) that is full. Nothing is counted for a refused call.
func (e *Engine) Admit(scope string, limits Limits) (*Denial, error) {
	if limits.Zero() {
		return nil, nil
	}
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gc(now)
	var memKeys []memKey
	for _, w := range []Window{Second, Minute} {
		lim := limits.Of(w)
		if lim == 0 {
			continue
		}
		k := memKey{scope, w, memBucket(w, now)}
		if e.mem[k] >= lim {
			return &Denial{w, lim}, nil
		}
		memKeys = append(memKeys, k)
	}
	var denial *Denial
	err := e.store.Update(func(tx *store.Tx) error {
		type pending struct {
			key string
			n   int
		}
		var writes []pending
		for _, w := range []Window{Day, Month, Lifetime} {
			lim := limits.Of(w)
			if lim == 0 {
				continue
			}
			key := e.storedKey(scope, w, bucketOf(w, now))
			n, err := readCount(tx, key)
			if err != nil {
				return err
			}
			if n >= lim {
				denial = &Denial{w, lim}
				return nil
			}
			writes = append(writes, pending{key, n + 1})
		}
		for _, p := range writes {
			if err := tx.PutRaw(p.key, strconv.Itoa(p.n)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("quota: admit %s: %w", scope, err)
	}
	if denial != nil {
		return denial, nil
	}
	for _, k := range memKeys {
		e.mem[k]++
	}
	return nil, nil
}

// Release gives back one call admitted in scope under limits, in the windows it was counted in,
// so that a call refused after admission (by its handler) leaves no trace. A counter that
// returns to zero is deleted, leaving the store as it was before the call.
func (e *Engine) Release(scope string, limits Limits, admittedAt time.Time) error {
	if limits.Zero() {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range []Window{Second, Minute} {
		if limits.Of(w) == 0 {
			continue
		}
		k := memKey{scope, w, memBucket(w, admittedAt)}
		if e.mem[k] > 1 {
			e.mem[k]--
		} else {
			delete(e.mem, k)
		}
	}
	err := e.store.Update(func(tx *store.Tx) error {
		for _, w := range []Window{Day, Month, Lifetime} {
			if limits.Of(w) == 0 {
				continue
			}
			key := e.storedKey(scope, w, bucketOf(w, admittedAt))
			n, err := readCount(tx, key)
			if err != nil {
				return err
			}
			switch {
			case n > 1:
				err = tx.PutRaw(key, strconv.Itoa(n-1))
			case n == 1:
				err = tx.Delete(key)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("quota: release %s: %w", scope, err)
	}
	return nil
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
		n, err = readCount(tx, e.storedKey(scope, w, bucketOf(w, now)))
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
	return readCount(tx, e.storedKey(scope, w, bucketOf(w, e.clock.Now())))
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
