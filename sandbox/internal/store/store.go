// Package store holds all of the sandbox's state. It is the only package that imports buntdb.
// Keys are prefixed by platform ("wechat:app:<appid>", "jincheng:ticket:<t>"), values are JSON,
// so reset, snapshot, restore and the state hash that scenario replays compare are generic.
//
// buntdb's own TTLs read the wall clock, so the sandbox never relies on them for behaviour:
// expiry is an explicit field compared with the sandbox clock.
package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/tidwall/buntdb"
)

// Memory is the path that keeps everything in memory and nothing on disk.
const Memory = ":memory:"

// Store is a buntdb database with JSON helpers.
type Store struct {
	db      *buntdb.DB
	path    string
	indexes []indexDef
	// tracked prefixes and their versions: a version grows with every committed write under
	// its prefix, so readers can cache decoded values and know when they are stale.
	tracked  []string
	versions []atomic.Uint64
}

// Track starts counting writes under prefix (see Version). Call it before serving requests.
func (s *Store) Track(prefixes ...string) {
	s.tracked = append(s.tracked, prefixes...)
	s.versions = make([]atomic.Uint64, len(s.tracked))
}

// Version returns how many committed transactions have written under a tracked prefix (0 for an
// untracked one). A cache entry taken at one version is current while the version is unchanged.
func (s *Store) Version(prefix string) uint64 {
	for i, p := range s.tracked {
		if p == prefix {
			return s.versions[i].Load()
		}
	}
	return 0
}

func (s *Store) bumpAll() {
	for i := range s.versions {
		s.versions[i].Add(1)
	}
}

type indexDef struct {
	name, pattern string
	fields        []string
}

// Open opens (or creates) the database at path; Memory keeps it in memory.
func Open(path string) (*Store, error) {
	db, err := buntdb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	var cfg buntdb.Config
	if err := db.ReadConfig(&cfg); err != nil {
		return nil, fmt.Errorf("store: read config: %w", err)
	}
	cfg.SyncPolicy = buntdb.EverySecond
	// Keep the append-only file compact without pausing a busy sandbox too often.
	cfg.AutoShrinkPercentage = 100
	cfg.AutoShrinkMinSize = 32 << 20
	if err := db.SetConfig(cfg); err != nil {
		return nil, fmt.Errorf("store: set config: %w", err)
	}
	return &Store{db: db, path: path}, nil
}

// Path returns the path the store was opened with.
func (s *Store) Path() string { return s.path }

// Close flushes and closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil && !errors.Is(err, buntdb.ErrDatabaseClosed) {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// CreateIndex adds an ordered index over the keys matching pattern (a buntdb glob such as
// "wechat:review:*"), sorted by the given JSON fields in turn (gjson paths) and then by key. With
// no fields the index orders by the raw value.
func (s *Store) CreateIndex(name, pattern string, fields ...string) error {
	var less []func(a, b string) bool
	for _, f := range fields {
		less = append(less, buntdb.IndexJSON(f))
	}
	if len(less) == 0 {
		less = append(less, buntdb.IndexString)
	}
	if err := s.db.CreateIndex(name, pattern, less...); err != nil && !errors.Is(err, buntdb.ErrIndexExists) {
		return fmt.Errorf("store: create index %s: %w", name, err)
	}
	s.indexes = append(s.indexes, indexDef{name, pattern, fields})
	return nil
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *Tx) error) error {
	return s.db.View(func(btx *buntdb.Tx) error { return fn(&Tx{tx: btx}) })
}

// Update runs fn in a read-write transaction. Update transactions are serialised, which is what
// makes check-then-write sequences (quotas, single-use tickets) exact under concurrency. If fn
// returns an error nothing it wrote is kept.
func (s *Store) Update(fn func(tx *Tx) error) error {
	t := &Tx{writable: true, store: s}
	err := s.db.Update(func(btx *buntdb.Tx) error {
		t.tx = btx
		return fn(t)
	})
	if err == nil && t.dirty != 0 {
		for i := range s.versions {
			if t.dirty&(1<<i) != 0 {
				s.versions[i].Add(1)
			}
		}
	}
	return err
}

