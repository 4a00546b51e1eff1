package cityservice

import (
	"fmt"
	"math"
	"testing"

	"github.com/citysandbox/citysandbox/fixtures"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// TestPreparedWorldIsTheWorld: a world prepared in the background stores exactly what a world
// built by LoadFixtures stores, and one prepared for another seed than the Faker has by then is
// not used.
func TestPreparedWorldIsTheWorld(t *testing.T) {
	t.Parallel()
	set := fixture.New(fixtures.FS)
	load := func(seed uint64, world func(*fixture.Faker) *World, reseed uint64) string {
		t.Helper()
		st, err := store.Open(store.Memory, store.SyncEverySecond)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		fk := fixture.NewFaker(seed)
		e := New(Deps{Store: st, Faker: fk, Fixtures: set, World: world(fk)})
		fk.Reseed(reseed)
		if err := e.LoadFixtures(); err != nil {
			t.Fatal(err)
		}
		h, err := st.Hash()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	none := func(*fixture.Faker) *World { return nil }
	prepared := func(fk *fixture.Faker) *World { return PrepareWorld(set, fk.Seed()) }
	built := load(1, none, 1)
	if got := load(1, prepared, 1); got != built {
		t.Errorf("the prepared world stores %s, the built one %s", got, built)
	}
	other := load(9, none, 9)
	if other == built {
		t.Fatal("seeds 1 and 9 give the same world")
	}
	if got := load(1, prepared, 9); got != other {
		t.Errorf("a world prepared for seed 1 and loaded at seed 9 stores %s, want seed 9's %s", got, other)
	}
}

// BenchmarkBuildWorld is the City Service world of the built-in fixtures for seed 1: most of a
// fresh sandbox's start.
func BenchmarkBuildWorld(b *testing.B) {
	set := fixture.New(fixtures.FS)
	for b.Loop() {
		if _, _, err := buildWorld(set, fixture.NewFaker(1).Fork(worldLabel)); err != nil {
			b.Fatal(err)
		}
	}
}

func TestServiceKeyIsZeroPadded(t *testing.T) {
	t.Parallel()
	for _, id := range []int64{0, 1, 42, 100001, 999999999999, 1000000000000, -7, math.MaxInt64, math.MinInt64} {
		if got, want := csServiceKey(id), fmt.Sprintf("%sservice:%012d", csPrefix, id); got != want {
			t.Errorf("csServiceKey(%d) = %q, want %q", id, got, want)
		}
	}
}
