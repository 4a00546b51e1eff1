package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/citysandbox/citysandbox/sandbox"
)

// bench drives load over loopback against an in-process sandbox and, in the same run, a bare gin
// handler that answers the same JSON, and prints throughput, p50 and p99 for each case. With
// --startup it also measures how soon a fresh binary answers health and its idle RSS.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	concurrency := fs.Int("concurrency", 16, "concurrent clients")
	duration := fs.Duration("duration", 5*time.Second, "how long each case runs")
	rounds := fs.Int("rounds", 1, "how many times to run the authenticated read (memory is printed after each)")
	cases := fs.String("cases", "bare,token,read,write", "comma-separated cases: bare, token, read, write")
	startup := fs.Bool("startup", false, "also measure the binary's time to first healthy answer and idle RSS")
	namespaces := fs.Int("namespaces", 0, "instead: measure namespaces (creation, idle memory, reads spread over N namespaces against one)")
	if err := parseFlags(fs, args, stdout, false); err != nil {
		return err
	}
	if *concurrency < 1 || *duration <= 0 || *rounds < 1 {
		return fmt.Errorf("bench: --concurrency, --duration and --rounds must be positive")
	}
	if *namespaces > 0 {
		return benchNamespaces(ctx, *namespaces, *concurrency, *rounds, *duration, stdout)
	}
	sb, err := sandbox.New(sandbox.WithSeed(1))
	if err != nil {
		return err
	}
	defer sb.Close()
	app, err := sb.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "official_account", Tier: "unlimited"})
	if err != nil {
		return err
	}
	sbURL, stopSB, err := serveLoopback(ctx, sb.Handler())
	if err != nil {
		return err
	}
	defer stopSB()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency * 2, MaxConnsPerHost: *concurrency * 2}}
	tok, err := fetchToken(client, sbURL, app.AppID, app.Secret)
	if err != nil {
		return err
	}
	readBody := []byte(`{"cgi_path":"/cgi-bin/token"}`)
	// The bare handler answers exactly what the sandbox's read answers.
	sample, err := post(client, sbURL+"/cgi-bin/openapi/quota/get?access_token="+tok, readBody)
	if err != nil {
		return err
	}
	bare := gin.New()
	bare.POST("/cgi-bin/openapi/quota/get", func(c *gin.Context) {
		_, _ = io.Copy(io.Discard, c.Request.Body)
		c.Data(http.StatusOK, "application/json; encoding=utf-8", sample)
	})
	bareURL, stopBare, err := serveLoopback(ctx, bare)
	if err != nil {
		return err
	}
	defer stopBare()

	var seq sync.Mutex
	n := 0
	next := func() int { seq.Lock(); defer seq.Unlock(); n++; return n }
	runs := map[string]func() (*http.Request, error){
		"bare": func() (*http.Request, error) {
			return http.NewRequest("POST", bareURL+"/cgi-bin/openapi/quota/get?access_token="+tok, bytes.NewReader(readBody))
		},
		"token": func() (*http.Request, error) {
			return http.NewRequest("GET", sbURL+"/cgi-bin/token?grant_type=client_credential&appid="+app.AppID+"&secret="+app.Secret, nil)
		},
		"read": func() (*http.Request, error) {
			return http.NewRequest("POST", sbURL+"/cgi-bin/openapi/quota/get?access_token="+tok, bytes.NewReader(readBody))
		},
		"write": func() (*http.Request, error) {
			body := fmt.Sprintf(`{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"bench-%d"}}}`, next()%90000)
			return http.NewRequest("POST", sbURL+"/cgi-bin/qrcode/create?access_token="+tok, strings.NewReader(body))
		},
	}
	labels := map[string]string{
		"bare": "bare gin, same JSON", "token": "token issuance (GET /cgi-bin/token)",
		"read": "authenticated read (quota/get)", "write": "authenticated write (qrcode/create)",
	}
	fmt.Fprintf(stdout, "citysandbox bench: %d clients, %s per case, GOMAXPROCS=%d, loopback HTTP/1.1\n", *concurrency, *duration, runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "%-40s %12s %10s %10s %8s\n", "case", "req/s", "p50", "p99", "errors")
	results := map[string]result{}
	for _, name := range strings.Split(*cases, ",") {
		name = strings.TrimSpace(name)
		mk, ok := runs[name]
		if !ok {
			return fmt.Errorf("bench: unknown case %q", name)
		}
		times := 1
		if name == "read" {
			times = *rounds
		}
		for r := range times {
			res := load(ctx, client, mk, *concurrency, *duration)
			results[name] = res
			label := labels[name]
			if times > 1 {
				label += fmt.Sprintf(" #%d", r+1)
			}
			fmt.Fprintf(stdout, "%-40s %12.0f %10s %10s %8d\n", label, res.rps, res.p50.Round(time.Microsecond), res.p99.Round(time.Microsecond), res.errors)
			if times > 1 {
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				fmt.Fprintf(stdout, "%-40s heap in use after GC: %.1f MiB\n", "", float64(ms.HeapInuse)/(1<<20))
			}
		}
	}
	if b, r := results["bare"], results["read"]; b.rps > 0 && r.rps > 0 {
		fmt.Fprintf(stdout, "authenticated read / bare handler: %.0f %%\n", 100*r.rps/b.rps)
	}
	if *startup {
		return measureStartup(stdout)
	}
	return nil
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

func serveLoopback(ctx context.Context, h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("bench: listen: %w", err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Shutdown(ctx) }, nil
}

func post(client *http.Client, url string, body []byte) ([]byte, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
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

// measureStartup runs this binary's serve command and reports the time to the first 200 on
// /_sandbox/health and the resident memory once idle.
func measureStartup(stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(exe, "serve", "--addr", addr, "--data", ":memory:", "--log-level", "error")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bench: start: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	client := &http.Client{Timeout: 100 * time.Millisecond}
	var ready time.Duration
	for time.Since(start) < 10*time.Second {
		resp, err := client.Get("http://" + addr + "/_sandbox/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ready = time.Since(start)
				break
			}
		}
		time.Sleep(time.Millisecond)
	}
	if ready == 0 {
		return fmt.Errorf("bench: the binary did not answer health within 10 s")
	}
	time.Sleep(2 * time.Second)
	fmt.Fprintf(stdout, "startup: first 200 on /_sandbox/health after %s; idle RSS %s\n", ready.Round(time.Millisecond), rss(cmd.Process.Pid))
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