// Tx is a transaction with JSON helpers.
type Tx struct {
	tx       *buntdb.Tx
	writable bool
	store    *Store
	dirty    uint64 // bit i: wrote under tracked prefix i
}

func (t *Tx) touch(key string) {
	for i, p := range t.store.tracked {
		if strings.HasPrefix(key, p) {
			t.dirty |= 1 << i
		}
	}
}

// ErrReadOnly is returned when a View transaction tries to write.
var ErrReadOnly = errors.New("store: write in a read-only transaction")

// Get decodes the JSON value at key into v and reports whether the key exists; v keeps its value
// when the key is absent, which suits records whose zero value is their default. The generic Get
// returns a record or nil instead.
func (t *Tx) Get(key string, v any) (bool, error) {
	raw, err := t.tx.Get(key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: get %s: %w", key, err)
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return false, fmt.Errorf("store: decode %s: %w", key, err)
	}
	return true, nil
}

// Has reports whether key exists.
func (t *Tx) Has(key string) (bool, error) {
	_, err := t.tx.Get(key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: get %s: %w", key, err)
	}
	return true, nil
}

// Put stores v as JSON at key.
func (t *Tx) Put(key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", key, err)
	}
	return t.PutRaw(key, string(raw))
}

// PutRaw stores a raw string at key.
func (t *Tx) PutRaw(key, value string) error {
	if !t.writable {
		return ErrReadOnly
	}
	t.touch(key)
	if _, _, err := t.tx.Set(key, value, nil); err != nil {
		return fmt.Errorf("store: set %s: %w", key, err)
	}
	return nil
}

// GetRaw returns the raw string at key.
func (t *Tx) GetRaw(key string) (string, bool, error) {
	raw, err := t.tx.Get(key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: get %s: %w", key, err)
	}
	return raw, true, nil
}

// Delete removes key; a missing key is not an error.
func (t *Tx) Delete(key string) error {
	if !t.writable {
		return ErrReadOnly
	}
	t.touch(key)
	if _, err := t.tx.Delete(key); err != nil && !errors.Is(err, buntdb.ErrNotFound) {
		return fmt.Errorf("store: delete %s: %w", key, err)
	}
	return nil
}

// AscendPrefix calls fn for every key that starts with prefix, in key order, until fn returns
// false.
func (t *Tx) AscendPrefix(prefix string, fn func(key, value string) bool) error {
	if err := t.tx.AscendGreaterOrEqual("", prefix, func(k, v string) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		return fn(k, v)
	}); err != nil {
		return fmt.Errorf("store: scan %s: %w", prefix, err)
	}
	return nil
}

// AscendFrom calls fn for keys from pivot (inclusive) that share prefix, in key order.
func (t *Tx) AscendFrom(prefix, pivot string, fn func(key, value string) bool) error {
	if pivot < prefix {
		pivot = prefix
	}
	if err := t.tx.AscendGreaterOrEqual("", pivot, func(k, v string) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		return fn(k, v)
	}); err != nil {
		return fmt.Errorf("store: scan %s: %w", prefix, err)
	}
	return nil
}

// DescendPrefix calls fn for every key that starts with prefix, in reverse key order.
func (t *Tx) DescendPrefix(prefix string, fn func(key, value string) bool) error {
	// Every key with the prefix sorts below prefix+"\xff".
	if err := t.tx.DescendLessOrEqual("", prefix+"\xff", func(k, v string) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		return fn(k, v)
	}); err != nil {
		return fmt.Errorf("store: scan %s: %w", prefix, err)
	}
	return nil
}

