// Package proxy puts the sandbox on the platforms' own https:// URLs, so that an integrator's code
// that hard-codes https://api.weixin.qq.com runs against it unchanged:
//
//   - a forward proxy on the plain listener: "CONNECT api.weixin.qq.com:443" is answered 200 and
//     the tunnel is terminated in process with a certificate from the sandbox's CA (package
//     tlsca), then served by the sandbox handler, the client address staying the original
//     connection's; a plain-HTTP request with an absolute URL for an emulated host is served too;
//   - a TLS listener (serve --tls-addr) that serves the same handler and picks the certificate by
//     SNI, for clients pointed at the sandbox by /etc/hosts or a container's extra_hosts;
//   - the production-leak tripwire's first half: a proxied request for a host the sandbox does not
//     emulate, or for an emulated host on another port, is refused with 403 and a JSON body naming
//     the host, and journalled as a leak (package tripwire lists them).
//
// Emulated hosts are DefaultHosts (WeChat's API hosts and mp.weixin.qq.com) plus the ones the
// sandbox is configured with. Jincheng has none by default: the platform's real gateway host is
// not public (the project's reference note on it names none, and the Jincheng package serves its
// API under /jincheng/ on the sandbox's own address), so a user names the host their
// configuration uses.
//
// Hosts mapped to a local address (package hostmap: --resolve HOST=ADDR:PORT) are the user's own
// test servers: a tunnel to one (any port), a TLS handshake naming one, or an absolute URL for
// one is terminated here with a certificate from the CA, and each request is passed on in plain
// HTTP to the mapped address, so that such a server can stay on plain HTTP while its clients use
// https://. An emulated host stays the sandbox's even when mapped. Apart from those mapped
// addresses (loopback, private or link-local, which hostmap enforces), the proxy never opens a
// connection: it has no upstream.
//
// Bad input is refused cleanly and logged: a CONNECT to a port other than 443 (403), a malformed
// CONNECT target (400), a request line net/http cannot parse (400, rewritten from net/http's own
// text/plain answer into JSON by the listener wrapper), a TLS handshake without SNI or for a name
// not emulated (a TLS unrecognized_name alert). Each such connection is closed.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/hostmap"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/tlsca"
)

// DefaultHosts returns the platform hosts the sandbox always answers for: WeChat's API host, its
// regional and backup entry points, and mp.weixin.qq.com (showqrcode).
func DefaultHosts() []string {
	return []string{
		"api.weixin.qq.com", "api2.weixin.qq.com", "sh.api.weixin.qq.com", "sz.api.weixin.qq.com",
		"hk.api.weixin.qq.com", "mp.weixin.qq.com",
	}
}

// handshakeTimeout bounds a TLS handshake, and readHeaderTimeout the wait for a request's header,
// as the plain listener does.
const (
	handshakeTimeout  = 10 * time.Second
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Deps are what the proxy needs.
type Deps struct {
	// Handler is the sandbox: what tunnels, TLS connections and absolute-URL requests for an
	// emulated host are served by.
	Handler http.Handler
	// CA returns the certificate authority, created on first use.
	CA func() (*tlsca.CA, error)
	// Extra reports whether a host beyond DefaultHosts is emulated; nil for none.
	Extra func(host string) bool
	// Hosts maps the user's own test hosts to local addresses; nil for none.
	Hosts *hostmap.Map
	// Journal receives an entry for each request the proxy refuses.
	Journal *journal.Journal
	// Clock stamps those entries.
	Clock  clock.Clock
	Logger *slog.Logger
}

// Proxy is the sandbox's forward proxy and TLS front. It is safe for concurrent use.
type Proxy struct {
	deps     Deps
	defaults []string
	tls      *tls.Config
	// forward passes requests for mapped hosts on to their addresses.
	forward *httputil.ReverseProxy
	// serve routes a terminated connection's requests: to forward or to the sandbox.
	serve http.Handler
}

// New returns the proxy.
func New(d Deps) *Proxy {
	p := &Proxy{deps: d, defaults: DefaultHosts()}
	if d.Hosts != nil {
		p.forward = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.Out.URL.Scheme = "http"
				pr.Out.URL.Host = pr.In.Host // the map dials its address, whatever the port
				pr.Out.Host = pr.In.Host
				pr.SetXForwarded()
			},
			// MappedOnly: a host whose mapping was deleted meanwhile gets an error, not a dial.
			Transport: d.Hosts.Client(hostmap.MappedOnly, 0).Transport,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				d.Logger.Warn("proxy: a mapped host did not answer", "host", r.Host, "path", r.URL.Path, "err", err)
				writeJSONError(w, http.StatusBadGateway, "mapped_host_unreachable", "the address "+r.Host+" is mapped to did not answer: "+err.Error(), r.Host)
			},
		}
	}
	p.serve = http.HandlerFunc(p.serveTerminated)
	p.tls = &tls.Config{
		GetCertificate: p.certificate,
		// HTTP/1.1 only: the sandbox handler is the same either way, and a tunnel's client then
		// behaves exactly as it would over the plain listener.
		NextProtos: []string{"http/1.1"},
		MinVersion: tls.VersionTLS12,
	}
	return p
}

