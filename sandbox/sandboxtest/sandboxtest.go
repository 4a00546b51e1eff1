// Package sandboxtest gives Go tests a fresh, isolated citysandbox in a few milliseconds, shaped
// like net/http/httptest:
//
//	srv := sandboxtest.New(t)
//	resp, err := srv.Client().Get("https://api.weixin.qq.com/cgi-bin/token?...")
//
// Each sandbox has an in-memory store, a frozen clock (at DefaultStart unless WithStart says
// otherwise; moved with srv.Advance), seed 1, and response validation against the OpenAPI
// documents: a response that breaks the spec fails the test, and so does an error answer with a
// code its operation does not declare (x-errcodes, x-error-codes; an injected fault's code
// excepted). The client sends the WeChat hosts
// (DefaultHosts, or those of WithHosts) to the sandbox and refuses, with an error naming the
// host, any other host, so a test cannot leak to production.
//
// The default hosts are WeChat's: mp.weixin.qq.com (showqrcode and the authorization pages) and
// the API hosts of the official "接口域名说明" page
// (https://developers.weixin.qq.com/doc/service/Basic_Information/Interface_field_description.html):
// api.weixin.qq.com (the general host, the nearest access point), api2.weixin.qq.com (the
// general disaster-recovery host), sh.api.weixin.qq.com (Shanghai), sz.api.weixin.qq.com
// (Shenzhen) and hk.api.weixin.qq.com (Hong Kong). An SDK that fails over to another of them
// still reaches the sandbox.
package sandboxtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
)

// DefaultStart returns where a sandboxtest clock starts unless WithStart says otherwise:
// 2026-03-02 10:00:00 Beijing time.
func DefaultStart() time.Time { return time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC) }

// DefaultHosts returns the hosts a sandboxtest client sends to the sandbox unless WithHosts says
// otherwise: WeChat's hosts api.weixin.qq.com and mp.weixin.qq.com, and the other API hosts of
// WeChat's "接口域名说明" (see the package documentation): api2, sh.api, sz.api and hk.api.
func DefaultHosts() []string {
	return []string{"api.weixin.qq.com", "mp.weixin.qq.com", "api2.weixin.qq.com", "sh.api.weixin.qq.com", "sz.api.weixin.qq.com", "hk.api.weixin.qq.com"}
}

// An Option configures New or Serve.
type Option func(*config)

type config struct {
	start   time.Time
	hosts   []string
	sandbox []sandbox.Option
	// built lists the options given that build a sandbox, which Serve cannot apply.
	built []string
}

// WithStart freezes the clock at t. Default: DefaultStart. It applies to New only.
func WithStart(t time.Time) Option {
	return func(c *config) { c.start, c.built = t, append(c.built, "WithStart") }
}

// WithHosts sets the hosts, beside the sandbox's own address, that the client sends to the
// sandbox; it replaces the list rather than adding to it. Default: DefaultHosts.
func WithHosts(hosts ...string) Option {
	return func(c *config) { c.hosts = append([]string(nil), hosts...) }
}

// WithSandboxOptions passes options of package sandbox to sandbox.New after this package's own
// (seed 1, the frozen clock, response validation), so that they win. Default: none. It applies
// to New only.
func WithSandboxOptions(opts ...sandbox.Option) Option {
	return func(c *config) {
		c.sandbox, c.built = append(c.sandbox, opts...), append(c.built, "WithSandboxOptions")
	}
}

func configure(opts []Option) config {
	c := config{start: DefaultStart(), hosts: DefaultHosts()}
	for _, o := range opts {
		o(&c)
	}
	return c
}

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

// New starts a sandbox for t and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := configure(opts)
	spec, err := sharedSpec()
	if err != nil {
		t.Fatalf("sandboxtest: load spec: %v", err)
	}
	base := []sandbox.Option{
		sandbox.WithLoadedSpec(spec),
		sandbox.WithSeed(1),
		sandbox.WithFrozenClock(cfg.start),
		sandbox.WithResponseValidation(func(op string, err error) {
			if err != nil {
				t.Errorf("sandboxtest: %v", err)
			}
		}),
	}
	sb, err := sandbox.New(append(base, cfg.sandbox...)...)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	// Cleanups run last registered first: the HTTP server (registered by serve) stops before
	// the sandbox closes, so no request in flight finds its store closed.
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("sandboxtest: close: %v", err)
		}
	})
	return serve(t, sb, cfg.hosts)
}

// Serve serves an already built sandbox (for example one opened on a file) on a loopback port
// for the rest of the test. The caller keeps the job of closing sb. Of the options only
// WithHosts applies: the others build a sandbox, and giving one fails the test.
func Serve(t testing.TB, sb *sandbox.Server, opts ...Option) *Server {
	t.Helper()
	cfg := configure(opts)
	if len(cfg.built) > 0 {
		t.Fatalf("sandboxtest: Serve serves a sandbox already built: %v apply to New only", cfg.built)
	}
	return serve(t, sb, cfg.hosts)
}

func serve(t testing.TB, sb *sandbox.Server, hosts []string) *Server {
	ts := httptest.NewServer(sb.Handler())
	s := &Server{Server: sb, URL: ts.URL, ts: ts}
	s.client = &http.Client{
		Transport: &hostMapper{target: ts.URL, hosts: hosts, base: ts.Client().Transport},
		// Redirects are the test's to follow: an authorisation page or a Jincheng launch
		// redirects to the integrator's own URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(ts.Close)
	return s
}

// Client returns an HTTP client whose requests for the sandbox and the mapped hosts reach the
// sandbox; a request for any other host fails. It follows no redirects: they are the test's to
// follow.
func (s *Server) Client() *http.Client { return s.client }

// hostMapper rewrites requests for the mapped hosts to the sandbox.
type hostMapper struct {
	target string
	hosts  []string
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
	case slices.Contains(m.hosts, r.URL.Hostname()):
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = u.Scheme, u.Host
		r.Host = u.Host
	default:
		return nil, fmt.Errorf("sandboxtest: refusing a request to %s: only the sandbox and %v are reachable from a sandboxtest client", r.URL.Host, m.hosts)
	}
	return m.base.RoundTrip(r)
}
