package sandbox_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// TestPushesKeepTheStateDeterministic runs the same requests, including a push to a real
// receiver, in two sandboxes: the stored state must hash the same, whatever the receiver's
// wall-time latency was.
func TestPushesKeepTheStateDeterministic(t *testing.T) {
	t.Parallel()
	var delay atomic.Int64 // the receiver answers slower in the second run
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := r.URL.Query().Get("echostr"); e != "" {
			_, _ = io.WriteString(w, e)
			return
		}
		time.Sleep(time.Duration(delay.Load()))
		_, _ = io.WriteString(w, "success")
	}))
	defer receiver.Close()
	run := func() string {
		srv := sandboxtest.New(t)
		if a := do(t, srv, "PUT", "/_sandbox/wechat/apps/"+miniAppID+"/push", map[string]any{"url": receiver.URL, "token": "tok123"}); a.status != 200 {
			t.Fatalf("push config: %d %s", a.status, a.raw)
		}
		if a := do(t, srv, "POST", "/_sandbox/wechat/reviews", map[string]any{"appid": miniAppID, "score": 1}); a.status >= 300 {
			t.Fatalf("review: %d %s", a.status, a.raw)
		}
		deliveries := do(t, srv, "GET", "/_sandbox/wechat/push/deliveries", nil)
		if deliveries.status != 200 || len(deliveries.raw) < 10 {
			t.Fatalf("deliveries: %d %s", deliveries.status, deliveries.raw)
		}
		h, err := srv.StateHash()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	first := run()
	delay.Store(int64(25 * time.Millisecond))
	if second := run(); first != second {
		t.Error("two identical runs with a push stored different states")
	}
}
