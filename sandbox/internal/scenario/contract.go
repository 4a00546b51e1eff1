package scenario

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/spec"
)

// Contract counts, per operation of the emulated platforms, what an integrator's code has
// exercised: calls, requests that failed validation (with the precise reasons) and the errcodes
// received, next to the errcodes the operation is documented to return (x-errcodes). It is fed
// by the journal as entries are added, so the counts outlive the journal's cap; a sandbox reset
// keeps them (an integrator's suite resets between tests), DELETE /_sandbox/contract clears them.
type Contract struct {
	spec *spec.Spec

	mu       sync.Mutex
	ops      map[string]*opStats
	unrouted map[[2]string]int
	leaks    int
}

// Bounds on what a report keeps, so a long run cannot grow it without limit.
const (
	maxReasons  = 20
	maxUnrouted = 100
)

type opStats struct {
	calls, ok int
	errcodes  map[int]int
	names     map[string]int
	reasons   map[string]int
}

// NewContract returns an empty tracker for the operations of s.
func NewContract(s *spec.Spec) *Contract {
	c := &Contract{spec: s}
	c.Reset()
	return c
}

// Reset forgets every count.
func (c *Contract) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = map[string]*opStats{}
	c.unrouted = map[[2]string]int{}
	c.leaks = 0
}

// Observe counts one journal entry. Control-plane calls, simulated events and requests the
// forward proxy refused are not the integrator's API traffic and are skipped, but every leak
// (journal.Entry.Leak) is counted.
func (c *Contract) Observe(e journal.Entry) {
	if e.Leak != nil {
		c.mu.Lock()
		c.leaks++
		c.mu.Unlock()
	}
	if e.Event != "" || e.Platform == "control" || e.Platform == journal.PlatformProxy {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Operation == "" {
		k := [2]string{e.Method, e.Path}
		if _, ok := c.unrouted[k]; ok || len(c.unrouted) < maxUnrouted {
			c.unrouted[k]++
		}
		return
	}
	st := c.ops[e.Operation]
	if st == nil {
		st = &opStats{errcodes: map[int]int{}, names: map[string]int{}, reasons: map[string]int{}}
		c.ops[e.Operation] = st
	}
	st.calls++
	switch {
	case e.Errcode != 0:
		st.errcodes[e.Errcode]++
	case e.ErrorName != "":
		st.names[e.ErrorName]++
	case e.Status > 0 && e.Status < 400:
		st.ok++
	}
	if e.Validation != "" {
		if _, ok := st.reasons[e.Validation]; ok || len(st.reasons) < maxReasons {
			st.reasons[e.Validation]++
		}
	}
}

// Report is a contract report.
type Report struct {
	Calls            int               `json:"calls"`
	OperationsCalled int               `json:"operations_called"`
	OperationsTotal  int               `json:"operations_total"`
	Operations       []OperationReport `json:"operations"`
	Unrouted         []UnroutedCalls   `json:"unrouted"`
	// Leaks counts the requests that tried to reach the real platforms or carried production
	// credentials (GET /_sandbox/leaks lists them): a CI job fails its run when this is not 0.
	Leaks int `json:"leaks"`
}

// OperationReport is one operation's line in a report.
type OperationReport struct {
	Operation          string        `json:"operation"`
	Platform           string        `json:"platform"`
	Method             string        `json:"method"`
	Path               string        `json:"path"`
	Calls              int           `json:"calls"`
	Succeeded          int           `json:"succeeded"`
	ValidationFailures []ReasonCount `json:"validation_failures"`
	Documented         []int         `json:"errcodes_documented"`
	Received           []CodeCount   `json:"errcodes_received"`
	NeverReceived      []int         `json:"errcodes_never_received"`
	// Undocumented are received errcodes the operation's x-errcodes does not list.
	Undocumented []int       `json:"errcodes_undocumented,omitempty"`
	ErrorNames   []NameCount `json:"error_names_received,omitempty"`
}

// ReasonCount is a validation failure's precise reason and how often it happened.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// CodeCount is an errcode and how often it was answered.
type CodeCount struct {
	Errcode int `json:"errcode"`
	Count   int `json:"count"`
}

// NameCount is a symbolic error code and how often it was answered.
type NameCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// UnroutedCalls counts requests to a path no operation serves.
type UnroutedCalls struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Count  int    `json:"count"`
}

