package push

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// Defaults of Deps.
const (
	DefaultTimeout = 5 * time.Second
	DefaultTries   = 3
	DefaultPrefix  = "wechat:push:"
)

// DeliveryRetention is how long, on the sandbox clock, a delivery record is kept after the push
// was made; then it is forgotten. (WeChat keeps no delivery log an integrator can read; the
// sandbox keeps a day's, enough to inspect what a test run pushed.)
const DeliveryRetention = 24 * time.Hour

// answerCap bounds the integrator's answer kept per try.
const answerCap = 4 << 10

// Deps are what a Deliverer needs.
type Deps struct {
	Store *store.Store
	Clock clock.Clock
	Rand  *seeded.Source
	// Journal, if set, gets one entry per try (Event "push") and per handshake (Event
	// "push_verify"). Nil: no entries.
	Journal *journal.Journal
	// Logger, if set, gets a line per try (info; warn for the last try of a push that failed)
	// and per handshake. Nil: no lines.
	Logger *slog.Logger
	// Client sends the pushes. Nil: a client that uses no proxy and follows no redirect (WeChat
	// does not follow them either).
	Client *http.Client
	// Timeout is how long one try waits for the answer. Zero: 5 s, WeChat's reply window.
	Timeout time.Duration
	// Tries is the number of tries in all. Zero: 3.
	Tries int
	// RetryDelay is the wall time waited between tries. Zero: retry at once, as WeChat re-sends as
	// soon as it drops a connection that timed out.
	RetryDelay time.Duration
	// Prefix starts every store key. Zero: "wechat:push:"; deliveries live under
	// Prefix+"delivery:".
	Prefix string
	// Concurrency is how many deliveries to one receiver run at once. Zero: DefaultConcurrency.
	Concurrency int
}

// Target is where and how one push goes.
type Target struct {
	// AppID is the account the push belongs to (the delivery list filters on it).
	AppID string
	// URL is the receiver: the account's push URL, or a third-party platform's authorization
	// event URL.
	URL string
	// Token signs the URL (signature, msg_signature).
	Token string
	// EncodingAESKey encrypts the body in compatible and safe modes.
	EncodingAESKey string
	// CryptAppID is the appid written in the encrypted trailer: the account's own appid, or the
	// third-party platform's for pushes it receives on behalf of authorizers. Empty: AppID.
	CryptAppID string
	Format     Format
	Mode       Mode
	// Lane, when set, names the user a push is about (an openid): a receiver's pushes in one
	// lane go one at a time, in the order asked, so the user's events arrive in the order they
	// happened. Empty: the push waits for no other.
	Lane string
	// RequireSuccess makes only an answer of exactly "success" count as delivered (third-party
	// system pushes). Otherwise any HTTP 200 answer within the timeout counts, since an
	// account's receiver may answer with a passive reply, "success" or an empty body.
	RequireSuccess bool
}

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)

