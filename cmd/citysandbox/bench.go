package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// bench serves the sandbox (this binary's serve command, on a data file) and a bare gin handler
// answering the same JSON, each in its own process, and drives load at them from a third: wrk
// when it is on PATH, otherwise this binary's hidden bench-load command. The cases run in
// rounds, each round measuring the bare handler too, and the medians and ratios are printed.
// With --startup it also measures how soon a fresh binary answers health and its idle RSS; --soak
// and --records run the long-running checks instead.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench")
	fs.SetOutput(stderr)
	concurrency := fs.Int("concurrency", 32, "concurrent connections")
	duration := fs.Duration("duration", 4*time.Second, "how long each case runs in each round (wrk counts whole seconds)")
	rounds := fs.Int("rounds", 3, "rounds of all cases, each beside a run of the bare handler; medians are printed")
	cases := fs.String("cases", "read,write,token", "comma-separated cases: read, write (a new code each call), rewrite (a permanent scene asked for again), token")
	loader := fs.String("load", "auto", `load generator: "wrk", "child" (this binary in another process) or "auto" (wrk when on PATH)`)
	syncPolicy := fs.String("sync", "second", "the served sandbox's --sync")
	startup := fs.Bool("startup", false, "also measure the binary's time to first healthy answer (median of 5) and idle RSS")
	soak := fs.Duration("soak", 0, "instead: mixed load at the maximum rate for this long against a served binary on a data file, RSS and file size each minute")
	records := fs.Int("records", 0, "instead: this many token calls, then a 3-hour clock move, and the share of the records they added still stored")
	namespaces := fs.Int("namespaces", 0, "instead: measure namespaces (creation, idle memory, reads spread over N namespaces against one)")
	if err := parseFlags(fs, args, stdout, false); err != nil {
		return err
	}
	if *concurrency < 1 || *duration <= 0 || *rounds < 1 {
		return fmt.Errorf("bench: --concurrency, --duration and --rounds must be positive")
	}
	switch {
	case *namespaces > 0:
		return benchNamespaces(ctx, *namespaces, *concurrency, *rounds, *duration, stdout)
	case *soak > 0:
		return benchSoak(ctx, *soak, *concurrency, stdout)
	case *records > 0:
		return benchRecords(ctx, *records, *concurrency, stdout)
	}
	gen, err := pickLoader(*loader)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "citysandbox-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	sb, err := startBenchChild(ctx, "/_sandbox/health", "serve", "--data", filepath.Join(dir, "citysandbox.db"), "--log-level", "error", "--sync", *syncPolicy)
	if err != nil {
		return err
	}
	defer sb.stop()
	client := &http.Client{Timeout: 10 * time.Second}
	app, err := createApp(client, sb.url())
	if err != nil {
		return err
	}
	tok, err := fetchToken(client, sb.url(), app.AppID, app.Secret)
	if err != nil {
		return err
	}
	// The token case issues another app's tokens: each call supersedes the app's token, and
	// only the one before stays valid, so the reads and writes keep a token of their own.
	issuer, err := createApp(client, sb.url())
	if err != nil {
		return err
	}
	readBody := `{"cgi_path":"/cgi-bin/token"}`
	// The bare handler answers exactly what the sandbox's read answers.
	sample, err := post(client, sb.url()+"/cgi-bin/openapi/quota/get?access_token="+tok, []byte(readBody))
	if err != nil {
		return err
	}
	bare, err := startBenchChild(ctx, "/_sandbox/health", "bench-bare", "--body", string(sample))
	if err != nil {
		return err
	}
	defer bare.stop()

	names := []string{"bare"}
	for _, name := range strings.Split(*cases, ",") {
		name = strings.TrimSpace(name)
		if name != "read" && name != "write" && name != "rewrite" && name != "token" {
			return fmt.Errorf("bench: unknown case %q", name)
		}
		names = append(names, name)
	}
	labels := map[string]string{
		"bare": "bare gin, same JSON", "token": "token issuance (GET /cgi-bin/token)",
		"read": "authenticated read (quota/get)", "write": "authenticated write (qrcode/create)",
		"rewrite": "permanent scene again (qrcode/create)",
	}
	fmt.Fprintf(stdout, "citysandbox bench: load from %s, %d connections, %s per case, %d rounds; sandbox (--sync %s), bare gin and load each in its own process; %d CPUs\n",
		gen.name(), *concurrency, *duration, *rounds, *syncPolicy, runtime.NumCPU())
	fmt.Fprintf(stdout, "%-5s %-38s %10s %10s %10s %7s %9s\n", "round", "case", "req/s", "p50", "p99", "errors", "CPU/req")
	all := map[string][]loadResult{}
	ratios := map[string][]float64{}
	// cpuRatios compare the server's CPU time per request, bare over sandbox: the throughput
	// ratio of a server that has the CPU to itself, which holds when the machine's CPUs are shared
	// with other guests (steal time) and requests per second swing with them.
	cpuRatios := map[string][]float64{}
	for r := range *rounds {
		specs := map[string]loadSpec{
			"bare": {Method: "POST", URL: bare.url() + "/cgi-bin/openapi/quota/get?access_token=" + tok, Body: readBody},
			"read": {Method: "POST", URL: sb.url() + "/cgi-bin/openapi/quota/get?access_token=" + tok, Body: readBody},
			// Every write stores a new code: a temporary code is never deduplicated (a permanent
			// scene asked for again is answered with the code it has, a read: rewrite).
			"write":   {Method: "POST", URL: sb.url() + "/cgi-bin/qrcode/create?access_token=" + tok, Body: `{"expire_seconds":600,"action_name":"QR_STR_SCENE","action_info":{"scene":{"scene_str":"bench-%d"}}}`},
			"rewrite": {Method: "POST", URL: sb.url() + "/cgi-bin/qrcode/create?access_token=" + tok, Body: `{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"bench-%d"}}}`},
			"token":   {Method: "GET", URL: sb.url() + "/cgi-bin/token?grant_type=client_credential&appid=" + issuer.AppID + "&secret=" + issuer.Secret},
		}
		var bareRPS float64
		var bareCPU time.Duration
		for _, name := range names {
			s := specs[name]
			s.Concurrency, s.Duration = *concurrency, *duration
			if err := checkOnce(client, s); err != nil {
				return fmt.Errorf("bench: %s: %w", name, err)
			}
			server := sb
			if name == "bare" {
				server = bare
			}
			before := cpuTime(server.cmd.Process.Pid)
			res, err := gen.run(ctx, s)
			if err != nil {
				return fmt.Errorf("bench: %s: %w", name, err)
			}
			if n := res.RPS * s.Duration.Seconds(); n > 0 && before >= 0 {
				res.CPUPerRequest = time.Duration(float64(cpuTime(server.cmd.Process.Pid)-before) / n)
			}
			all[name] = append(all[name], res)
			if name == "bare" {
				bareRPS, bareCPU = res.RPS, res.CPUPerRequest
			} else {
				if bareRPS > 0 {
					ratios[name] = append(ratios[name], res.RPS/bareRPS)
				}
				if res.CPUPerRequest > 0 {
					cpuRatios[name] = append(cpuRatios[name], float64(bareCPU)/float64(res.CPUPerRequest))
				}
			}
			fmt.Fprintf(stdout, "%-5d %-38s %10.0f %10s %10s %7d %9s\n", r+1, labels[name], res.RPS, res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond), res.Errors, cpuString(res.CPUPerRequest))
		}
		fmt.Fprintf(stdout, "%-5d sandbox RSS %s, data file %s\n", r+1, rss(sb.cmd.Process.Pid), fileSize(filepath.Join(dir, "citysandbox.db")))
	}
	fmt.Fprintf(stdout, "median of %d rounds:\n", *rounds)
	fmt.Fprintf(stdout, "%-44s %10s %10s %10s %9s %9s %9s\n", "case", "req/s", "p50", "p99", "/ bare", "CPU/req", "CPU bare/")
	for _, name := range names {
		res := all[name]
		rps := median(res, func(r loadResult) float64 { return r.RPS })
		p50 := time.Duration(median(res, func(r loadResult) float64 { return float64(r.P50) }))
		p99 := time.Duration(median(res, func(r loadResult) float64 { return float64(r.P99) }))
		cpu := time.Duration(median(res, func(r loadResult) float64 { return float64(r.CPUPerRequest) }))
		ratio, cpuRatio := "1.00", "1.00"
		if name != "bare" {
			ratio = fmt.Sprintf("%.2f", medianOf(ratios[name]))
			cpuRatio = "-"
			if len(cpuRatios[name]) > 0 {
				cpuRatio = fmt.Sprintf("%.2f", medianOf(cpuRatios[name]))
			}
		}
		fmt.Fprintf(stdout, "%-44s %10.0f %10s %10s %9s %9s %9s\n", labels[name], rps, p50.Round(time.Microsecond), p99.Round(time.Microsecond), ratio, cpuString(cpu), cpuRatio)
	}
	if *startup {
		return measureStartup(stdout, 5)
	}
	return nil
}

