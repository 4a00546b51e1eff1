package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// logBuffer collects a sandbox's log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor reports whether the log comes to contain s within 10 s: a server logs a failed
// handshake after the client has already seen it fail.
func (b *logBuffer) waitFor(s string) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(b.String(), s) {
			return true
		}
	}
	return false
}

// servedSandbox is a sandboxtest sandbox (frozen clock, response validation) that logs to the
// returned buffer, also served on a plain listener with the forward proxy and a TLS listener.
func servedSandbox(t *testing.T, opts ...sandbox.Option) (*testkit.Kit, *testkit.Listeners, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	k := testkit.New(t, sandboxtest.WithSandboxOptions(append([]sandbox.Option{sandbox.WithLogger(logger)}, opts...)...))
	return k, testkit.ServeListeners(t, k.Srv.Server), logs
}

// get fetches url with client and returns the status, the Content-Type and the body.
func get(t *testing.T, client *http.Client, url string) (int, string, []byte) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", url, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// journalEntry is what these tests read of a journal entry.
type journalEntry struct {
	Path     string `json:"path"`
	Status   int    `json:"status"`
	ClientIP string `json:"client_ip"`
	Leak     *struct {
		Kind string `json:"kind"`
		Host string `json:"host"`
	} `json:"leak"`
}

// journal returns the journal entries for path (every entry for ""), through the control plane.
func journal(k *testkit.Kit, path string) []journalEntry {
	k.T().Helper()
	target := "/_sandbox/requests"
	if path != "" {
		target += "?path=" + url.QueryEscape(path)
	}
	var v struct{ Requests []journalEntry }
	k.Decode(k.Control("GET", target, nil), &v)
	return v.Requests
}

func poolOf(t *testing.T, pem []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %q", pem)
	}
	return pool
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

func bufioReaderConn(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 1) }

const tokenQuery = "/cgi-bin/token?grant_type=client_credential&appid=" + testkit.ServiceAppID + "&secret=" + testkit.ServiceSecret