// normalHost lower-cases a host name and drops a trailing dot.
func normalHost(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }

// Emulates reports whether the sandbox answers for host (a name without a port).
func (p *Proxy) Emulates(host string) bool {
	host = normalHost(host)
	if host == "" {
		return false
	}
	return slices.Contains(p.defaults, host) || (p.deps.Extra != nil && p.deps.Extra(host))
}

// serveTerminated serves a request that came over TLS terminated here, routed by the name the
// handshake was for (the SNI, or the CONNECT target when the client sent none): the sandbox for
// an emulated host, the mapped address for a mapped one. A host whose mapping was removed since
// the connection opened is refused, as a new connection for it would be.
func (p *Proxy) serveTerminated(w http.ResponseWriter, r *http.Request) {
	name := hostOnly(r.Host)
	if r.TLS != nil && r.TLS.ServerName != "" {
		name = r.TLS.ServerName
	}
	name = normalHost(name)
	switch {
	case p.Emulates(name):
		p.deps.Handler.ServeHTTP(w, r)
	case p.mapped(name):
		r2 := *r
		r2.Host = name
		p.forward.ServeHTTP(w, &r2)
	default:
		p.refuse(w, r, refusal{
			status: http.StatusForbidden, code: journal.LeakHostNotEmulated, host: name, leak: journal.LeakHostNotEmulated,
			msg: "the sandbox does not emulate " + name + ", and no --resolve maps it any more",
		})
	}
}

// mapped reports whether host is one of the user's own test hosts: mapped to a local address
// and not a host the sandbox emulates.
func (p *Proxy) mapped(host string) bool {
	if p.deps.Hosts == nil || p.Emulates(host) {
		return false
	}
	_, ok := p.deps.Hosts.Lookup(normalHost(host))
	return ok
}

// terminates reports whether the proxy takes a tunnel or handshake for host: emulated or mapped.
func (p *Proxy) terminates(host string) bool { return p.Emulates(host) || p.mapped(host) }

// hostOnly drops the port of a Host header.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// Routes registers the proxy's control-plane handler.
func (p *Proxy) Routes(r endpoint.Routes) {
	r.Handle("getCA", p.handleCA) // GET /_sandbox/ca.pem
}

func (p *Proxy) handleCA(*endpoint.Call) (any, error) {
	ca, err := p.deps.CA()
	if err != nil {
		return nil, err
	}
	return endpoint.Raw{ContentType: "application/x-pem-file", Body: ca.PEM()}, nil
}

// Server serves one listener: the plain one with the forward proxy (Handler and Listener), or a
// TLS one (ServeTLS). It has its own HTTP server for the connections it terminates TLS on.
type Server struct {
	p     *Proxy
	inner *http.Server
	conns *connQueue
	done  chan struct{}

	mu sync.Mutex
	// fresh are the terminated connections that have not yet carried a request: a client's
	// pool dials spares that may never be used, and Shutdown must not wait for those.
	fresh map[net.Conn]struct{}
}

