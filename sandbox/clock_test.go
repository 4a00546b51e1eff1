package sandbox_test

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
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

// TestFreezeSurvivesARestart: a clock frozen by {"freeze":true} stands at the same instant after a
// restart on the same store, and {"freeze":false} is durable too.
func TestFreezeSurvivesARestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() (*sandbox.Server, *testkit.Kit) {
		t.Helper()
		sb, err := sandbox.New(sandbox.WithStorePath(path))
		if err != nil {
			t.Fatal(err)
		}
		return sb, testkit.Wrap(t, sandboxtest.Serve(t, sb))
	}
	sb, k := open()
	a := k.Control(http.MethodPost, "/_sandbox/clock", `{"freeze":true}`)
	if a.Status != http.StatusOK || a.JSON["frozen"] != true {
		t.Fatalf("freeze: %s", a)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	sb, k = open()
	if g := k.Control(http.MethodGet, "/_sandbox/clock", nil); g.JSON["frozen"] != true || g.Str("now") != a.Str("now") {
		t.Errorf("after a restart the clock is %s, want frozen at %s", g, a.Str("now"))
	}
	if th := k.Control(http.MethodPost, "/_sandbox/clock", `{"freeze":false}`); th.JSON["frozen"] != false {
		t.Fatalf("unfreeze: %s", th)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	_, k = open()
	if g := k.Control(http.MethodGet, "/_sandbox/clock", nil); g.JSON["frozen"] != false {
		t.Errorf("after unfreeze and a restart the clock is %s, want it running", g)
	}
}
