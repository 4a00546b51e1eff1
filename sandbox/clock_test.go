package sandbox_test

import (
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// TestRealTime: the Go twin of {"real":true} brings a frozen, moved clock back to wall time.
func TestRealTime(t *testing.T) {
	srv := sandboxtest.New(t) // frozen
	srv.Advance(72 * time.Hour)
	before := time.Now().UTC().Truncate(time.Microsecond)
	srv.RealTime()
	if now, after := srv.Now(), time.Now().UTC(); now.Before(before) || now.After(after) {
		t.Errorf("Now after RealTime = %s, want wall time between %s and %s", now, before, after)
	}
}
