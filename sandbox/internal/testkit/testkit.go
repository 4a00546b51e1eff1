// Package testkit is the one kit of the sandbox's black-box tests. A Kit belongs to one test: it
// starts a sandbox through sandboxtest and talks to it over HTTP with the sandboxtest client, the
// transport integrators use, so every request goes through the whole pipeline and every response
// is checked against the OpenAPI documents.
//
//	k := testkit.New(t)
//	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
//	k.WantErrcode(k.Post("/cgi-bin/openapi/quota/get", tok, `{"cgi_path":"/cgi-bin/token"}`), 0)
//	k.Refused("/cgi-bin/qrcode/create", tok, `{}`, 40052) // refused, and nothing changed
//
// Requests: Do (any method and URL), API and Post (a WeChat API on api.weixin.qq.com with an
// access token), Control (a /_sandbox/ verb), Signed (a Jincheng server-to-server call). Each
// fails the test when the request cannot be made; Try does not, for goroutines, and Concurrently
// runs calls at once that way. Answers decode their JSON and have accessors for errcode, errmsg,
// Jincheng's errorCode and data.
//
// Refusals: Refused, RefusedCode and Unchanged compare a Snapshot taken before and after, the
// stored state and what the sandbox holds in memory (quota windows, faults, journal events, the
// clock), so a refused request may leave nothing behind but its own journal entry.
//
// Pushes: NewReceiver starts an integrator's push receiver with its own implementation of
// WeChat's signatures and message encryption (independent of the sandbox's), which verifies and
// decrypts every push in any format and mode; Wait waits for pushes, which may arrive after the
// request that caused them was answered.
//
// Flows that belong to one family (authorizing a third-party platform, a linked service account
// and Mini Program) stay in that family's tests, built on a Kit.
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// WeChatContentType is the Content-Type of every WeChat API answer.
const WeChatContentType = "application/json; encoding=utf-8"

// Kit is one test's handle on its sandbox.
type Kit struct {
	// Srv is the sandbox, for its Go twins (Srv.WeChat(), Srv.Jincheng(), Srv.CityService()).
	Srv *sandboxtest.Server
	// Start is the sandbox time when the kit was made: the frozen start of a sandboxtest sandbox.
	Start time.Time

	t testing.TB
	// nonces numbers the Jincheng nonces of this kit and of every kit For made from it.
	nonces *atomic.Int64
}

// New starts a sandbox for t (sandboxtest.New, with opts) and returns its kit.
func New(t testing.TB, opts ...sandboxtest.Option) *Kit {
	t.Helper()
	return Wrap(t, sandboxtest.New(t, opts...))
}

// Wrap returns a kit for a sandbox already served, for example one opened on a store file.
func Wrap(t testing.TB, srv *sandboxtest.Server) *Kit {
	return &Kit{Srv: srv, Start: srv.Now(), t: t, nonces: new(atomic.Int64)}
}

// For returns a kit on the same sandbox that reports to t: a subtest's kit.
func (k *Kit) For(t testing.TB) *Kit {
	c := *k
	c.t = t
	return &c
}

// T is the test the kit reports to.
func (k *Kit) T() testing.TB { return k.t }

// Do sends a request. A target that starts with "/" is a path on the sandbox; any other is a
// full URL (the WeChat hosts reach the sandbox too). body is nil for none, a string or []byte
// sent as it is, or anything else sent as JSON. It fails the test if the request cannot be made
// or a JSON answer does not decode.
func (k *Kit) Do(method, target string, body any) Answer {
	k.t.Helper()
	return k.DoHeader(method, target, nil, body)
}

// DoHeader is Do with request headers.
func (k *Kit) DoHeader(method, target string, header http.Header, body any) Answer {
	k.t.Helper()
	a, err := k.Try(method, target, header, body)
	if err != nil {
		k.t.Fatal(err)
	}
	return a
}

// Try is DoHeader that returns its error instead of failing the test, so that it may run in a
// goroutine of the test's own (a test may not call FailNow from one).
func (k *Kit) Try(method, target string, header http.Header, body any) (Answer, error) {
	raw, err := encode(body)
	if err != nil {
		return Answer{}, fmt.Errorf("%s %s: %w", method, target, err)
	}
	return k.send(method, target, header, raw)
}

