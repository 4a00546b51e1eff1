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
	faults []*Fault
	next   int
}

// NewFaults returns an empty set drawing probabilities from src.
func NewFaults(src *seeded.Source) *Faults { return &Faults{rand: src} }

// Add installs f, assigning its id.
func (fs *Faults) Add(f Fault) Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.next++
	f.ID = fmt.Sprintf("fault-%d", fs.next)
	f.Remaining = f.Times
	f.Hits = 0
	fs.faults = append(fs.faults, &f)
	return f
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
func (fs *Faults) Remove(id string) bool {
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
	return removed
}

func (fs *Faults) match(c *Call) *Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.faults) == 0 {
		return nil
	}
	path := c.Gin.Request.URL.Path
	appid := c.AppID
	if appid == "" {
		appid = c.Gin.Query("appid")
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
		return &hit
	}
	return nil
}

func pathMatch(pattern, path string) bool {
	if strings.HasSuffix(pattern, "*") {
		return strings.HasPrefix(path, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == path
}
