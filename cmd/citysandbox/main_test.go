package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from the server goroutine and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestServePrintsCredentialsAndShutsDownGracefully(t *testing.T) {
	data := filepath.Join(t.TempDir(), "state.db")
	t.Setenv("CITYSANDBOX_DATA", data) // the environment fills flags not given
	t.Setenv("CITYSANDBOX_RESOLVE", "a.citytest.cn=127.0.0.1:9001, b.citytest.cn=10.0.0.2:80")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--resolve", "c.citytest.cn=127.0.0.1:9003", "--resolve", "d.citytest.cn=[::1]:9004"}, &out, &errOut)
	}()
	addr := ""
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+) \(state: (.*)\)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			if m[2] != data {
				t.Errorf("state file %q, want %q from CITYSANDBOX_DATA", m[2], data)
			}
			break
		}
	}
	if addr == "" {
		t.Fatalf("no banner: %s %s", out.String(), errOut.String())
	}
	// The banner is printed line by line: wait for all of it.
	// The flags given replace the environment's list.
	wants := []string{"wx5a1d0c0e00000001", "5a1d0c0e5a1d0c0e5a1d0c0e00000004", "/_sandbox/",
		"host c.citytest.cn resolves to 127.0.0.1:9003", "host d.citytest.cn resolves to [::1]:9004"}
	hasAll := func() bool {
		for _, want := range wants {
			if !strings.Contains(out.String(), want) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(10 * time.Second); !hasAll() && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
	}
	if !hasAll() {
		t.Errorf("banner lacks one of %q:\n%s", wants, out.String())
	}
	if strings.Contains(out.String(), "a.citytest.cn") {
		t.Errorf("CITYSANDBOX_RESOLVE applied although --resolve was given:\n%s", out.String())
	}
	var hc bytes.Buffer
	if err := run(context.Background(), []string{"healthcheck", "--url", addr + "/_sandbox/health"}, &hc, &hc); err != nil {
		t.Errorf("healthcheck: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve after Ctrl-C: %v", err)
	}
	if err := run(context.Background(), []string{"healthcheck", "--url", addr + "/_sandbox/health", "--timeout", "200ms"}, &hc, &hc); err == nil {
		t.Error("healthcheck passed against a stopped server")
	}
}

func TestUsageErrors(t *testing.T) {
	var out bytes.Buffer
	for _, args := range [][]string{nil, {"frobnicate"}} {
		if err := run(context.Background(), args, &out, &out); exitCode(err) != 2 {
			t.Errorf("run(%q) exit code %d, want 2", args, exitCode(err))
		}
	}
	if err := run(context.Background(), []string{"serve", "--log-level", "loud"}, &out, &out); err == nil {
		t.Error("a bad --log-level was accepted")
	}
	if err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", ":memory:", "--resolve", "www.qq.com=183.3.226.35:80"}, &out, &out); err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Errorf("a public --resolve address: %v, want a refusal", err)
	}
}

func TestServeTLSAndCACommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "state.db")
	// The CA can be printed, and trusted, before the sandbox first starts.
	var caOut, caErr bytes.Buffer
	if err := run(context.Background(), []string{"ca", "--data", data}, &caOut, &caErr); err != nil {
		t.Fatalf("ca: %v %s", err, caErr.String())
	}
	caPath := filepath.Join(dir, "citysandbox-ca.pem")
	if !strings.HasPrefix(caOut.String(), "-----BEGIN CERTIFICATE-----") || !strings.Contains(caErr.String(), caPath) {
		t.Fatalf("ca printed %q on stdout and %q on stderr; want the PEM, and the path %s", caOut.String(), caErr.String(), caPath)
	}
	var pathOut bytes.Buffer
	if err := run(context.Background(), []string{"ca", "--path", "--data", data}, &pathOut, &pathOut); err != nil || strings.TrimSpace(pathOut.String()) != caPath {
		t.Errorf("ca --path = %q (%v), want %s", pathOut.String(), err, caPath)
	}
	if err := run(context.Background(), []string{"ca", "--data", ":memory:"}, &pathOut, &pathOut); err == nil {
		t.Error("ca of an in-memory sandbox succeeded")
	}

	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--tls-addr", "127.0.0.1:0", "--data", data, "--extra-hosts", "gw.jincheng.example"}, &out, &errOut)
	}()
	re := regexp.MustCompile(`HTTPS on https://(127\.0\.0\.1:\d+) `)
	var tlsAddr string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && tlsAddr == ""; time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			tlsAddr = m[1]
		}
	}
	if tlsAddr == "" {
		t.Fatalf("no HTTPS line in the banner:\n%s\n%s", out.String(), errOut.String())
	}
	for _, want := range []string{"CA certificate: " + caPath, "forward proxy: HTTPS_PROXY=http://127.0.0.1:", "gw.jincheng.example"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caOut.Bytes()) // the CA printed before the start is the one serving
	for _, host := range []string{"api.weixin.qq.com", "gw.jincheng.example"} {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host}}}
		resp, err := client.Get("https://" + tlsAddr + "/_sandbox/health")
		if err != nil {
			t.Fatalf("HTTPS for %s: %v", host, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HTTPS for %s: status %d", host, resp.StatusCode)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve after Ctrl-C: %v", err)
	}
	// A TLS address in use fails the start, before the banner.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var quiet bytes.Buffer
	err = run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--tls-addr", busy.Addr().String(), "--data", data}, &quiet, &quiet)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("serve with its TLS address in use: %v, want a listen error", err)
	}
}
