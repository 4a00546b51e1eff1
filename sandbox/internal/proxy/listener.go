package proxy

import (
	"bytes"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
)

// Listener wraps the plain listener so that the answers net/http writes itself, before any
// handler runs — to a request line or header it cannot parse, such as "CONNECT a b c" or
// "CONNECT host:port" without a version — are JSON like every other answer instead of
// text/plain.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return &plainListener{Listener: ln, logger: s.p.deps.Logger}
}

type plainListener struct {
	net.Listener
	logger *slog.Logger
}

// Accept implements net.Listener.
func (l *plainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &plainConn{Conn: c, logger: l.logger}, nil
}

// plainConn rewrites net/http's own error answers on the way out.
type plainConn struct {
	net.Conn
	logger *slog.Logger
}

// netHTTPErrorHeaders follow the status line of every answer net/http writes before a handler
// runs (net/http's conn.serve), and of no other: a handler's answer always has a Date header
// first.
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// Write implements net.Conn.
func (c *plainConn) Write(b []byte) (int, error) {
	const proto = "HTTP/1.1 "
	if !bytes.HasPrefix(b, []byte(proto)) {
		return c.Conn.Write(b)
	}
	end := bytes.IndexByte(b, '\r')
	if end < 0 || !bytes.HasPrefix(b[end:], []byte(netHTTPErrorHeaders)) {
		return c.Conn.Write(b)
	}
	status := string(b[len(proto):end]) // "400 Bad Request", or "400 Bad Request: <why>"
	code, _, _ := strings.Cut(status, " ")
	if _, err := strconv.Atoi(code); err != nil {
		return c.Conn.Write(b)
	}
	line, why, _ := strings.Cut(status, ": ")
	msg := "the request line or a header is malformed"
	if why != "" {
		msg = why
	}
	body, err := jsonenc.Marshal(map[string]any{"error": map[string]any{"code": "malformed_request", "message": msg}})
	if err != nil {
		return c.Conn.Write(b)
	}
	c.logger.Warn("refused a request net/http could not parse", "status", line, "reason", msg, "client", c.RemoteAddr().String())
	out := proto + line + "\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
	if _, err := c.Conn.Write([]byte(out)); err != nil {
		return 0, err
	}
	return len(b), nil
}