// Concurrently runs call(0) … call(n-1) at once and returns their answers, in order, once all
// are in. Each call runs on a goroutine of its own, where a test may not fail itself, so a call
// returns its error (Try's) instead: Concurrently reports every error from the test's goroutine
// and then stops the test.
func (k *Kit) Concurrently(n int, call func(i int) (Answer, error)) []Answer {
	k.t.Helper()
	answers := make([]Answer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], errs[i] = call(i)
		}()
	}
	wg.Wait()
	failed := false
	for i, err := range errs {
		if err != nil {
			k.t.Errorf("concurrent call %d: %v", i, err)
			failed = true
		}
	}
	if failed {
		k.t.FailNow()
	}
	return answers
}

func (k *Kit) send(method, target string, header http.Header, body []byte) (Answer, error) {
	if strings.HasPrefix(target, "/") {
		target = k.Srv.URL + target
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		return Answer{}, fmt.Errorf("%s %s: %w", method, target, err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := k.Srv.Client().Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("%s %s: %w", method, target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Answer{}, fmt.Errorf("%s %s: read the answer: %w", method, target, err)
	}
	a := Answer{Method: method, URL: target, Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return a, fmt.Errorf("%s %s: the JSON answer does not decode: %w\n%s", method, target, err, raw)
		}
		if m, ok := v.(map[string]any); ok {
			a.JSON = m
		}
	}
	return a, nil
}

// encode turns a request body into bytes: nil stays nil, strings and byte slices are sent as
// they are, anything else as JSON.
func encode(body any) ([]byte, error) {
	switch b := body.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(b), nil
	case []byte:
		return b, nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode the body: %w", err)
	}
	return raw, nil
}

// API calls a WeChat API on api.weixin.qq.com, adding access_token to the query unless token is
// empty. WeChat answers every API call with HTTP 200 and a JSON object; anything else fails the
// test.
func (k *Kit) API(method, path, token string, body any) Answer {
	k.t.Helper()
	target := APIHost + path
	if token != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		target += sep + "access_token=" + url.QueryEscape(token)
	}
	a := k.Do(method, target, body)
	if a.Status != http.StatusOK || a.JSON == nil {
		k.t.Fatalf("%s, want HTTP 200 and a JSON object", a)
	}
	return a
}

// Post is API with POST.
func (k *Kit) Post(path, token string, body any) Answer {
	k.t.Helper()
	return k.API(http.MethodPost, path, token, body)
}

// Upload posts data as the file field of a multipart form to /cgi-bin/media/upload?type=typ,
// as an SDK's media upload does.
func (k *Kit) Upload(token, typ, field string, data []byte) Answer {
	k.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile(field, "pic.png")
	if err == nil {
		_, err = fw.Write(data)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		k.t.Fatalf("build the upload form: %v", err)
	}
	target := APIHost + "/cgi-bin/media/upload?type=" + url.QueryEscape(typ) + "&access_token=" + url.QueryEscape(token)
	a := k.DoHeader(http.MethodPost, target, http.Header{"Content-Type": {mw.FormDataContentType()}}, body.Bytes())
	if a.Status != http.StatusOK || a.JSON == nil {
		k.t.Fatalf("%s, want HTTP 200 and a JSON object", a)
	}
	return a
}

// Control calls a control-plane verb under /_sandbox/.
func (k *Kit) Control(method, path string, body any) Answer {
	k.t.Helper()
	return k.Do(method, path, body)
}

// Decode unmarshals the answer's body into v, failing the test if it does not fit.
func (k *Kit) Decode(a Answer, v any) {
	k.t.Helper()
	if err := json.Unmarshal(a.Raw, v); err != nil {
		k.t.Fatalf("%s: decode into %T: %v", a, v, err)
	}
}

