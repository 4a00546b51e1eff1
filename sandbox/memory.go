package sandbox

import (
	"fmt"
	"slices"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
)

// MemoryState lists, one line each in a stable order, what the sandbox keeps in memory beside
// its store and a request could change: the clock, the quota windows still counting (per second
// and per minute), the active faults with their hits and remaining uses, and the journal's
// events (pushes, handshakes, scans, launches), but not its request entries. With StateHash it
// covers everything a request leaves behind except its own journal entry; tests compare both
// around a request that must be refused and change nothing.
func (s *Server) MemoryState() []string {
	var lines []string
	if s.clock.Frozen() {
		lines = append(lines, "clock frozen at "+s.clock.Now().Format(time.RFC3339Nano))
	} else {
		lines = append(lines, fmt.Sprintf("clock running, offset %s", s.clock.Offset()))
	}
	lines = append(lines, fmt.Sprintf("seed %d", s.seed.Load()))
	var windows []string
	for scope, n := range s.quota.Live() {
		windows = append(windows, fmt.Sprintf("quota %s: %d calls", scope, n))
	}
	slices.Sort(windows)
	lines = append(lines, windows...)
	for _, f := range s.faults.List() {
		lines = append(lines, fmt.Sprintf("fault %s path=%q appid=%q: %d hits, %d remaining", f.ID, f.Path, f.AppID, f.Hits, f.Remaining))
	}
	s.journal.Each(func(e *journal.Entry) bool {
		if e.Event != "" {
			lines = append(lines, fmt.Sprintf("event %d %s appid=%q %s %s: %d", e.Seq, e.Event, e.AppID, e.Method, e.Path, e.Status))
		}
		return true
	})
	return lines
}
