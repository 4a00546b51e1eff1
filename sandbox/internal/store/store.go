// Package store holds all of the sandbox's state. It is the only package that imports buntdb.
// Keys are prefixed by platform ("wechat:app:<appid>", "jincheng:ticket:<t>"), values are JSON,
// so reset, snapshot, restore and the state hash that scenario replays compare are generic.
//
// buntdb's own TTLs read the wall clock, so the sandbox never relies on them for behaviour:
// expiry is an explicit field compared with the sandbox clock.
//
// One process owns a data file: Open takes an advisory lock on a file beside it ("<path>.lock")
// before buntdb reads or writes anything, and refuses at once, naming the file, when another
// process holds it.
//
// Durability: every committed transaction is written to the file before Update returns, so it
// survives the process being killed (the operating system still holds the write). With
// SyncEverySecond, the default, the file is flushed to the disk once a second, so a power loss
// or a kernel crash can lose the last second; SyncAlways flushes at every commit, which survives
// those too at the cost of one fsync per write.
//
// Records with a lifetime (expiry.go) are forgotten once the sandbox clock passes the time they
// say: the families declare their prefixes with Forget or ForgetRecords, the store keeps an
// index of forget times in memory, and Sweep, which the sandbox runs on every clock move and
// periodically with a running clock, deletes what is due in bounded batches.
//
// Keys under Bookkeeping ("sandbox:") are the sandbox's own records about itself (its clock, its
// seed, its random stream, its faults), not the emulated platforms' state: Hash, Snapshot and
// Entries leave them out, and Clear and Restore keep them, so that a restart, which updates them,
// leaves the state hash as it was.
package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/buntdb"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
)

// Memory is the path that keeps everything in memory and nothing on disk.
const Memory = ":memory:"

// Bookkeeping starts the keys of the sandbox's records about itself, which are not part of the
// emulated state (see the package comment).
const Bookkeeping = "sandbox:"

