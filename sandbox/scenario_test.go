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
			target := sandbox.ScenarioTarget{URL: srv.URL, Client: srv.Client(), StateHash: srv.StateHash}
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
