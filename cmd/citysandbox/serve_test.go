package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// served is a `citysandbox serve` running in-process for a test.
type served struct {
	base        string // http://127.0.0.1:<port>
	out, errOut *syncBuffer
}

// startServe runs serve with args (a free loopback port and a state in memory are added) and
// waits for the whole banner; the server stops when the test ends.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{out: &syncBuffer{}, errOut: &syncBuffer{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", ":memory:"}, args...), s.out, s.errOut)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+) `)
	// The banner's last line is the forward proxy's (no --tls-addr here).
	complete := regexp.MustCompile(`\nforward proxy: [^\n]*\n\z`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(s.out.String()); m != nil && complete.MatchString(s.out.String()) {
			s.base = m[1]
			return s
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s%s", err, s.out, s.errOut)
		default:
		}
	}
	t.Fatalf("no complete banner:\n%s\n%s", s.out, s.errOut)
	return nil
}

// get sends a GET with header, returning the status and body.
func (s *served) get(t *testing.T, url string, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestServeLogsJSON: serve --log-format json writes one JSON object a line to stderr, the
// request's line among them with its errcode and reason.
func TestServeLogsJSON(t *testing.T) {
	s := startServe(t, "--log-format", "json")
	status, body := s.get(t, s.base+"/cgi-bin/token?grant_type=client_credential&appid=wx5a1d0c0e00000001&secret=wrong", nil)
	if status != http.StatusOK || !strings.Contains(string(body), `"errcode":40125`) {
		t.Fatalf("token: %d %s", status, body)
	}
	var line map[string]any
	for deadline := time.Now().Add(10 * time.Second); line == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(s.errOut.String()))
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("stderr line %q is not JSON: %v", sc.Text(), err)
			}
			if m["msg"] == "request" && m["path"] == "/cgi-bin/token" {
				line = m
			}
		}
	}
	if line == nil {
		t.Fatalf("no request line on stderr:\n%s", s.errOut)
	}
	if line["level"] != "INFO" || line["errcode"] != float64(40125) || line["appid"] != "wx5a1d0c0e00000001" || line["reason"] == nil || line["rid"] == nil {
		t.Errorf("request line = %v", line)
	}
}

// TestBannerURLsAnswer: every http URL the banner prints (but those with a placeholder, such as
// /ns/<name>/…) answers GET with 200, with and without --admin-token (with it, the request
// carries the token).
func TestBannerURLsAnswer(t *testing.T) {
	urlRE := regexp.MustCompile(`http://[^\s,()]+`)
	for _, token := range []string{"", "banner-secret"} {
		t.Run("token="+token, func(t *testing.T) {
			var args []string
			var header http.Header
			if token != "" {
				args = []string{"--admin-token", token}
				header = http.Header{"Authorization": {"Bearer " + token}}
			}
			s := startServe(t, args...)
			urls := map[string]bool{}
			for _, u := range urlRE.FindAllString(s.out.String(), -1) {
				if strings.ContainsAny(u, "<>…") {
					continue
				}
				urls[u] = true
			}
			for _, want := range []string{"/_sandbox/", "/_sandbox/health", "/jincheng/", "/jincheng/app/", "/_sandbox/ca.pem"} {
				if !urls[s.base+want] {
					t.Errorf("the banner does not print %s%s:\n%s", s.base, want, s.out)
				}
			}
			for u := range urls {
				if status, body := s.get(t, u, header); status != http.StatusOK {
					t.Errorf("GET %s = %d %.200s", u, status, body)
				}
			}
		})
	}
}