// loadGen is where the load comes from.
type loadGen interface {
	name() string
	run(ctx context.Context, s loadSpec) (loadResult, error)
}

func pickLoader(choice string) (loadGen, error) {
	switch choice {
	case "wrk", "auto":
		if path, err := exec.LookPath("wrk"); err == nil {
			return wrkGen{path}, nil
		} else if choice == "wrk" {
			return nil, fmt.Errorf("bench: --load wrk: %w", err)
		}
		return childGen{}, nil
	case "child":
		return childGen{}, nil
	}
	return nil, fmt.Errorf("bench: --load %q: want wrk, child or auto", choice)
}

// childGen is this binary's bench-load command, in its own process.
type childGen struct{}

func (childGen) name() string { return "citysandbox bench-load (a child process)" }

func (childGen) run(ctx context.Context, s loadSpec) (loadResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return loadResult{}, err
	}
	spec, _ := json.Marshal(s)
	cmd := exec.CommandContext(ctx, exe, "bench-load", string(spec))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return loadResult{}, fmt.Errorf("bench-load: %w: %s", err, stderr.Bytes())
	}
	var res loadResult
	if err := json.Unmarshal(out, &res); err != nil {
		return loadResult{}, fmt.Errorf("bench-load: %w: %s", err, out)
	}
	return res, nil
}

