package store

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

type lease struct {
	Until time.Time `json:"until"`
}

func (l lease) ForgetAt() time.Time { return l.Until }

func keys(t *testing.T, s *Store, prefix string) []string {
	t.Helper()
	var out []string
	if err := s.View(func(tx *Tx) error {
		return tx.AscendPrefix(prefix, func(k, _ string) bool { out = append(out, k); return true })
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSweepForgetsRecordsOnceTheirTimeHasCome(t *testing.T) {
	s, err := Open(Memory, SyncEverySecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	// One record stored before its prefix is declared: Reindex finds it.
	if err := s.Update(func(tx *Tx) error { return tx.Put("t:lease:early", lease{t0.Add(time.Minute)}) }); err != nil {
		t.Fatal(err)
	}
	ForgetRecords[lease](s, "t:lease:")
	// Raw records read their time from the key: "t:raw:<minutes>".
	s.Forget("t:raw:", func(key, _ string) (time.Time, error) {
		m, err := time.ParseDuration(strings.TrimPrefix(key, "t:raw:") + "m")
		return t0.Add(m), err
	})
	if err := s.Reindex(); err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *Tx) error {
		for _, p := range []struct {
			key string
			v   any
		}{
			{"t:lease:a", lease{t0.Add(2 * time.Minute)}},
			{"t:lease:b", lease{t0.Add(3 * time.Minute)}},
			{"t:lease:never", lease{}},
			{"t:other", lease{t0}}, // not declared: kept whatever it says
		} {
			if err := tx.Put(p.key, p.v); err != nil {
				return err
			}
		}
		return tx.PutRaw("t:raw:2", "x")
	})
	if err != nil {
		t.Fatal(err)
	}
	// b moves later; a is deleted and written again later still.
	err = s.Update(func(tx *Tx) error {
		if err := tx.Put("t:lease:b", lease{t0.Add(10 * time.Minute)}); err != nil {
			return err
		}
		return tx.Delete("t:lease:a")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.Put("t:lease:a", lease{t0.Add(5 * time.Minute)}) }); err != nil {
		t.Fatal(err)
	}
	sweep := func(at time.Duration, want ...string) {
		t.Helper()
		if _, err := s.Sweep(t0.Add(at), 1); err != nil {
			t.Fatal(err)
		}
		if got := keys(t, s, "t:"); !slices.Equal(got, want) {
			t.Errorf("after a sweep at +%s: %q, want %q", at, got, want)
		}
	}
	sweep(0, "t:lease:a", "t:lease:b", "t:lease:early", "t:lease:never", "t:other", "t:raw:2")
	sweep(2*time.Minute, "t:lease:a", "t:lease:b", "t:lease:never", "t:other")
	sweep(5*time.Minute, "t:lease:b", "t:lease:never", "t:other")

	// A restore brings back records the index then knows about.
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if n := s.Due(t0.Add(time.Hour)); n != 0 {
		t.Errorf("%d records due after a clear, want 0", n)
	}
	if err := s.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if n := s.Due(t0.Add(time.Hour)); n != 1 {
		t.Errorf("%d records due after the restore, want 1 (b)", n)
	}
	sweep(10*time.Minute, "t:lease:never", "t:other")
}

func TestFailedTransactionLeavesTheIndexAsTheRecords(t *testing.T) {
	s, _ := Open(Memory, SyncEverySecond)
	defer s.Close()
	ForgetRecords[lease](s, "t:")
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	_ = s.Update(func(tx *Tx) error {
		if err := tx.Put("t:x", lease{t0}); err != nil {
			return err
		}
		return errRollback
	})
	if n := s.Due(t0); n != 0 {
		t.Errorf("a rolled-back write left %d due records", n)
	}
}

// The queue gives its items back earliest first (then by key), however they were pushed, and
// init orders a queue built in any order.
func TestDueQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q, built dueQueue
	var all []dueItem
	for i := range 2000 {
		it := dueItem{at: rng.Int64N(50), key: fmt.Sprintf("k%04d", rng.IntN(3000))}
		if i%7 == 6 {
			it.at = all[rng.IntN(len(all))].at // ties
		}
		all = append(all, it)
		q.push(it)
		built = append(built, it)
	}
	built.init()
	slices.SortFunc(all, func(a, b dueItem) int {
		return cmp.Or(cmp.Compare(a.at, b.at), strings.Compare(a.key, b.key))
	})
	for name, h := range map[string]*dueQueue{"pushed": &q, "built": &built} {
		for i, want := range all {
			if got := h.pop(); got != want {
				t.Fatalf("%s: item %d = %v, want %v", name, i, got, want)
			}
		}
		if len(*h) != 0 {
			t.Errorf("%s: %d items left", name, len(*h))
		}
	}
}
