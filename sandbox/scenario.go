package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/scenario"
)

// Scenario is a parsed and checked scenario file (the format is in scenarios/README.md): what
// it says about itself, with the defaults filled in.
type Scenario struct {
	// File is the name the scenario was parsed from ("scenarios/wechat-quota.yaml").
	File string
	// Name says what the scenario shows: its name, or the file's base name without .yaml.
	Name string
	// Description is the scenario's description.
	Description string
	// Seed seeds the sandbox's random values: the scenario's seed, or 1.
	Seed uint64
	// Clock is the time the sandbox clock is frozen at before the first step: the scenario's
	// clock, or 2026-03-02 10:00 Beijing time.
	Clock time.Time
	// Vars are the scenario's variables, available to every step as ${name}.
	Vars map[string]string
}

func scenarioFrom(sc *scenario.Scenario) *Scenario {
	if sc == nil {
		return nil
	}
	return &Scenario{
		File: sc.File(), Name: sc.Name, Description: sc.Description, Seed: sc.SeedValue(), Clock: sc.ClockValue(),
		Vars: sc.Vars,
	}
}

// ScenarioResult is one run of a scenario: every step's status, response digest and state hash.
type ScenarioResult struct {
	// Scenario is the scenario run.
	Scenario *Scenario
	// Steps are the steps run, setup first, up to and including one that failed.
	Steps []ScenarioStep
	// Vars are the run's variables at its end, captures included; each value is JSON, so that a
	// captured number stays a number.
	Vars map[string]json.RawMessage
}

func scenarioResultFrom(r *scenario.Result) *ScenarioResult {
	if r == nil {
		return nil
	}
	return &ScenarioResult{Scenario: scenarioFrom(r.Scenario), Steps: convertSlice(r.Steps, scenarioStepFrom), Vars: r.Vars}
}

// ScenarioStep is what one step of a run did.
type ScenarioStep struct {
	// Section is "setup" or "steps"; Index counts from 1 within it.
	Section string
	Index   int
	// Name is the step's name, and Line its line in the file.
	Name string
	Line int
	// Action is what the step did: "GET /cgi-bin/token" or "advance 2h".
	Action string
	// Status is the answer's HTTP status.
	Status int
	// Errcode is the body's errcode, if it has one.
	Errcode *int
	// Digest is "sha256:<hex>" of the response body (of every body, for a repeated request).
	Digest string
	// StateHash is the stored state's hash after the step.
	StateHash string
}

func scenarioStepFrom(s scenario.StepResult) ScenarioStep {
	return ScenarioStep{
		Section: s.Section, Index: s.Index, Name: s.Name, Line: s.Line, Action: s.Action, Status: s.Status,
		Errcode: s.Errcode, Digest: s.Digest, StateHash: s.StateHash,
	}
}

// Label names the step for people: `step 3 "token expires" (tokens.yaml:40)`, without the
// file when file is empty.
func (s ScenarioStep) Label(file string) string {
	in := s.internal()
	return in.Label(file)
}

func (s ScenarioStep) internal() scenario.StepResult {
	return scenario.StepResult{
		Section: s.Section, Index: s.Index, Name: s.Name, Line: s.Line, Action: s.Action, Status: s.Status,
		Errcode: s.Errcode, Digest: s.Digest, StateHash: s.StateHash,
	}
}

// ScenarioFailure is the step at which a run stopped: what it expected and what it got. It is
// the error RunScenario and Replay return for a failed step.
type ScenarioFailure struct {
	// File is the scenario's file.
	File string
	// Step is the step that failed.
	Step ScenarioStep
	// Problems are the unmet expectations, or why the step could not run.
	Problems []string
	// Response and Header are the answer, when there was one.
	Response []byte
	Header   http.Header
}

func scenarioFailureFrom(f scenario.Failure) ScenarioFailure {
	return ScenarioFailure{File: f.File, Step: scenarioStepFrom(f.Step), Problems: f.Problems, Response: f.Response, Header: f.Header}
}

func (f ScenarioFailure) internal() scenario.Failure {
	return scenario.Failure{File: f.File, Step: f.Step.internal(), Problems: f.Problems, Response: f.Response, Header: f.Header}
}

// Error says which step failed, each unmet expectation, and the answer.
func (f *ScenarioFailure) Error() string {
	in := f.internal()
	return in.Error()
}

// runError returns a run's failed step as a *ScenarioFailure; other errors are left as they are.
func runError(err error) error {
	if f, ok := err.(*scenario.Failure); ok {
		out := scenarioFailureFrom(*f)
		return &out
	}
	return err
}

// ScenarioDivergence names the first step at which two runs of a scenario differ.
type ScenarioDivergence struct {
	// Step is the step, as the second run saw it.
	Step ScenarioStep
	// What is "response", "state" or "steps" (one run stopped earlier).
	What string
	// Want and Got are the first run's and the second's digest, state hash or number of steps.
	Want, Got string
}

