package endpoint

import (
	"fmt"
	"strings"
	"sync"

	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
)

// Fault is an injected misbehaviour: for requests matching Path and/or AppID, answer an errcode,
// add latency, or drop the connection — Times times (0: until removed), or each time with the
// given Probability (0: always), drawn from the sandbox's seeded source.
type Fault struct {
	ID            string  `json:"id"`
	Path          string  `json:"path,omitempty"`
	AppID         string  `json:"appid,omitempty"`
	Errcode       int     `json:"errcode,omitempty"`
	ErrorName     string  `json:"error_name,omitempty"`
	Status        int     `json:"status,omitempty"`
	LatencyMillis int     `json:"latency_ms,omitempty"`
	Drop          bool    `json:"drop,omitempty"`
	Times         int     `json:"times,omitempty"`
	Probability   float64 `json:"probability,omitempty"`
	// Remaining counts down from Times; Hits counts the requests the fault was applied to.
	Remaining int `json:"remaining,omitempty"`
	Hits      int `json:"hits"`
}

// Faults is the set of active faults. It is safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	rand   *seeded.Source
	save   func(FaultState) error
	faults []*Fault
	next   int
}

// FaultState is what a fault set records to survive a restart: its faults and the number of the
// last id it gave out.
type FaultState struct {
	Next   int     `json:"next"`
	Faults []Fault `json:"faults"`
}

// NewFaults returns an empty set drawing probabilities from src. Every change (a fault added,
// removed, applied) is handed to save, when not nil, before it is acknowledged.
func NewFaults(src *seeded.Source, save func(FaultState) error) *Faults {
	return &Faults{rand: src, save: save}
}

// Load replaces the set with st, as recorded by save.
func (fs *Faults) Load(st FaultState) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.next, fs.faults = st.Next, nil
	for _, f := range st.Faults {
		fs.faults = append(fs.faults, &f)
	}
}

// persist hands the set to save. Called with mu held.
func (fs *Faults) persist() error {
	if fs.save == nil {
		return nil
	}
	st := FaultState{Next: fs.next, Faults: []Fault{}}
	for _, f := range fs.faults {
		st.Faults = append(st.Faults, *f)
	}
	if err := fs.save(st); err != nil {
		return fmt.Errorf("endpoint: record faults: %w", err)
	}
	return nil
}

// Add installs f, assigning its id.
func (fs *Faults) Add(f Fault) (Fault, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.next++
	f.ID = fmt.Sprintf("fault-%d", fs.next)
	f.Remaining = f.Times
	f.Hits = 0
	fs.faults = append(fs.faults, &f)
	return f, fs.persist()
}

// Reset removes every fault and numbers the next one fault-1 again, as in a fresh sandbox.
func (fs *Faults) Reset() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.faults, fs.next = nil, 0
	return fs.persist()
}

// List returns the active faults.
func (fs *Faults) List() []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := []Fault{}
	for _, f := range fs.faults {
		out = append(out, *f)
	}
	return out
}

// Remove deletes the fault with id, or every fault when id is empty. It reports whether any was
// removed.
func (fs *Faults) Remove(id string) (bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	kept := fs.faults[:0]
	removed := false
	for _, f := range fs.faults {
		if id == "" || f.ID == id {
			removed = true
			continue
		}
		kept = append(kept, f)
	}
	fs.faults = kept
	if !removed {
		return false, nil
	}
	return true, fs.persist()
}

// match returns the fault that applies to c, if any, having counted the hit.
func (fs *Faults) match(c *Call) (*Fault, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.faults) == 0 {
		return nil, nil
	}
	path := c.Gin.Request.URL.Path
	appid := c.AppID
	if appid == "" {
		appid = c.Query("appid")
	}
	for i, f := range fs.faults {
		if f.Path != "" && !pathMatch(f.Path, path) {
			continue
		}
		if f.AppID != "" && f.AppID != appid && !strings.Contains(string(c.Body), `"`+f.AppID+`"`) {
			continue
		}
		if f.Probability > 0 && fs.rand.Float64() >= f.Probability {
			continue
		}
		f.Hits++
		hit := *f
		if f.Times > 0 {
			f.Remaining--
			if f.Remaining <= 0 {
				fs.faults = append(fs.faults[:i], fs.faults[i+1:]...)
			}
		}
		return &hit, fs.persist()
	}
	return nil, nil
}

func pathMatch(pattern, path string) bool {
	if strings.HasSuffix(pattern, "*") {
		return strings.HasPrefix(path, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == path
}
