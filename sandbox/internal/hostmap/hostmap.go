// Package hostmap is the sandbox's map of host names to local addresses: the hosts a user points
// at servers of their own (`--resolve HOST=ADDR:PORT`, CITYSANDBOX_RESOLVE, the control-plane
// route /_sandbox/hosts, sandbox.WithResolve), so that the sandbox can reach them the way WeChat
// would reach an integrator's domain.
//
// Three parts of the sandbox read it:
//   - the QR-jump verification-file check fetches the file only from a mapped host, and the
//     client it uses (Client with MappedOnly) opens no connection to any other host;
//   - pushes go to the mapped address when the push URL's host is mapped, and as the URL says
//     otherwise (Client with MappedOrDirect); scenario receivers use this with stable logical
//     names (http://<name>.receiver.invalid/...) so that their loopback ports never enter the
//     stored state;
//   - whatever serves HTTPS for the platforms' hosts may issue certificates for Hosts().
//
// A mapping names a host (a DNS name, not an address) and an IP literal and port that must be
// loopback, private (RFC 1918, fc00::/7) or link-local: nothing a mapping says can send the
// sandbox to a real domain or a public address, and no name is ever resolved through DNS. A
// mapped host's connections go to the mapped address whatever port the URL names.
//
// A Map is safe for concurrent use. It is configuration, not state: it lives in memory, is not
// part of the stored state or its hash, and a sandbox reset keeps it.
package hostmap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Mapping sends one host to one address.
type Mapping struct {
	// Host is a DNS name in lower case: "www.citytest.cn", "oa.receiver.invalid".
	Host string `json:"host"`
	// Addr is "IP:PORT" with a loopback, private or link-local IP.
	Addr string `json:"addr"`
}

// Parse reads "HOST=ADDR:PORT", the form of --resolve.
func Parse(s string) (Mapping, error) {
	host, addr, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return Mapping{}, fmt.Errorf("hostmap: %q is not HOST=ADDR:PORT", s)
	}
	return Check(host, addr)
}

// Check validates a host and an address and returns them as a Mapping (the host in lower case).
func Check(host, addr string) (Mapping, error) {
	host = strings.ToLower(strings.TrimSpace(host))
	if err := checkHost(host); err != nil {
		return Mapping{}, err
	}
	ap, err := netip.ParseAddrPort(strings.TrimSpace(addr))
	if err != nil {
		return Mapping{}, fmt.Errorf("hostmap: address %q is not IP:PORT (an IP literal: names are never resolved)", addr)
	}
	ip := ap.Addr().Unmap()
	if !ip.IsLoopback() && !ip.IsPrivate() && !ip.IsLinkLocalUnicast() {
		return Mapping{}, fmt.Errorf("hostmap: address %s is not loopback, private or link-local: only the user's own test servers may be mapped", ip)
	}
	if ap.Port() == 0 {
		return Mapping{}, fmt.Errorf("hostmap: address %q has no port", addr)
	}
	return Mapping{Host: host, Addr: netip.AddrPortFrom(ip, ap.Port()).String()}, nil
}

// checkHost accepts a DNS name: dot-separated labels of letters, digits and hyphens.
func checkHost(host string) error {
	if host == "" || len(host) > 253 {
		return fmt.Errorf("hostmap: host %q is not a DNS name", host)
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return fmt.Errorf("hostmap: host %q is an address; map a name", host)
	}
	for _, l := range strings.Split(host, ".") {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return fmt.Errorf("hostmap: host %q is not a DNS name", host)
		}
	}
	return nil
}

// Map is the set of mappings.
type Map struct {
	mu    sync.RWMutex
	hosts map[string]string
	// transports are the clients' transports, whose idle connections are closed when a mapping
	// changes so that no request reaches an address a host no longer maps to.
	transports []*http.Transport
}

// New returns a map holding ms.
func New(ms ...Mapping) *Map {
	m := &Map{hosts: map[string]string{}}
	for _, mp := range ms {
		m.hosts[mp.Host] = mp.Addr
	}
	return m
}

// Set maps host to addr, replacing any mapping of host; both are checked as Check does.
func (m *Map) Set(host, addr string) (Mapping, error) {
	mp, err := Check(host, addr)
	if err != nil {
		return Mapping{}, err
	}
	m.mu.Lock()
	m.hosts[mp.Host] = mp.Addr
	m.mu.Unlock()
	m.closeIdle()
	return mp, nil
}

// Delete removes the mapping of host and reports whether there was one.
func (m *Map) Delete(host string) bool {
	host = strings.ToLower(host)
	m.mu.Lock()
	_, ok := m.hosts[host]
	delete(m.hosts, host)
	m.mu.Unlock()
	if ok {
		m.closeIdle()
	}
	return ok
}

// Lookup returns the address host is mapped to. A host with a port ("a.test:80") is looked up
// without it.
func (m *Map) Lookup(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	addr, ok := m.hosts[strings.ToLower(host)]
	return addr, ok
}

// Hosts returns the mapped hosts, sorted.
func (m *Map) Hosts() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.hosts))
	for h := range m.hosts {
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}

// Mappings returns every mapping, sorted by host.
func (m *Map) Mappings() []Mapping {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Mapping, 0, len(m.hosts))
	for h, a := range m.hosts {
		out = append(out, Mapping{Host: h, Addr: a})
	}
	slices.SortFunc(out, func(a, b Mapping) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// Policy says where a client may connect.
type Policy int

// Policies.
const (
	// MappedOrDirect sends a mapped host to its address and any other host where its URL says.
	MappedOrDirect Policy = iota
	// MappedOnly sends a mapped host to its address and refuses every other host
	// (*UnmappedError) without opening a connection.
	MappedOnly
)

// UnmappedError is a MappedOnly client's refusal of a host nobody mapped.
type UnmappedError struct{ Host string }

func (e *UnmappedError) Error() string {
	return "hostmap: " + e.Host + " is not mapped to a local address (--resolve HOST=ADDR:PORT)"
}

// Client returns an HTTP client that dials by p, uses no proxy and follows no redirect (WeChat
// follows none when it pushes or fetches a file). timeout bounds each request; zero: none.
func (m *Map) Client(p Policy, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	t := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return nil, fmt.Errorf("hostmap: dial %s: %w", address, err)
			}
			if addr, ok := m.Lookup(host); ok {
				return dialer.DialContext(ctx, network, addr)
			}
			if p == MappedOnly {
				return nil, &UnmappedError{Host: host}
			}
			return dialer.DialContext(ctx, network, address)
		},
	}
	m.mu.Lock()
	m.transports = append(m.transports, t)
	m.mu.Unlock()
	return &http.Client{
		Transport:     t,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (m *Map) closeIdle() {
	m.mu.RLock()
	ts := slices.Clone(m.transports)
	m.mu.RUnlock()
	for _, t := range ts {
		t.CloseIdleConnections()
	}
}

// IsUnmapped reports whether err is a MappedOnly client's refusal of an unmapped host.
func IsUnmapped(err error) bool {
	var u *UnmappedError
	return errors.As(err, &u)
}
