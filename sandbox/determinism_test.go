package sandbox_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
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
		k := testkit.New(t)
		if a := k.Control("PUT", "/_sandbox/wechat/apps/"+testkit.MiniAppID+"/push", map[string]any{"url": receiver.URL, "token": "tok123"}); a.Status != 200 {
			t.Fatalf("push config: %s", a)
		}
		if a := k.Control("POST", "/_sandbox/wechat/reviews", map[string]any{"appid": testkit.MiniAppID, "score": 1}); a.Status >= 300 {
			t.Fatalf("review: %s", a)
		}
		// Both runs must deliver: two failed deliveries would also store the same state.
		k.WaitPushes()
		deliveries := k.Control("GET", "/_sandbox/wechat/push/deliveries", nil)
		list, _ := deliveries.JSON["deliveries"].([]any)
		if deliveries.Status != 200 || len(list) != 1 {
			t.Fatalf("deliveries: %s, want the one push", deliveries)
		}
		if d := testkit.Object(list[0].(map[string]any)); d.Str("status") != "delivered" || d.Str("answer") != "success" {
			t.Fatalf("delivery = %v, want delivered with the receiver's answer success", d)
		}
		return k.StateHash()
	}
	first := run()
	delay.Store(int64(25 * time.Millisecond))
	if second := run(); first != second {
		t.Error("two identical runs with a push stored different states")
	}
}

func TestSameSeedSameBytes(t *testing.T) {
	t.Parallel()
	run := func() string {
		k := testkit.New(t)
		var b strings.Builder
		app := k.Control("POST", "/_sandbox/wechat/apps", `{"type":"mini_program"}`)
		b.Write(app.Raw)
		b.Write(k.Do("GET", testkit.TokenURL(app.Str("appid"), app.Str("secret")), nil).Raw)
		b.Write(k.Do("GET", testkit.TokenURL(app.Str("appid"), "x"), nil).Raw)
		b.Write(k.Do("POST", "/cgi-bin/stable_token", stableBody(testkit.ServiceAppID, testkit.ServiceSecret, false)).Raw)
		b.WriteString(k.StateHash())
		return b.String()
	}
	if first, second := run(), run(); first != second {
		t.Errorf("two runs differ:\n%s\n%s", first, second)
	}
}

func stableBody(appid, secret string, force bool) string {
	return fmt.Sprintf(`{"grant_type":"client_credential","appid":%q,"secret":%q,"force_refresh":%t}`, appid, secret, force)
}
