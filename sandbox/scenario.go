package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/citysandbox/citysandbox/sandbox/internal/scenario"
)

// Scenario is a parsed scenario file (see scenarios/README.md).
type Scenario = scenario.Scenario

// ScenarioResult is one run of a scenario: every step's status, response digest and state hash.
type ScenarioResult = scenario.Result

// ScenarioFailure is the step at which a run stopped, with what it expected and what it got.
type ScenarioFailure = scenario.Failure

// ScenarioDivergence names the first step at which two runs differ.
type ScenarioDivergence = scenario.Divergence

// ContractReport summarises, per operation, what an integrator's code has exercised.
type ContractReport = scenario.Report

// ParseScenario decodes a scenario strictly; errors name the file and line.
func ParseScenario(name string, data []byte) (*Scenario, error) { return scenario.Parse(name, data) }

// CompareScenarioRuns returns the first step whose response or state differs between two runs
// of a scenario, or nil when they are the same.
func CompareScenarioRuns(want, got *ScenarioResult) *ScenarioDivergence {
	return scenario.Compare(want, got)
}

// ScenarioTarget is a running sandbox that scenarios are replayed against.
type ScenarioTarget struct {
	// URL is the sandbox's base URL.
	URL string
	// Client sends the requests. Nil: a plain client that follows no redirects.
	Client *http.Client
	// StateHash reads the state's hash in process. Nil: GET /_sandbox/state.
	StateHash func() (string, error)
	// AdminToken is sent on /_sandbox/ requests when set.
	AdminToken string
}

func (t ScenarioTarget) internal() scenario.Target {
	st := scenario.Target{URL: t.URL, Client: t.Client, AdminToken: t.AdminToken}
	if t.StateHash != nil {
		st.StateHash = func(context.Context) (string, error) { return t.StateHash() }
	}
	return st
}

// RunScenario parses a scenario and runs it against target, printing a line per step to out
// (nil: nothing). A failed step is returned as a *ScenarioFailure.
func RunScenario(ctx context.Context, target ScenarioTarget, name string, data []byte, out io.Writer) (*ScenarioResult, error) {
	sc, err := scenario.Parse(name, data)
	if err != nil {
		return nil, err
	}
	r := &scenario.Runner{Target: target.internal(), Out: out}
	return r.Run(ctx, sc)
}

// RunScenario runs a scenario against this sandbox, served for the purpose on a loopback port.
// The scenario resets the sandbox to its own seed and clock first.
func (s *Server) RunScenario(ctx context.Context, name string, data []byte, out io.Writer) (*ScenarioResult, error) {
	url, stop, err := s.serveLoopback(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	return RunScenario(ctx, ScenarioTarget{URL: url, StateHash: s.StateHash, AdminToken: s.cfg.adminToken}, name, data, out)
}

// serveLoopback serves the sandbox on 127.0.0.1 until stop is called.
func (s *Server) serveLoopback(ctx context.Context) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("sandbox: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.Serve(ctx, ln); err != nil {
			s.logger.Error("serve for scenario", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), func() { cancel(); wg.Wait() }, nil
}

// Contract returns the contract report: per operation, calls made, requests that failed
// validation and why, and the documented errcodes received and never received. With calledOnly,
// operations never called are left out. It is what GET /_sandbox/contract answers.
func (s *Server) Contract(calledOnly bool) ContractReport { return s.contract.Report(calledOnly) }

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// Target is the base URL of a running sandbox. Empty: a built-in sandbox in this process.
	Target string
	// AdminToken is sent on /_sandbox/ requests to the target.
	AdminToken string
	// Report prints the contract report after the run.
	Report bool
	// Out receives the steps and the report. Nil: os.Stdout.
	Out io.Writer
	// FS reads the files. Nil: the working directory's file system (names as given).
	FS fs.FS
}

