package push

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

var testStart = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func newDeliverer(t *testing.T, timeout time.Duration) (*Deliverer, *store.Store, *journal.Journal) {
	t.Helper()
	st, err := store.Open(store.Memory, store.SyncEverySecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	j := journal.New(100)
	d := New(Deps{Store: st, Clock: clock.NewFrozen(testStart), Rand: seeded.New(7), Journal: j, Timeout: timeout})
	t.Cleanup(d.Close) // before the store closes: cleanups run last registered first
	return d, st, j
}

// deliver queues a push and returns its record once it is settled (a 20 s bound only fails the
// test).
func deliver(t *testing.T, d *Deliverer, target Target, event string, msg Message) (*Delivery, error) {
	t.Helper()
	pending, err := d.Deliver(context.Background(), target, event, msg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("delivery %s not settled: %v", pending.ID, err)
	}
	list, err := d.List(Filter{})
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].ID == pending.ID {
			return &list[i], nil
		}
	}
	t.Fatalf("delivery %s is not stored", pending.ID)
	return nil, nil
}

// received is one request a test receiver got.
type received struct {
	Method, Query, Body, ContentType string
	q                                map[string][]string
}

// receiver is a loopback push receiver whose answers a test scripts.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	answer  func(n int, w http.ResponseWriter, r *http.Request)
	release chan struct{}
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{answer: answer, release: make(chan struct{})}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{Method: r.Method, Query: r.URL.RawQuery, Body: string(b), ContentType: r.Header.Get("Content-Type"), q: r.URL.Query()})
		n := len(rc.got)
		rc.mu.Unlock()
		rc.answer(n, w, r)
	}))
	t.Cleanup(func() { close(rc.release); rc.Close() })
	return rc
}

// hang blocks until the test ends or the sandbox gives up on the request.
func (rc *receiver) hang(r *http.Request) {
	select {
	case <-rc.release:
	case <-r.Context().Done():
	}
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

var badScore = Message{
	{"ToUserName", "gh_0123456789ab"},
	{"FromUserName", "o_weixin_team"},
	{"CreateTime", int64(1772352000)},
	{"MsgType", "event"},
	{"Event", "wxa_comment_bad_score"},
	{"result", Message{{"comment_id", "2797755680173111111"}}},
}

func TestDeliverSafeModeDecryptsWithReference(t *testing.T) {
	t.Parallel()
	for _, format := range []Format{JSON, XML} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			d, _, _ := newDeliverer(t, time.Minute)
			rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "success") })
			target := Target{AppID: "wx0123456789abcdef", URL: rc.URL + "/wx?x=1", Token: "tok", EncodingAESKey: testKey, Format: format, Mode: Safe}
			dl, err := deliver(t, d, target, "wxa_comment_bad_score", badScore)
			if err != nil {
				t.Fatal(err)
			}
			if dl.Status != StatusDelivered || len(dl.Tries) != 1 || dl.Answer != "success" {
				t.Errorf("delivery = %s after %d tries, answer %q; want delivered after 1, success", dl.Status, len(dl.Tries), dl.Answer)
			}
			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("receiver got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			q := func(k string) string {
				if v := r.q[k]; len(v) > 0 {
					return v[0]
				}
				return ""
			}
			if q("x") != "1" || q("encrypt_type") != "aes" {
				t.Errorf("query %s: want the URL's own x=1 and encrypt_type=aes", r.Query)
			}
			if got, want := q("signature"), refSign("tok", q("timestamp"), q("nonce")); got != want {
				t.Errorf("signature = %s, want %s", got, want)
			}
			if q("timestamp") != "1772352000" {
				t.Errorf("timestamp = %s, want the sandbox clock's 1772352000", q("timestamp"))
			}
			var outer struct {
				ToUserName string
				Encrypt    string
				MsgType    string
			}
			if format == JSON {
				err = json.Unmarshal([]byte(r.Body), &outer)
			} else {
				err = xml.Unmarshal([]byte(r.Body), &outer)
			}
			if err != nil {
				t.Fatalf("outer envelope %s: %v", r.Body, err)
			}
			if outer.ToUserName != "gh_0123456789ab" || outer.Encrypt == "" || outer.MsgType != "" {
				t.Errorf("safe envelope %s: want only ToUserName and Encrypt", r.Body)
			}
			if got, want := q("msg_signature"), refSign("tok", q("timestamp"), q("nonce"), outer.Encrypt); got != want {
				t.Errorf("msg_signature = %s, want %s", got, want)
			}
			msg, appid := refDecrypt(t, testKey, outer.Encrypt)
			if appid != "wx0123456789abcdef" {
				t.Errorf("trailer appid = %q, want wx0123456789abcdef", appid)
			}
			var inner struct {
				Event  string
				Result struct {
					CommentID string `json:"comment_id" xml:"comment_id"`
				} `json:"result" xml:"result"`
			}
			if format == JSON {
				err = json.Unmarshal(msg, &inner)
			} else {
				err = xml.Unmarshal(msg, &inner)
			}
			if err != nil || inner.Event != "wxa_comment_bad_score" || inner.Result.CommentID != "2797755680173111111" {
				t.Errorf("decrypted %s (%v): want the bad-score event for comment 2797755680173111111", msg, err)
			}
		})
	}
}

