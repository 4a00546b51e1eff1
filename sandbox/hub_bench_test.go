package sandbox_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
)

// BenchmarkCreateNamespace measures creating a namespace (and, outside the timing, deleting it)
// on a hub: in memory with a running clock (the fixtures' baseline shared from the hub's start),
// in memory with a frozen clock, and in a data directory. It reports the median besides the
// mean, since the first creation of a seed and clock pays for generating the baseline.
func BenchmarkCreateNamespace(b *testing.B) {
	for _, bc := range []struct {
		name string
		spec sandbox.NamespaceSpec
		dir  bool
	}{
		{"memory-running-clock", sandbox.NamespaceSpec{}, false},
		{"memory-frozen-clock", sandbox.NamespaceSpec{Clock: hubStart}, false},
		{"data-dir", sandbox.NamespaceSpec{}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := []sandbox.Option{sandbox.WithLoadedSpec(sharedSpec(b)), sandbox.WithMaxNamespaces(1 << 20)}
			if bc.dir {
				opts = append(opts, sandbox.WithNamespaceDir(filepath.Join(b.TempDir(), "ns")))
			}
			hub, err := sandbox.NewHub(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer hub.Close()
			var took []time.Duration
			i := 0
			for b.Loop() {
				i++
				spec := bc.spec
				spec.Name = fmt.Sprintf("bench-%d", i)
				t0 := time.Now()
				if _, err := hub.CreateNamespace(spec); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t0))
				b.StopTimer()
				if err := hub.DeleteNamespace(spec.Name); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
		})
	}
}

// BenchmarkIdleNamespaceMemory reports the Go heap that each idle namespace (in memory, fresh
// fixtures, nothing served yet) keeps, over 100 namespaces.
func BenchmarkIdleNamespaceMemory(b *testing.B) {
	const n = 100
	for b.Loop() {
		hub, err := sandbox.NewHub(sandbox.WithLoadedSpec(sharedSpec(b)), sandbox.WithMaxNamespaces(n))
		if err != nil {
			b.Fatal(err)
		}
		before := heapInUse()
		for i := range n {
			if _, err := hub.CreateNamespace(sandbox.NamespaceSpec{Name: fmt.Sprintf("idle-%d", i)}); err != nil {
				b.Fatal(err)
			}
		}
		after := heapInUse()
		b.ReportMetric(float64(after-before)/n/1024, "KiB/namespace")
		hub.Close()
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