// TestGoClientThroughProxy runs a Go program that knows nothing of the sandbox — http.Get on the
// platforms' own https:// URLs — with only HTTPS_PROXY and SSL_CERT_FILE set: the test binary
// itself, in a process of its own, so that the standard library reads the environment afresh.
func TestGoClientThroughProxy(t *testing.T) {
	if os.Getenv("CITYSANDBOX_TEST_PLAIN_GO_CLIENT") != "" {
		t.Skip("the program TestGoClientThroughProxy runs: see plainGoClient")
	}
	t.Parallel()
	k, ln, _ := servedSandbox(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ln.CA.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPlainGoClient$", "-test.v")
	cmd.Env = append(os.Environ(),
		"CITYSANDBOX_TEST_PLAIN_GO_CLIENT=1", "HTTPS_PROXY=http://"+ln.Plain, "https_proxy=", "NO_PROXY=", "no_proxy=",
		"HTTP_PROXY=", "http_proxy=", "SSL_CERT_FILE="+caFile, "SSL_CERT_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the plain Go client failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestPlainGoClient") {
		t.Fatalf("the plain Go client did not run:\n%s", out)
	}
	// The requests reached this sandbox: the journal has them, as the platform served them.
	entries := journal(k, "/cgi-bin/showqrcode")
	if len(entries) != 1 || entries[0].Status != http.StatusOK {
		t.Errorf("journal of /cgi-bin/showqrcode = %+v, want the one request, served", entries)
	}
	if leaks := k.Srv.Leaks(); len(leaks) != 0 {
		t.Errorf("leaks = %+v, want none", leaks)
	}
}

// TestPlainGoClient is the program TestGoClientThroughProxy runs: plain net/http, no sandbox code.
func TestPlainGoClient(t *testing.T) {
	if os.Getenv("CITYSANDBOX_TEST_PLAIN_GO_CLIENT") == "" {
		t.Skip("run by TestGoClientThroughProxy, with HTTPS_PROXY and SSL_CERT_FILE set")
	}
	resp, err := http.Get("https://api.weixin.qq.com" + tokenQuery)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" || tok.ExpiresIn != 7200 {
		t.Fatalf("token answer %+v (%v), want an access token for 7200 s", tok, err)
	}
	resp, err = http.Post("https://api.weixin.qq.com/cgi-bin/qrcode/create?access_token="+tok.AccessToken, "application/json",
		strings.NewReader(`{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"proxy"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var code struct{ Ticket string }
	err = json.NewDecoder(resp.Body).Decode(&code)
	resp.Body.Close()
	if err != nil || code.Ticket == "" {
		t.Fatalf("qrcode/create answer %+v (%v), want a ticket", code, err)
	}
	resp, err = http.Get("https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=" + url.QueryEscape(code.Ticket))
	if err != nil {
		t.Fatal(err)
	}
	img, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") ||
		!bytes.HasPrefix(img, []byte{0xff, 0xd8, 0xff}) {
		t.Fatalf("showqrcode: status %d, Content-Type %q, %d bytes starting %x (%v); want a JPEG",
			resp.StatusCode, resp.Header.Get("Content-Type"), len(img), img[:min(len(img), 4)], err)
	}
	if resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "mp.weixin.qq.com" {
		t.Errorf("showqrcode was not served over TLS as mp.weixin.qq.com: %+v", resp.TLS)
	}
}

// TestTunnelKeepsClientAddress: a tunnelled request is journalled with the address of the
// client's own connection, and the sandbox clock does not bear on TLS validity.
func TestTunnelKeepsClientAddress(t *testing.T) {
	t.Parallel()
	k, ln, _ := servedSandbox(t)
	client := ln.ProxyClient(net.ParseIP("127.0.0.3"))
	status, _, body := get(t, client, "https://api.weixin.qq.com"+tokenQuery)
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"access_token"`)) {
		t.Fatalf("token through the tunnel: %d %s", status, body)
	}
	entries := journal(k, "/cgi-bin/token")
	if len(entries) != 1 || entries[0].ClientIP != "127.0.0.3" {
		t.Fatalf("journal of /cgi-bin/token = %+v, want one entry from 127.0.0.3", entries)
	}
	// Three years on, on the sandbox clock: the certificates are checked against wall time.
	k.Srv.Advance(3 * 365 * 24 * time.Hour)
	fresh := ln.ProxyClient(nil)
	status, _, body = get(t, fresh, "https://mp.weixin.qq.com/_sandbox/health")
	if status != http.StatusOK {
		t.Fatalf("a new tunnel after the sandbox clock moved three years: %d %s", status, body)
	}
	// A plain-HTTP request with an absolute URL for an emulated host is served too.
	status, _, body = get(t, client, "http://api.weixin.qq.com"+tokenQuery)
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"access_token"`)) {
		t.Fatalf("absolute-URL proxy request: %d %s", status, body)
	}
	// And the sandbox's own address, for clients that send everything through the proxy.
	status, _, body = get(t, client, "http://"+ln.Plain+"/_sandbox/health")
	if status != http.StatusOK {
		t.Fatalf("the sandbox's own address through the proxy: %d %s", status, body)
	}
	if leaks := k.Srv.Leaks(); len(leaks) != 0 {
		t.Errorf("leaks = %+v, want none", leaks)
	}
}

// wantJSONRefusal checks a raw HTTP answer: status, a JSON error with code, Connection: close.
func wantJSONRefusal(t *testing.T, raw string, status int, code string) map[string]any {
	t.Helper()
	resp, err := http.ReadResponse(bufioReader(raw), nil)
	if err != nil {
		t.Fatalf("answer %q does not parse: %v", raw, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want JSON: %s", ct, body)
	}
	if !resp.Close {
		t.Errorf("the answer does not close the connection: %q", raw)
	}
	var v struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Error["code"] != code || v.Error["message"] == "" {
		t.Errorf("body %s, want {\"error\":{\"code\":%q,\"message\":…}}", body, code)
	}
	return v.Error
}

func TestProxyRefusesHostsItDoesNotEmulate(t *testing.T) {
	t.Parallel()
	k, ln, logs := servedSandbox(t)
	// A server on loopback that the proxy must never connect to.
	upstream, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer upstream.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := upstream.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	cases := []struct {
		name, request, host, kind, path string
	}{
		{"CONNECT to a real host", "CONNECT open.weixin.qq.com:443 HTTP/1.1\r\nHost: open.weixin.qq.com:443\r\n\r\n", "open.weixin.qq.com:443", "host_not_emulated", ""},
		{"CONNECT to a local server", "CONNECT " + upstream.Addr().String() + " HTTP/1.1\r\nHost: x\r\n\r\n", upstream.Addr().String(), "host_not_emulated", ""},
		{"CONNECT to an emulated host on another port", "CONNECT api.weixin.qq.com:8443 HTTP/1.1\r\nHost: api.weixin.qq.com:8443\r\n\r\n", "api.weixin.qq.com:8443", "port_not_emulated", ""},
		{"absolute URL for a real host", "GET http://www.example.com/cgi-bin/token?appid=x HTTP/1.1\r\nHost: www.example.com\r\n\r\n", "www.example.com:80", "host_not_emulated", "/cgi-bin/token"},
		{"absolute URL for an emulated host on another port", "GET http://api.weixin.qq.com:8080/cgi-bin/token HTTP/1.1\r\nHost: api.weixin.qq.com:8080\r\n\r\n", "api.weixin.qq.com:8080", "port_not_emulated", "/cgi-bin/token"},
	}
	for _, c := range cases {
		raw, err := testkit.Raw(ln.Plain, c.request, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if e := wantJSONRefusal(t, raw, http.StatusForbidden, c.kind); e["host"] != c.host {
			t.Errorf("%s: refusal names host %v, want %s", c.name, e["host"], c.host)
		}
	}
	select {
	case <-accepted:
		t.Error("the proxy opened a connection to the local server it was asked to CONNECT to")
	case <-time.After(100 * time.Millisecond):
	}
	leaks := k.Srv.Leaks()
	if len(leaks) != len(cases) {
		t.Fatalf("leaks = %+v, want %d", leaks, len(cases))
	}
	for i, c := range cases {
		l := leaks[i]
		if l.Kind != c.kind || l.Host != c.host || l.Path != c.path || l.Client != "127.0.0.1" || !l.Time.Equal(k.Start) {
			t.Errorf("leak %d = %+v, want kind %s, host %s, path %q, client 127.0.0.1 at %v", i, l, c.kind, c.host, c.path, k.Start)
		}
	}
	// The control plane lists them, the journal marks them, the contract report counts them,
	// and each was logged at warn level.
	a := k.Control("GET", "/_sandbox/leaks", nil)
	if a.JSON["count"] != float64(len(cases)) {
		t.Errorf("GET /_sandbox/leaks: %s", a)
	}
	marked := 0
	for _, e := range journal(k, "") {
		if e.Leak != nil {
			marked++
		}
	}
	if marked != len(cases) {
		t.Errorf("%d journal entries marked as leaks, want %d", marked, len(cases))
	}
	if got := k.Srv.Contract().Leaks; got != len(cases) {
		t.Errorf("contract report counts %d leaks, want %d", got, len(cases))
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"production leak"); n != len(cases) {
		t.Errorf("%d leaks logged at warn, want %d:\n%s", n, len(cases), logs)
	}
	// A reset keeps them (a suite resets between its tests); DELETE forgets them.
	if err := k.Srv.Reset(); err != nil {
		t.Fatal(err)
	}
	if len(k.Srv.Leaks()) != len(cases) {
		t.Error("a reset forgot the leaks")
	}
	k.Control("DELETE", "/_sandbox/leaks", nil)
	if a := k.Control("GET", "/_sandbox/leaks", nil); a.JSON["count"] != float64(0) {
		t.Errorf("after DELETE: %s", a)
	}
}

func TestProxyBadInput(t *testing.T) {
	t.Parallel()
	k, ln, logs := servedSandbox(t)
	cases := []struct {
		name, request string
		status        int
		code          string
	}{
		{"CONNECT without a port", "CONNECT api.weixin.qq.com HTTP/1.1\r\nHost: api.weixin.qq.com\r\n\r\n", 400, "malformed_connect"},
		{"CONNECT to a path", "CONNECT /cgi-bin/token HTTP/1.1\r\nHost: api.weixin.qq.com\r\n\r\n", 400, "malformed_connect"},
		{"CONNECT to an empty target", "CONNECT  HTTP/1.1\r\nHost: api.weixin.qq.com\r\n\r\n", 400, "malformed_connect"},
		{"CONNECT to a URL", "CONNECT http://api.weixin.qq.com:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed_connect"},
		{"CONNECT to port 99999", "CONNECT api.weixin.qq.com:99999 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed_connect"},
		{"CONNECT to no host", "CONNECT :443 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed_connect"},
		{"CONNECT with a port that is no number", "CONNECT api.weixin.qq.com:https HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed_request"},
		{"CONNECT line without a version", "CONNECT api.weixin.qq.com:443\r\nHost: x\r\n\r\n", 400, "malformed_request"},
		{"CONNECT line with extra fields", "CONNECT a b c\r\nHost: x\r\n\r\n", 400, "malformed_request"},
		{"CONNECT to a broken IPv6 literal", "CONNECT [::1 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := testkit.Raw(ln.Plain, c.request, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			wantJSONRefusal(t, raw, c.status, c.code)
		})
	}
	if n := strings.Count(logs.String(), "level=WARN"); n < len(cases) {
		t.Errorf("%d warnings logged for %d refusals:\n%s", n, len(cases), logs)
	}
	if leaks := k.Srv.Leaks(); len(leaks) != 0 {
		t.Errorf("malformed requests counted as leaks: %+v", leaks)
	}
	// The listener still serves.
	if status, _, body := get(t, http.DefaultClient, "http://"+ln.Plain+"/_sandbox/health"); status != http.StatusOK {
		t.Errorf("health after the bad input: %d %s", status, body)
	}
}

// TestTLSListenerPicksCertificateBySNI: the TLS listener serves the emulated hosts, each with
// its own certificate, and refuses a handshake without SNI or for another name with an alert.
func TestTLSListenerPicksCertificateBySNI(t *testing.T) {
	t.Parallel()
	k, ln, logs := servedSandbox(t, sandbox.WithEmulatedHosts("gateway.jincheng.example"))
	for _, host := range []string{"api.weixin.qq.com", "mp.weixin.qq.com", "sz.api.weixin.qq.com", "gateway.jincheng.example"} {
		client := &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: ln.Roots, ServerName: host},
		}}
		resp, err := client.Get("https://" + ln.TLS + "/_sandbox/health")
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.TLS.PeerCertificates[0].DNSNames[0] != host {
			t.Errorf("%s: status %d, certificate for %v", host, resp.StatusCode, resp.TLS.PeerCertificates[0].DNSNames)
		}
	}
	k.Srv.Advance(5 * 365 * 24 * time.Hour) // the sandbox clock has no say in TLS validity
	refused := []struct{ name, sni, log string }{
		{"no SNI", "", "the client sent no SNI"},
		{"a name not emulated", "www.example.com", `does not emulate \"www.example.com\"`},
		{"open.weixin.qq.com", "open.weixin.qq.com", `does not emulate \"open.weixin.qq.com\"`},
	}
	for _, c := range refused {
		conn, err := tls.Dial("tcp", ln.TLS, &tls.Config{ServerName: c.sni, InsecureSkipVerify: c.sni == ""})
		if err == nil {
			conn.Close()
			t.Errorf("%s: the handshake succeeded", c.name)
			continue
		}
		if !strings.Contains(err.Error(), "unrecognized name") {
			t.Errorf("%s: handshake error %v, want an unrecognized_name alert", c.name, err)
		}
		if !logs.waitFor(c.log) {
			t.Errorf("%s: the log does not say %q:\n%s", c.name, c.log, logs)
		}
	}
	// A client that does not trust the CA fails its handshake, which is logged with a hint.
	if _, err := tls.Dial("tcp", ln.TLS, &tls.Config{ServerName: "api.weixin.qq.com"}); err == nil {
		t.Error("a client without the sandbox CA completed a handshake")
	}
	if !logs.waitFor("does the client trust the sandbox CA?") {
		t.Errorf("an untrusting client's failed handshake was not logged:\n%s", logs)
	}
}