// Replay runs scenario files in order, printing each step, and stops at the first failure,
// which it returns (a *ScenarioFailure prints expected and actual). Each scenario resets the
// sandbox to its seed and clock; the contract report, when asked for, covers the whole run.
func Replay(ctx context.Context, opts ReplayOptions, files ...string) error {
	out := opts.Out
	if out == nil {
		out = os.Stdout
	}
	read := func(name string) ([]byte, error) {
		if opts.FS != nil {
			return fs.ReadFile(opts.FS, name)
		}
		return os.ReadFile(name)
	}
	var scs []*scenario.Scenario
	for _, f := range files {
		data, err := read(f)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		sc, err := scenario.Parse(f, data)
		if err != nil {
			return err
		}
		scs = append(scs, sc)
	}
	target := scenario.Target{URL: opts.Target, AdminToken: opts.AdminToken}
	if opts.Target == "" {
		sb, err := New(WithFrozenClock(scenario.DefaultClock), WithAdminToken(opts.AdminToken))
		if err != nil {
			return err
		}
		defer sb.Close()
		url, stop, err := sb.serveLoopback(ctx)
		if err != nil {
			return err
		}
		defer stop()
		target.URL = url
		target.StateHash = func(context.Context) (string, error) { return sb.StateHash() }
	}
	r := &scenario.Runner{Target: target, Out: out}
	if opts.Report {
		if err := contractCall(ctx, target, http.MethodDelete, nil); err != nil {
			return err
		}
	}
	var runErr error
	for _, sc := range scs {
		if _, err := r.Run(ctx, sc); err != nil {
			runErr = err
			break
		}
	}
	if opts.Report {
		var rep ContractReport
		if err := contractCall(ctx, target, http.MethodGet, &rep); err != nil {
			return err
		}
		fmt.Fprintln(out)
		if err := rep.WriteText(out); err != nil {
			return err
		}
	}
	if runErr == nil {
		fmt.Fprintf(out, "\nPASS: %d scenario(s)\n", len(scs))
	}
	return runErr
}

// contractCall reads (GET) or clears (DELETE) the target's contract report.
func contractCall(ctx context.Context, t scenario.Target, method string, into *ContractReport) error {
	url := strings.TrimSuffix(t.URL, "/") + "/_sandbox/contract"
	if method == http.MethodGet {
		url += "?called=true"
	}
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return fmt.Errorf("replay: contract: %w", err)
	}
	if t.AdminToken != "" {
		req.Header.Set("Authorization", "Bearer "+t.AdminToken)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("replay: contract: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("replay: %s /_sandbox/contract: status %d", method, resp.StatusCode)
	}
	if into == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return fmt.Errorf("replay: decode contract: %w", err)
	}
	return nil
}

// Recorder records the traffic a sandbox serves as a scenario, each request a step whose
// expectations are the answer seen, with generated tokens, tickets and ids captured into
// variables and rids and times matched loosely, so that the recording replays. Give it to New
// with WithRecorder; requests are then served one at a time.
type Recorder struct {
	name   string
	hashes bool
	r      *scenario.Recorder
}

// NewRecorder returns a recorder; name names the scenario. With pinHashes, every step also pins
// its response digest and state hash, so that a replay reports the first step that differs in
// any byte.
func NewRecorder(name string, pinHashes bool) *Recorder {
	return &Recorder{name: name, hashes: pinHashes}
}

// WithRecorder records the sandbox's traffic into r. Default: no recording. Record with a frozen
// clock (WithFrozenClock) from a fresh store, so that the recording replays byte for byte.
func WithRecorder(r *Recorder) Option { return func(c *config) { c.recorder = r } }

func (r *Recorder) attach(s *Server, h http.Handler) http.Handler {
	r.r = scenario.NewRecorder(scenario.RecorderConfig{
		Name: r.name, Seed: s.seed.Load(), Start: s.clock.Now(), Now: s.clock.Now,
		StateHash: s.StateHash, Hashes: r.hashes,
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
