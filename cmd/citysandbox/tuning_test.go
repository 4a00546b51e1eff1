package main

import (
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestLogBufferWritesLinesOutTogetherAndAllOnClose(t *testing.T) {
	var out syncBuffer
	logs := newLogBuffer(&out)
	if _, err := logs.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	_, _ = logs.Write([]byte("two\n"))
	// The scheduled flush writes both lines out; wait for it without depending on its delay.
	for deadline := time.Now().Add(10 * time.Second); out.String() != "one\ntwo\n"; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the output is %q, want both lines", out.String())
		}
	}
	_, _ = logs.Write([]byte("three\n"))
	if err := logs.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "one\ntwo\nthree\n" {
		t.Fatalf("after Close the output is %q, want every line", got)
	}
	_, _ = logs.Write([]byte("four\n"))
	if got := out.String(); !strings.HasSuffix(got, "three\nfour\n") {
		t.Fatalf("a line after Close is not written at once: %q", got)
	}
}

// A log that never gets a line closes without writing anything; a line after Close still goes
// straight out.
func TestLogBufferWithoutLines(t *testing.T) {
	var out syncBuffer
	logs := newLogBuffer(&out)
	if err := logs.Close(); err != nil || out.String() != "" {
		t.Fatalf("Close of an empty log = %v and wrote %q, want nil and nothing", err, out.String())
	}
	_, _ = logs.Write([]byte("late\n"))
	if got := out.String(); got != "late\n" {
		t.Fatalf("a line after Close gave %q", got)
	}
}

func TestServingGCIsServingGCPercentUnlessGOGCIsSet(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	if v, set := os.LookupEnv("GOGC"); set {
		defer os.Setenv("GOGC", v)
	}
	os.Unsetenv("GOGC")
	useServingGC()
	if got := debug.SetGCPercent(100); got != servingGCPercent {
		t.Errorf("without GOGC the target is %d, want %d", got, servingGCPercent)
	}
	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50) // as the runtime would have read it
	useServingGC()
	if got := debug.SetGCPercent(100); got != 50 {
		t.Errorf("with GOGC=50 the target is %d, want GOGC's", got)
	}
}