// Store is a buntdb database with JSON helpers.
type Store struct {
	db      *buntdb.DB
	path    string
	lock    *os.File // the owner's lock beside the data file; nil in memory
	indexes []indexDef
	// tracked prefixes and their versions: a version grows with every committed write under
	// its prefix, so readers can cache decoded values and know when they are stale.
	tracked  []string
	versions []atomic.Uint64
	// lifetimes are the declared prefixes of records with a lifetime, and expiry the index of
	// their forget times (expiry.go).
	lifetimes []lifetime
	expiry    expiryIndex
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

// Sync says when committed writes are flushed to the disk (see the package comment).
type Sync int

// The sync policies.
const (
	// SyncEverySecond flushes once a second: a killed process loses nothing, a power loss up to
	// the last second.
	SyncEverySecond Sync = iota
	// SyncAlways flushes at every commit: nothing acknowledged is lost even to a power loss.
	SyncAlways
)

// ParseSync reads a sync policy by name: "second" or "always".
func ParseSync(name string) (Sync, error) {
	switch name {
	case "second", "":
		return SyncEverySecond, nil
	case "always":
		return SyncAlways, nil
	}
	return 0, fmt.Errorf("store: unknown sync policy %q (want second or always)", name)
}

// String names the policy as ParseSync reads it.
func (s Sync) String() string {
	if s == SyncAlways {
		return "always"
	}
	return "second"
}

// InUseError is Open's refusal of a data file that another process owns.
type InUseError struct {
	Path string
	// PID is the owner's process id, when its lock file says it (0 otherwise).
	PID int
}

func (e *InUseError) Error() string {
	owner := "another process"
	if e.PID > 0 {
		owner = fmt.Sprintf("process %d", e.PID)
	}
	return fmt.Sprintf("store: %s is in use by %s (it holds %s); stop it or give another data file", e.Path, owner, lockPath(e.Path))
}

// Open opens (or creates) the database at path, flushing with policy sync; Memory keeps it in
// memory. A file that another process has open is refused with an *InUseError before anything
// reads or writes it.
func Open(path string, sync Sync) (*Store, error) {
	var lk *os.File
	if path != Memory {
		var err error
		if lk, err = lock(path); err != nil {
			return nil, err
		}
	}
	db, err := buntdb.Open(path)
	if err != nil {
		_ = unlock(lk)
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	var cfg buntdb.Config
	if err := db.ReadConfig(&cfg); err != nil {
		_ = db.Close()
		_ = unlock(lk)
		return nil, fmt.Errorf("store: read config: %w", err)
	}
	cfg.SyncPolicy = buntdb.EverySecond
	if sync == SyncAlways {
		cfg.SyncPolicy = buntdb.Always
	}
	// Keep the append-only file compact without pausing a busy sandbox too often.
	cfg.AutoShrinkPercentage = 100
	cfg.AutoShrinkMinSize = 32 << 20
	if err := db.SetConfig(cfg); err != nil {
		_ = db.Close()
		_ = unlock(lk)
		return nil, fmt.Errorf("store: set config: %w", err)
	}
	return &Store{db: db, path: path, lock: lk}, nil
}

// Path returns the path the store was opened with.
func (s *Store) Path() string { return s.path }

// Close flushes and closes the database, then gives up the ownership of its file.
func (s *Store) Close() error {
	err := s.db.Close()
	if errors.Is(err, buntdb.ErrDatabaseClosed) {
		return nil // closed before: the lock went with it
	}
	if uerr := unlock(s.lock); err == nil && uerr != nil {
		err = uerr
	}
	s.lock = nil
	if err != nil {
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
	return s.db.View(func(btx *buntdb.Tx) error {
		t := txs.Get().(*Tx)
		defer t.release()
		t.tx, t.store = btx, s
		return fn(t)
	})
}

// txs keeps Tx values for reuse: every request opens a transaction or two. A Tx is valid only
// inside the function it is handed to, which must not keep it.
var txs = sync.Pool{New: func() any { return new(Tx) }}

// release empties t and gives it back to the pool.
func (t *Tx) release() {
	clear(t.changes) // drop the keys it held
	changes, buf := t.changes[:0], t.buf[:0]
	*t = Tx{changes: changes, buf: buf}
	txs.Put(t)
}

// Update runs fn in a read-write transaction. Update transactions are serialised, which is what
// makes check-then-write sequences (quotas, single-use tickets) exact under concurrency. If fn
// returns an error nothing it wrote is kept.
func (s *Store) Update(fn func(tx *Tx) error) error {
	t := txs.Get().(*Tx)
	defer t.release()
	t.writable, t.store = true, s
	indexed := false
	err := s.db.Update(func(btx *buntdb.Tx) error {
		t.tx = btx
		if err := fn(t); err != nil {
			return err
		}
		// Still inside the write lock, so that no other writer sees the index behind the data.
		s.expiry.apply(t.changes)
		indexed = len(t.changes) > 0
		return nil
	})
	if err != nil && indexed {
		// The commit failed after the index took the changes: read it back from the records.
		s.reindex()
	}
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
	// changes are the forget times this transaction sets or clears, applied when it commits.
	changes []change
	// buf is where an Encoder writes a value, kept from one pooled Tx to the next.
	buf []byte
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
	if err := jsonenc.Unmarshal([]byte(raw), v); err != nil {
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

// Put stores v as JSON at key. A record under a prefix declared with Forget gets its forget
// time from v itself when v is Forgettable, else from the declared reader.
func (t *Tx) Put(key string, v any) error {
	_, err := t.put(key, v, false)
	return err
}

// Insert stores v as JSON at key, as Put does, unless key already holds a value, which it
// leaves as it was; it reports whether v was stored. It costs one lookup in the tree where Has
// and then Put cost two.
func (t *Tx) Insert(key string, v any) (bool, error) {
	return t.put(key, v, true)
}

// Encoder is a record that writes its own JSON, byte for byte what encoding/json.Marshal writes
// for it (a test in the record's package holds it to that), sparing Put the reflection on a hot
// path.
type Encoder interface {
	AppendJSON(b []byte) ([]byte, error)
}

func (t *Tx) put(key string, v any, onlyNew bool) (bool, error) {
	raw, err := encode(t.buf[:0], v)
	if err != nil {
		return false, fmt.Errorf("store: encode %s: %w", key, err)
	}
	value := string(raw)
	if cap(raw) <= maxKeptBuffer {
		t.buf = raw[:0] // the next Encoder writes here, in this transaction or a later one
	}
	if f, ok := v.(Forgettable); ok && t.store.lifetimeOf(key) != nil {
		return t.set(key, value, f.ForgetAt(), true, onlyNew)
	}
	return t.putRaw(key, value, onlyNew)
}

// maxKeptBuffer is the largest encoding buffer a Tx keeps for the next one.
const maxKeptBuffer = 16 << 10

// Encode returns the value that Put stores for v, for a caller that prepares values outside a
// transaction and stores them with PutRaw.
func Encode(v any) (string, error) {
	raw, err := encode(make([]byte, 0, 1024), v)
	if err != nil {
		return "", fmt.Errorf("store: encode: %w", err)
	}
	return string(raw), nil
}

// encode is v's JSON: its own, appended to buf, when it is an Encoder.
func encode(buf []byte, v any) ([]byte, error) {
	if enc, ok := v.(Encoder); ok {
		if buf == nil {
			buf = make([]byte, 0, 256)
		}
		return enc.AppendJSON(buf)
	}
	return json.Marshal(v)
}

// PutRaw stores a raw string at key.
func (t *Tx) PutRaw(key, value string) error {
	_, err := t.putRaw(key, value, false)
	return err
}

func (t *Tx) putRaw(key, value string, onlyNew bool) (bool, error) {
	if lt := t.store.lifetimeOf(key); lt != nil {
		at, err := lt.forgetAt(key, value)
		if err != nil {
			return false, err
		}
		return t.set(key, value, at, true, onlyNew)
	}
	return t.set(key, value, time.Time{}, false, onlyNew)
}

// set stores value at key and, for a record with a lifetime, its forget time. With onlyNew, a
// key that already holds a value gets it back and set reports false.
func (t *Tx) set(key, value string, forgetAt time.Time, lives, onlyNew bool) (bool, error) {
	if !t.writable {
		return false, ErrReadOnly
	}
	prev, replaced, err := t.tx.Set(key, value, nil)
	if err != nil {
		return false, fmt.Errorf("store: set %s: %w", key, err)
	}
	if replaced && onlyNew {
		// buntdb has no insert-if-absent; putting the value back inside the transaction leaves
		// the key as it was (and a rollback restores it either way).
		if _, _, err := t.tx.Set(key, prev, nil); err != nil {
			return false, fmt.Errorf("store: restore %s: %w", key, err)
		}
		return false, nil
	}
	t.touch(key)
	if lives {
		t.changes = append(t.changes, change{key, forgetAt})
	}
	return true, nil
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
	if t.store.lifetimeOf(key) != nil {
		t.changes = append(t.changes, change{key: key})
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

// Snapshot returns every key and value in key order, as JSON, bookkeeping left out.
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

// Entries returns every key and its stored value in key order, bookkeeping left out, for
// RestoreEntries: each value as it is stored (in Raw), neither checked nor copied.
func (s *Store) Entries() ([]Entry, error) {
	entries := []Entry{}
	err := s.db.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool {
			if !strings.HasPrefix(k, Bookkeeping) {
				entries = append(entries, Entry{Key: k, Raw: &v})
			}
			return true
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: entries: %w", err)
	}
	return entries, nil
}

func (s *Store) entries() ([]Entry, error) {
	entries := []Entry{}
	err := s.db.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool {
			if strings.HasPrefix(k, Bookkeeping) {
				return true
			}
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
// given, so a snapshot sent back byte for byte restores the same state hash. Bookkeeping stays
// as it is, and bookkeeping entries in the snapshot (older snapshots carried them) are skipped.
func (s *Store) Restore(snapshot []byte) error {
	var entries []Entry
	if err := json.Unmarshal(snapshot, &entries); err != nil {
		return fmt.Errorf("store: decode snapshot: %w", err)
	}
	return s.RestoreEntries(entries)
}

// RestoreEntries replaces the whole state with entries (as Entries returns them); bookkeeping
// stays as it is.
func (s *Store) RestoreEntries(entries []Entry) error {
	defer s.bumpAll()
	return s.db.Update(func(tx *buntdb.Tx) error {
		if err := deleteState(tx); err != nil {
			return err
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Key, Bookkeeping) {
				continue
			}
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
		return s.reindexIn(tx)
	})
}

// Clear deletes every key but the bookkeeping; indexes stay defined.
func (s *Store) Clear() error {
	defer s.bumpAll()
	return s.db.Update(func(tx *buntdb.Tx) error {
		if err := deleteState(tx); err != nil {
			return err
		}
		return s.reindexIn(tx)
	})
}

// reindexIn rebuilds the index of forget times from the records, read in tx.
func (s *Store) reindexIn(tx *buntdb.Tx) error {
	s.expiry.reset()
	for _, lt := range s.lifetimes {
		if err := s.expiry.index(tx, lt); err != nil {
			return err
		}
	}
	return nil
}

// reindex is Reindex after a failure, which has already been reported.
func (s *Store) reindex() { _ = s.Reindex() }

// deleteState deletes every key but the bookkeeping.
func deleteState(tx *buntdb.Tx) error {
	var keep [][2]string
	if err := tx.AscendGreaterOrEqual("", Bookkeeping, func(k, v string) bool {
		if !strings.HasPrefix(k, Bookkeeping) {
			return false
		}
		keep = append(keep, [2]string{k, v})
		return true
	}); err != nil {
		return fmt.Errorf("store: clear: %w", err)
	}
	if err := tx.DeleteAll(); err != nil {
		return fmt.Errorf("store: clear: %w", err)
	}
	for _, kv := range keep {
		if _, _, err := tx.Set(kv[0], kv[1], nil); err != nil {
			return fmt.Errorf("store: clear: keep %s: %w", kv[0], err)
		}
	}
	return nil
}

// Hash returns a SHA-256 over every key and value in key order, bookkeeping left out: two stores
// with the same state have the same hash.
func (s *Store) Hash() (string, error) {
	h := sha256.New()
	err := s.db.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool {
			if strings.HasPrefix(k, Bookkeeping) {
				return true
			}
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

// Size returns how many keys the store holds and how many bytes their keys and values take,
// bookkeeping included: what a namespace listing shows of each namespace.
func (s *Store) Size() (keys, bytes int, err error) {
	err = s.db.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool {
			keys++
			bytes += len(k) + len(v)
			return true
		})
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store: size: %w", err)
	}
	return keys, bytes, nil
}

// Owner is a held ownership lock (see Own).
type Owner struct{ f *os.File }

// Own takes the lock that Open takes beside a data file, for path itself, without opening a
// database: a directory of data files that one process manages as a whole is owned through a
// file in it. It fails at once with an *InUseError when another process holds it.
func Own(path string) (*Owner, error) {
	f, err := lock(path)
	if err != nil {
		return nil, err
	}
	return &Owner{f: f}, nil
}

// Release gives the ownership up.
func (o *Owner) Release() error {
	if o == nil {
		return nil
	}
	err := unlock(o.f)
	o.f = nil
	return err
}