// TestTunnelRefusesAnotherSNI: a client tunnelling to one host may not ask for another's name.
func TestTunnelRefusesAnotherSNI(t *testing.T) {
	t.Parallel()
	_, ln, logs := servedSandbox(t)
	conn, err := net.Dial("tcp", ln.Plain)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(conn, "CONNECT api.weixin.qq.com:443 HTTP/1.1\r\nHost: api.weixin.qq.com:443\r\n\r\n")
	resp, err := http.ReadResponse(bufioReaderConn(conn), &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	tc := tls.Client(conn, &tls.Config{ServerName: "mp.weixin.qq.com", RootCAs: ln.Roots})
	if err := tc.Handshake(); err == nil || !strings.Contains(err.Error(), "unrecognized name") {
		t.Errorf("handshake for mp.weixin.qq.com in a tunnel to api.weixin.qq.com: %v, want an unrecognized_name alert", err)
	}
	if !logs.waitFor("is not the CONNECT target") {
		t.Errorf("the refusal was not logged:\n%s", logs)
	}
}

// TestHandlerIsNoProxy: the handler mounted on its own answers CONNECT with 405 in JSON, where it
// used to answer 200 with a WeChat body that made curl believe a tunnel had opened.
func TestHandlerIsNoProxy(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	ts := httptest.NewServer(k.Srv.Handler())
	defer ts.Close()
	raw, err := testkit.Raw(ts.Listener.Addr().String(), "CONNECT api.weixin.qq.com:443 HTTP/1.1\r\nHost: api.weixin.qq.com:443\r\n\r\n", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wantJSONRefusal(t, raw, http.StatusMethodNotAllowed, "not_a_proxy")
}

// TestProductionCredentialsAreLeaks: a credential exchange naming an appid of WeChat's form, or
// an appCode, that no sandbox app has is answered as the platform answers it and listed; a
// malformed appid, a known one with a wrong secret, and an unknown access token are not.
func TestProductionCredentialsAreLeaks(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	const prod = "wx0123456789abcdef"
	k.WantErrcode(k.API("GET", "/cgi-bin/token?grant_type=client_credential&appid="+prod+"&secret=s", "", nil), 40013)
	k.WantErrcode(k.Post("/cgi-bin/stable_token", "", `{"grant_type":"client_credential","appid":"`+prod+`","secret":"s"}`), 40013)
	k.WantErrcode(k.Post("/cgi-bin/component/api_component_token", "",
		`{"component_appid":"`+prod+`","component_appsecret":"s","component_verify_ticket":"t"}`), 61011)
	a := k.Signed(testkit.JinchengApp{AppCode: "JLB1234567890", Secret: "production-secret"}, "POST", "/jincheng/test/sso/v1/ticketValidation", nil, `{"ticket":"x"}`)
	if a.Status != http.StatusUnauthorized || a.JSON["errorCode"] != "GW-INVALID-APPCODE" {
		t.Fatalf("unknown appCode: %s", a)
	}
	// Not leaks: a malformed appid, a known appid with the wrong secret, an unknown token.
	k.WantErrcode(k.API("GET", "/cgi-bin/token?grant_type=client_credential&appid=wx-not-an-appid&secret=s", "", nil), 40013)
	k.WantErrcode(k.API("GET", "/cgi-bin/token?grant_type=client_credential&appid="+testkit.ServiceAppID+"&secret=wrong", "", nil), 40125)
	k.WantErrcode(k.Post("/cgi-bin/openapi/quota/get", "86_"+strings.Repeat("P", 128), `{"cgi_path":"/cgi-bin/token"}`), 40001)

	leaks := k.Srv.Leaks()
	want := []struct{ kind, path, credential string }{
		{"unknown_appid", "/cgi-bin/token", prod},
		{"unknown_appid", "/cgi-bin/stable_token", prod},
		{"unknown_appid", "/cgi-bin/component/api_component_token", prod},
		{"unknown_appcode", "/jincheng/test/sso/v1/ticketValidation", "JLB1234567890"},
	}
	if len(leaks) != len(want) {
		t.Fatalf("leaks = %+v, want %d", leaks, len(want))
	}
	for i, w := range want {
		l := leaks[i]
		if l.Kind != w.kind || l.Path != w.path || l.Credential != w.credential || l.Host == "" || l.Client == "" {
			t.Errorf("leak %d = %+v, want %s on %s with %s", i, l, w.kind, w.path, w.credential)
		}
	}
	if leaks[0].RequestID == "" {
		t.Errorf("a WeChat leak carries no rid: %+v", leaks[0])
	}
	if got := k.Srv.Contract().Leaks; got != len(want) {
		t.Errorf("contract report counts %d leaks, want %d", got, len(want))
	}
}

// TestCAPersistsAcrossRestarts: the CA is kept beside the store file (or in WithCADir) and is
// the same after a restart, so a client trusts it once; LoadCA finds it without the store.
func TestCAPersistsAcrossRestarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "state.db")
	caOf := func(opts ...sandbox.Option) sandbox.CA {
		t.Helper()
		s, err := sandbox.New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ca, err := s.CA()
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	first := caOf(sandbox.WithStorePath(store))
	if first.Path != filepath.Join(dir, "citysandbox-ca.pem") {
		t.Errorf("CA path %q, want citysandbox-ca.pem beside the store file", first.Path)
	}
	if onDisk, err := os.ReadFile(first.Path); err != nil || !bytes.Equal(onDisk, first.PEM) {
		t.Errorf("the CA file does not hold the CA: %v", err)
	}
	if again := caOf(sandbox.WithStorePath(store)); !bytes.Equal(again.PEM, first.PEM) {
		t.Error("a restarted sandbox has another CA")
	}
	loaded, err := sandbox.LoadCA(store, "")
	if err != nil || !bytes.Equal(loaded.PEM, first.PEM) || loaded.Path != first.Path {
		t.Errorf("LoadCA = %s (%v), want the sandbox's CA", loaded.Path, err)
	}
	caDir := filepath.Join(t.TempDir(), "ca")
	own := caOf(sandbox.WithStorePath(store), sandbox.WithCADir(caDir))
	if own.Path != filepath.Join(caDir, "citysandbox-ca.pem") || bytes.Equal(own.PEM, first.PEM) {
		t.Errorf("WithCADir: CA at %q", own.Path)
	}
	if again := caOf(sandbox.WithCADir(caDir)); !bytes.Equal(again.PEM, own.PEM) {
		t.Error("an in-memory sandbox with WithCADir did not use the CA kept there")
	}
	// An in-memory sandbox keeps its CA in memory, and serves it.
	mem := caOf()
	if mem.Path != "" || len(mem.PEM) == 0 {
		t.Errorf("in-memory CA: path %q, %d bytes", mem.Path, len(mem.PEM))
	}
	if _, err := sandbox.LoadCA(":memory:", ""); err == nil {
		t.Error("LoadCA of an in-memory sandbox succeeded")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "citysandbox-ca") && !strings.HasSuffix(e.Name(), ".pem") {
			t.Errorf("a temporary file was left behind: %s", e.Name())
		}
	}
}

