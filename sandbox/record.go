package sandbox

import (
	"fmt"
	"net/http"
	"os"

	"github.com/citysandbox/citysandbox/sandbox/internal/scenario"
)

// Recorder records the traffic a sandbox serves as a scenario, each request a step whose
// expectations are the answer seen, with generated tokens, tickets and ids captured into
// variables and rids and times matched loosely, so that the recording replays. Give it to New
// with WithRecorder, which reads its settings; requests are then served one at a time.
//
//	rec := &sandbox.Recorder{Name: "checkout flow"}
//	s, err := sandbox.New(sandbox.WithRecorder(rec), sandbox.WithFrozenClock(start))
type Recorder struct {
	// Name names the recorded scenario.
	Name string
	// PinHashes makes every step also pin its response digest and state hash, so that a replay
	// reports the first step that differs in any byte. Default false: a replay checks the
	// expectations only.
	PinHashes bool

	r *scenario.Recorder
}

// WithRecorder records the sandbox's traffic into r. Default: no recording. Record with a frozen
// clock (WithFrozenClock) from a fresh store, so that the recording replays byte for byte.
func WithRecorder(r *Recorder) Option { return func(c *config) { c.recorder = r } }

func (r *Recorder) attach(s *Server, h http.Handler) http.Handler {
	r.r = scenario.NewRecorder(scenario.RecorderConfig{
		Name: r.Name, Seed: s.seed.Load(), Start: s.clock.Now(), Now: s.clock.Now,
		StateHash: s.StateHash, Hashes: r.PinHashes,
	})
	return r.r.Wrap(h)
}

// Len returns how many requests have been recorded.
func (r *Recorder) Len() int {
	if r.r == nil {
		return 0
	}
	return r.r.Len()
}

// Scenario returns the recording so far as scenario YAML.
func (r *Recorder) Scenario() ([]byte, error) {
	if r.r == nil {
		return nil, fmt.Errorf("sandbox: the recorder is not attached to a sandbox (WithRecorder)")
	}
	return scenario.Marshal(r.r.Scenario())
}

// WriteFile writes the recording to path.
func (r *Recorder) WriteFile(path string) error {
	b, err := r.Scenario()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("sandbox: write recording: %w", err)
	}
	return nil
}
