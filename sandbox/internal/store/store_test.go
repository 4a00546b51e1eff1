package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestSnapshotRestoreKeepsTheHash(t *testing.T) {
	s, err := Open(Memory, SyncEverySecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(func(tx *Tx) error {
		if err := tx.Put("a:json", map[string]any{"x": 1}); err != nil {
			return err
		}
		return tx.PutRaw("a:bare", "not json")
	})
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := s.Hash()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Hash(); h == h1 {
		t.Fatal("clear did not change the hash")
	}
	if err := s.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.Hash(); h != h1 {
		t.Errorf("hash after restore differs")
	}
	if err := s.Restore([]byte(`[{"key":"k"}]`)); err == nil {
		t.Error("an entry with neither value nor raw was accepted")
	}
}

// TestEntriesRestoreTheState copies one store's entries into another: the same hash, JSON and
// bare values alike, and the other store's own state gone; bookkeeping is neither copied nor
// replaced.
func TestEntriesRestoreTheState(t *testing.T) {
	from, to := openMemory(t), openMemory(t)
	err := from.Update(func(tx *Tx) error {
		for k, v := range map[string]string{"a:json": `{"x":1}`, "a:bare": "not json", "b:list": `[1, 2]`, Bookkeeping + "clock": `"x"`} {
			if err := tx.PutRaw(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = to.Update(func(tx *Tx) error {
		if err := tx.PutRaw("c:other", "1"); err != nil {
			return err
		}
		return tx.PutRaw(Bookkeeping+"seed", "7")
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := from.Entries()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("Entries = %d entries, want the 3 that are not bookkeeping", len(entries))
	}
	if err := to.RestoreEntries(entries); err != nil {
		t.Fatal(err)
	}
	want, _ := from.Hash()
	if got, _ := to.Hash(); got != want {
		t.Errorf("restored hash %s, want %s", got, want)
	}
	err = to.View(func(tx *Tx) error {
		for key, want := range map[string]string{"a:bare": "not json", "b:list": `[1, 2]`, Bookkeeping + "seed": "7", "c:other": ""} {
			got, ok, err := tx.GetRaw(key)
			if err != nil {
				return err
			}
			if got != want || ok != (want != "") {
				t.Errorf("%s = %q (%v), want %q", key, got, ok, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func openMemory(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Memory, SyncEverySecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestVersionsCountCommittedWritesUnderAPrefix(t *testing.T) {
	s, _ := Open(Memory, SyncEverySecond)
	defer s.Close()
	s.Track("tok:", "app:")
	put := func(key string, fail bool) {
		_ = s.Update(func(tx *Tx) error {
			if err := tx.PutRaw(key, "1"); err != nil {
				return err
			}
			if fail {
				return errRollback
			}
			return nil
		})
	}
	put("tok:1", false)
	put("other:1", false)
	put("tok:2", true) // rolled back: not counted
	if got := s.Version("tok:"); got != 1 {
		t.Errorf("tok: version = %d, want 1", got)
	}
	if got := s.Version("app:"); got != 0 {
		t.Errorf("app: version = %d, want 0", got)
	}
	_ = s.Clear()
	if s.Version("tok:") != 2 || s.Version("app:") != 1 {
		t.Errorf("clear did not bump every version")
	}
	if err := s.View(func(tx *Tx) error { return tx.PutRaw("x", "y") }); err != ErrReadOnly {
		t.Errorf("write in View = %v, want ErrReadOnly", err)
	}
}

type rollback struct{}

func (rollback) Error() string { return "rollback" }

var errRollback = rollback{}

func TestPrefixScans(t *testing.T) {
	s, _ := Open(Memory, SyncEverySecond)
	defer s.Close()
	_ = s.Update(func(tx *Tx) error {
		for _, k := range []string{"p:1", "p:2", "p:3", "q:1"} {
			if err := tx.PutRaw(k, "v"); err != nil {
				return err
			}
		}
		return nil
	})
	var asc, desc, from []string
	_ = s.View(func(tx *Tx) error {
		_ = tx.AscendPrefix("p:", func(k, _ string) bool { asc = append(asc, k); return true })
		_ = tx.DescendPrefix("p:", func(k, _ string) bool { desc = append(desc, k); return true })
		_ = tx.AscendFrom("p:", "p:2", func(k, _ string) bool { from = append(from, k); return true })
		return nil
	})
	if got := len(asc); got != 3 || asc[0] != "p:1" {
		t.Errorf("AscendPrefix = %v", asc)
	}
	if len(desc) != 3 || desc[0] != "p:3" {
		t.Errorf("DescendPrefix = %v", desc)
	}
	if len(from) != 2 || from[0] != "p:2" {
		t.Errorf("AscendFrom = %v", from)
	}
}

// recordStore returns a store holding rec{N: n} at each of keys, and the raw values of raws.
func recordStore(t *testing.T, keys map[string]int, raws map[string]string) *Store {
	t.Helper()
	s, err := Open(Memory, SyncEverySecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateIndex("by_n", "i:*", "n"); err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *Tx) error {
		for k, n := range keys {
			if err := tx.Put(k, rec{N: n}); err != nil {
				return err
			}
		}
		for k, v := range raws {
			if err := tx.PutRaw(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type rec struct {
	N int `json:"n"`
}

func TestGetReturnsTheRecordOrNil(t *testing.T) {
	s := recordStore(t, map[string]int{"r:1": 7}, map[string]string{"r:bad": "not json"})
	_ = s.View(func(tx *Tx) error {
		if got, err := Get[rec](tx, "r:1"); err != nil || got == nil || got.N != 7 {
			t.Errorf("Get(r:1) = %v, %v, want {7}, nil", got, err)
		}
		if got, err := Get[rec](tx, "r:absent"); err != nil || got != nil {
			t.Errorf("Get(r:absent) = %v, %v, want nil, nil", got, err)
		}
		if got, err := Get[rec](tx, "r:bad"); err == nil || got != nil || !strings.Contains(err.Error(), "r:bad") {
			t.Errorf("Get(r:bad) = %v, %v, want nil and an error naming the key", got, err)
		}
		return nil
	})
}

// collect runs a scan and returns the keys and values it visited.
func collect(t *testing.T, s *Store, scan func(tx *Tx, fn func(string, *rec) error) error) ([]string, []int, error) {
	t.Helper()
	var keys []string
	var ns []int
	err := s.View(func(tx *Tx) error {
		return scan(tx, func(k string, v *rec) error {
			keys = append(keys, k)
			ns = append(ns, v.N)
			return nil
		})
	})
	return keys, ns, err
}

func TestEachKeepsToItsPrefix(t *testing.T) {
	// Neighbours on both sides of "p:" in key order: "p" and "p" + anything below ':' sort
	// before it, "p;" and "q:" after it.
	s := recordStore(t, map[string]int{"p": 0, "p9": 0, "p:1": 1, "p:2": 2, "p:3": 3, "p;": 0, "q:1": 0}, nil)
	keys, ns, err := collect(t, s, func(tx *Tx, fn func(string, *rec) error) error { return Each(tx, "p:", fn) })
	if err != nil || !slices.Equal(keys, []string{"p:1", "p:2", "p:3"}) || !slices.Equal(ns, []int{1, 2, 3}) {
		t.Errorf("Each(p:) visited %v %v, %v; want [p:1 p:2 p:3] [1 2 3], nil", keys, ns, err)
	}
	keys, _, err = collect(t, s, func(tx *Tx, fn func(string, *rec) error) error { return EachFrom(tx, "p:", "p:2", fn) })
	if err != nil || !slices.Equal(keys, []string{"p:2", "p:3"}) {
		t.Errorf("EachFrom(p:, p:2) visited %v, %v; want [p:2 p:3], nil", keys, err)
	}
	keys, _, err = collect(t, s, func(tx *Tx, fn func(string, *rec) error) error { return EachFrom(tx, "p:", "a", fn) })
	if err != nil || !slices.Equal(keys, []string{"p:1", "p:2", "p:3"}) {
		t.Errorf("EachFrom(p:, a) visited %v, %v; want the whole prefix", keys, err)
	}
	keys, _, err = collect(t, s, func(tx *Tx, fn func(string, *rec) error) error { return Each(tx, "none:", fn) })
	if err != nil || len(keys) != 0 {
		t.Errorf("Each(none:) visited %v, %v; want nothing", keys, err)
	}
}

func TestEachCarriesADecodeErrorOutWithTheKey(t *testing.T) {
	s := recordStore(t, map[string]int{"p:1": 1, "p:3": 3}, map[string]string{"p:2": "not json"})
	keys, _, err := collect(t, s, func(tx *Tx, fn func(string, *rec) error) error { return Each(tx, "p:", fn) })
	if err == nil || !strings.Contains(err.Error(), "p:2") {
		t.Fatalf("Each over a bad record: err = %v, want an error naming p:2", err)
	}
	if !slices.Equal(keys, []string{"p:1"}) {
		t.Errorf("Each visited %v before failing, want [p:1] and nothing after the bad record", keys)
	}
}

func TestEachReturnsTheCallbacksErrorAndStopsEarly(t *testing.T) {
	s := recordStore(t, map[string]int{"p:1": 1, "p:2": 2, "p:3": 3}, nil)
	errMine := errors.New("mine")
	for _, tc := range []struct {
		name    string
		ret     error
		wantErr error
	}{
		{"Stop ends the scan without an error", Stop, nil},
		{"a wrapped Stop too", fmt.Errorf("enough: %w", Stop), nil},
		{"another error ends it and comes out as it is", errMine, errMine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen []string
			err := s.View(func(tx *Tx) error {
				return Each(tx, "p:", func(k string, _ *rec) error {
					seen = append(seen, k)
					if k == "p:2" {
						return tc.ret
					}
					return nil
				})
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(seen, []string{"p:1", "p:2"}) {
				t.Errorf("visited %v, want [p:1 p:2]", seen)
			}
		})
	}
}

func TestEachGivesEveryRecordItsOwnValue(t *testing.T) {
	s := recordStore(t, map[string]int{"p:1": 1, "p:2": 2}, nil)
	var kept []*rec
	_ = s.View(func(tx *Tx) error {
		return Each(tx, "p:", func(_ string, v *rec) error { kept = append(kept, v); return nil })
	})
	if len(kept) != 2 || kept[0].N != 1 || kept[1].N != 2 {
		t.Errorf("kept %v, %v; want each record's own value", kept[0], kept[1])
	}
}

func TestEachMatchingSkipsBeforeDecoding(t *testing.T) {
	s := recordStore(t, map[string]int{"p:1": 1, "p:3": 3}, map[string]string{"p:2": "not json"})
	keys, _, err := collect(t, s, func(tx *Tx, fn func(string, *rec) error) error {
		return EachMatching(tx, "p:", func(raw string) bool { return strings.HasPrefix(raw, "{") }, fn)
	})
	if err != nil || !slices.Equal(keys, []string{"p:1", "p:3"}) {
		t.Errorf("EachMatching visited %v, %v; want [p:1 p:3], nil (the skipped value is never decoded)", keys, err)
	}
}

func TestEachInIndexFollowsTheIndexOrder(t *testing.T) {
	s := recordStore(t, map[string]int{"i:a": 3, "i:b": 1, "i:c": 2, "j:x": 0}, nil)
	keys, ns, err := collect(t, s, func(tx *Tx, fn func(string, *rec) error) error { return EachInIndex(tx, "by_n", fn) })
	if err != nil || !slices.Equal(keys, []string{"i:b", "i:c", "i:a"}) || !slices.Equal(ns, []int{1, 2, 3}) {
		t.Errorf("EachInIndex visited %v %v, %v; want [i:b i:c i:a] [1 2 3], nil", keys, ns, err)
	}
}

func TestInsertStoresOnlyANewKey(t *testing.T) {
	s, err := Open(t.TempDir()+"/insert.db", SyncEverySecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Track("k:")
	var first, second bool
	err = s.Update(func(tx *Tx) error {
		var err error
		if first, err = tx.Insert("k:a", "one"); err != nil {
			return err
		}
		second, err = tx.Insert("k:a", "two")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !first || second {
		t.Fatalf("Insert reported %v then %v, want true then false", first, second)
	}
	var again bool
	err = s.Update(func(tx *Tx) error {
		var err error
		again, err = tx.Insert("k:a", "three")
		return err
	})
	if err != nil || again {
		t.Fatalf("Insert over a committed key: %v, %v", again, err)
	}
	var got string
	if err := s.View(func(tx *Tx) error { _, err := tx.Get("k:a", &got); return err }); err != nil {
		t.Fatal(err)
	}
	if got != "one" {
		t.Fatalf("the key holds %q after inserts over it, want the first value", got)
	}
	if v := s.Version("k:"); v != 1 {
		t.Fatalf("version %d after one stored insert, want 1: a refused insert is no write", v)
	}
	err = s.View(func(tx *Tx) error { _, err := tx.Insert("k:b", "x"); return err })
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Insert in a View: %v, want ErrReadOnly", err)
	}
}
