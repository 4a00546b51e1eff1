package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
)

// benchNamespaces serves a hub with n namespaces on loopback and measures, in one run: the cost
// of creating a namespace (median and p90), the Go heap each idle namespace keeps, and the
// throughput of an authenticated read spread over all n namespaces against the same load on one
// of them, the two alternating for rounds rounds so that a busy machine slows both alike. The
// load comes from wrk, a separate process, when it is installed, else from this process.
func benchNamespaces(ctx context.Context, n, concurrency, rounds int, d time.Duration, stdout io.Writer) error {
	hub, err := sandbox.NewHub(sandbox.WithSeed(1), sandbox.WithMaxNamespaces(n+1))
	if err != nil {
		return err
	}
	defer hub.Close()
	base, stop, err := serveLoopback(ctx, hub.Handler())
	if err != nil {
		return err
	}
	defer stop()

	// Creation, and the memory of idle namespaces.
	before := heapInUse()
	took := make([]time.Duration, 0, n)
	for i := range n {
		t0 := time.Now()
		if _, err := hub.CreateNamespace(sandbox.NamespaceSpec{Name: fmt.Sprintf("bench-%d", i)}); err != nil {
			return err
		}
		took = append(took, time.Since(t0))
	}
	idle := heapInUse() - before
	slices.Sort(took)
	fmt.Fprintf(stdout, "citysandbox bench --namespaces %d: %d clients, %s per case, GOMAXPROCS=%d\n", n, concurrency, d, runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "create a namespace: median %s, p90 %s, max %s (in memory, running clock)\n",
		took[len(took)/2].Round(time.Microsecond), took[len(took)*9/10].Round(time.Microsecond), took[len(took)-1].Round(time.Microsecond))
	fmt.Fprintf(stdout, "idle namespace: %.0f KiB of Go heap each (%d namespaces: %.1f MiB)\n", float64(idle)/float64(n)/1024, n, float64(idle)/(1<<20))

	// One unlimited-tier account and a token in each namespace: the read is quota/get.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2}}
	paths := make([]string, n)
	for i := range n {
		name := fmt.Sprintf("bench-%d", i)
		srv, _ := hub.Namespace(name)
		app, err := srv.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "official_account", Tier: "unlimited"})
		if err != nil {
			return err
		}
		tok, err := fetchToken(client, base+"/ns/"+name, app.AppID, app.Secret)
		if err != nil {
			return err
		}
		paths[i] = "/ns/" + name + "/cgi-bin/openapi/quota/get?access_token=" + tok
	}
	body := `{"cgi_path":"/cgi-bin/token"}`
	wrk, _ := exec.LookPath("wrk")
	run := func(targets []string) (float64, string, error) {
		if wrk != "" {
			return wrkLoad(ctx, wrk, base, targets, body, concurrency, d)
		}
		var next atomic.Uint64
		res := load(ctx, client, func() (*http.Request, error) {
			return http.NewRequest("POST", base+targets[next.Add(1)%uint64(len(targets))], strings.NewReader(body))
		}, concurrency, d)
		if res.errors > 0 {
			return 0, "", fmt.Errorf("bench: %d requests failed", res.errors)
		}
		return res.rps, fmt.Sprintf("p50 %s, p99 %s", res.p50.Round(time.Microsecond), res.p99.Round(time.Microsecond)), nil
	}
	source := "wrk (a separate process)"
	if wrk == "" {
		source = "this process (wrk not found)"
	}
	fmt.Fprintf(stdout, "authenticated read (quota/get) through the hub, load from %s; the two cases alternate, %d round(s):\n", source, rounds)
	var ratios []float64
	for r := range rounds {
		one, oneLat, err := run(paths[:1])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  #%d   1 namespace:  %8.0f req/s  %s\n", r+1, one, oneLat)
		all, allLat, err := run(paths)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  #%d %3d namespaces: %8.0f req/s  %s\n", r+1, n, all, allLat)
		ratios = append(ratios, all/one)
	}
	slices.Sort(ratios)
	fmt.Fprintf(stdout, "%d namespaces / 1 namespace: %.2f (median of %d rounds; each: %s)\n", n, ratios[len(ratios)/2], len(ratios), formatRatios(ratios))
	return nil
}

func formatRatios(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.FormatFloat(r, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

var (
	wrkRate    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkLatency = regexp.MustCompile(`Latency\s+(\S+)\s+(\S+)\s+(\S+)`)
	wrkErrors  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)|Socket errors: .*`)
)

// wrkLoad runs wrk against base, each request a POST of body to the next of targets in turn,
// and returns its requests per second and its latency line.
func wrkLoad(ctx context.Context, wrk, base string, targets []string, body string, concurrency int, d time.Duration) (float64, string, error) {
	dir, err := os.MkdirTemp("", "citysandbox-bench")
	if err != nil {
		return 0, "", fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	var script bytes.Buffer
	script.WriteString("local paths = {\n")
	for _, t := range targets {
		fmt.Fprintf(&script, "  %q,\n", t)
	}
	fmt.Fprintf(&script, "}\nlocal i = 0\nwrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = \"application/json\"\n", body)
	script.WriteString("request = function()\n  i = i + 1\n  return wrk.format(nil, paths[(i % #paths) + 1])\nend\n")
	path := filepath.Join(dir, "namespaces.lua")
	if err := os.WriteFile(path, script.Bytes(), 0o644); err != nil {
		return 0, "", fmt.Errorf("bench: %w", err)
	}
	threads := min(concurrency, max(1, runtime.NumCPU()))
	out, err := exec.CommandContext(ctx, wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(concurrency),
		"-d", strconv.Itoa(max(1, int(d.Seconds())))+"s", "-s", path, base).CombinedOutput()
	if err != nil {
		return 0, "", fmt.Errorf("bench: wrk: %w\n%s", err, out)
	}
	if m := wrkErrors.FindSubmatch(out); m != nil {
		return 0, "", fmt.Errorf("bench: wrk saw failures: %s\n%s", m[0], out)
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		return 0, "", fmt.Errorf("bench: no rate in wrk's output:\n%s", out)
	}
	rate, _ := strconv.ParseFloat(string(m[1]), 64)
	lat := ""
	if l := wrkLatency.FindSubmatch(out); l != nil {
		lat = fmt.Sprintf("latency avg %s, stdev %s, max %s", l[1], l[2], l[3])
	}
	return rate, lat, nil
}
