package sandbox

import "github.com/citysandbox/citysandbox/sandbox/internal/hostmap"

// HostMapping sends one host name to a local address.
type HostMapping struct {
	// Host is a DNS name in lower case.
	Host string `json:"host"`
	// Addr is "IP:PORT" with a loopback, private or link-local IP.
	Addr string `json:"addr"`
}

// MapHost maps host to addr ("IP:PORT", a loopback, private or link-local IP literal), replacing
// any mapping of host, as PUT /_sandbox/hosts/{host} does. A mapped host's QR-jump verification
// file is fetched from addr, and pushes to its URLs go there, whatever port the URL names. The
// map is configuration: it is not stored state, and a reset keeps it.
func (s *Server) MapHost(host, addr string) (HostMapping, error) {
	m, err := s.hosts.Set(host, addr)
	return HostMapping(m), err
}

// UnmapHost removes host's mapping, as DELETE /_sandbox/hosts/{host} does, and reports whether
// there was one.
func (s *Server) UnmapHost(host string) bool { return s.hosts.Delete(host) }

// HostMappings lists the mapped hosts in host order, as GET /_sandbox/hosts does.
func (s *Server) HostMappings() []HostMapping {
	return convertSlice(s.hosts.Mappings(), func(m hostmap.Mapping) HostMapping { return HostMapping(m) })
}