func scenarioDivergenceFrom(d scenario.Divergence) ScenarioDivergence {
	return ScenarioDivergence{Step: scenarioStepFrom(d.Step), What: d.What, Want: d.Want, Got: d.Got}
}

// String names the step and what differs.
func (d *ScenarioDivergence) String() string {
	in := scenario.Divergence{Step: d.Step.internal(), What: d.What, Want: d.Want, Got: d.Got}
	return in.String()
}

// ParseScenario decodes and checks a scenario without running it; errors name the file and line.
func ParseScenario(name string, data []byte) (*Scenario, error) {
	sc, err := scenario.Parse(name, data)
	if err != nil {
		return nil, err
	}
	return scenarioFrom(sc), nil
}

// CompareScenarioRuns returns the first step whose response or state differs between two runs
// of a scenario, or nil when they are the same.
func CompareScenarioRuns(want, got *ScenarioResult) *ScenarioDivergence {
	steps := func(r *ScenarioResult) *scenario.Result {
		return &scenario.Result{Steps: convertSlice(r.Steps, ScenarioStep.internal)}
	}
	return convertPtr(scenario.Compare(steps(want), steps(got)), scenarioDivergenceFrom)
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
	// WaitPushes waits in process until the sandbox's pushes are settled, before each step's
	// state hash (pushes are delivered off the request path). Nil: POST
	// /_sandbox/wechat/push/wait.
	WaitPushes func(ctx context.Context) error
}

func (t ScenarioTarget) internal() scenario.Target {
	st := scenario.Target{URL: t.URL, Client: t.Client, AdminToken: t.AdminToken, SettlePushes: t.WaitPushes}
	if t.StateHash != nil {
		st.StateHash = func(context.Context) (string, error) { return t.StateHash() }
	}
	return st
}

// RunScenario parses a scenario and runs it against target, printing a line per step to out
// (nil: nothing). The scenario first resets the target to its own seed and clock. A failed step
// is returned as a *ScenarioFailure, together with the result of the steps run so far.
func RunScenario(ctx context.Context, target ScenarioTarget, name string, data []byte, out io.Writer) (*ScenarioResult, error) {
	sc, err := scenario.Parse(name, data)
	if err != nil {
		return nil, err
	}
	r := &scenario.Runner{Target: target.internal(), Out: out}
	res, err := r.Run(ctx, sc)
	return scenarioResultFrom(res), runError(err)
}

// RunScenario runs a scenario against this sandbox, served for the purpose on a loopback port.
// The scenario resets the sandbox to its own seed and clock first.
func (s *Server) RunScenario(ctx context.Context, name string, data []byte, out io.Writer) (*ScenarioResult, error) {
	url, stop, err := s.serveLoopback(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	return RunScenario(ctx, ScenarioTarget{URL: url, StateHash: s.StateHash, WaitPushes: s.settlePushes, AdminToken: s.cfg.adminToken}, name, data, out)
}

// settlePushes is WaitPushes bounded as the control verb bounds it, for scenario runs: a
// receiver that hangs fails the step instead of the run hanging.
func (s *Server) settlePushes(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.WaitPushes(ctx); err != nil {
		return fmt.Errorf("sandbox: pushes still being tried after 10 s (%d left): %w", s.push.Busy(), err)
	}
	return nil
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
	// KeepState leaves the Target's state and clock as they are: no reset to each scenario's
	// seed and clock (its own clock steps still move the clock), and the expected digests and
	// state hashes, which only a reset target reproduces, are not checked. Only with a Target.
	KeepState bool
	// Notice receives the line that says, before anything is sent, what the run does to the
	// Target. Nil: os.Stderr.
	Notice io.Writer
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
	if opts.KeepState && opts.Target == "" {
		return errors.New("replay: keeping the state needs a target: the built-in sandbox starts fresh")
	}
	if opts.Target != "" {
		notice := opts.Notice
		if notice == nil {
			notice = os.Stderr
		}
		if opts.KeepState {
			fmt.Fprintf(notice, "replay: running against %s as it is: no reset, its clock not frozen (the scenarios' own clock steps still move it); expected digests and state hashes are not checked\n", opts.Target)
		} else {
			fmt.Fprintf(notice, "replay: each scenario resets %s (its state back to the fixtures at the scenario's seed; journal and faults cleared) and freezes its clock at the scenario's time, left so afterwards (POST /_sandbox/clock {\"real\":true} returns it to wall time)\n", opts.Target)
		}
	}
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
		target.SettlePushes = sb.settlePushes
	}
	r := &scenario.Runner{Target: target, Out: out, KeepState: opts.KeepState}
	if opts.Report {
		if err := contractCall(ctx, target, http.MethodDelete, nil); err != nil {
			return err
		}
	}
	var runErr error
	for _, sc := range scs {
		if _, err := r.Run(ctx, sc); err != nil {
			runErr = runError(err)
			break
		}
	}
	if opts.Report {
		var rep scenario.Report
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
func contractCall(ctx context.Context, t scenario.Target, method string, into *scenario.Report) error {
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