// TestCAIsServed: GET /_sandbox/ca.pem serves the CA certificate, without the admin token.
func TestCAIsServed(t *testing.T) {
	t.Parallel()
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithAdminToken("secret-admin-token")))
	a := k.Do("GET", "/_sandbox/ca.pem", nil)
	ca, err := k.Srv.CA()
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != http.StatusOK || a.Header.Get("Content-Type") != "application/x-pem-file" || !bytes.Equal(a.Raw, ca.PEM) {
		t.Errorf("GET /_sandbox/ca.pem: %d %q %q", a.Status, a.Header.Get("Content-Type"), a.Raw)
	}
	if a := k.Do("GET", "/_sandbox/leaks", nil); a.Status != http.StatusUnauthorized {
		t.Errorf("GET /_sandbox/leaks without the admin token: %s", a)
	}
}

// TestServeShutsDownWithOpenTunnel: a tunnel in use does not keep Serve from returning.
func TestServeShutsDownWithOpenTunnel(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sb.Serve(ctx, ln) }()
	ca, err := sb.CA()
	if err != nil {
		t.Fatal(err)
	}
	l := &testkit.Listeners{Plain: ln.Addr().String(), CA: ca, Roots: poolOf(t, ca.PEM)}
	client := l.ProxyClient(nil)
	if status, _, body := get(t, client, "https://api.weixin.qq.com/_sandbox/health"); status != http.StatusOK {
		t.Fatalf("health through the tunnel: %d %s", status, body)
	}
	cancel() // the first tunnel's connection is idle in the client's pool
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return with a tunnel open")
	}
}

