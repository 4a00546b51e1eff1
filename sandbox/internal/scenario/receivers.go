package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
)

// defaultPushWait is Runner.PushWait's default; it only bounds a failure.
const defaultPushWait = 10 * time.Second

// received is one push a hosted receiver got: the decrypted event as JSON, or why it could not
// be verified.
type received struct {
	receiver string
	event    []byte
	// appid is the encrypted trailer's appid ("" for a plaintext push).
	appid   string
	problem string
}

// hosted is the run's receivers, served on loopback.
type hosted struct {
	mu        sync.Mutex
	got       []received
	arrived   chan struct{}
	receivers map[string]Receiver
	servers   []*http.Server
	hosts     []string
}

// hostReceivers serves each receiver on a loopback port and maps its logical host to the port
// through the target's control plane. The returned stop unmaps the hosts and stops the servers.
func (r *Runner) hostReceivers(ctx context.Context, sc *Scenario) (*hosted, func(), error) {
	h := &hosted{arrived: make(chan struct{}, 1), receivers: map[string]Receiver{}}
	stop := func() {
		for _, host := range h.hosts {
			_, _ = r.do(context.WithoutCancel(ctx), http.MethodDelete, "/_sandbox/hosts/"+host, nil, nil)
		}
		for _, srv := range h.servers {
			_ = srv.Close()
		}
	}
	for _, rc := range sc.Receivers {
		h.receivers[rc.Name] = rc
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("scenario %s: receiver %s: %w", sc.file, rc.Name, err)
		}
		srv := &http.Server{Handler: h.handler(rc), ReadHeaderTimeout: 5 * time.Second}
		h.servers = append(h.servers, srv)
		go func() { _ = srv.Serve(ln) }()
		body, _ := json.Marshal(map[string]string{"addr": ln.Addr().String()})
		resp, err := r.do(ctx, http.MethodPut, "/_sandbox/hosts/"+rc.Host(), nil, body)
		if err == nil && resp.status != http.StatusOK {
			err = fmt.Errorf("%d %s", resp.status, resp.body)
		}
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("scenario %s: map receiver %s to its port: %w", sc.file, rc.Name, err)
		}
		h.hosts = append(h.hosts, rc.Host())
	}
	return h, stop, nil
}

// mark is the number of pushes received so far: a step's pushes are those after it.
func (h *hosted) mark() int {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

// since returns the pushes received after mark, waiting until there are at least n of them or
// wait passes.
func (h *hosted) since(ctx context.Context, mark, n int, wait time.Duration) []received {
	if h == nil {
		return nil
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		got := append([]received(nil), h.got[mark:]...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-h.arrived:
		case <-deadline.C:
			return got
		case <-ctx.Done():
			return got
		}
	}
}

func (h *hosted) record(rv received) {
	h.mu.Lock()
	h.got = append(h.got, rv)
	h.mu.Unlock()
	select {
	case h.arrived <- struct{}{}:
	default:
	}
}

// handler is one receiver: the URL handshake and verified, decrypted pushes.
func (h *hosted) handler(rc Receiver) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		q := req.URL.Query()
		ts, nonce := q.Get("timestamp"), q.Get("nonce")
		if q.Get("signature") != push.Signature(rc.Token, ts, nonce) {
			if req.Method == http.MethodPost {
				h.record(received{receiver: rc.Name, problem: "bad signature on " + req.URL.RawQuery})
			}
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		if req.Method == http.MethodGet {
			_, _ = io.WriteString(w, q.Get("echostr"))
			return
		}
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		event, appid, err := verifyPush(rc, q, body)
		if err != nil {
			h.record(received{receiver: rc.Name, problem: err.Error()})
			http.Error(w, "bad push", http.StatusBadRequest)
			return
		}
		h.record(received{receiver: rc.Name, event: event, appid: appid})
		_, _ = io.WriteString(w, rc.Answer)
	})
}

// verifyPush checks a push against the receiver's configuration and returns its event as JSON
// and, for an encrypted push, the appid of the trailer.
func verifyPush(rc Receiver, q url.Values, body []byte) (event []byte, appid string, err error) {
	fields, err := messageJSON(rc.Format, body)
	if err != nil {
		return nil, "", fmt.Errorf("the %s body does not decode: %v: %s", rc.Format, err, clip(string(body)))
	}
	encrypted := q.Get("encrypt_type") == "aes"
	if encrypted != (rc.Mode != "plaintext") {
		return nil, "", fmt.Errorf("mode %s, but the URL has encrypt_type=%q", rc.Mode, q.Get("encrypt_type"))
	}
	if !encrypted {
		return fields, "", nil
	}
	var env struct {
		Encrypt string `json:"Encrypt"`
	}
	if err := json.Unmarshal(fields, &env); err != nil || env.Encrypt == "" {
		return nil, "", fmt.Errorf("an encrypted push without Encrypt: %s", clip(string(body)))
	}
	if q.Get("msg_signature") != push.MsgSignature(rc.Token, q.Get("timestamp"), q.Get("nonce"), env.Encrypt) {
		return nil, "", errors.New("bad msg_signature")
	}
	plain, appid, err := push.Decrypt(rc.EncodingAESKey, env.Encrypt)
	if err != nil {
		return nil, "", fmt.Errorf("decrypt: %v", err)
	}
	event, err = messageJSON(rc.Format, plain)
	if err != nil {
		return nil, "", fmt.Errorf("the decrypted %s does not decode: %v: %s", rc.Format, err, clip(string(plain)))
	}
	return event, appid, nil
}

