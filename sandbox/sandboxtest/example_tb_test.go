package sandboxtest_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// runAsTest runs body as a test would run it, with t standing in for the *testing.T that an
// Example does not have. Cleanups run when body returns, as at the end of a test. A failure is
// printed, so that the Example's output check fails with it, and Fatal ends body as it ends a
// test. sandboxtest calls no other method of testing.TB; any other would panic on the nil TB.
func runAsTest(body func(t testing.TB)) {
	t := &exampleTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer t.runCleanups()
		body(t)
	}()
	<-done
}

type exampleTB struct {
	testing.TB // nil: see runAsTest

	mu       sync.Mutex
	cleanups []func()
}

func (t *exampleTB) Helper() {}

func (t *exampleTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *exampleTB) runCleanups() {
	t.mu.Lock()
	fs := slices.Clone(t.cleanups)
	t.mu.Unlock()
	for _, f := range slices.Backward(fs) {
		f()
	}
}

// Errorf is called from the sandbox's own goroutines too (response validation): it only prints.
func (t *exampleTB) Errorf(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
}

func (t *exampleTB) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}

func (t *exampleTB) Fatal(args ...any) {
	t.Errorf("%s", fmt.Sprint(args...))
	runtime.Goexit()
}
