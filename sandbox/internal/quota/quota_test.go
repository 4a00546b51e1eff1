package quota

import (
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

func newEngine(t *testing.T) (*Engine, *clock.Controllable, *store.Store) {
	t.Helper()
	st, err := store.Open(store.Memory, store.SyncEverySecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := clock.NewFrozen(time.Date(2026, 3, 2, 10, 0, 0, 0, clock.Beijing))
	return New(st, c, "test:quota:"), c, st
}

// admitConcurrently fires n admissions at once and counts those admitted.
func admitConcurrently(t *testing.T, e *Engine, n int, l Limits) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := e.Admit("app|/api", l)
			if err != nil {
				t.Error(err)
			}
			if d == nil {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return admitted
}

func TestExactUnderConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits Limits
		want   int
	}{
		{"second", Limits{PerSecond: 5}, 5},
		{"minute", Limits{PerMinute: 200}, 200},
		{"day", Limits{PerDay: 150}, 150},
		{"month", Limits{PerMonth: 10}, 10},
		{"lifetime", Limits{Lifetime: 77}, 77},
		{"tightest wins", Limits{PerSecond: 50, PerDay: 20}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, _ := newEngine(t)
			if got := admitConcurrently(t, e, 300, tc.limits); got != tc.want {
				t.Errorf("admitted %d of 300, want exactly %d", got, tc.want)
			}
		})
	}
}

func TestWindowsRollOver(t *testing.T) {
	e, c, _ := newEngine(t)
	l := Limits{PerSecond: 1, PerMinute: 2, PerDay: 3}
	step := func(d time.Duration, wantAdmitted bool, want Window) {
		t.Helper()
		c.Advance(d)
		dn, err := e.Admit("s", l)
		if err != nil {
			t.Fatal(err)
		}
		if (dn == nil) != wantAdmitted || (dn != nil && dn.Window != want) {
			t.Fatalf("after +%v: denial %+v, want admitted=%v window=%v", d, dn, wantAdmitted, want)
		}
	}
	step(0, true, 0)
	step(0, false, Second)
	step(time.Second, true, 0)
	step(time.Second, false, Minute)
	step(time.Minute, true, 0)
	step(time.Minute, false, Day)
	// Beijing midnight (the clock started at 10:00 CST): 14 hours on, the day resets.
	step(14*time.Hour, true, 0)
}

func TestReleaseLeavesNoTrace(t *testing.T) {
	e, _, st := newEngine(t)
	before, _ := st.Hash()
	l := Limits{PerSecond: 1, PerDay: 1, PerMonth: 1, Lifetime: 1}
	r, d, err := e.Reserve("s", l)
	if err != nil || d != nil {
		t.Fatalf("first call refused: %v %v", d, err)
	}
	r.Release()
	if after, _ := st.Hash(); after != before {
		t.Error("a released call left counters behind")
	}
	if len(e.Live()) != 0 {
		t.Errorf("a released call left windows in memory: %v", e.Live())
	}
	if d, _ := e.Admit("s", l); d != nil {
		t.Error("a released call still counts")
	}
}

// TestPendingCallsNeverTakeAValidCallersTurn holds the whole allowance with two calls in flight
// that their handlers will refuse: a valid caller that comes meanwhile waits for them and is
// admitted once they are given back, instead of being refused.
func TestPendingCallsNeverTakeAValidCallersTurn(t *testing.T) {
	e, _, _ := newEngine(t)
	l := Limits{PerMinute: 2, PerDay: 2}
	a, _, _ := e.Reserve("s", l)
	b, _, _ := e.Reserve("s", l)
	result := make(chan *Denial, 1)
	go func() {
		r, d, err := e.Reserve("s", l)
		if err != nil {
			t.Error(err)
		}
		if err := r.Commit(); err != nil {
			t.Error(err)
		}
		result <- d
	}()
	a.Release()
	b.Release()
	if d := <-result; d != nil {
		t.Errorf("a valid caller behind two refused ones was refused: %+v", d)
	}
	// The committed calls do fill the window: with both counted, the next caller is refused.
	if d, _ := e.Admit("s", l); d != nil {
		t.Fatalf("the second call refused: %+v", d)
	}
	if d, _ := e.Admit("s", l); d == nil || d.Window != Minute {
		t.Errorf("a third call with two counted: %+v, want refused by the minute", d)
	}
}

// TestMixedCallersUnderConcurrency admits, at once, valid calls that commit and calls that are
// given back: the valid ones get exactly the allowance, whatever the others do.
func TestMixedCallersUnderConcurrency(t *testing.T) {
	for _, tc := range []struct{ limit, valid, refused, want int }{
		{50, 50, 200, 50},
		{50, 80, 200, 50},
	} {
		e, _, _ := newEngine(t)
		l := Limits{PerDay: tc.limit}
		var wg sync.WaitGroup
		var mu sync.Mutex
		admitted := 0
		for i := range tc.valid + tc.refused {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, d, err := e.Reserve("app|/api", l)
				if err != nil {
					t.Error(err)
					return
				}
				if i >= tc.valid {
					r.Release() // refused by its handler, whether admitted or not
					return
				}
				if d == nil {
					if err := r.Commit(); err != nil {
						t.Error(err)
					}
					mu.Lock()
					admitted++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if admitted != tc.want {
			t.Errorf("%d valid and %d refused callers on %d left: %d valid admitted, want %d", tc.valid, tc.refused, tc.limit, admitted, tc.want)
		}
	}
}

func TestClearKeepsMonthAndLifetime(t *testing.T) {
	e, _, _ := newEngine(t)
	l := Limits{PerDay: 1, PerMonth: 2}
	e.Admit("app|/a", l)
	if err := e.Clear("app|", true); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.Admit("app|/a", l); d != nil {
		t.Fatalf("day not cleared: %+v", d)
	}
	e.Clear("app|/a", false)
	if d, _ := e.Admit("app|/a", l); d == nil || d.Window != Month {
		t.Errorf("month window cleared too: %+v", d)
	}
}

func TestScaled(t *testing.T) {
	got := Limits{PerSecond: 5, PerDay: 2000, PerMonth: 0}.Scaled(10)
	if want := (Limits{PerSecond: 1, PerDay: 200}); got != want {
		t.Errorf("Scaled(10) = %+v, want %+v", got, want)
	}
}

// The day and month in a counter's key are what AppendFormat writes for the Beijing date, the
// years that are not four digits included.
func TestStoredKeyDatesAreAppendFormats(t *testing.T) {
	e := &Engine{prefix: "q:"}
	for _, at := range []time.Time{
		time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC), // 00:00 on the 3rd in Beijing
		time.Date(2026, 12, 2, 15, 59, 59, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(999, 10, 9, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 15, 0, 0, 0, time.UTC), time.Date(12026, 3, 4, 0, 0, 0, 0, time.UTC),
	} {
		bj := at.In(clock.Beijing)
		if got, want := e.storedKey("s", Day, at), "q:s:day:"+bj.Format("20060102"); got != want {
			t.Errorf("day key at %v = %q, want %q", at, got, want)
		}
		if got, want := e.storedKey("s", Month, at), "q:s:month:"+bj.Format("200601"); got != want {
			t.Errorf("month key at %v = %q, want %q", at, got, want)
		}
	}
}
