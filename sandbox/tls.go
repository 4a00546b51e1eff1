package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/proxy"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/tlsca"
	"github.com/citysandbox/citysandbox/sandbox/internal/tripwire"
)

// DefaultEmulatedHosts returns the host names every sandbox answers for over its forward proxy
// and TLS listener: api.weixin.qq.com, its regional and backup entry points (api2, sh.api, sz.api,
// hk.api) and mp.weixin.qq.com. WithEmulatedHosts adds others.
func DefaultEmulatedHosts() []string { return proxy.DefaultHosts() }

// CA is the sandbox's certificate authority as a client needs it: the certificate to trust.
type CA struct {
	// PEM is the CA certificate, PEM-encoded.
	PEM []byte
	// Path is the file that holds PEM, or "" for a CA kept in memory.
	Path string
}

// caDir is where a sandbox with these settings keeps its CA: caDir when set, else beside the
// store file; "" for memory.
func caDir(storePath, dir string) string {
	if dir != "" {
		return dir
	}
	if storePath == "" || storePath == store.Memory {
		return ""
	}
	return filepath.Dir(storePath)
}

// LoadCA returns the CA that a sandbox on storePath (and WithCADir(dir), when dir is not empty)
// uses, creating it if there is none yet, without opening the store: so that a client can be
// made to trust it before the sandbox first starts, or while it runs. A ":memory:" store without
// a dir has no CA on disk to load.
func LoadCA(storePath, dir string) (CA, error) {
	d := caDir(storePath, dir)
	if d == "" {
		return CA{}, errors.New("sandbox: an in-memory sandbox keeps its CA in memory: give a CA directory, or fetch GET /_sandbox/ca.pem from the running sandbox")
	}
	ca, err := tlsca.Load(d)
	if err != nil {
		return CA{}, fmt.Errorf("sandbox: %w", err)
	}
	return CA{PEM: ca.PEM(), Path: ca.CertPath()}, nil
}

// CA returns the sandbox's certificate authority, creating it on first use: in the CA directory,
// or in memory for a ":memory:" sandbox without one.
func (s *Server) CA() (CA, error) {
	ca, err := s.certificateAuthority()
	if err != nil {
		return CA{}, err
	}
	return CA{PEM: ca.PEM(), Path: ca.CertPath()}, nil
}

// certificateAuthority loads or creates the CA once; a failure is returned to every caller.
func (s *Server) certificateAuthority() (*tlsca.CA, error) {
	if s.cfg.caSource != nil {
		return s.cfg.caSource()
	}
	s.caOnce.Do(func() {
		dir := caDir(s.cfg.storePath, s.cfg.caDir)
		if dir == "" {
			s.ca, s.caErr = tlsca.New()
		} else {
			s.ca, s.caErr = tlsca.Load(dir)
		}
		if s.caErr != nil {
			s.caErr = fmt.Errorf("sandbox: certificate authority: %w", s.caErr)
		}
	})
	return s.ca, s.caErr
}

// emulates reports whether host is one of the hosts given with WithEmulatedHosts.
func (s *Server) emulates(host string) bool {
	for _, h := range s.cfg.hosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	return false
}

// EmulatedHosts returns every host name the sandbox answers for over its forward proxy and TLS
// listener: DefaultEmulatedHosts and those of WithEmulatedHosts.
func (s *Server) EmulatedHosts() []string {
	return append(DefaultEmulatedHosts(), s.cfg.hosts...)
}

// ListenAndServeTLS binds addr, calls ready (when not nil) with the bound address, then serves
// HTTPS there until ctx is cancelled: the same handler as the plain listener, with a certificate
// from the sandbox's CA chosen by the SNI name, which must be one of EmulatedHosts (a client
// reaches it through /etc/hosts or a container's extra_hosts). A handshake without SNI or for
// another name gets a TLS alert. It does not close the store.
func (s *Server) ListenAndServeTLS(ctx context.Context, addr string, ready func(net.Addr)) error {
	if _, err := s.certificateAuthority(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sandbox: listen %s: %w", addr, err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return s.ServeTLS(ctx, ln)
}

// ServeTLS serves HTTPS on ln, as ListenAndServeTLS does, until ctx is cancelled.
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener) error {
	ps := s.proxy.NewServer(ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- ps.ServeTLS(ln) }()
	select {
	case err := <-errc:
		_ = ln.Close()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return errors.Join(err, ps.Shutdown(shutdownCtx))
	case <-ctx.Done():
		_ = ln.Close()
		<-errc
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return ps.Shutdown(shutdownCtx)
	}
}

// Leak is a request that tried to reach the real platforms or carried production credentials:
// what GET /_sandbox/leaks lists.
type Leak struct {
	// Kind is host_not_emulated or port_not_emulated (a proxied request, refused with 403), or
	// unknown_appid or unknown_appcode (credentials no sandbox app has, answered as the platform
	// would).
	Kind string `json:"kind"`
	// Host is the host (and port, when the request named one) the request was for.
	Host   string `json:"host"`
	Method string `json:"method"`
	// Path is the request's path; empty for a CONNECT.
	Path string `json:"path,omitempty"`
	// Credential is the appid or appCode no sandbox app has.
	Credential string `json:"credential,omitempty"`
	// Time is the sandbox time of the request.
	Time time.Time `json:"time"`
	// Client is the client's IP address.
	Client string `json:"client"`
	// RequestID is the request's journal id (WeChat's rid), when it has one.
	RequestID string `json:"request_id,omitempty"`
}

// Leaks returns the leaks recorded since the start or the last ClearLeaks, oldest first (the
// newest 1,000), as GET /_sandbox/leaks lists them. A reset keeps them.
func (s *Server) Leaks() []Leak {
	leaks, _ := s.tripwire.List()
	return convertSlice(leaks, func(l tripwire.Leak) Leak {
		return Leak{
			Kind: l.Kind, Host: l.Host, Method: l.Method, Path: l.Path, Credential: l.Credential,
			Time: l.Time, Client: l.Client, RequestID: l.RequestID,
		}
	})
}

// ClearLeaks forgets the leaks recorded so far, as DELETE /_sandbox/leaks does.
func (s *Server) ClearLeaks() { s.tripwire.Clear() }