func TestEnvelopeModes(t *testing.T) {
	t.Parallel()
	random := []byte("0123456789abcdef")
	tests := []struct {
		mode           Mode
		format         Format
		wantQuery      []string
		noQuery        []string
		wantBodyPrefix string
	}{
		{Plaintext, JSON, []string{"signature", "timestamp", "nonce"}, []string{"encrypt_type", "msg_signature"}, `{"ToUserName":"gh_0123456789ab","FromUserName":"o_weixin_team","CreateTime":1772352000,"MsgType":"event","Event":"wxa_comment_bad_score","result":{"comment_id":"2797755680173111111"}}`},
		{Plaintext, XML, []string{"signature"}, []string{"msg_signature"}, `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[o_weixin_team]]></FromUserName><CreateTime>1772352000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[wxa_comment_bad_score]]></Event><result><comment_id><![CDATA[2797755680173111111]]></comment_id></result></xml>`},
		{Compatible, JSON, []string{"signature", "encrypt_type", "msg_signature"}, nil, `{"ToUserName":"gh_0123456789ab","FromUserName":"o_weixin_team","CreateTime":1772352000,"MsgType":"event","Event":"wxa_comment_bad_score","result":{"comment_id":"2797755680173111111"},"Encrypt":"`},
		{Compatible, XML, []string{"signature", "msg_signature"}, nil, `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName>`},
		{Safe, XML, []string{"signature", "msg_signature"}, nil, `<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><Encrypt><![CDATA[`},
	}
	for _, tt := range tests {
		p, err := Build(Target{AppID: "wx1", URL: "http://127.0.0.1:1/cb", Token: "t", EncodingAESKey: testKey, Format: tt.format, Mode: tt.mode}, badScore, "1772352000", "99", random)
		if err != nil {
			t.Fatalf("%s/%s: %v", tt.mode, tt.format, err)
		}
		if tt.mode == Plaintext && string(p.Body) != tt.wantBodyPrefix || !strings.HasPrefix(string(p.Body), tt.wantBodyPrefix) {
			t.Errorf("%s/%s body = %s, want prefix %s", tt.mode, tt.format, p.Body, tt.wantBodyPrefix)
		}
		for _, k := range tt.wantQuery {
			if !strings.Contains(p.URL, k+"=") {
				t.Errorf("%s/%s URL %s lacks %s", tt.mode, tt.format, p.URL, k)
			}
		}
		for _, k := range tt.noQuery {
			if strings.Contains(p.URL, k+"=") {
				t.Errorf("%s/%s URL %s has %s", tt.mode, tt.format, p.URL, k)
			}
		}
	}
}