// WantErrcode fails the test unless a is WeChat's answer (HTTP 200 with WeChat's Content-Type)
// with errcode want, and an error's errmsg carries its rid.
func (k *Kit) WantErrcode(a Answer, want int) {
	k.t.Helper()
	if a.Status != http.StatusOK {
		k.t.Fatalf("%s: status %d, want 200", a, a.Status)
	}
	if ct := a.Header.Get("Content-Type"); ct != WeChatContentType {
		k.t.Errorf("%s: Content-Type %q, want WeChat's %q", a, ct, WeChatContentType)
	}
	if got := a.Errcode(); got != want {
		k.t.Fatalf("%s: errcode %d, want %d", a, got, want)
	}
	if want != 0 && !strings.Contains(a.Errmsg(), " rid: ") {
		k.t.Errorf("%s: errmsg %q carries no rid", a, a.Errmsg())
	}
}

// OK posts to a WeChat API and fails the test unless it answers errcode 0, errmsg "ok".
func (k *Kit) OK(path, token string, body any) Answer {
	k.t.Helper()
	a := k.Post(path, token, body)
	if a.Errcode() != 0 || a.Errmsg() != "ok" {
		k.t.Fatalf("%s, want errcode 0 and errmsg ok", a)
	}
	return a
}

// Refused posts to a WeChat API that must refuse with errcode code and change nothing.
func (k *Kit) Refused(path, token string, body any, code int) Answer {
	k.t.Helper()
	var a Answer
	k.Unchanged(func() {
		a = k.Post(path, token, body)
		k.WantErrcode(a, code)
	})
	return a
}

// RefusedCode runs call, which must be refused with HTTP status and the symbolic code (a
// Jincheng errorCode, a control-plane error code) and change nothing; name says which refusal.
func (k *Kit) RefusedCode(name string, status int, code string, call func() Answer) Answer {
	k.t.Helper()
	var a Answer
	k.Unchanged(func() {
		a = call()
		if a.Status != status || a.Code() != code {
			k.t.Errorf("%s: %d %q, want %d %q (%s)", name, a.Status, a.Code(), status, code, a)
		}
	})
	return a
}

// App creates a WeChat app through the Go twin of POST /_sandbox/wechat/apps.
func (k *Kit) App(spec sandbox.WeChatAppSpec) *sandbox.WeChatApp {
	k.t.Helper()
	app, err := k.Srv.WeChat().CreateApp(spec)
	if err != nil {
		k.t.Fatalf("create app %+v: %v", spec, err)
	}
	return app
}

// TokenURL is the /cgi-bin/token URL for appid and secret.
func TokenURL(appid, secret string) string {
	return APIHost + "/cgi-bin/token?grant_type=client_credential&appid=" + appid + "&secret=" + secret
}

// Token gets an access token from /cgi-bin/token, failing the test if none comes.
func (k *Kit) Token(appid, secret string) string {
	k.t.Helper()
	a := k.Do(http.MethodGet, TokenURL(appid, secret), nil)
	tok := a.Str("access_token")
	if tok == "" {
		k.t.Fatalf("%s: no access_token", a)
	}
	return tok
}

// AppToken is Token for an app the kit created.
func (k *Kit) AppToken(app *sandbox.WeChatApp) string {
	k.t.Helper()
	return k.Token(app.AppID, app.Secret)
}

// Probe makes an authenticated read with token (openapi/quota/get about /cgi-bin/token), the
// call tests make to see whether a token works.
func (k *Kit) Probe(token string) Answer {
	k.t.Helper()
	return k.Post("/cgi-bin/openapi/quota/get", token, `{"cgi_path":"/cgi-bin/token"}`)
}

// Now is the sandbox time.
func (k *Kit) Now() time.Time { return k.Srv.Now() }

// Advance moves the sandbox clock forward (and delivers the pushes that fall due).
func (k *Kit) Advance(d time.Duration) { k.Srv.Advance(d) }

// SetTime moves the sandbox clock to t (and delivers the pushes that fall due).
func (k *Kit) SetTime(t time.Time) { k.Srv.SetTime(t) }

// StateHash is the hash of the stored state.
func (k *Kit) StateHash() string {
	k.t.Helper()
	h, err := k.Srv.StateHash()
	if err != nil {
		k.t.Fatalf("state hash: %v", err)
	}
	return h
}

// Snapshot is everything a request can leave behind but its own journal entry: the hash of the
// stored state (records, the day, month and lifetime counters, push deliveries) and what the
// sandbox keeps in memory (sandbox.Server.MemoryState: the clock, the per-second and per-minute
// quota windows, the faults, the journal's events).
type Snapshot struct {
	StateHash string
	Memory    []string
}

