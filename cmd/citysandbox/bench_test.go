package main

import (
	"io"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBenchPrintsEveryCaseAndItsRatio runs bench briefly, with its load from a child process and,
// when wrk is on PATH, from wrk, and checks the shape of what it prints: every case of every
// round without errors with the server's CPU time per request, the medians and each case's
// ratios to the bare handler (of requests per second, and of CPU per request). The figures
// themselves are not checked.
func TestBenchPrintsEveryCaseAndItsRatio(t *testing.T) {
	t.Parallel()
	runs := map[string][]string{
		"child": {"bench", "--load", "child", "--duration", "200ms", "--rounds", "2", "--concurrency", "4"},
	}
	if _, err := exec.LookPath("wrk"); err == nil {
		runs["wrk"] = []string{"bench", "--load", "wrk", "--duration", "1s", "--rounds", "1", "--concurrency", "4", "--cases", "read"}
	} else {
		t.Log("wrk is not on PATH: only the child-process load generator is tried")
	}
	for name, args := range runs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := launchChild(t, args...)
			out, _ := io.ReadAll(c.stdout)
			if err := c.wait(); err != nil {
				t.Fatalf("citysandbox %s: %v\n%s\n%s", strings.Join(args, " "), err, out, c.stderr)
			}
			text := string(out)
			if name == "wrk" && !strings.Contains(text, "load from wrk -t1") {
				t.Errorf("the load did not come from wrk:\n%s", text)
			}
			// The server's CPU per request comes from /proc: a figure on Linux, "-" elsewhere.
			cpu, cpuRatio := `[0-9]+\.[0-9]µs`, `[0-9]+\.[0-9][0-9]`
			if runtime.GOOS != "linux" {
				cpu, cpuRatio = `-`, `-`
			}
			rounds := 2
			cases := []string{"bare gin, same JSON", "authenticated read (quota/get)", "authenticated write (qrcode/create)", "token issuance (GET /cgi-bin/token)"}
			if name == "wrk" {
				rounds, cases = 1, cases[:2]
			}
			for r := 1; r <= rounds; r++ {
				for _, label := range cases {
					row := regexp.MustCompile(`(?m)^` + strconv.Itoa(r) + ` +` + regexp.QuoteMeta(label) + ` +[1-9][0-9]* +\S+ +\S+ +0 +` + cpu + `$`)
					if !row.MatchString(text) {
						t.Errorf("no error-free row for %q in round %d:\n%s", label, r, text)
					}
				}
			}
			for _, label := range cases[1:] {
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + ` +[1-9][0-9]* +\S+ +\S+ +[0-9]+\.[0-9][0-9] +` + cpu + ` +` + cpuRatio + `$`).MatchString(text) {
					t.Errorf("no median row with a ratio for %q:\n%s", label, text)
				}
			}
		})
	}
}

// TestParseWrk reads a report as wrk prints it.
func TestParseWrk(t *testing.T) {
	t.Parallel()
	const report = `Running 1s test @ http://127.0.0.1:18999/cgi-bin/openapi/quota/get
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.11ms   12.06ms  83.55ms   91.92%
    Req/Sec    10.82k     8.00k   28.80k    80.00%
  Latency Distribution
     50%  200.00us
     75%    1.13ms
     90%   10.53ms
     99%   68.50ms
  10928 requests in 1.03s, 1.32MB read
  Socket errors: connect 0, read 2, write 1, timeout 0
  Non-2xx or 3xx responses: 10
Requests/sec:  10610.96
Transfer/sec:      1.29MB
`
	res, err := parseWrk(report)
	if err != nil {
		t.Fatal(err)
	}
	if res.RPS != 10610.96 || res.P50 != 200*time.Microsecond || res.P99 != 68500*time.Microsecond || res.Errors != 13 {
		t.Errorf("parseWrk = %+v", res)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("a report without Requests/sec was read")
	}
}