// Delivery is one push and every try to deliver it. It is stored before the first try and
// updated after each.
type Delivery struct {
	ID     string `json:"id"`
	AppID  string `json:"appid"`
	Event  string `json:"event"`
	Format Format `json:"format"`
	Mode   Mode   `json:"mode"`
	// URL is the full URL posted to, with its signature query.
	URL       string    `json:"url"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
	Status    string    `json:"status"`
	// Answer is the integrator's answer to the last try.
	Answer string `json:"answer"`
	Tries  []Try  `json:"tries"`
	// RequireSuccess is the target's (see Target), kept so that a pending delivery can be
	// resumed after a restart.
	RequireSuccess bool `json:"require_success,omitempty"`
}

// ForgetAt implements store.Forgettable: DeliveryRetention after the push was made.
func (dl Delivery) ForgetAt() time.Time { return dl.CreatedAt.Add(DeliveryRetention) }

// Try is one attempt at a delivery.
type Try struct {
	N int `json:"try"`
	// At is the sandbox time of the try.
	At time.Time `json:"at"`
	// HTTPStatus is the receiver's status code; 0 when no answer came.
	HTTPStatus int `json:"http_status"`
	// LatencyMillis is measured in wall time (0 under a frozen clock, where no time passes and
	// replays must answer the same bytes): it is the integrator's server being timed, not
	// sandbox time. It is kept in memory only, beside the stored record, so that the stored
	// state (and its hash) stays the same from run to run; after a restart it reads 0.
	LatencyMillis int64  `json:"latency_ms"`
	Answer        string `json:"answer"`
	// Error says why the try failed ("timeout after 5s", a connection error, "HTTP 500").
	Error string `json:"error,omitempty"`
}

// Deliverer posts pushes to integrators' servers off the request path, in a queue per receiver
// (queue.go): Deliver records a push and returns at once; Wait tells when all are settled.
type Deliverer struct {
	deps Deps
	q    queues
	// latencies holds each try's wall-time latency, keyed by delivery id and try number.
	latencies sync.Map
}

type tryKey struct {
	delivery string
	n        int
}

// stored returns dl as it is written to the store: without wall-time latencies, which go to
// d.latencies instead.
func (d *Deliverer) stored(dl *Delivery) *Delivery {
	c := *dl
	c.Tries = make([]Try, len(dl.Tries))
	for i, tr := range dl.Tries {
		d.latencies.Store(tryKey{dl.ID, tr.N}, tr.LatencyMillis)
		tr.LatencyMillis = 0
		c.Tries[i] = tr
	}
	return &c
}

// withLatencies fills a stored record's latencies from memory.
func (d *Deliverer) withLatencies(dl *Delivery) {
	for i := range dl.Tries {
		if v, ok := d.latencies.Load(tryKey{dl.ID, dl.Tries[i].N}); ok {
			dl.Tries[i].LatencyMillis = v.(int64)
		}
	}
}

// New returns a Deliverer, filling the defaults of d.
func New(d Deps) *Deliverer {
	if d.Client == nil {
		d.Client = &http.Client{
			Transport:     &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if d.Timeout <= 0 {
		d.Timeout = DefaultTimeout
	}
	if d.Tries <= 0 {
		d.Tries = DefaultTries
	}
	if d.Prefix == "" {
		d.Prefix = DefaultPrefix
	}
	if d.Concurrency <= 0 {
		d.Concurrency = DefaultConcurrency
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	dl := &Deliverer{deps: d, q: newQueues()}
	store.ForgetRecords[Delivery](d.Store, dl.deliveryPrefix())
	return dl
}

func (d *Deliverer) deliveryPrefix() string { return d.deps.Prefix + "delivery:" }
func (d *Deliverer) seqKey() string         { return d.deps.Prefix + "seq" }

// Prepared is a push ready to post: its URL with the signature query, body and content type.
type Prepared struct {
	URL         string
	Body        []byte
	ContentType string
}

// Prepare signs and, in compatible and safe modes, encrypts msg for t, drawing the timestamp
// from the clock and the nonce and random prefix from the seeded source.
func (d *Deliverer) Prepare(t Target, msg Message) (Prepared, error) {
	ts := strconv.FormatInt(d.deps.Clock.Now().Unix(), 10)
	nonce := d.nonce()
	var random [RandomSize]byte
	binary.BigEndian.PutUint64(random[:8], d.deps.Rand.Uint64())
	binary.BigEndian.PutUint64(random[8:], d.deps.Rand.Uint64())
	return Build(t, msg, ts, nonce, random[:])
}

// Build is Prepare with the timestamp, nonce and random prefix given.
func Build(t Target, msg Message, timestamp, nonce string, random []byte) (Prepared, error) {
	if t.Format != JSON && t.Format != XML {
		return Prepared{}, fmt.Errorf("push: unknown format %q", t.Format)
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		return Prepared{}, fmt.Errorf("push: parse URL: %w", err)
	}
	plain, err := msg.Encode(t.Format)
	if err != nil {
		return Prepared{}, err
	}
	q := u.Query()
	q.Set("signature", Signature(t.Token, timestamp, nonce))
	q.Set("timestamp", timestamp)
	q.Set("nonce", nonce)
	var encrypt string
	if t.Mode != Plaintext {
		appid := t.CryptAppID
		if appid == "" {
			appid = t.AppID
		}
		if encrypt, err = Encrypt(t.EncodingAESKey, appid, random, plain); err != nil {
			return Prepared{}, err
		}
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", MsgSignature(t.Token, timestamp, nonce, encrypt))
	}
	body, err := Envelope(msg, t.Format, t.Mode, encrypt)
	if err != nil {
		return Prepared{}, err
	}
	u.RawQuery = q.Encode()
	return Prepared{URL: u.String(), Body: body, ContentType: contentType(t.Format)}, nil
}

// contentType is what a push in format is posted as.
func contentType(f Format) string {
	if f == XML {
		return "text/xml"
	}
	return "application/json"
}

func (d *Deliverer) nonce() string {
	// WeChat's nonces are decimal numbers of up to 10 digits.
	return strconv.FormatUint(uint64(d.deps.Rand.Uint32()), 10)
}

// Deliver records the push of msg (called event) to t as pending and queues it for its receiver
// (see queue.go): up to Tries tries, each waiting Timeout for an answer, every try with the same
// URL and body. It returns the pending record at once; the stored record says how the push went
// once it is settled. An undeliverable push is not an error: its record says "failed". The
// signature, nonce and encryption are drawn here, in the order pushes are asked for, and so is
// the record's id. ctx bounds only the recording: the delivery outlives the request. Deliver
// must not be called inside a store transaction.
func (d *Deliverer) Deliver(ctx context.Context, t Target, event string, msg Message) (*Delivery, error) {
	return d.DeliverThen(ctx, t, event, msg, nil)
}

// DeliverThen is Deliver that also calls done, when not nil, with the record once the push is
// delivered or its tries are spent (not when a reset or a shutdown cuts it short).
func (d *Deliverer) DeliverThen(ctx context.Context, t Target, event string, msg Message, done func(Delivery)) (*Delivery, error) {
	answer, start, err := d.recordPending(ctx, t, event, msg, done)
	if err != nil {
		return nil, err
	}
	start()
	return answer, nil
}

// DeliverLater is Deliver that queues the push only when the caller calls start: a caller that
// journals several happenings and their pushes calls start once every happening is in the
// journal, so that none comes after a push's own entries, however soon the receiver answers.
// Until start is called the push is pending in the store (a restart would send it).
func (d *Deliverer) DeliverLater(ctx context.Context, t Target, event string, msg Message) (answer *Delivery, start func(), err error) {
	return d.recordPending(ctx, t, event, msg, nil)
}

// recordPending stores the pending record of a push and returns it with the func that queues it.
func (d *Deliverer) recordPending(ctx context.Context, t Target, event string, msg Message, done func(Delivery)) (*Delivery, func(), error) {
	p, err := d.Prepare(t, msg)
	if err != nil {
		return nil, nil, err
	}
	dl := &Delivery{
		AppID: t.AppID, Event: event, Format: t.Format, Mode: t.Mode, URL: p.URL, Body: string(p.Body),
		CreatedAt: d.deps.Clock.Now(), Status: StatusPending, Tries: []Try{}, RequireSuccess: t.RequireSuccess,
	}
	err = d.deps.Store.Update(func(tx *store.Tx) error {
		var seq int64
		if _, err := tx.Get(d.seqKey(), &seq); err != nil {
			return err
		}
		seq++
		dl.ID = fmt.Sprintf("%010d", seq)
		if err := tx.Put(d.seqKey(), seq); err != nil {
			return err
		}
		return tx.Put(d.deliveryPrefix()+dl.ID, dl)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("push: record delivery: %w", err)
	}
	answer := *dl
	answer.Tries = []Try{}
	start := func() { d.enqueue(&job{delivery: dl, target: t, prepared: p, lane: t.Lane, done: done}) }
	return &answer, start, nil
}

// journalFailure notes in the journal a delivery whose record could not be written.
func (d *Deliverer) journalFailure(dl *Delivery, err error) {
	d.journal(journal.Entry{Event: "push", AppID: dl.AppID, Method: http.MethodPost, Path: dl.URL, Reason: err.Error()})
}

// try posts p once and says whether the receiver took it, and how long it took (wall time).
func (d *Deliverer) try(ctx context.Context, t Target, p Prepared, n int) (Try, bool, time.Duration) {
	tr := Try{N: n, At: d.deps.Clock.Now()}
	status, answer, latency, err := d.send(ctx, http.MethodPost, p.URL, p.ContentType, p.Body)
	tr.HTTPStatus, tr.Answer, tr.LatencyMillis = status, answer, d.reported(latency)
	ok := false
	switch {
	case err != nil:
		tr.Error = err.Error()
	case status != http.StatusOK:
		tr.Error = "HTTP " + strconv.Itoa(status)
	case t.RequireSuccess && answer != "success":
		tr.Error = `answer is not "success"`
	default:
		ok = true
	}
	d.journal(journal.Entry{
		Event: "push", AppID: t.AppID, Method: http.MethodPost, Path: p.URL, Status: status,
		CostMillis: tr.LatencyMillis, RequestBody: journal.Trim(p.Body), Response: answer, Reason: tr.Error,
	})
	return tr, ok, latency
}

// logTry writes the line of one try of dl (its last, n): the receiver (the URL without its
// signature query), the event, the outcome — delivered, retry, or failed once the tries are
// spent (at warn) — the receiver's HTTP status and the try's number.
func (d *Deliverer) logTry(t Target, dl *Delivery, tr Try, latency time.Duration) {
	level := slog.LevelInfo
	outcome := "retry"
	switch dl.Status {
	case StatusDelivered:
		outcome = "delivered"
	case StatusFailed:
		outcome, level = "failed", slog.LevelWarn
	}
	ctx := context.Background()
	if !d.deps.Logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("url", t.URL), slog.String("event", dl.Event), slog.String("appid", dl.AppID),
		slog.String("outcome", outcome), slog.Int("status", tr.HTTPStatus),
		slog.Int("attempt", tr.N), slog.Int("tries", d.deps.Tries), slog.Duration("duration", latency),
		slog.String("delivery", dl.ID),
	}
	if tr.Error != "" {
		attrs = append(attrs, slog.String("error", tr.Error))
	}
	d.deps.Logger.LogAttrs(ctx, level, "push", attrs...)
}

// send makes one request with the timeout and reads at most answerCap bytes of the answer.
func (d *Deliverer) send(ctx context.Context, method, u, contentType string, body []byte) (int, string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, d.deps.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, "", 0, fmt.Errorf("push: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "Mozilla/4.0")
	start := time.Now() // wall time on purpose: this measures the receiver
	resp, err := d.deps.Client.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, "", time.Since(start), fmt.Errorf("timeout after %s", d.deps.Timeout)
		}
		return 0, "", time.Since(start), err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, answerCap))
	latency := time.Since(start)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return resp.StatusCode, string(b), latency, fmt.Errorf("timeout after %s", d.deps.Timeout)
		}
		return resp.StatusCode, string(b), latency, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, string(b), latency, nil
}

// reported is a try's latency as answers show it: the wall time measured, except under a frozen
// clock, where it reads 0 — no time passes there, and a replay of the same requests must answer
// the same bytes whatever the receiver's speed.
func (d *Deliverer) reported(latency time.Duration) int64 {
	if c, ok := d.deps.Clock.(interface{ Frozen() bool }); ok && c.Frozen() {
		return 0
	}
	return latency.Milliseconds()
}

func (d *Deliverer) journal(e journal.Entry) {
	if d.deps.Journal == nil {
		return
	}
	e.Time = d.deps.Clock.Now()
	e.Platform = "wechat"
	d.deps.Journal.Add(e)
}

// HandshakeError says why a URL failed verification.
type HandshakeError struct {
	URL    string
	Reason string
}

func (e *HandshakeError) Error() string { return "push: verify " + e.URL + ": " + e.Reason }

// Verify performs WeChat's URL verification handshake: a GET to rawURL with signature, timestamp,
// nonce and echostr; the receiver must answer HTTP 200 with exactly echostr as its body. A
// failure is a *HandshakeError. Verify changes no stored state (a refused configuration leaves
// nothing behind); the journal records the attempt.
func (d *Deliverer) Verify(ctx context.Context, appid, rawURL, token string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &HandshakeError{URL: rawURL, Reason: "not an http(s) URL"}
	}
	ts := strconv.FormatInt(d.deps.Clock.Now().Unix(), 10)
	nonce := d.nonce()
	echostr := strconv.FormatUint(d.deps.Rand.Uint64()>>1, 10)
	q := u.Query()
	q.Set("signature", Signature(token, ts, nonce))
	q.Set("timestamp", ts)
	q.Set("nonce", nonce)
	q.Set("echostr", echostr)
	u.RawQuery = q.Encode()
	status, answer, latency, err := d.send(ctx, http.MethodGet, u.String(), "", nil)
	var reason string
	switch {
	case err != nil:
		reason = err.Error()
	case status != http.StatusOK:
		reason = "HTTP " + strconv.Itoa(status)
	case answer != echostr:
		reason = fmt.Sprintf("answered %q, want the echostr %q", truncate(answer, 64), echostr)
	}
	d.journal(journal.Entry{
		Event: "push_verify", AppID: appid, Method: http.MethodGet, Path: u.String(), Status: status,
		CostMillis: latency.Milliseconds(), Response: answer, Reason: reason,
	})
	if d.deps.Logger.Enabled(ctx, slog.LevelInfo) {
		attrs := []slog.Attr{slog.String("url", rawURL), slog.String("appid", appid), slog.Int("status", status), slog.Duration("duration", latency)}
		if reason != "" {
			attrs = append(attrs, slog.String("outcome", "refused"), slog.String("reason", reason))
		} else {
			attrs = append(attrs, slog.String("outcome", "verified"))
		}
		d.deps.Logger.LogAttrs(ctx, slog.LevelInfo, "push URL verification", attrs...)
	}
	if reason != "" {
		return &HandshakeError{URL: rawURL, Reason: reason}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Filter selects deliveries; zero fields match all.
type Filter struct {
	AppID string
	Event string
	// After lists deliveries whose id is greater (paging); Limit caps the result (0: all).
	After string
	Limit int
}

// List returns the recorded deliveries in delivery order.
func (d *Deliverer) List(f Filter) ([]Delivery, error) {
	out := []Delivery{}
	err := d.deps.Store.View(func(tx *store.Tx) error {
		pivot := d.deliveryPrefix()
		if f.After != "" {
			pivot += f.After + "\x00"
		}
		return store.EachFrom(tx, d.deliveryPrefix(), pivot, func(_ string, dl *Delivery) error {
			if (f.AppID == "" || f.AppID == dl.AppID) && (f.Event == "" || f.Event == dl.Event) {
				d.withLatencies(dl)
				out = append(out, *dl)
			}
			if f.Limit > 0 && len(out) >= f.Limit {
				return store.Stop
			}
			return nil
		})
	})
	return out, err
}
