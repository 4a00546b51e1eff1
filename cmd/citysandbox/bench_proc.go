package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// The bench's processes: the sandbox under test is this binary's serve command, the yardstick is
// the hidden bench-bare command, and without wrk the load comes from the hidden bench-load
// command, each its own process so that none takes CPU from another inside one Go runtime.

// benchChild is a process this binary started, serving on addr.
type benchChild struct {
	cmd  *exec.Cmd
	addr string
	out  *strings.Builder
}

// startBenchChild runs this binary with args plus --addr on a free loopback port and waits for a 200
// on health.
func startBenchChild(ctx context.Context, health string, args ...string) (*benchChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	out := &strings.Builder{}
	cmd := exec.CommandContext(ctx, exe, append(args, "--addr", addr)...)
	cmd.Stdout, cmd.Stderr = io.Discard, &lockedWriter{b: out}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", args[0], err)
	}
	c := &benchChild{cmd: cmd, addr: addr, out: out}
	if _, err := waitHealthy("http://"+addr+health, 10*time.Second); err != nil {
		c.stop()
		return nil, fmt.Errorf("bench: %s: %w", args[0], err)
	}
	return c, nil
}

// stop interrupts the child (a clean shutdown) and waits for it.
func (c *benchChild) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

func (c *benchChild) url() string { return "http://" + c.addr }

// lockedWriter is a strings.Builder safe for exec's copying goroutine and a reader.
type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 64<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// waitHealthy polls url until it answers 200 and returns how long that took.
func waitHealthy(url string, bound time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: 100 * time.Millisecond}
	start := time.Now()
	for time.Since(start) < bound {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(start), nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("no 200 on %s within %s", url, bound)
}

// benchBare is the hidden bench-bare command: a bare gin handler answering --body to the read's
// path, the yardstick of bench.
func benchBare(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("bench-bare")
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	body := fs.String("body", "{}", "the JSON every request gets")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The yardstick collects garbage as the sandbox does when it serves.
	useServingGC()
	sample := []byte(*body)
	bare := gin.New()
	bare.POST("/cgi-bin/openapi/quota/get", func(c *gin.Context) {
		_, _ = io.Copy(io.Discard, c.Request.Body)
		c.Data(http.StatusOK, "application/json; encoding=utf-8", sample)
	})
	bare.GET("/_sandbox/health", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("bench-bare: %w", err)
	}
	srv := &http.Server{Handler: bare}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return fmt.Errorf("bench-bare: %w", err)
	}
	return nil
}

// loadSpec is what the hidden bench-load command is asked to send.
type loadSpec struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Body is the request body; a %d in it is replaced by a request counter modulo 90,000.
	Body        string        `json:"body"`
	Concurrency int           `json:"concurrency"`
	Duration    time.Duration `json:"duration"`
}

// loadResult is what bench-load prints (JSON) and wrk's output is read into.
type loadResult struct {
	RPS    float64       `json:"rps"`
	P50    time.Duration `json:"p50"`
	P99    time.Duration `json:"p99"`
	Errors int           `json:"errors"`
	// CPUPerRequest is the server's CPU time (user and system) per request answered; bench
	// measures it from outside, around the load.
	CPUPerRequest time.Duration `json:"-"`
}

// benchLoad is the hidden bench-load command: it reads a loadSpec from its argument, drives the
// load and prints a loadResult.
func benchLoad(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("bench-load: want one JSON argument")
	}
	var s loadSpec
	if err := json.Unmarshal([]byte(args[0]), &s); err != nil {
		return fmt.Errorf("bench-load: %w", err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: s.Concurrency * 2, MaxConnsPerHost: s.Concurrency * 2}}
	var n atomic.Int64
	mk := func() (*http.Request, error) {
		body := s.Body
		if strings.Contains(body, "%d") {
			body = fmt.Sprintf(body, n.Add(1)%90000)
		}
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		return http.NewRequest(s.Method, s.URL, r)
	}
	res := load(ctx, client, mk, s.Concurrency, s.Duration)
	return json.NewEncoder(stdout).Encode(loadResult{RPS: res.rps, P50: res.p50, P99: res.p99, Errors: res.errors})
}

// serveLoopback serves h in this process on a free loopback port (the namespaces bench).
func serveLoopback(ctx context.Context, h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("bench: listen: %w", err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Shutdown(ctx) }, nil
}
