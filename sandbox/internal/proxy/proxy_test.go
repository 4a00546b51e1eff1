package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/tlsca"
)

// TestShutdownDoesNotWaitForUnusedTunnels: a terminated connection that never carried a request
// (a client pool's spare) does not hold up Shutdown, which http.Server alone would make wait
// five seconds for it — past a 5 s shutdown bound.
func TestShutdownDoesNotWaitForUnusedTunnels(t *testing.T) {
	ca, err := tlsca.New()
	if err != nil {
		t.Fatal(err)
	}
	p := New(Deps{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		CA:      func() (*tlsca.CA, error) { return ca, nil },
		Journal: journal.New(0), Clock: clock.NewRunning(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	s := p.NewServer(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	server, client := net.Pipe()
	defer client.Close()
	go s.handshake(&peerConn{Conn: server, target: "api.weixin.qq.com"})
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	if err := tls.Client(client, &tls.Config{ServerName: "api.weixin.qq.com", RootCAs: roots}).Handshake(); err != nil {
		t.Fatal(err)
	}
	// Wait, within a bound, until the inner server holds the connection.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		n := len(s.fresh)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the inner server never took the connection")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with an unused tunnel open: %v", err)
	}
}
