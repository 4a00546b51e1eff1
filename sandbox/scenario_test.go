package sandbox_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
	"github.com/citysandbox/citysandbox/scenarios"
)

// TestScenarios runs every shipped scenario twice on a fresh sandbox: the first run must pass,
// and the second must give the same bytes and the same state after every step.
func TestScenarios(t *testing.T) {
	names, err := fs.Glob(scenarios.FS, "*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no scenarios in scenarios/: %v", err)
	}
	for _, name := range names {
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			t.Parallel()
			data, err := fs.ReadFile(scenarios.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			srv := sandboxtest.New(t)
			target := sandbox.ScenarioTarget{URL: srv.URL, Client: srv.Client(), StateHash: srv.StateHash, WaitPushes: srv.WaitPushes}
			var out strings.Builder
			first, err := sandbox.RunScenario(context.Background(), target, "scenarios/"+name, data, &out)
			if err != nil {
				t.Fatalf("%v\n\nsteps run:\n%s", err, out.String())
			}
			second, err := sandbox.RunScenario(context.Background(), target, "scenarios/"+name, data, nil)
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if d := sandbox.CompareScenarioRuns(first, second); d != nil {
				t.Errorf("the scenario is not deterministic: %s", d)
			}
		})
	}
}

// BenchmarkScenarioReplay replays the token scenario (21 steps, a reset and a state hash after
// each step) against one in-process sandbox over loopback.
func BenchmarkScenarioReplay(b *testing.B) {
	data, err := fs.ReadFile(scenarios.FS, "wechat-token-expiry.yaml")
	if err != nil {
		b.Fatal(err)
	}
	srv := sandboxtest.New(b)
	target := sandbox.ScenarioTarget{URL: srv.URL, Client: srv.Client(), StateHash: srv.StateHash, WaitPushes: srv.WaitPushes}
	b.ResetTimer()
	steps := 0
	for b.Loop() {
		res, err := sandbox.RunScenario(context.Background(), target, "wechat-token-expiry.yaml", data, nil)
		if err != nil {
			b.Fatal(err)
		}
		steps += len(res.Steps)
	}
	b.ReportMetric(float64(steps)/b.Elapsed().Seconds(), "steps/s")
}