// Report builds the report; with calledOnly, operations never called are left out.
func (c *Contract) Report(calledOnly bool) Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := Report{Operations: []OperationReport{}, Unrouted: []UnroutedCalls{}, Leaks: c.leaks}
	for _, op := range c.spec.Operations {
		if op.Document.Platform == "control" {
			continue
		}
		r.OperationsTotal++
		st := c.ops[op.ID]
		if st == nil && calledOnly {
			continue
		}
		or := OperationReport{
			Operation: op.ID, Platform: op.Document.Platform, Method: op.Method, Path: op.Path,
			ValidationFailures: []ReasonCount{}, Documented: append([]int{}, op.Errcodes...),
			Received: []CodeCount{}, NeverReceived: []int{},
		}
		sort.Ints(or.Documented)
		if st != nil {
			r.OperationsCalled++
			r.Calls += st.calls
			or.Calls, or.Succeeded = st.calls, st.ok
			for _, reason := range sortedKeys(st.reasons) {
				or.ValidationFailures = append(or.ValidationFailures, ReasonCount{reason, st.reasons[reason]})
			}
			for code, n := range st.errcodes {
				or.Received = append(or.Received, CodeCount{code, n})
				if !slices.Contains(op.Errcodes, code) {
					or.Undocumented = append(or.Undocumented, code)
				}
			}
			sort.Slice(or.Received, func(i, j int) bool { return or.Received[i].Errcode < or.Received[j].Errcode })
			sort.Ints(or.Undocumented)
			for _, name := range sortedKeys(st.names) {
				or.ErrorNames = append(or.ErrorNames, NameCount{name, st.names[name]})
			}
		}
		for _, code := range or.Documented {
			if st == nil || st.errcodes[code] == 0 {
				or.NeverReceived = append(or.NeverReceived, code)
			}
		}
		r.Operations = append(r.Operations, or)
	}
	for k, n := range c.unrouted {
		r.Unrouted = append(r.Unrouted, UnroutedCalls{Method: k[0], Path: k[1], Count: n})
		r.Calls += n
	}
	sort.Slice(r.Unrouted, func(i, j int) bool {
		if r.Unrouted[i].Path != r.Unrouted[j].Path {
			return r.Unrouted[i].Path < r.Unrouted[j].Path
		}
		return r.Unrouted[i].Method < r.Unrouted[j].Method
	})
	return r
}

// Routes registers the contract's control-plane handlers.
func (c *Contract) Routes(r endpoint.Routes) {
	r.Handle("getContract", c.handleGet)     // GET /_sandbox/contract
	r.Handle("resetContract", c.handleReset) // DELETE /_sandbox/contract
}

func (c *Contract) handleGet(call *endpoint.Call) (any, error) {
	called, _ := strconv.ParseBool(call.Query("called"))
	return c.Report(called), nil
}

func (c *Contract) handleReset(*endpoint.Call) (any, error) {
	c.Reset()
	return nil, nil
}

// WriteText prints a report for people: one block per called operation, then the operations
// never called.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "contract: %d calls, %d of %d operations called\n", r.Calls, r.OperationsCalled, r.OperationsTotal)
	if r.Leaks > 0 {
		fmt.Fprintf(&b, "production leaks: %d (requests for the real platforms or with production credentials: GET /_sandbox/leaks)\n", r.Leaks)
	}
	var never []string
	for _, op := range r.Operations {
		if op.Calls == 0 {
			never = append(never, op.Operation)
			continue
		}
		fmt.Fprintf(&b, "\n%s  %s %s\n  calls %d, succeeded %d\n", op.Operation, op.Method, op.Path, op.Calls, op.Succeeded)
		if len(op.Received) > 0 {
			parts := make([]string, len(op.Received))
			for i, rc := range op.Received {
				parts[i] = fmt.Sprintf("%d×%d", rc.Errcode, rc.Count)
			}
			fmt.Fprintf(&b, "  errcodes received: %s\n", strings.Join(parts, ", "))
		}
		for _, nc := range op.ErrorNames {
			fmt.Fprintf(&b, "  error received: %s×%d\n", nc.Name, nc.Count)
		}
		if len(op.NeverReceived) > 0 {
			fmt.Fprintf(&b, "  documented errcodes never received: %s\n", joinInts(op.NeverReceived))
		}
		if len(op.Undocumented) > 0 {
			fmt.Fprintf(&b, "  errcodes received that x-errcodes does not list: %s\n", joinInts(op.Undocumented))
		}
		for _, vf := range op.ValidationFailures {
			fmt.Fprintf(&b, "  failed validation ×%d: %s\n", vf.Count, vf.Reason)
		}
	}
	for _, u := range r.Unrouted {
		fmt.Fprintf(&b, "\nno such API: %s %s ×%d\n", u.Method, u.Path, u.Count)
	}
	if len(never) > 0 {
		fmt.Fprintf(&b, "\nnever called (%d): %s\n", len(never), strings.Join(never, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, " ")
}
