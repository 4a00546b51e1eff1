package control

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
)

// The web console: one server-rendered page and one script, which calls the documented
// /_sandbox/ verbs with fetch and follows the journal through GET /_sandbox/requests/stream.
//
//go:embed console/index.html console/console.js
var consoleFiles embed.FS

var consolePage = template.Must(template.ParseFS(consoleFiles, "console/index.html"))

// consolePanels are the console's panels, in the order of its navigation.
var consolePanels = []struct{ ID, Title string }{
	{"apps", "Apps"}, {"journal", "Journal"}, {"clock", "Clock"}, {"faults", "Faults"}, {"scan", "Scan"},
	{"qrcodes", "QR codes"}, {"pushes", "Pushes"}, {"cityservice", "City Service"}, {"jincheng", "Jincheng apps"},
	{"contract", "Contract"},
}

// streamLimit is how many kept entries a stream sends first when the client names no limit.
const streamLimit = 200

// streams ends the live streams when the server shuts down (see EndStreams).
type streams struct {
	mu   sync.Mutex
	done chan struct{}
}

func (s *streams) current() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
	}
	return s.done
}

// EndStreams ends the journal streams open now, so that a graceful shutdown does not wait for a
// console left open; streams opened later run as usual.
func (p *Plane) EndStreams() {
	p.streams.mu.Lock()
	defer p.streams.mu.Unlock()
	if p.streams.done != nil {
		close(p.streams.done)
		p.streams.done = nil
	}
}

func (p *Plane) handleConsole(*endpoint.Call) (any, error) {
	var buf bytes.Buffer
	err := consolePage.Execute(&buf, map[string]any{
		"Version": p.deps.Version, "Guarded": p.deps.AdminToken != "", "Panels": consolePanels,
	})
	if err != nil {
		return nil, fmt.Errorf("console: render: %w", err)
	}
	return endpoint.Raw{ContentType: "text/html; charset=utf-8", Header: http.Header{"Cache-Control": {"no-store"}}, Body: buf.Bytes()}, nil
}

func (p *Plane) handleConsoleScript(*endpoint.Call) (any, error) {
	b, err := consoleFiles.ReadFile("console/console.js")
	if err != nil {
		return nil, fmt.Errorf("console: script: %w", err)
	}
	return endpoint.Raw{ContentType: "text/javascript; charset=utf-8", Body: b}, nil
}

// journalFilter reads the filters GET /_sandbox/requests and its stream share.
func journalFilter(c *endpoint.Call) (journal.Filter, error) {
	f := journal.Filter{Path: c.Query("path"), AppID: c.Query("appid"), Operation: c.Query("operation"), Event: c.Query("event"), ID: c.Query("rid")}
	if v := c.Query("errcode"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return f, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_filter", Reason: "errcode must be an integer"}
		}
		f.Errcode = &n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return f, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_filter", Reason: "limit must be a non-negative integer"}
		}
		f.Limit = n
	}
	if v := c.Query("control"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_filter", Reason: "control must be true or false"}
		}
		f.NoControl = !b
	}
	return f, nil
}

// seqParam reads a journal cursor (an entry's seq) from the query; absent is 0.
func seqParam(c *endpoint.Call, name string) (uint64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_filter", Reason: name + " must be an entry's seq (a non-negative integer)"}
	}
	return n, nil
}

func (p *Plane) handleStreamRequests(c *endpoint.Call) (any, error) {
	f, err := journalFilter(c)
	if err != nil {
		return nil, err
	}
	if c.Query("limit") == "" {
		f.Limit = streamLimit
	}
	if v := c.Request().Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_filter", Reason: "Last-Event-ID must be an entry's seq"}
		}
		f.After, f.Limit = n, 0
	}
	ctx := c.Request().Context()
	return endpoint.Stream{
		ContentType: "text/event-stream",
		Header:      http.Header{"Cache-Control": {"no-store"}, "X-Accel-Buffering": {"no"}},
		Write:       func(w http.ResponseWriter) { p.stream(ctx, w, f) },
	}, nil
}

// stream writes the entries f selects, then each new one, until the client goes away or the
// server shuts down.
func (p *Plane) stream(ctx context.Context, w http.ResponseWriter, f journal.Filter) {
	rc := http.NewResponseController(w)
	j := p.deps.Journal
	end := p.streams.current()
	heartbeat := time.NewTicker(15 * time.Second) // wall time: keeps proxies from closing it
	defer heartbeat.Stop()
	var buf bytes.Buffer
	buf.WriteString("retry: 1000\n\n")
	for {
		changed := j.Changed()
		last := j.LastSeq()
		if last < f.After {
			buf.WriteString("event: reset\ndata: {}\n\n")
			f.After = 0
		}
		for _, e := range j.List(f) {
			b, err := jsonenc.Marshal(e)
			if err != nil {
				continue
			}
			fmt.Fprintf(&buf, "event: entry\nid: %d\ndata: %s\n\n", e.Seq, b)
			f.After = max(f.After, e.Seq)
		}
		f.After, f.Limit = max(f.After, last), 0
		if buf.Len() > 0 {
			if _, err := w.Write(buf.Bytes()); err != nil {
				return
			}
			buf.Reset()
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-end:
			return
		case <-heartbeat.C:
			buf.WriteString(": still here\n\n")
		case <-changed:
		}
	}
}