// Snapshot takes the sandbox's snapshot once its pushes are settled (they are delivered off the
// request path, and each try is journaled and recorded).
func (k *Kit) Snapshot() Snapshot {
	k.t.Helper()
	k.WaitPushes()
	return Snapshot{StateHash: k.StateHash(), Memory: k.Srv.MemoryState()}
}

// WaitPushes waits until every push the sandbox accepted is settled, failing the test if they
// are not within 10 seconds (a bound on a failure, not a timing the test relies on). Call it
// before reading delivery records.
func (k *Kit) WaitPushes() {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.Srv.WaitPushes(ctx); err != nil {
		k.t.Fatalf("pushes not settled within 10 s: %v", err)
	}
}

// Unchanged runs fn, which makes requests that must be refused, and fails the test if they
// changed anything but their own journal entries (see Snapshot).
func (k *Kit) Unchanged(fn func()) {
	k.t.Helper()
	k.UnchangedExcept(nil, fn)
}

// UnchangedExcept is Unchanged for refusals that rightly record journal events of the named
// kinds: a push URL refused after a failed handshake still called the receiver ("push_verify").
func (k *Kit) UnchangedExcept(events []string, fn func()) {
	k.t.Helper()
	before := k.Snapshot()
	fn()
	after := k.Snapshot()
	if after.StateHash != before.StateHash {
		k.t.Errorf("a refused request changed the stored state")
	}
	gone, added := lineDiff(before.Memory, after.Memory)
	added = slices.DeleteFunc(added, func(l string) bool {
		return slices.ContainsFunc(events, func(kind string) bool { return isEvent(l, kind) })
	})
	for _, l := range gone {
		k.t.Errorf("a refused request changed the sandbox's memory: gone %q", l)
	}
	for _, l := range added {
		k.t.Errorf("a refused request changed the sandbox's memory: new %q", l)
	}
}

// isEvent reports whether a MemoryState line is a journal event of the kind.
func isEvent(line, kind string) bool {
	var seq int
	var got string
	n, _ := fmt.Sscanf(line, "event %d %s", &seq, &got)
	return n == 2 && got == kind
}

// lineDiff returns the lines of a missing from b and those of b missing from a.
func lineDiff(a, b []string) (gone, added []string) {
	for _, l := range a {
		if !slices.Contains(b, l) {
			gone = append(gone, l)
		}
	}
	for _, l := range b {
		if !slices.Contains(a, l) {
			added = append(added, l)
		}
	}
	return gone, added
}

// StoredKeys returns the keys of the stored state that start with prefix, in order, read through
// GET /_sandbox/state: what a test checks to see a record kept or forgotten.
func (k *Kit) StoredKeys(prefix string) []string {
	k.t.Helper()
	snap := k.Control(http.MethodGet, "/_sandbox/state", nil)
	if snap.Status != http.StatusOK {
		k.t.Fatalf("%s, want 200", snap)
	}
	keys := []string{}
	entries, _ := snap.JSON["entries"].([]any)
	for _, it := range entries {
		if key, _ := it.(map[string]any)["key"].(string); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
	}
	return keys
}

// PatchState rewrites stored values (key → JSON) through GET and PUT /_sandbox/state, the way a
// test prepares a state that would take too many requests to reach.
func (k *Kit) PatchState(values map[string]string) {
	k.t.Helper()
	snap := k.Control(http.MethodGet, "/_sandbox/state", nil)
	if snap.Status != http.StatusOK {
		k.t.Fatalf("%s, want 200", snap)
	}
	entries, _ := snap.JSON["entries"].([]any)
	for key, value := range values {
		found := false
		for _, it := range entries {
			if m := it.(map[string]any); m["key"] == key {
				m["value"] = json.RawMessage(value)
				found = true
			}
		}
		if !found {
			entries = append(entries, map[string]any{"key": key, "value": json.RawMessage(value)})
		}
	}
	if put := k.Control(http.MethodPut, "/_sandbox/state", map[string]any{"entries": entries}); put.Status != http.StatusOK {
		k.t.Fatalf("%s, want 200", put)
	}
}
