package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// requireNginx is set by CI, where a missing nginx fails the scale-out test instead of skipping
// it.
const requireNginx = "CITYSANDBOX_REQUIRE_NGINX"

// TestNginxScaleOut runs two sandboxes behind the shipped nginx configuration: namespaces
// created through the proxy each live on one instance, every request for one (by path or by
// host) lands there, and an instance's restart keeps its namespaces behind the proxy.
func TestNginxScaleOut(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		nginx, err = exec.LookPath("/usr/sbin/nginx")
	}
	if err != nil {
		if os.Getenv(requireNginx) == "1" {
			t.Fatalf("nginx is not installed (%s=1)", requireNginx)
		}
		t.Skip("nginx is not installed")
	}
	dir := t.TempDir()
	instance := func(name, addr string) (*child, []string) {
		args := []string{"serve", "--addr", addr, "--data", filepath.Join(dir, name, "root.db"), "--data-dir", filepath.Join(dir, name, "namespaces")}
		return startChild(t, args...), args
	}
	a, aArgs := instance("a", "127.0.0.1:0")
	b, _ := instance("b", "127.0.0.1:0")
	proxy := startNginx(t, nginx, filepath.Join(dir, "nginx"), hostPort(t, a.URL), hostPort(t, b.URL))

	if status, v := proxy.call("POST", "/_sandbox/namespaces", `{"name":"posted"}`); status != http.StatusConflict || v["error"].(map[string]any)["code"] != "use_put" {
		t.Errorf("POST through the proxy = %d %v, want 409 use_put", status, v)
	}
	var names []string
	for i := range 12 {
		name := fmt.Sprintf("run-%d", i)
		names = append(names, name)
		proxy.mustCall("PUT", "/_sandbox/namespaces/"+name, fmt.Sprintf(`{"seed":%d,"clock":"2026-03-02T10:00:00+08:00"}`, i+1))
	}
	// Each instance holds some of them, and together all, once.
	held := map[string]*child{}
	for _, c := range []*child{a, b} {
		for _, ns := range c.mustCall("GET", "/_sandbox/namespaces", "")["namespaces"].([]any) {
			name := ns.(map[string]any)["name"].(string)
			if held[name] != nil {
				t.Errorf("namespace %s is on both instances", name)
			}
			held[name] = c
		}
	}
	if len(held) != len(names) {
		t.Fatalf("the instances hold %d namespaces, want %d", len(held), len(names))
	}
	t.Logf("on a: %d, on b: %d", countOn(held, a), countOn(held, b))

	// Every request for a namespace, by path or by host, reaches the instance that holds it.
	proxyHost := hostPort(t, proxy.URL)
	token := "/cgi-bin/token?grant_type=client_credential&appid=wx5a1d0c0e00000001&secret=5a1d0c0e5a1d0c0e5a1d0c0e00000001"
	const rounds = 4
	for _, name := range names {
		for i := range rounds {
			v := proxy.mustCall("GET", "/ns/"+name+token, "")
			if v["access_token"] == nil {
				t.Errorf("token in %s by path: %v", name, v)
			}
			_, v = proxy.callHost("GET", token, name+".ns."+proxyHost)
			if v["access_token"] == nil {
				t.Errorf("token in %s by host, round %d: %v", name, i, v)
			}
		}
	}
	hashes := map[string]any{}
	for _, name := range names {
		journal := held[name].mustCall("GET", "/ns/"+name+"/_sandbox/requests?path=/cgi-bin/token", "")
		if n := journal["count"]; n != float64(2*rounds) {
			t.Errorf("%s's instance journaled %v token requests, want %d", name, n, 2*rounds)
		}
		hashes[name] = proxy.mustCall("GET", "/ns/"+name+"/_sandbox/state", "")["hash"]
	}
	for _, c := range []*child{a, b} {
		if j := c.mustCall("GET", "/_sandbox/requests?path=/ns/*", ""); j["count"] != float64(0) {
			t.Errorf("an instance refused requests for namespaces it lacks: %v", j)
		}
	}

	// The default namespace lives on one instance too.
	for range 3 {
		proxy.mustCall("GET", token, "")
	}
	counts := []any{a.mustCall("GET", "/_sandbox/requests?path=/cgi-bin/token", "")["count"], b.mustCall("GET", "/_sandbox/requests?path=/cgi-bin/token", "")["count"]}
	if !slices.Equal(counts, []any{float64(3), float64(0)}) && !slices.Equal(counts, []any{float64(0), float64(3)}) {
		t.Errorf("root token requests per instance = %v, want all 3 on one", counts)
	}

	// Restart a (killed, as a crash would): behind the proxy its namespaces come back as they were.
	a.kill()
	if status, _ := proxy.callRaw("GET", "/ns/"+firstOn(held, names, a)+"/_sandbox/clock", ""); countOn(held, a) > 0 && status != http.StatusBadGateway {
		t.Errorf("a namespace of the stopped instance answered %d, want 502 (never another instance)", status)
	}
	aArgs[2] = hostPort(t, a.URL)
	a = startChild(t, aArgs...)
	for _, name := range names {
		if got := proxy.mustCall("GET", "/ns/"+name+"/_sandbox/state", "")["hash"]; got != hashes[name] {
			t.Errorf("%s after a's restart: state hash %v, want %v", name, got, hashes[name])
		}
	}
	_ = a
}

