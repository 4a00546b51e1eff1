package sandbox

import (
	"fmt"
	"net"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
)

// registerNamespaceRoutes lists the namespace verbs of the control plane. Every sandbox has the
// routes, as the spec drives routing; only a hub's default sandbox serves them.
func (s *Server) registerNamespaceRoutes(r endpoint.Routes) {
	r.Handle("listNamespaces", s.handleListNamespaces)   // GET /_sandbox/namespaces
	r.Handle("createNamespace", s.handleCreateNamespace) // POST /_sandbox/namespaces
	r.Handle("putNamespace", s.handleCreateNamespace)    // PUT /_sandbox/namespaces/{name}
	r.Handle("getNamespace", s.handleGetNamespace)       // GET /_sandbox/namespaces/{name}
	r.Handle("deleteNamespace", s.handleDeleteNamespace) // DELETE /_sandbox/namespaces/{name}
}

// namespaceHub returns the hub whose namespaces this sandbox manages, or the refusal of a
// sandbox that manages none.
func (s *Server) namespaceHub() (*Hub, error) {
	if s.cfg.hub != nil {
		return s.cfg.hub, nil
	}
	reason := "this sandbox serves no namespaces: a hub's root does (citysandbox serve, sandbox.NewHub)"
	if s.cfg.namespace != "" {
		reason = "namespaces do not nest: manage them at the root, /_sandbox/namespaces, not inside namespace " + s.cfg.namespace
	}
	return nil, &apierr.Error{Kind: apierr.NotFound, Name: "no_namespaces", Reason: reason}
}

// namespaceAnswer is a Namespace as the control plane shows it, with the base URLs seen from the
// request that asked.
type namespaceAnswer struct {
	Name        string     `json:"name"`
	Path        string     `json:"path"`
	URL         string     `json:"url,omitempty"`
	Host        string     `json:"host,omitempty"`
	Seed        uint64     `json:"seed"`
	Clock       time.Time  `json:"clock"`
	ClockFrozen bool       `json:"clock_frozen"`
	TTL         string     `json:"ttl,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  time.Time  `json:"last_used_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	Keys        int        `json:"keys"`
	Bytes       int        `json:"bytes"`
}

func answerOf(c *endpoint.Call, ns Namespace) namespaceAnswer {
	a := namespaceAnswer{
		Name: ns.Name, Path: ns.Path, Seed: ns.Seed, Clock: ns.Clock, ClockFrozen: ns.ClockFrozen,
		CreatedAt: ns.CreatedAt, LastUsedAt: ns.LastUsedAt, Keys: ns.Keys, Bytes: ns.Bytes,
	}
	if ns.TTL > 0 {
		a.TTL = ns.TTL.String()
		at := ns.ExpiresAt
		a.ExpiresAt = &at
	}
	if r := c.Request(); r.Host != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		a.URL = scheme + "://" + r.Host + ns.Path
		host, port, err := net.SplitHostPort(r.Host)
		if err != nil {
			host, port = r.Host, ""
		}
		a.Host = ns.Name + "." + namespaceHostLabel + "." + host
		if port != "" {
			a.Host = net.JoinHostPort(a.Host, port)
		}
	}
	return a
}

func (s *Server) handleListNamespaces(c *endpoint.Call) (any, error) {
	h, err := s.namespaceHub()
	if err != nil {
		return nil, err
	}
	spaces, err := h.Namespaces()
	if err != nil {
		return nil, err
	}
	out := make([]namespaceAnswer, 0, len(spaces))
	for _, ns := range spaces {
		out = append(out, answerOf(c, ns))
	}
	return map[string]any{"namespaces": out, "max": h.max}, nil
}

func (s *Server) handleCreateNamespace(c *endpoint.Call) (any, error) {
	h, err := s.namespaceHub()
	if err != nil {
		return nil, err
	}
	var req struct {
		Name  string  `json:"name"`
		Seed  *uint64 `json:"seed"`
		Clock string  `json:"clock"`
		TTL   string  `json:"ttl"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	spec := NamespaceSpec{Name: req.Name, Seed: req.Seed}
	if name := c.Param("name"); name != "" {
		spec.Name = name // PUT /_sandbox/namespaces/{name}, whose body has no name
	}
	if req.Clock != "" {
		if spec.Clock, err = time.Parse(time.RFC3339, req.Clock); err != nil {
			return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_namespace", Reason: fmt.Sprintf("clock %q is not an RFC 3339 time", req.Clock)}
		}
	}
	if req.TTL != "" {
		if spec.TTL, err = time.ParseDuration(req.TTL); err != nil || spec.TTL <= 0 {
			return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_namespace", Reason: fmt.Sprintf("ttl %q is not a positive Go duration such as 30m or 2h", req.TTL)}
		}
	}
	ns, err := h.CreateNamespace(spec)
	if err != nil {
		return nil, err
	}
	return endpoint.Created(answerOf(c, ns)), nil
}

func (s *Server) handleGetNamespace(c *endpoint.Call) (any, error) {
	h, err := s.namespaceHub()
	if err != nil {
		return nil, err
	}
	ns, err := h.DescribeNamespace(c.Param("name"))
	if err != nil {
		return nil, err
	}
	return answerOf(c, ns), nil
}

func (s *Server) handleDeleteNamespace(c *endpoint.Call) (any, error) {
	h, err := s.namespaceHub()
	if err != nil {
		return nil, err
	}
	if err := h.DeleteNamespace(c.Param("name")); err != nil {
		return nil, err
	}
	return map[string]any{"ok": true, "deleted": c.Param("name")}, nil
}