// NewServer returns a server for one listener; Shutdown ends it.
func (p *Proxy) NewServer(addr net.Addr) *Server {
	s := &Server{p: p, conns: newConnQueue(addr), done: make(chan struct{}), fresh: map[net.Conn]struct{}{}}
	s.inner = &http.Server{
		Handler:           p.serve,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(p.deps.Logger.Handler(), slog.LevelWarn),
		ConnState: func(c net.Conn, state http.ConnState) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if state == http.StateNew {
				s.fresh[c] = struct{}{}
			} else {
				delete(s.fresh, c)
			}
		},
	}
	go func() {
		defer close(s.done)
		_ = s.inner.Serve(s.conns) // returns when Shutdown closes the queue
	}()
	return s
}

// Shutdown stops taking connections and waits, until ctx ends, for the requests in flight on the
// connections this server terminated TLS on.
func (s *Server) Shutdown(ctx context.Context) error {
	// No new connection is taken, and those that never carried a request are closed now:
	// http.Server would wait five seconds for each of them to send one.
	_ = s.conns.Close()
	s.mu.Lock()
	for c := range s.fresh {
		// The raw connection: a TLS close_notify could block on a client that reads nothing.
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn()
		}
		_ = c.Close()
	}
	s.mu.Unlock()
	err := s.inner.Shutdown(ctx)
	<-s.done
	if err != nil {
		return fmt.Errorf("proxy: shutdown: %w", err)
	}
	return nil
}

// Handler is the forward proxy in front of the sandbox handler, for the plain listener.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		s.connect(w, r)
	case r.URL.IsAbs():
		s.absolute(w, r)
	default:
		s.p.deps.Handler.ServeHTTP(w, r)
	}
}

// refusal is a request the proxy answers itself.
type refusal struct {
	status int
	code   string
	host   string
	msg    string
	leak   string // a journal.Leak* kind, or "" for bad input that is no leak
}

// refuse answers r with a JSON error, closes the connection after it, logs and journals it.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, f refusal) {
	w.Header().Set("Connection", "close")
	b := writeJSONError(w, f.status, f.code, f.msg, f.host)

	client := clientIP(r.RemoteAddr)
	e := journal.Entry{
		Time: p.deps.Clock.Now(), Platform: journal.PlatformProxy, Method: r.Method, ClientIP: client,
		Status: f.status, ErrorName: f.code, Reason: f.msg, Response: string(b),
	}
	if r.Method != http.MethodConnect {
		e.Path, e.Query = r.URL.Path, r.URL.RawQuery
	}
	if f.leak != "" {
		e.Leak = &journal.Leak{Kind: f.leak, Host: f.host}
	} else {
		p.deps.Logger.Warn("proxy: refused", "method", r.Method, "target", r.RequestURI, "status", f.status, "reason", f.msg, "client", r.RemoteAddr)
	}
	p.deps.Journal.Add(e) // the tripwire logs leaks as it records them
}