func countOn(held map[string]*child, c *child) int {
	n := 0
	for _, h := range held {
		if h == c {
			n++
		}
	}
	return n
}

func firstOn(held map[string]*child, names []string, c *child) string {
	for _, n := range names {
		if held[n] == c {
			return n
		}
	}
	return names[0]
}

func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// startNginx runs nginx in the foreground with the shipped configuration, its upstreams
// replaced by the given instances and its listener by a free loopback port, and waits until it
// answers. It is stopped when the test ends.
func startNginx(t *testing.T, nginx, dir string, upstreams ...string) *child {
	t.Helper()
	shipped, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nginx", "citysandbox.conf"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	conf := string(shipped)
	for old, repl := range map[string]string{
		"server 127.0.0.1:8851 ": "server " + upstreams[0] + " ",
		"server 127.0.0.1:8852 ": "server " + upstreams[1] + " ",
		"listen 127.0.0.1:8844;": "listen " + listen + ";",
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("deploy/nginx/citysandbox.conf has no %q to point at the test's instances", old)
		}
		conf = strings.Replace(conf, old, repl, 1)
	}
	if err := os.MkdirAll(filepath.Join(dir, "temp"), 0o755); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n" // the workers must reach the test's temporary directory
	}
	main := user + `daemon off;
worker_processes 1;
pid ` + filepath.Join(dir, "nginx.pid") + `;
error_log ` + filepath.Join(dir, "error.log") + ` warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ` + filepath.Join(dir, "temp") + `;
    proxy_temp_path ` + filepath.Join(dir, "temp") + `;
    fastcgi_temp_path ` + filepath.Join(dir, "temp") + `;
    uwsgi_temp_path ` + filepath.Join(dir, "temp") + `;
    scgi_temp_path ` + filepath.Join(dir, "temp") + `;
    include citysandbox.conf;
}
`
	for name, content := range map[string]string{"nginx.conf": main, "citysandbox.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt) // nginx: SIGINT is a fast shutdown
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	c := &child{t: t, URL: "http://" + listen}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if status, _ := c.callRaw("GET", "/_sandbox/health", ""); status == http.StatusOK {
			return c
		}
		select {
		case err := <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s%s", err, stderr.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx does not answer on %s\n%s", listen, log)
		}
	}
}

// callRaw sends a request and returns its status and body, or status 0 when it cannot be sent.
func (c *child) callRaw(method, path, body string) (int, []byte) {
	req, err := http.NewRequest(method, c.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// callHost sends a request with another Host header and decodes its JSON answer.
func (c *child) callHost(method, path, host string) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s (host %s): %v", method, path, host, err)
	}
	defer resp.Body.Close()
	var v map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &v); err != nil {
		c.t.Fatalf("%s %s (host %s): %d %s", method, path, host, resp.StatusCode, raw)
	}
	return resp.StatusCode, v
}