// wrkGen is wrk with one thread, as the measurements were made.
type wrkGen struct{ path string }

func (wrkGen) name() string { return "wrk -t1" }

func (w wrkGen) run(ctx context.Context, s loadSpec) (loadResult, error) {
	script, err := os.CreateTemp("", "citysandbox-wrk-*.lua")
	if err != nil {
		return loadResult{}, err
	}
	defer os.Remove(script.Name())
	fmt.Fprintf(script, "wrk.method = %q\nwrk.headers[\"Content-Type\"] = \"application/json\"\n", s.Method)
	if strings.Contains(s.Body, "%d") {
		fmt.Fprintf(script, "local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, nil, nil, string.format(%q, n %% 90000))\nend\n", s.Body)
	} else if s.Body != "" {
		fmt.Fprintf(script, "wrk.body = %q\n", s.Body)
	}
	if err := script.Close(); err != nil {
		return loadResult{}, err
	}
	secs := max(1, int(s.Duration.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, w.path, "-t1", "-c"+strconv.Itoa(s.Concurrency), "-d"+strconv.Itoa(secs)+"s", "--latency", "-s", script.Name(), s.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return loadResult{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(string(out))
}

// parseWrk reads requests per second, the 50 % and 99 % latencies and the errors from wrk's
// report.
func parseWrk(out string) (loadResult, error) {
	var res loadResult
	found := false
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return res, fmt.Errorf("wrk: %q: %w", line, err)
			}
			res.RPS, found = v, true
		case len(f) == 2 && f[0] == "50%":
			res.P50 = wrkDuration(f[1])
		case len(f) == 2 && f[0] == "99%":
			res.P99 = wrkDuration(f[1])
		case len(f) == 5 && f[0] == "Non-2xx":
			n, _ := strconv.Atoi(f[4])
			res.Errors += n
		case len(f) >= 3 && f[0] == "Socket" && f[1] == "errors:":
			for i := 2; i+1 < len(f); i += 2 {
				n, _ := strconv.Atoi(strings.TrimSuffix(f[i+1], ","))
				res.Errors += n
			}
		}
	}
	if !found {
		return res, fmt.Errorf("wrk: no Requests/sec in %q", out)
	}
	return res, nil
}

// wrkDuration reads wrk's latencies: 312.00us, 1.20ms, 2.00s.
func wrkDuration(s string) time.Duration {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0
			}
			return time.Duration(f * float64(u.unit))
		}
	}
	return 0
}

// checkOnce sends one request of the case and wants a 200 without a WeChat error, so that a
// broken case is not measured as a fast one.
func checkOnce(client *http.Client, s loadSpec) error {
	body := s.Body
	if strings.Contains(body, "%d") {
		body = fmt.Sprintf(body, 90000) // outside the counter's range: a code of its own
	}
	req, err := http.NewRequest(s.Method, s.URL, strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || bytes.Contains(raw, []byte(`"errcode":4`)) {
		return fmt.Errorf("%s %s answered %d %s", s.Method, s.URL, resp.StatusCode, raw)
	}
	return nil
}

func median(rs []loadResult, f func(loadResult) float64) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	return medianOf(vs)
}

func medianOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = append([]float64(nil), vs...)
	sort.Float64s(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

// load runs mk's requests from concurrency clients for d and summarises them.
func load(ctx context.Context, client *http.Client, mk func() (*http.Request, error), concurrency int, d time.Duration) result {
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var all []time.Duration
	errors := 0
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				req, err := mk()
				if err != nil {
					bad++
					continue
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					bad++
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
				if resp.StatusCode != 200 || bytes.Contains(body, []byte(`"errcode":4`)) {
					bad++
				}
			}
			mu.Lock()
			all = append(all, mine...)
			errors += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	return result{rps: float64(len(all)) / elapsed.Seconds(), p50: pct(0.50), p99: pct(0.99), errors: errors}
}

func post(client *http.Client, url string, body []byte) ([]byte, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// benchApp is an app created for the bench through the control plane.
type benchApp struct {
	AppID  string `json:"appid"`
	Secret string `json:"secret"`
}

// createApp makes an unlimited-tier official account, so that quota never runs out.
func createApp(client *http.Client, base string) (benchApp, error) {
	raw, err := post(client, base+"/_sandbox/wechat/apps", []byte(`{"type":"official_account","tier":"unlimited"}`))
	if err != nil {
		return benchApp{}, err
	}
	var app benchApp
	if err := json.Unmarshal(raw, &app); err != nil || app.AppID == "" {
		return benchApp{}, fmt.Errorf("bench: create app: %s", raw)
	}
	return app, nil
}

func fetchToken(client *http.Client, base, appid, secret string) (string, error) {
	resp, err := client.Get(base + "/cgi-bin/token?grant_type=client_credential&appid=" + appid + "&secret=" + secret)
	if err != nil {
		return "", fmt.Errorf("bench: token: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	_, rest, ok := strings.Cut(string(raw), `"access_token":"`)
	tok, _, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 {
		return "", fmt.Errorf("bench: no token in %s", raw)
	}
	return tok, nil
}

// measureStartup runs this binary's serve command n times and reports the median time to the
// first 200 on /_sandbox/health, the median time to the first answer of a platform API (which
// may wait for the documents to parse), and the resident memory of the last once idle.
func measureStartup(stdout io.Writer, n int) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var times, platform []float64
	idle := "unknown"
	for i := range n {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		cmd := exec.Command(exe, "serve", "--addr", addr, "--data", ":memory:", "--log-level", "error")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("bench: start: %w", err)
		}
		_, err = waitHealthy("http://"+addr+"/_sandbox/health", 10*time.Second)
		ready := time.Since(start)
		if err == nil {
			// The OpenAPI documents parse in the background: the first call that is validated
			// against one may wait for it.
			_, err = waitHealthy("http://"+addr+"/cgi-bin/token?grant_type=client_credential&appid=wx0000000000000000&secret=x", 10*time.Second)
			platform = append(platform, float64(time.Since(start)))
		}
		if err == nil && i == n-1 {
			time.Sleep(2 * time.Second)
			idle = rss(cmd.Process.Pid)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if err != nil {
			return fmt.Errorf("bench: the binary: %w", err)
		}
		times = append(times, float64(ready))
	}
	sort.Float64s(times)
	sort.Float64s(platform)
	fmt.Fprintf(stdout, "startup: first 200 on /_sandbox/health after %s (median of %d; %s to %s); first platform answer (/cgi-bin/token) after %s; idle RSS %s\n",
		time.Duration(medianOf(times)).Round(100*time.Microsecond), n,
		time.Duration(times[0]).Round(100*time.Microsecond), time.Duration(times[len(times)-1]).Round(100*time.Microsecond),
		time.Duration(medianOf(platform)).Round(100*time.Microsecond), idle)
	return nil
}

func rss(pid int) string {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:"))
		}
	}
	return "unknown"
}

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// cpuTime returns the CPU time (user and system) the process has used, or -1 where /proc does
// not say.
func cpuTime(pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The command name, field 2, is in parentheses and may hold spaces: count from after it.
	_, rest, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// cpuString shows a CPU time per request, or "-" when it is unknown.
func cpuString(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
}

func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MiB", float64(fi.Size())/(1<<20))
}