// AscendIndex calls fn for the items of a named index in order, starting at the first item whose
// value is at least pivot (a JSON document compared by the index's fields); an empty pivot starts
// at the beginning.
func (t *Tx) AscendIndex(index, pivot string, fn func(key, value string) bool) error {
	var err error
	if pivot == "" {
		err = t.tx.Ascend(index, fn)
	} else {
		err = t.tx.AscendGreaterOrEqual(index, pivot, fn)
	}
	if err != nil {
		return fmt.Errorf("store: scan index %s: %w", index, err)
	}
	return nil
}

// DescendIndex calls fn for the items of a named index in reverse order.
func (t *Tx) DescendIndex(index string, fn func(key, value string) bool) error {
	if err := t.tx.Descend(index, fn); err != nil {
		return fmt.Errorf("store: scan index %s: %w", index, err)
	}
	return nil
}

// Entry is one key and its value, as in a snapshot: Value when the stored value is JSON, Raw
// when it is a plain string (counters and references are stored bare).
type Entry struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value,omitempty"`
	Raw   *string         `json:"raw,omitempty"`
}

// Snapshot returns every key and value in key order, as JSON.
func (s *Store) Snapshot() ([]byte, error) {
	entries, err := s.entries()
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(entries)
	if err != nil {
		return nil, fmt.Errorf("store: encode snapshot: %w", err)
	}
	return out, nil
}

// Entries returns every key and value in key order.
func (s *Store) Entries() ([]Entry, error) { return s.entries() }

func (s *Store) entries() ([]Entry, error) {
	entries := []Entry{}
	err := s.db.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool {
			if json.Valid([]byte(v)) {
				entries = append(entries, Entry{Key: k, Value: json.RawMessage(v)})
			} else {
				entries = append(entries, Entry{Key: k, Raw: &v})
			}
			return true
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: snapshot: %w", err)
	}
	return entries, nil
}

// Restore replaces the whole state with a snapshot taken by Snapshot. Values are stored as
// given, so a snapshot sent back byte for byte restores the same state hash.
func (s *Store) Restore(snapshot []byte) error {
	var entries []Entry
	if err := json.Unmarshal(snapshot, &entries); err != nil {
		return fmt.Errorf("store: decode snapshot: %w", err)
	}
	return s.RestoreEntries(entries)
}

// RestoreEntries replaces the whole state with entries (as Entries returns them).
func (s *Store) RestoreEntries(entries []Entry) error {
	defer s.bumpAll()
	return s.db.Update(func(tx *buntdb.Tx) error {
		if err := tx.DeleteAll(); err != nil {
			return fmt.Errorf("store: clear: %w", err)
		}
		for _, e := range entries {
			v := string(bytes.TrimSpace(e.Value))
			if e.Raw != nil {
				v = *e.Raw
			} else if v == "" {
				return fmt.Errorf("store: snapshot entry %s has neither value nor raw", e.Key)
			}
			if _, _, err := tx.Set(e.Key, v, nil); err != nil {
				return fmt.Errorf("store: restore %s: %w", e.Key, err)
			}
		}
		return nil
	})
}

// Clear deletes every key; indexes stay defined.
func (s *Store) Clear() error {
	defer s.bumpAll()
	return s.db.Update(func(tx *buntdb.Tx) error {
		if err := tx.DeleteAll(); err != nil {
			return fmt.Errorf("store: clear: %w", err)
		}
		return nil
	})
}

// Hash returns a SHA-256 over every key and value in key order: two stores with the same state
// have the same hash.
func (s *Store) Hash() (string, error) {
	h := sha256.New()
	err := s.db.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool {
			fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(v), v)
			return true
		})
	})
	if err != nil {
		return "", fmt.Errorf("store: hash: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Count returns how many keys start with prefix.
func (t *Tx) Count(prefix string) (int, error) {
	n := 0
	err := t.AscendPrefix(prefix, func(string, string) bool { n++; return true })
	return n, err
}
