package main

import (
	"bufio"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// servingGCPercent is the collector's target while serving, unless GOGC says otherwise: a
// collection once the heap has grown by twice the live data, not once. A served sandbox's live
// heap is mostly its records, a few tens of megabytes, and under load a collection every time
// it doubled took a sixth of the CPU (bench's write case); at 200 it takes about half of that,
// for a heap up to three times the live data instead of two.
const servingGCPercent = 200

// useServingGC sets the collector's target to servingGCPercent, unless GOGC is set (the
// runtime applied it at start).
func useServingGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(servingGCPercent)
	}
}

// logFlushDelay is how long a log line may wait in logBuffer before it is written out.
const logFlushDelay = 50 * time.Millisecond

// logBuffer collects the log's lines and writes them out together, at most logFlushDelay after
// the first of them: at info the sandbox logs a line per request, and a write to stderr per line
// costs a busy sandbox more than the line itself. Close writes what is left. A process killed
// outright loses at most the lines of the last logFlushDelay; the state never depends on them.
type logBuffer struct {
	mu  sync.Mutex
	out io.Writer
	// w buffers out, from the first line on: a sandbox that logs nothing (at warn, say) never
	// allocates it, nor does its start wait for it.
	w       *bufio.Writer
	pending bool // a flush is scheduled
	closed  bool
}

// newLogBuffer returns a logBuffer over w.
func newLogBuffer(w io.Writer) *logBuffer {
	return &logBuffer{out: w}
}

// Write implements io.Writer. Once the buffer is closed, lines go straight through.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w == nil {
		b.w = bufio.NewWriterSize(b.out, 64<<10)
	}
	n, err := b.w.Write(p)
	if b.closed {
		if ferr := b.w.Flush(); err == nil {
			err = ferr
		}
		return n, err
	}
	if !b.pending && b.w.Buffered() > 0 {
		b.pending = true
		time.AfterFunc(logFlushDelay, b.flush)
	}
	return n, err
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = false
	_ = b.w.Flush() // nowhere left to report a failing stderr
}

// Close writes out what is buffered; later lines are written at once.
func (b *logBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.w == nil {
		return nil
	}
	return b.w.Flush()
}
