package cityservice_test

import (
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"github.com/citysandbox/citysandbox/fixtures"
	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

func TestCityServiceWorldIsDeterministic(t *testing.T) {
	t.Parallel()
	catalog := func(k *testkit.Kit) string { return string(k.Control("GET", csCatalog, nil).Raw) }
	a, b := testkit.New(t), testkit.New(t)
	// Using the seeded sources first must not change the world.
	b.App(sandbox.WeChatAppSpec{Type: "mini_program"})
	first := catalog(a)
	if got := catalog(b); got != first {
		t.Error("two sandboxes with seed 1 have different City Service worlds")
	}
	if err := a.Srv.Reset(); err != nil {
		t.Fatal(err)
	}
	if got := catalog(a); got != first {
		t.Error("the world after a reset differs from the first")
	}
	if r := a.Control("POST", "/_sandbox/reset", map[string]any{"platform": "wechat"}); r.Status != 200 {
		t.Fatalf("reset wechat: %d %s", r.Status, r.Raw)
	}
	if got := catalog(a); got != first {
		t.Error("the world after a WeChat-only reset differs from the first")
	}
	other := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithSeed(2)))
	if catalog(other) == first {
		t.Error("seeds 1 and 2 give the same world: the fill is not seeded")
	}
}

func TestCityServiceWithoutWorld(t *testing.T) {
	t.Parallel()
	apps, err := fs.ReadFile(fixtures.FS, "wechat.yaml")
	if err != nil {
		t.Fatal(err)
	}
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithFixtures(fstest.MapFS{"wechat.yaml": {Data: apps}})))
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	k.Unchanged(func() {
		k.WantErrcode(csPath(k, tok, map[string]any{"page_type": 1, "src_channel": 0, "city_name": "广州"}), 48001)
		if a := k.Control("GET", csCatalog, nil); a.Status != 404 || testkit.Dig(a.JSON, "error", "code") != "no_world" {
			t.Errorf("catalog without a world: %d %s", a.Status, a.Raw)
		}
		if a := k.Control("POST", csApplications, csApplication(testkit.ServiceAppID)); a.Status != 404 {
			t.Errorf("apply without a world: %d %s", a.Status, a.Raw)
		}
	})
}

// BenchmarkCityServiceNewSandbox measures a fresh sandbox that builds its fixtures, the City
// Service world among them: the fixtures are given as a directory (the embedded one), which
// keeps the sandbox from copying a baseline another sandbox built.
func BenchmarkCityServiceNewSandbox(b *testing.B) {
	benchmarkNewSandbox(b, sandbox.WithFixtures(fixtures.FS))
}

// BenchmarkCityServiceNewSandboxFromCache measures what sandboxtest pays after its first
// sandbox: the baseline the built-in fixtures gave is copied, the world is not built again.
func BenchmarkCityServiceNewSandboxFromCache(b *testing.B) {
	benchmarkNewSandbox(b)
}

func benchmarkNewSandbox(b *testing.B, opts ...sandbox.Option) {
	spec, err := sandbox.LoadSpec()
	if err != nil {
		b.Fatal(err)
	}
	base := []sandbox.Option{sandbox.WithLoadedSpec(spec), sandbox.WithFrozenClock(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))}
	for b.Loop() {
		s, err := sandbox.New(append(base, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
