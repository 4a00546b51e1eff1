package store

import (
	"testing"
)

func TestSnapshotRestoreKeepsTheHash(t *testing.T) {
	s, err := Open(Memory)
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

func TestVersionsCountCommittedWritesUnderAPrefix(t *testing.T) {
	s, _ := Open(Memory)
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
	s, _ := Open(Memory)
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