// writeJSONError answers {"error":{"code","message"[,"host"]}}, the control plane's shape, and
// returns the body.
func writeJSONError(w http.ResponseWriter, status int, code, msg, host string) []byte {
	body := map[string]any{"code": code, "message": msg}
	if host != "" {
		body["host"] = host
	}
	b, err := jsonenc.Marshal(map[string]any{"error": body})
	if err != nil {
		b = []byte(`{"error":{"code":"internal","message":"encode refusal"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return b
}

func clientIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// target splits a CONNECT request's authority, "host:port", refusing any other form.
func connectTarget(raw string) (host, port string, err error) {
	if raw == "" || strings.ContainsAny(raw, "/@?#") {
		return "", "", errors.New("CONNECT takes host:port, such as api.weixin.qq.com:443")
	}
	host, port, err = net.SplitHostPort(raw)
	if err != nil {
		return "", "", fmt.Errorf("CONNECT takes host:port, such as api.weixin.qq.com:443: %w", err)
	}
	if host == "" {
		return "", "", errors.New("CONNECT target has no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port != strconv.Itoa(n) {
		return "", "", fmt.Errorf("CONNECT target port %q is not a port number", port)
	}
	return normalHost(host), port, nil
}

// connect serves a CONNECT: a tunnel to an emulated host on 443, terminated here.
func (s *Server) connect(w http.ResponseWriter, r *http.Request) {
	host, port, err := connectTarget(r.RequestURI)
	if err != nil {
		s.p.refuse(w, r, refusal{status: http.StatusBadRequest, code: "malformed_connect", msg: err.Error()})
		return
	}
	hostPort := net.JoinHostPort(host, port)
	mapped := s.p.mapped(host)
	if !mapped && !s.p.Emulates(host) {
		s.p.refuse(w, r, refusal{
			status: http.StatusForbidden, code: journal.LeakHostNotEmulated, host: hostPort, leak: journal.LeakHostNotEmulated,
			msg: "the sandbox does not emulate " + host + " and never connects to real hosts: this request would have left for production",
		})
		return
	}
	if port != "443" && !mapped {
		s.p.refuse(w, r, refusal{
			status: http.StatusForbidden, code: journal.LeakPortNotEmulated, host: hostPort, leak: journal.LeakPortNotEmulated,
			msg: "the sandbox emulates " + host + " on port 443 only",
		})
		return
	}
	rc := http.NewResponseController(w)
	conn, brw, err := rc.Hijack()
	if err != nil {
		s.p.refuse(w, r, refusal{status: http.StatusInternalServerError, code: "internal", msg: "hijack the connection: " + err.Error()})
		return
	}
	_ = conn.SetDeadline(time.Time{}) // the listener's header timeout no longer applies
	if pc, ok := conn.(*plainConn); ok {
		conn = pc.Conn // a tunnel carries TLS records, never net/http's own answers
	}
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		_ = conn.Close()
		return
	}
	// The client may have sent its ClientHello right behind the CONNECT: it is in brw.
	peer := &peerConn{Conn: conn, target: host}
	if n := brw.Reader.Buffered(); n > 0 {
		peer.early, _ = brw.Reader.Peek(n)
	}
	s.handshake(peer)
}

// absolute serves a request with an absolute URL, as a plain-HTTP proxy gets them.
func (s *Server) absolute(w http.ResponseWriter, r *http.Request) {
	host := normalHost(r.URL.Hostname())
	port := r.URL.Port()
	defaultPort := map[string]string{"http": "80", "https": "443"}[strings.ToLower(r.URL.Scheme)]
	if port == "" {
		port = defaultPort
	}
	hostPort := net.JoinHostPort(host, port)
	switch {
	case s.isSelf(r, host, port):
	case s.p.mapped(host):
		r2 := *r
		r2.Header = r.Header.Clone()
		r2.Header.Del("Proxy-Authorization")
		r2.Header.Del("Proxy-Connection")
		s.p.forward.ServeHTTP(w, &r2)
		return
	case !s.p.Emulates(host):
		s.p.refuse(w, r, refusal{
			status: http.StatusForbidden, code: journal.LeakHostNotEmulated, host: hostPort, leak: journal.LeakHostNotEmulated,
			msg: "the sandbox does not emulate " + host + " and never connects to real hosts: this request would have left for production",
		})
		return
	case port != defaultPort || defaultPort == "":
		s.p.refuse(w, r, refusal{
			status: http.StatusForbidden, code: journal.LeakPortNotEmulated, host: hostPort, leak: journal.LeakPortNotEmulated,
			msg: "the sandbox emulates " + host + " on the scheme's own port only (80 for http, 443 for https)",
		})
		return
	}
	// Served as an ordinary request: the path is what routes it; proxy credentials stay here.
	r2 := *r
	u := *r.URL
	u.Scheme, u.Host, u.User = "", "", nil
	r2.URL = &u
	r2.RequestURI = u.RequestURI()
	r2.Header = r.Header.Clone()
	r2.Header.Del("Proxy-Authorization")
	r2.Header.Del("Proxy-Connection")
	s.p.deps.Handler.ServeHTTP(w, &r2)
}

// isSelf reports whether host:port is the listener the request arrived on, which a client
// proxying every request, its calls to the sandbox's own address included, sends here too.
func (s *Server) isSelf(r *http.Request, host, port string) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	if !ok || strconv.Itoa(local.Port) != port {
		return false
	}
	if host == "localhost" {
		return local.IP.IsLoopback()
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.Equal(local.IP) || (local.IP.IsUnspecified() && ip.IsLoopback()))
}

// ServeTLS accepts TLS connections on ln until it is closed, each served by the sandbox handler
// with the certificate its SNI names.
func (s *Server) ServeTLS(ln net.Listener) error {
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("proxy: accept: %w", err)
		}
		delay = 0
		go s.handshake(&peerConn{Conn: conn})
	}
}

// handshake runs the server side of a TLS handshake on conn and hands the connection to the inner
// HTTP server; a failed handshake is logged and the connection closed.
func (s *Server) handshake(conn *peerConn) {
	tc := tls.Server(conn, s.p.tls)
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		attrs := []any{"client", conn.RemoteAddr().String(), "sni", conn.sni}
		if conn.target != "" {
			attrs = append(attrs, "connect", conn.target)
		}
		switch {
		case conn.refusal != "":
			s.p.deps.Logger.Warn("TLS handshake refused: "+conn.refusal, attrs...)
		default:
			s.p.deps.Logger.Warn("TLS handshake failed (does the client trust the sandbox CA? citysandbox ca, or GET /_sandbox/ca.pem)", append(attrs, "err", err)...)
		}
		_ = tc.Close()
		return
	}
	if !s.conns.push(tc) {
		_ = tc.Close()
	}
}

// certificate picks the certificate for a handshake: the CONNECT target's in a tunnel, the SNI
// name's on the TLS listener. A name the sandbox does not answer for gets no certificate, which
// crypto/tls turns into an unrecognized_name alert.
func (p *Proxy) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	conn, _ := hello.Conn.(*peerConn)
	if conn == nil {
		return nil, errors.New("proxy: handshake on an unknown connection")
	}
	name := normalHost(hello.ServerName)
	conn.sni = name
	switch {
	case conn.target != "" && name == "":
		name = conn.target // a client that sends no SNI in a tunnel means the CONNECT target
	case conn.target != "" && name != conn.target:
		conn.refusal = fmt.Sprintf("SNI %q is not the CONNECT target %q", name, conn.target)
		return nil, nil
	case name == "":
		conn.refusal = "the client sent no SNI: the sandbox picks the certificate by host name, so connect to a platform host name (/etc/hosts or extra_hosts), not an address"
		return nil, nil
	case !p.terminates(name):
		conn.refusal = fmt.Sprintf("the sandbox does not emulate %q, and no --resolve maps it", name)
		return nil, nil
	}
	ca, err := p.deps.CA()
	if err != nil {
		conn.refusal = "no certificate authority: " + err.Error()
		return nil, err
	}
	cert, err := ca.Leaf(name)
	if err != nil {
		conn.refusal = err.Error()
		return nil, err
	}
	return cert, nil
}

// peerConn is a connection being terminated here: the client's own, so its RemoteAddr is the
// client's. It carries what the handshake learns, for the log.
type peerConn struct {
	net.Conn
	// early holds bytes the client sent behind its CONNECT, read before the tunnel opened.
	early []byte
	// target is the CONNECT's host, or "" on the TLS listener.
	target string
	// sni and refusal are set during the handshake.
	sni, refusal string
}

func (c *peerConn) Read(b []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(b, c.early)
		c.early = c.early[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// connQueue is a listener whose connections are handed to it: the inner HTTP server's.
type connQueue struct {
	addr   net.Addr
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

// push hands conn to the server; false once the queue is closed.
func (q *connQueue) push(conn net.Conn) bool {
	select {
	case q.ch <- conn:
		return true
	case <-q.closed:
		return false
	}
}

// Accept implements net.Listener.
func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

// Addr implements net.Listener.
func (q *connQueue) Addr() net.Addr { return q.addr }

// RefuseConnect answers CONNECT with 405 and a JSON body before next sees it, and closes the
// connection: a handler mounted without the forward proxy is no proxy, and any 200 would make a
// client believe a tunnel had opened.
func RefuseConnect(next http.Handler, logger *slog.Logger) http.Handler {
	body := []byte(`{"error":{"code":"not_a_proxy","message":"CONNECT is answered by the sandbox's forward proxy: serve the sandbox with citysandbox serve (or Server.Serve), which takes CONNECT on its plain listener"}}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			next.ServeHTTP(w, r)
			return
		}
		logger.Warn("CONNECT refused: this handler is not the forward proxy", "target", r.RequestURI, "client", r.RemoteAddr)
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Allow", "GET, POST, PUT, PATCH, DELETE")
		h.Set("Connection", "close")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write(body)
	})
}