func TestSystemPushEnvelopeCarriesAppId(t *testing.T) {
	t.Parallel()
	ticket := Message{{"AppId", "wxcomponent00000001"}, {"CreateTime", int64(1413192605)}, {"InfoType", "component_verify_ticket"}, {"ComponentVerifyTicket", "ticket@@@x"}}
	p, err := Build(Target{AppID: "wxcomponent00000001", URL: "http://127.0.0.1:1/auth", Token: "t", EncodingAESKey: testKey, Format: XML, Mode: Safe}, ticket, "1", "2", make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		AppId, ToUserName, Encrypt string
	}
	if err := xml.Unmarshal(p.Body, &env); err != nil || env.AppId != "wxcomponent00000001" || env.ToUserName != "" || env.Encrypt == "" {
		t.Errorf("system push envelope %s: want AppId and Encrypt only", p.Body)
	}
}

func TestXMLEscapesCDATAEnd(t *testing.T) {
	t.Parallel()
	b, err := Message{{"Content", "a]]>b"}}.Encode(XML)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Content string }
	if err := xml.Unmarshal(b, &v); err != nil || v.Content != "a]]>b" {
		t.Errorf("decoded %s = %q, %v; want a]]>b", b, v.Content, err)
	}
}

func TestDeliverRetriesHangingReceiverWithSameMessage(t *testing.T) {
	t.Parallel()
	// The first try hangs until the sandbox gives up on it; the second is answered at once. The
	// test's timeout only has to be shorter than forever (and long enough for a prompt answer on
	// a loaded machine): the outcome does not depend on timing.
	d, st, j := newDeliverer(t, time.Second)
	rc := newReceiver(t, nil)
	rc.answer = func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			rc.hang(r)
			return
		}
		io.WriteString(w, "success")
	}
	dl, err := deliver(t, d, Target{AppID: "wx1", URL: rc.URL, Token: "t", Format: JSON, Mode: Plaintext}, "e", badScore)
	if err != nil {
		t.Fatal(err)
	}
	// Normally two tries; a third only if the prompt answer itself took over the timeout.
	n := len(dl.Tries)
	if dl.Status != StatusDelivered || n < 2 {
		t.Fatalf("delivery %s after %d tries, want delivered after 2", dl.Status, n)
	}
	if !strings.HasPrefix(dl.Tries[0].Error, "timeout") || dl.Tries[0].HTTPStatus != 0 || dl.Tries[n-1].HTTPStatus != 200 {
		t.Errorf("tries = %+v; want a timeout then HTTP 200", dl.Tries)
	}
	reqs := rc.requests()
	if len(reqs) != n {
		t.Errorf("receiver got %d requests, the record says %d tries", len(reqs), n)
	}
	for _, r := range reqs {
		if r.Query != reqs[0].Query || r.Body != reqs[0].Body {
			t.Errorf("receiver got %+v; want the same URL and body every time", reqs)
			break
		}
	}
	list, err := d.List(Filter{})
	if err != nil || len(list) != 1 || len(list[0].Tries) != n || list[0].Status != StatusDelivered {
		t.Errorf("List = %+v, %v; want the one delivery with its %d tries", list, err, n)
	}
	var keys int
	_ = st.View(func(tx *store.Tx) error { keys, err = tx.Count(DefaultPrefix + "delivery:"); return err })
	if keys != 1 {
		t.Errorf("%d delivery keys, want 1", keys)
	}
	if got := j.List(journal.Filter{}); len(got) != n || got[0].Event != "push" {
		t.Errorf("journal has %d entries, want %d push tries", len(got), n)
	}
}