// messageJSON turns a push message into a JSON object: a JSON body as it is, an <xml> body with
// one field per element — text in CDATA a string, other text a number when it is one (WeChat
// writes integers bare and strings in CDATA), nested elements an object, repeated ones an array.
func messageJSON(format string, b []byte) ([]byte, error) {
	if format == "json" {
		if !json.Valid(b) || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
			return nil, errors.New("not a JSON object")
		}
		return b, nil
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("no <xml> element: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "xml" {
				return nil, fmt.Errorf("root element <%s>, want <xml>", se.Name.Local)
			}
			return xmlContent(dec, b)
		}
	}
}

// xmlContent reads the content of the element just opened, up to its end, as JSON: an object of
// its children when it has some (in their order; a repeated child is an array), otherwise its
// text — a string if any of it was CDATA, a number if it reads as one, else a string.
func xmlContent(dec *xml.Decoder, raw []byte) ([]byte, error) {
	type field struct {
		name   string
		values [][]byte
	}
	var fields []*field
	var text strings.Builder
	cdata := false
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if bytes.HasPrefix(raw[start:dec.InputOffset()], []byte("<![CDATA[")) {
				cdata = true
			}
			text.Write(t)
		case xml.StartElement:
			v, err := xmlContent(dec, raw)
			if err != nil {
				return nil, err
			}
			i := slices.IndexFunc(fields, func(f *field) bool { return f.name == t.Name.Local })
			if i < 0 {
				fields = append(fields, &field{name: t.Name.Local})
				i = len(fields) - 1
			}
			fields[i].values = append(fields[i].values, v)
		case xml.EndElement:
			var buf bytes.Buffer
			switch s := strings.TrimSpace(text.String()); {
			case len(fields) > 0:
				buf.WriteByte('{')
				for i, f := range fields {
					if i > 0 {
						buf.WriteByte(',')
					}
					jsonenc.WriteString(&buf, f.name)
					buf.WriteByte(':')
					if len(f.values) == 1 {
						buf.Write(f.values[0])
						continue
					}
					buf.WriteByte('[')
					buf.Write(bytes.Join(f.values, []byte(",")))
					buf.WriteByte(']')
				}
				buf.WriteByte('}')
			case !cdata && isJSONNumber(s):
				buf.WriteString(s)
			default:
				jsonenc.WriteString(&buf, text.String())
			}
			return buf.Bytes(), nil
		}
	}
}

func isJSONNumber(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for i, c := range s {
		if c < '0' || c > '9' {
			if !(i == 0 && c == '-' && len(s) > 1) {
				return false
			}
		}
	}
	digits := strings.TrimPrefix(s, "-")
	return !(strings.HasPrefix(digits, "0") && len(digits) > 1)
}

// check compares the pushes received since mark with the expected ones, in order: each expected
// push is the next one its receiver got, and no other push arrived. It waits for the expected
// number of pushes (within wait); a step that expects none is checked at once.
func (h *hosted) check(ctx context.Context, vars Vars, mark int, want []PushExpect, wait time.Duration) []string {
	got := h.since(ctx, mark, len(want), wait)
	var problems []string
	for _, g := range got {
		if g.problem != "" {
			problems = append(problems, fmt.Sprintf("push to receiver %s could not be verified: %s", g.receiver, g.problem))
			continue
		}
		if rc := h.receivers[g.receiver]; rc.AppID != "" && g.appid != "" {
			want, err := vars.Expand(rc.AppID)
			if err != nil {
				problems = append(problems, fmt.Sprintf("receiver %s: appid: %v", g.receiver, err))
			} else if g.appid != want {
				problems = append(problems, fmt.Sprintf("push to receiver %s: the encrypted trailer carries appid %q, want %q", g.receiver, g.appid, want))
			}
		}
	}
	if len(problems) > 0 {
		return problems
	}
	if len(got) != len(want) {
		problems = append(problems, fmt.Sprintf("pushes: want %d, got %d%s", len(want), len(got), describe(got)))
		return problems
	}
	used := make([]bool, len(got))
	for i, pe := range want {
		j := slices.IndexFunc(got, func(g received) bool { return g.receiver == pe.Receiver })
		for j >= 0 && used[j] {
			k := slices.IndexFunc(got[j+1:], func(g received) bool { return g.receiver == pe.Receiver })
			if k < 0 {
				j = -1
				break
			}
			j += 1 + k
		}
		if j < 0 {
			problems = append(problems, fmt.Sprintf("push %d: receiver %s got no push for it%s", i+1, pe.Receiver, describe(got)))
			continue
		}
		used[j] = true
		for _, p := range vars.check(&Expect{JSON: pe.JSON}, &response{status: http.StatusOK, body: got[j].event}) {
			problems = append(problems, fmt.Sprintf("push %d to %s: %s\n    event %s", i+1, pe.Receiver, p, clip(string(got[j].event))))
		}
	}
	return problems
}

// describe lists received pushes for a failure message.
func describe(got []received) string {
	var b strings.Builder
	for _, g := range got {
		fmt.Fprintf(&b, "\n    to %s: %s", g.receiver, clip(string(g.event)))
	}
	return b.String()
}
