package sandbox_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// hangingReceiver answers WeChat's URL handshake, then holds every push until the test ends:
// a server that hangs. It counts the pushes it got.
func hangingReceiver(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var got atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := r.URL.Query().Get("echostr"); e != "" {
			_, _ = io.WriteString(w, e)
			return
		}
		got.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv, &got
}

// within runs fn and fails the test if it has not returned after d: a bound on a failure (a call
// that waits for a hanging receiver would never return), not a timing the test relies on.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
	}
}

// eventually waits until cond holds, failing the test if it does not within 10 s (a bound on a
// failure only).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// TestHangingReceiverDelaysOnlyItsOwnPushes points one Mini Program at a receiver that hangs
// (its tries would wait an hour) and another at one that answers: a thousand reviews towards the
// hanging one are answered at once, the other receiver still gets its push, and shutting down
// does not wait for the hanging tries.
func TestHangingReceiverDelaysOnlyItsOwnPushes(t *testing.T) {
	t.Parallel()
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithPushTiming(time.Hour, 1)))
	hang, hung := hangingReceiver(t)
	stuck := k.App(sandbox.WeChatAppSpec{Type: "mini_program"})
	if a := k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+stuck.AppID+"/push", map[string]any{"url": hang.URL, "token": "tok123"}); a.Status != http.StatusOK {
		t.Fatalf("push config: %s", a)
	}
	fine := k.App(sandbox.WeChatAppSpec{Type: "mini_program"})
	good := testkit.NewReceiver(t, fine.AppID, "tok456", strings.Repeat("g", 43), "json", "plaintext")
	if a := k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+fine.AppID+"/push", good.PushConfig()); a.Status != http.StatusOK {
		t.Fatalf("push config: %s", a)
	}

	within(t, 30*time.Second, "1,000 negative reviews towards a hanging receiver", func() {
		a := k.Control(http.MethodPost, "/_sandbox/wechat/reviews", map[string]any{"appid": stuck.AppID, "score": 1, "count": 1000})
		if a.Status != http.StatusCreated || len(a.JSON["deliveries"].([]any)) != 1000 {
			t.Errorf("posting the reviews: %d, %d deliveries", a.Status, len(a.JSON["deliveries"].([]any)))
		}
	})
	eventually(t, "four pushes hang at the receiver", func() bool { return hung.Load() >= 4 })
	within(t, 30*time.Second, "a review towards a receiver that answers", func() {
		if a := k.Control(http.MethodPost, "/_sandbox/wechat/reviews", map[string]any{"appid": fine.AppID, "score": 1}); a.Status != http.StatusCreated {
			t.Errorf("posting the review: %s", a)
		}
	})
	if ev := good.Wait(1); ev[0].Str("Event") != "wxa_comment_bad_score" {
		t.Errorf("the answering receiver got %v", ev)
	}
	ds, err := k.Srv.WeChat().Deliveries(stuck.AppID)
	if err != nil || len(ds) != 1000 {
		t.Fatalf("deliveries to the hanging receiver: %d, %v", len(ds), err)
	}
	for _, d := range ds {
		if d.Status != "pending" {
			t.Fatalf("a delivery to the hanging receiver is %s, want pending", d.Status)
		}
	}
	// Meanwhile the hanging receiver held its queue's share and no more.
	if n := hung.Load(); n != 4 {
		t.Errorf("the hanging receiver holds %d pushes at once, want 4", n)
	}
	idle := k.Control(http.MethodPost, "/_sandbox/wechat/push/wait", `{"timeout":"0s"}`)
	if idle.JSON["idle"] != false || idle.JSON["busy"].(float64) < 1000 {
		t.Errorf("push/wait with a hanging receiver: %s, want not idle with 1,000 busy", idle)
	}
	within(t, 10*time.Second, "closing the sandbox with tries in flight", func() {
		if err := k.Srv.Close(); err != nil {
			t.Error(err)
		}
	})
}

// TestPendingPushesAreSentAfterARestart stops a sandbox while its pushes hang: they stay pending
// in the store and are sent once the sandbox starts again.
func TestPendingPushesAreSentAfterARestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() *sandbox.Server {
		sb, err := sandbox.New(sandbox.WithStorePath(path), sandbox.WithFrozenClock(sandboxtest.DefaultStart()), sandbox.WithPushTiming(time.Hour, 1))
		if err != nil {
			t.Fatal(err)
		}
		return sb
	}
	var answer atomic.Bool // the receiver hangs until the restart, then answers
	var held, got atomic.Int64
	release := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := r.URL.Query().Get("echostr"); e != "" {
			_, _ = io.WriteString(w, e)
			return
		}
		if !answer.Load() {
			held.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		got.Add(1)
		_, _ = io.WriteString(w, "success")
	}))
	t.Cleanup(func() { close(release); recv.Close() })

	sb := open()
	if _, err := sb.WeChat().SetPush(context.Background(), testkit.MiniAppID, sandbox.WeChatPushConfig{URL: recv.URL, Token: "tok123"}); err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "posting reviews towards a hanging receiver", func() {
		if _, err := sb.WeChat().PostReviews(context.Background(), sandbox.WeChatReviewSpec{AppID: testkit.MiniAppID, Stars: 1, Count: 3}); err != nil {
			t.Error(err)
		}
	})
	// Every push hangs at the receiver before the stop, so none of them can still land after it.
	eventually(t, "the three pushes reach the receiver", func() bool { return held.Load() == 3 })
	within(t, 10*time.Second, "closing with hanging pushes", func() {
		if err := sb.Close(); err != nil {
			t.Error(err)
		}
	})
	answer.Store(true)
	sb = open()
	defer sb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sb.WaitPushes(ctx); err != nil {
		t.Fatalf("pushes after the restart: %v", err)
	}
	ds, err := sb.WeChat().Deliveries(testkit.MiniAppID)
	if err != nil || len(ds) != 3 {
		t.Fatalf("deliveries after the restart: %+v, %v", ds, err)
	}
	for _, d := range ds {
		if d.Status != "delivered" || len(d.Tries) != 1 {
			t.Errorf("delivery %s after the restart: %s after %d tries, want delivered at the first", d.ID, d.Status, len(d.Tries))
		}
	}
	if got.Load() != 3 {
		t.Errorf("the receiver got %d pushes after the restart, want 3", got.Load())
	}
}

// TestResetDropsTheOldStatesPushes resets while pushes hang: the queues are idle at once, and
// nothing of the old pushes lands in the new state.
func TestResetDropsTheOldStatesPushes(t *testing.T) {
	t.Parallel()
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithPushTiming(time.Hour, 1)))
	hang, _ := hangingReceiver(t)
	if a := k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+testkit.MiniAppID+"/push", map[string]any{"url": hang.URL, "token": "tok123"}); a.Status != http.StatusOK {
		t.Fatalf("push config: %s", a)
	}
	within(t, 10*time.Second, "posting reviews towards a hanging receiver", func() {
		if a := k.Control(http.MethodPost, "/_sandbox/wechat/reviews", map[string]any{"appid": testkit.MiniAppID, "score": 1, "count": 20}); a.Status != http.StatusCreated {
			t.Errorf("reviews: %s", a)
		}
	})
	fresh := testkit.New(t).StateHash()
	if a := k.Control(http.MethodPost, "/_sandbox/reset", nil); a.Status != http.StatusOK {
		t.Fatalf("reset: %s", a)
	}
	k.WaitPushes()
	if h := k.StateHash(); h != fresh {
		t.Errorf("after a reset with pushes in flight the state is not a fresh one's: %v", k.StoredKeys("wechat:push:"))
	}
}