func TestDeliverGivesUpAfterThreeTries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		require bool
		answer  func(w http.ResponseWriter)
		wantErr string
	}{
		{"server error", false, func(w http.ResponseWriter) { w.WriteHeader(500) }, "HTTP 500"},
		{"not found", false, func(w http.ResponseWriter) { w.WriteHeader(404) }, "HTTP 404"},
		{"system push wants success", true, func(w http.ResponseWriter) { io.WriteString(w, "ok") }, `answer is not "success"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, _, _ := newDeliverer(t, time.Minute)
			rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { tt.answer(w) })
			dl, err := deliver(t, d, Target{AppID: "wx1", URL: rc.URL, Token: "t", Format: XML, Mode: Plaintext, RequireSuccess: tt.require}, "e", badScore)
			if err != nil {
				t.Fatal(err)
			}
			if dl.Status != StatusFailed || len(dl.Tries) != 3 || len(rc.requests()) != 3 {
				t.Fatalf("delivery %s after %d tries (%d received), want failed after 3", dl.Status, len(dl.Tries), len(rc.requests()))
			}
			for _, try := range dl.Tries {
				if try.Error != tt.wantErr {
					t.Errorf("try %d error = %q, want %q", try.N, try.Error, tt.wantErr)
				}
			}
		})
	}
}

func TestDeliverUnreachable(t *testing.T) {
	t.Parallel()
	d, _, _ := newDeliverer(t, time.Minute)
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close() // nothing listens there any more
	dl, err := deliver(t, d, Target{AppID: "wx1", URL: u, Token: "t", Format: JSON, Mode: Plaintext}, "e", badScore)
	if err != nil {
		t.Fatal(err)
	}
	if dl.Status != StatusFailed || len(dl.Tries) != 3 || dl.Tries[0].Error == "" {
		t.Errorf("delivery to a closed port = %+v; want failed after 3 tries with errors", dl)
	}
}

func TestDeliveriesListedInOrderAndFiltered(t *testing.T) {
	t.Parallel()
	d, _, _ := newDeliverer(t, time.Minute)
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
	for i, app := range []string{"wxa", "wxb", "wxa"} {
		if _, err := deliver(t, d, Target{AppID: app, URL: rc.URL, Token: "t", Format: JSON, Mode: Plaintext}, []string{"e1", "e2", "e3"}[i], badScore); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := d.List(Filter{})
	if len(all) != 3 || all[0].Event != "e1" || all[2].Event != "e3" {
		t.Errorf("List = %+v; want e1, e2, e3 in order", all)
	}
	a, _ := d.List(Filter{AppID: "wxa"})
	if len(a) != 2 {
		t.Errorf("List(wxa) has %d, want 2", len(a))
	}
	page, _ := d.List(Filter{After: all[0].ID, Limit: 1})
	if len(page) != 1 || page[0].Event != "e2" {
		t.Errorf("List(after first, limit 1) = %+v; want e2", page)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	echo := func(_ int, w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("signature") != refSign("tok", q.Get("timestamp"), q.Get("nonce")) {
			io.WriteString(w, "bad signature")
			return
		}
		io.WriteString(w, q.Get("echostr"))
	}
	tests := []struct {
		name   string
		token  string
		answer func(int, http.ResponseWriter, *http.Request)
		ok     bool
	}{
		{"echoes", "tok", echo, true},
		{"wrong token", "other", echo, false},
		{"echo plus newline", "tok", func(n int, w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.URL.Query().Get("echostr")+"\n")
		}, false},
		{"success instead", "tok", func(_ int, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "success") }, false},
		{"not found", "tok", func(_ int, w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, st, _ := newDeliverer(t, time.Minute)
			rc := newReceiver(t, tt.answer)
			before, _ := st.Hash()
			err := d.Verify(context.Background(), "wx1", rc.URL+"/cb", tt.token)
			if (err == nil) != tt.ok {
				t.Errorf("Verify = %v, want ok=%v", err, tt.ok)
			}
			var he *HandshakeError
			if err != nil && !errors.As(err, &he) {
				t.Errorf("Verify error %T, want *HandshakeError", err)
			}
			if after, _ := st.Hash(); after != before {
				t.Error("Verify changed the store")
			}
			if r := rc.requests(); len(r) != 1 || r[0].Method != http.MethodGet {
				t.Errorf("receiver got %+v, want one GET", r)
			}
		})
	}
	d, _, _ := newDeliverer(t, time.Minute)
	for _, u := range []string{"ftp://x/y", "not a url", "http://"} {
		if err := d.Verify(context.Background(), "wx1", u, "t"); err == nil {
			t.Errorf("Verify(%q) = nil, want an error", u)
		}
	}
}

// TestPushesAboutOneUserGoInOrder: while a receiver holds alice's first push, her second waits
// behind it and bob's goes at once; once the first is answered, alice's second follows.
func TestPushesAboutOneUserGoInOrder(t *testing.T) {
	t.Parallel()
	d, _, _ := newDeliverer(t, 10*time.Second)
	firstHeld, letGo := make(chan struct{}), make(chan struct{})
	var release sync.Once
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			close(firstHeld)
			select {
			case <-letGo:
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, "success")
	})
	about := func(user, event string) Message {
		return Message{{"ToUserName", "gh_0123456789ab"}, {"FromUserName", user}, {"MsgType", "event"}, {"Event", event}}
	}
	target := Target{AppID: "wx0123456789abcdef", URL: rc.URL + "/p", Format: JSON, Mode: Plaintext}
	for _, m := range []Message{about("alice", "subscribe"), about("alice", "SCAN"), about("bob", "subscribe")} {
		ev, _ := m.Get("Event")
		from, _ := m.Get("FromUserName")
		target.Lane = from.(string)
		if _, err := d.Deliver(context.Background(), target, ev.(string), m); err != nil {
			t.Fatal(err)
		}
		if len(rc.requests()) == 0 {
			<-firstHeld
		}
	}
	deadline := time.After(20 * time.Second)
	for len(rc.requests()) < 2 {
		select {
		case <-deadline:
			release.Do(func() { close(letGo) })
			t.Fatalf("bob's push did not go while alice's first was held: %v", rc.requests())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if got := rc.requests(); len(got) != 2 || !strings.Contains(got[1].Body, "bob") {
		release.Do(func() { close(letGo) })
		t.Fatalf("second request = %v, want bob's push (alice's second waits behind her first)", got)
	}
	release.Do(func() { close(letGo) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	if len(got) != 3 || !strings.Contains(got[2].Body, `"SCAN"`) || !strings.Contains(got[2].Body, "alice") {
		t.Errorf("requests = %v, want alice's SCAN last", got)
	}
}

// DeliverLater stores the pending record at once and queues nothing until start is called.
func TestDeliverLaterQueuesOnStart(t *testing.T) {
	t.Parallel()
	d, _, j := newDeliverer(t, time.Minute)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "success") })
	pending, start, err := d.DeliverLater(context.Background(), Target{AppID: "wx1", URL: rc.URL, Token: "t", Format: XML, Mode: Plaintext}, "e", badScore)
	if err != nil {
		t.Fatal(err)
	}
	if pending.Status != StatusPending || d.Busy() != 0 || j.LastSeq() != 0 {
		t.Fatalf("before start: status %s, %d queued, %d journal entries; want pending, 0, 0", pending.Status, d.Busy(), j.LastSeq())
	}
	list, err := d.List(Filter{})
	if err != nil || len(list) != 1 || list[0].ID != pending.ID || list[0].Status != StatusPending {
		t.Fatalf("before start the store lists %+v (%v), want the pending record", list, err)
	}
	start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if list, _ = d.List(Filter{}); len(list) != 1 || list[0].Status != StatusDelivered || len(rc.requests()) != 1 {
		t.Fatalf("after start: %+v and %d received, want delivered once", list, len(rc.requests()))
	}
}
