// Package sandboxtest gives Go tests a fresh, isolated citysandbox in a few milliseconds, shaped
// like net/http/httptest:
//
//	srv := sandboxtest.New(t)
//	resp, err := srv.Client().Get("https://api.weixin.qq.com/cgi-bin/token?...")
//
// Each sandbox has an in-memory store, a frozen clock (Start, moved with srv.Advance), seed 1,
// and response validation against the OpenAPI documents: a response that breaks the spec fails
// the test. The client sends api.weixin.qq.com and mp.weixin.qq.com to the sandbox and refuses,
// with an error naming the host, any other host, so a test cannot leak to production.
package sandboxtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
)

// Start is where every sandboxtest clock starts: 2026-03-02 10:00:00 Beijing time.
var Start = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

// MappedHosts are the hosts the client sends to the sandbox.
var MappedHosts = []string{"api.weixin.qq.com", "mp.weixin.qq.com"}

// Server is a running sandbox for one test.
type Server struct {
	*sandbox.Server
	// URL is the sandbox's base URL (http://127.0.0.1:port).
	URL string

	ts     *httptest.Server
	client *http.Client
}

// sharedSpec is parsed once per test binary: the documents are read-only after loading, and
// parsing them for every sandbox would cost more than everything else New does.
var sharedSpec = sync.OnceValues(sandbox.LoadSpec)

// New starts a sandbox for t and closes it when the test ends. Options add to (and may override)
// the defaults above.
func New(t testing.TB, opts ...sandbox.Option) *Server {
	t.Helper()
	spec, err := sharedSpec()
	if err != nil {
		t.Fatalf("sandboxtest: load spec: %v", err)
	}
	base := []sandbox.Option{
		sandbox.WithLoadedSpec(spec),
		sandbox.WithSeed(1),
		sandbox.WithFrozenClock(Start),
		sandbox.WithResponseValidation(func(op string, err error) {
			if err != nil {
				t.Errorf("sandboxtest: %v", err)
			}
		}),
	}
	sb, err := sandbox.New(append(base, opts...)...)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	s := Serve(t, sb)
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("sandboxtest: close: %v", err)
		}
	})
	return s
}

// Serve serves an already built sandbox (for example one opened on a file) on a loopback port
// for the rest of the test. The caller keeps the job of closing sb.
func Serve(t testing.TB, sb *sandbox.Server) *Server {
	t.Helper()
	ts := httptest.NewServer(sb.Handler())
	s := &Server{Server: sb, URL: ts.URL, ts: ts}
	s.client = &http.Client{
		Transport: &hostMapper{target: ts.URL, base: ts.Client().Transport},
		// Redirects are the test's to follow: an authorisation page or a Jincheng launch
		// redirects to the integrator's own URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(ts.Close)
	return s
}

// Client returns an HTTP client whose requests for the sandbox and the WeChat hosts reach the
// sandbox; a request for any other host fails.
func (s *Server) Client() *http.Client { return s.client }

// hostMapper rewrites requests for the mapped hosts to the sandbox.
type hostMapper struct {
	target string
	base   http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (m *hostMapper) RoundTrip(r *http.Request) (*http.Response, error) {
	u, err := url.Parse(m.target)
	if err != nil {
		return nil, err
	}
	switch {
	case r.URL.Host == u.Host:
	case contains(MappedHosts, r.URL.Hostname()):
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = u.Scheme, u.Host
		r.Host = u.Host
	default:
		return nil, fmt.Errorf("sandboxtest: refusing a request to %s: only the sandbox and %v are reachable from a sandboxtest client", r.URL.Host, MappedHosts)
	}
	return m.base.RoundTrip(r)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
