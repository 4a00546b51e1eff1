package store

import (
	"errors"
	"fmt"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
)

// The helpers in this file are the one way the emulations read stored records: Get for one key,
// Each and its variants for a range of keys. Records are written with Tx.Put, which already takes
// any value, so there is no generic twin of it.

// Get returns the record at key decoded as T, or nil when key is absent.
func Get[T any](tx *Tx, key string) (*T, error) {
	v := new(T)
	found, err := tx.Get(key, v)
	if err != nil || !found {
		return nil, err
	}
	return v, nil
}

// Stop, returned by the callback of Each, EachFrom or EachInIndex, ends the scan early; the scan
// then returns nil.
var Stop = errors.New("store: stop scan")

// Each calls fn, in key order, with every record whose key starts with prefix, each decoded as T
// into a value of its own. The scan ends at the first error: a record that does not decode as T
// (the error names its key), or an error fn returns, which Each returns as it is (but for Stop).
//
// Each takes a callback rather than returning a range-over-func iterator because a scan has
// three ways to end — done, stopped, failed — and an iterator yields two values: the error would
// need a third channel (an out parameter or an Err method) that a caller can forget to read. Here
// the one error Each returns covers the decoding, the store and fn itself, and fn can return a
// lookup's error as it is.
func Each[T any](tx *Tx, prefix string, fn func(key string, v *T) error) error {
	return decodeEach(func(visit func(k, v string) bool) error { return tx.AscendPrefix(prefix, visit) }, fn)
}

// EachFrom is Each over the keys with prefix from the key from (inclusive) on.
func EachFrom[T any](tx *Tx, prefix, from string, fn func(key string, v *T) error) error {
	return decodeEach(func(visit func(k, v string) bool) error { return tx.AscendFrom(prefix, from, visit) }, fn)
}

// EachInIndex is Each over the items of a named index (see Store.CreateIndex), in index order.
func EachInIndex[T any](tx *Tx, index string, fn func(key string, v *T) error) error {
	return decodeEach(func(visit func(k, v string) bool) error { return tx.AscendIndex(index, "", visit) }, fn)
}

// EachMatching is Each over the records under prefix whose stored JSON match accepts: match sees
// the raw value and skips a record before it is decoded, for scans that would otherwise decode
// many records to keep a few.
func EachMatching[T any](tx *Tx, prefix string, match func(raw string) bool, fn func(key string, v *T) error) error {
	return decodeEach(func(visit func(k, v string) bool) error {
		return tx.AscendPrefix(prefix, func(k, v string) bool { return !match(v) || visit(k, v) })
	}, fn)
}

// decodeEach runs scan, decoding each value as T for fn, and returns the first error of the
// decoding, of fn or of the scan.
func decodeEach[T any](scan func(visit func(k, v string) bool) error, fn func(key string, v *T) error) error {
	var stopErr error
	err := scan(func(k, raw string) bool {
		v := new(T)
		if err := jsonenc.Unmarshal([]byte(raw), v); err != nil {
			stopErr = fmt.Errorf("store: decode %s: %w", k, err)
			return false
		}
		stopErr = fn(k, v)
		return stopErr == nil
	})
	switch {
	case errors.Is(stopErr, Stop):
		return err
	case stopErr != nil:
		return stopErr
	}
	return err
}
