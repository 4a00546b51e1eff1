package journal

import (
	"fmt"
	"testing"
	"time"
)

func TestRingKeepsTheNewest(t *testing.T) {
	j := New(3)
	t0 := time.Unix(1000, 0)
	for i := range 5 {
		j.Add(Entry{ID: fmt.Sprint("r", i), Time: t0.Add(time.Duration(i) * time.Second), Path: "/p", Errcode: i % 2})
	}
	all := j.List(Filter{})
	if len(all) != 3 || all[0].ID != "r2" || all[2].ID != "r4" {
		t.Fatalf("List = %+v, want r2..r4", all)
	}
	if _, ok := j.Get("r1"); ok {
		t.Error("an evicted entry is still found")
	}
	if e, ok := j.Get("r3"); !ok || e.Seq != 4 {
		t.Errorf("Get(r3) = %+v %v", e, ok)
	}
	one := 1
	if got := j.List(Filter{Errcode: &one}); len(got) != 1 || got[0].ID != "r3" {
		t.Errorf("errcode filter = %+v", got)
	}
	if got := j.List(Filter{Since: t0.Add(4 * time.Second)}); len(got) != 1 {
		t.Errorf("since filter = %+v", got)
	}
	if got := j.List(Filter{Limit: 2}); len(got) != 2 || got[1].ID != "r4" {
		t.Errorf("limit = %+v", got)
	}
	j.Clear()
	if len(j.List(Filter{})) != 0 {
		t.Error("Clear left entries")
	}
}

func TestGetFindsTheNewestEntryWithTheID(t *testing.T) {
	j := New(4)
	if _, ok := j.Get("r0"); ok {
		t.Fatal("an empty journal found an entry")
	}
	j.Add(Entry{ID: "r0", Path: "/old"})
	j.Add(Entry{})
	j.Add(Entry{ID: "r0", Path: "/new"})
	if e, ok := j.Get("r0"); !ok || e.Path != "/new" || e.Seq != 3 {
		t.Errorf("Get(r0) = %+v %v, want the newer entry, seq 3", e, ok)
	}
	if _, ok := j.Get(""); ok {
		t.Error("Get of the empty id found an entry without one")
	}
	for i := range 6 { // around the ring: r0's entries are gone, r5's wraps past the end
		j.Add(Entry{ID: fmt.Sprint("r", i+1)})
	}
	if _, ok := j.Get("r0"); ok {
		t.Error("an evicted id is still found")
	}
	for i := 3; i <= 6; i++ {
		if e, ok := j.Get(fmt.Sprint("r", i)); !ok || e.Seq != uint64(i+3) {
			t.Errorf("Get(r%d) = %+v %v, want seq %d", i, e, ok, i+3)
		}
	}
	j.Clear()
	if _, ok := j.Get("r6"); ok {
		t.Error("Get found an entry after Clear")
	}
}
