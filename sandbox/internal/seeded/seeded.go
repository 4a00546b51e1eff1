// Package seeded is the sandbox's source of randomness for identifiers, tokens and tickets. It is
// seeded once per sandbox, so the same seed and the same sequence of requests give the same
// values. (Fake people, texts and places come from gofakeit in package fixture, seeded alike.)
package seeded

import (
	"math/rand/v2"
	"strings"
	"sync"
)

// Alphabets for Token.
const (
	Hex          = "0123456789abcdef"
	Digits       = "0123456789"
	Alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// URLSafe is the alphabet of WeChat access tokens and tickets.
	URLSafe = Alphanumeric + "-_"
)

// Source is a mutex-guarded seeded PCG generator, safe for concurrent use.
type Source struct {
	mu  sync.Mutex
	rng *rand.Rand
}

// New returns a Source seeded with seed.
func New(seed uint64) *Source {
	return &Source{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Token returns n characters drawn from alphabet.
func (s *Source) Token(n int, alphabet string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	b.Grow(n)
	for range n {
		b.WriteByte(alphabet[s.rng.IntN(len(alphabet))])
	}
	return b.String()
}

// Uint32 returns a random 32-bit value.
func (s *Source) Uint32() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Uint32()
}

// Uint64 returns a random 64-bit value.
func (s *Source) Uint64() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Uint64()
}

// IntN returns a random int in [0, n).
func (s *Source) IntN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(n)
}

// Float64 returns a random float in [0, 1).
func (s *Source) Float64() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Float64()
}

// Reseed restarts the sequence from seed, as a reset does.
func (s *Source) Reseed(seed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