// TestMappedHostsAreTerminatedAndPassedOn: a host mapped to a local address (the user's own test
// server, on plain HTTP) gets a certificate from the CA, through the proxy and on the TLS
// listener, and its requests reach the mapped address; an emulated host stays the sandbox's.
func TestMappedHostsAreTerminatedAndPassedOn(t *testing.T) {
	t.Parallel()
	own := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "own server: %s %s host=%s forwarded-for=%s", r.Method, r.URL.Path, r.Host, r.Header.Get("X-Forwarded-For"))
	}))
	defer own.Close()
	addr := own.Listener.Addr().String()
	k, ln, _ := servedSandbox(t, sandbox.WithResolve("www.citytest.cn="+addr, "api.weixin.qq.com="+addr))
	client := ln.ProxyClient(net.ParseIP("127.0.0.4"))
	for _, u := range []string{"https://www.citytest.cn/verify.txt", "https://www.citytest.cn:8443/verify.txt", "http://www.citytest.cn/verify.txt"} {
		status, _, body := get(t, client, u)
		if status != http.StatusOK || !strings.HasPrefix(string(body), "own server: GET /verify.txt host=www.citytest.cn") ||
			!strings.Contains(string(body), "forwarded-for=127.0.0.4") {
			t.Errorf("%s through the proxy: %d %s", u, status, body)
		}
	}
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ln.Roots, ServerName: "www.citytest.cn"}}}
	status, _, body := get(t, tlsClient, "https://"+ln.TLS+"/verify.txt")
	if status != http.StatusOK || !strings.HasPrefix(string(body), "own server: GET /verify.txt") {
		t.Errorf("the TLS listener for a mapped host: %d %s", status, body)
	}
	// An emulated host is the sandbox's even when mapped.
	status, _, body = get(t, client, "https://api.weixin.qq.com/_sandbox/health")
	if status != http.StatusOK || !strings.Contains(string(body), `"status":"ok"`) {
		t.Errorf("a mapped emulated host: %d %s", status, body)
	}
	// Unmapped, the host is a leak again, and the mapped address does not answer for it.
	k.Srv.UnmapHost("www.citytest.cn")
	// In the tunnel already open, and in a new one.
	if status, _, body := get(t, client, "https://www.citytest.cn/verify.txt"); status != http.StatusForbidden || !strings.Contains(string(body), "host_not_emulated") {
		t.Errorf("an unmapped host in an open tunnel: %d %s, want 403", status, body)
	}
	client.CloseIdleConnections()
	if _, err := client.Get("https://www.citytest.cn/verify.txt"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("an unmapped host through a new tunnel: %v, want the proxy's 403", err)
	}
	leaks := k.Srv.Leaks()
	if len(leaks) != 2 || leaks[0].Host != "www.citytest.cn" || leaks[1].Host != "www.citytest.cn:443" {
		t.Errorf("leaks = %+v, want the two after the mapping went", leaks)
	}
}
