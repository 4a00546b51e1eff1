// Package clock is the sandbox's only source of time. Every lifetime, quota window, signature
// freshness check and retry schedule asks a Clock, so tests and scenarios can move time without
// sleeping.
package clock

import (
	"sync"
	"sync/atomic"
	"time"
)

// Beijing is China Standard Time (UTC+8, no daylight saving). WeChat resets daily quotas at
// Beijing midnight; a fixed zone avoids depending on the host's tzdata.
var Beijing = time.FixedZone("CST", 8*60*60)

// Clock tells the sandbox what time it is.
type Clock interface {
	Now() time.Time
}

// Controllable is a Clock that can be advanced or set. It runs in one of two modes: frozen
// (time stands still until moved, for tests and scenarios) or running (wall time plus an offset,
// for the served binary). It is safe for concurrent use: a move replaces the clock's state as a
// whole, under a lock that only moves take, so reading the time takes no lock.
type Controllable struct {
	mu    sync.Mutex // held by moves, so that each one starts from the state the last one left
	state atomic.Pointer[clockState]
	wall  func() time.Time
}

// clockState is what a Controllable is at one moment; it is never changed once stored.
type clockState struct {
	frozen bool
	at     time.Time     // the frozen instant
	offset time.Duration // added to wall time when running
}

// NewFrozen returns a clock that stands at t until it is advanced or set. Times are kept in UTC so
// that the same instant always prints the same way.
func NewFrozen(t time.Time) *Controllable {
	c := &Controllable{wall: time.Now}
	c.state.Store(&clockState{frozen: true, at: t.UTC()})
	return c
}

// NewRunning returns a clock that follows wall time, shifted by whatever Advance and Set add.
func NewRunning() *Controllable {
	c := &Controllable{wall: time.Now}
	c.state.Store(&clockState{})
	return c
}

// Now returns the sandbox time, in UTC. A frozen clock returns exactly the instant it was set or
// moved to, at whatever precision the caller gave: a scenario or test reads back the time it set,
// and the same moves always give the same instant. A running clock reads the wall clock,
// truncated to the microsecond, which also drops the wall clock's monotonic reading, so that a
// time stored and read back compares equal to the one Now returned.
func (c *Controllable) Now() time.Time {
	st := c.state.Load()
	if st.frozen {
		return st.at
	}
	return c.wall().Add(st.offset).Truncate(time.Microsecond).UTC()
}

// Frozen reports whether the clock stands still between moves.
func (c *Controllable) Frozen() bool { return c.state.Load().frozen }

// move replaces the state with what change makes of a copy of it.
func (c *Controllable) move(change func(st *clockState)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := *c.state.Load()
	change(&st)
	c.state.Store(&st)
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Controllable) Advance(d time.Duration) {
	c.move(func(st *clockState) {
		if st.frozen {
			st.at = st.at.Add(d)
			return
		}
		st.offset += d
	})
}

// Set moves the clock to t. A running clock keeps running from t.
func (c *Controllable) Set(t time.Time) {
	c.move(func(st *clockState) {
		if st.frozen {
			st.at = t.UTC()
			return
		}
		st.offset = t.Sub(c.wall())
	})
}

// Freeze stops the clock at t (kept in UTC, as NewFrozen and Set keep it): from now on it moves
// only when advanced or set. Scenario replays freeze a served sandbox's clock so that every
// answer is reproducible.
func (c *Controllable) Freeze(t time.Time) {
	c.move(func(st *clockState) { st.frozen, st.at, st.offset = true, t.UTC(), 0 })
}

// Thaw makes a frozen clock run on from the instant it stands at (wall time plus the offset that
// puts it there); a running clock is left as it is.
func (c *Controllable) Thaw() {
	c.move(func(st *clockState) {
		if st.frozen {
			st.frozen, st.offset = false, st.at.Sub(c.wall())
		}
	})
}

// Offset returns how far a running clock is from wall time (zero for a frozen clock).
func (c *Controllable) Offset() time.Duration { return c.state.Load().offset }

// SetOffset restores a running clock's offset, for example after a restart.
func (c *Controllable) SetOffset(d time.Duration) {
	c.move(func(st *clockState) { st.offset = d })
}

// Run makes the clock follow wall time shifted by offset from now on; a frozen clock thaws. A
// namespace's world is loaded on a frozen clock at a shared instant, then set running.
func (c *Controllable) Run(offset time.Duration) {
	c.move(func(st *clockState) { st.frozen, st.offset = false, offset })
}
