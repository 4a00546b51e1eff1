package testkit

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
)

// Listeners is a sandbox served the way citysandbox serve serves it, on loopback: its plain
// listener, which is also the forward proxy (Server.Serve), and a TLS listener
// (Server.ServeTLS), both stopped when the test ends.
type Listeners struct {
	// Plain and TLS are the listeners' addresses (127.0.0.1:port).
	Plain, TLS string
	// CA is the sandbox's certificate authority, and Roots a pool holding only it.
	CA    sandbox.CA
	Roots *x509.CertPool
}

// ServeListeners serves sb on two loopback listeners for the rest of the test. The caller keeps
// the job of closing sb (after this test's cleanups, which stop the listeners, have run).
func ServeListeners(t testing.TB, sb *sandbox.Server) *Listeners {
	t.Helper()
	ca, err := sb.CA()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca.PEM) {
		t.Fatalf("the sandbox's CA certificate does not parse: %q", ca.PEM)
	}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = sb.Serve(ctx, plain) })
	wg.Go(func() { errs[1] = sb.ServeTLS(ctx, tlsLn) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Errorf("testkit: stop the listeners: %v", err)
		}
	})
	return &Listeners{Plain: plain.Addr().String(), TLS: tlsLn.Addr().String(), CA: ca, Roots: roots}
}

// ProxyClient returns a client that sends every request through the forward proxy and trusts the
// sandbox's CA, as HTTPS_PROXY and SSL_CERT_FILE make any Go program do; its connections come
// from local (a loopback address such as 127.0.0.3), or any address when local is nil.
func (l *Listeners) ProxyClient(local net.IP) *http.Client {
	proxyURL := &url.URL{Scheme: "http", Host: l.Plain}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if local != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: local}
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyURL(proxyURL),
			DialContext:         dialer.DialContext,
			TLSClientConfig:     &tls.Config{RootCAs: l.Roots},
			TLSHandshakeTimeout: 5 * time.Second,
			ForceAttemptHTTP2:   true,
		},
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Raw writes request, as it is, on a new connection to addr and returns everything the server
// sends until it closes the connection, or an error if it keeps it open longer than wait.
func Raw(addr, request string, wait time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(wait)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(conn, request); err != nil {
		return "", err
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, conn)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return out.String(), fmt.Errorf("the server kept the connection open for %v after answering %q", wait, firstLine(out.String()))
		}
		if !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "connection reset") {
			return out.String(), err
		}
	}
	return out.String(), nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}
