package jincheng_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citysandbox/citysandbox/sandbox/internal/jincheng"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// exchanged is what the integrator's back end learned from one ticket.
type exchanged struct {
	via, callback, userid, err string
}

// integrator is a tiny H5 service: its page loads jlb-bridge.js, its back end exchanges the
// ticket from the redirect and the one from JLBBridge.ssoTicket(), signed as the demo app.
func integrator(sandboxURL string, titles map[string]string, out chan<- exchanged) http.Handler {
	exchange := func(via, ticket, callback string) {
		body, _ := json.Marshal(map[string]string{"ticket": ticket})
		const path = "/jincheng/test/sso/v1/ticketValidation"
		req, _ := http.NewRequest("POST", sandboxURL+path, bytes.NewReader(body))
		// The sandbox clock is frozen in tests: sign with its time.
		var clock struct{ Unix int64 }
		if resp, err := http.Get(sandboxURL + "/_sandbox/clock"); err == nil {
			json.NewDecoder(resp.Body).Decode(&clock)
			resp.Body.Close()
		}
		ts := strconv.FormatInt(clock.Unix*1000, 10)
		nonce := fmt.Sprintf("browser-%s-%s", via, ticket[:16])
		req.Header.Set(jincheng.HeaderAppCode, testkit.JinchengAppCode)
		req.Header.Set(jincheng.HeaderTimestamp, ts)
		req.Header.Set(jincheng.HeaderNonce, nonce)
		req.Header.Set(jincheng.HeaderMethod, jincheng.SignatureMethod)
		req.Header.Set(jincheng.HeaderSignature, jincheng.Sign(testkit.JinchengAppSecret, jincheng.SignedRequest{Method: "POST", Path: path, AppCode: testkit.JinchengAppCode, Timestamp: ts, Nonce: nonce, Body: body}))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- exchanged{via: via, err: err.Error()}
			return
		}
		defer resp.Body.Close()
		var env struct {
			Success   bool
			ErrorCode string
			Data      struct{ Userid string }
		}
		json.NewDecoder(resp.Body).Decode(&env)
		e := exchanged{via: via, callback: callback, userid: env.Data.Userid}
		if !env.Success {
			e.err = env.ErrorCode
		}
		out <- e
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/h5/", func(w http.ResponseWriter, r *http.Request) {
		cb := r.URL.Query().Get("module_callback_code")
		if t := r.URL.Query().Get("ticket"); t != "" {
			exchange("redirect", t, cb)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>%s</title>
<script src="%s/jincheng/sdk/jlb-bridge.js"></script></head><body><p id="who">…</p>
<script>
JLBBridge.onReady(function () {
  JLBBridge.ssoTicket().then(function (r) { return fetch("/bridge?cb=%s&ticket=" + r.ticket); })
    .then(function () { document.getElementById("who").textContent = "ok"; });
});
</script></body></html>`, html.EscapeString(titles[cb]), sandboxURL, cb)
	})
	mux.HandleFunc("/bridge", func(w http.ResponseWriter, r *http.Request) {
		exchange("bridge", r.URL.Query().Get("ticket"), r.URL.Query().Get("cb"))
	})
	return mux
}

func TestAppPageInChromium(t *testing.T) {
	path := testkit.BrowserPath(t)
	e := newEnv(t)
	results := make(chan exchanged, 8)
	h5 := httptest.NewServer(integrator(e.Srv.URL, map[string]string{"GJJCX": "公积金查询", "GJJJCZM": "缴存证明打印"}, results))
	defer h5.Close()

	s := e.login(testkit.JinchengVendor, testkit.JinchengPassword)
	if r := e.vendor(s, "PATCH", "/jincheng/admin/v1/services/"+testkit.JinchengTesting, map[string]any{"testUrl": h5.URL + "/h5/#/home"}); r.Status != 200 {
		t.Fatalf("edit: %d %s", r.Status, r.Raw)
	}
	r := e.vendor(s, "POST", "/jincheng/admin/v1/apps/"+testkit.JinchengAppID+"/services", map[string]any{
		"serviceName": "公积金缴存证明", "accessMode": "APP", "serviceType": "QUERY", "module_callback_code": "GJJJCZM", "testUrl": h5.URL + "/h5/",
	})
	mismatched := r.Data().Str("serviceCode")
	if r.Status != 200 {
		t.Fatalf("create service: %d %s", r.Status, r.Raw)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun,
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	sel := func(css string) chromedp.CSS { return chromedp.CSS(css) }
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.Srv.URL+"/jincheng/app/?env=test&persona="+testkit.JinchengTester),
		chromedp.WaitVisible(sel(`a.svc[data-service="`+testkit.JinchengTesting+`"]`)),
		chromedp.Click(sel(`a.svc[data-service="`+testkit.JinchengTesting+`"]`)),
		chromedp.WaitReady(sel(`#checks[data-match]`)),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	attr := func(name string) string {
		t.Helper()
		r, err := chromedp.Run(ctx, chromedp.AttributeValue(sel(`#checks`), name))
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		return r.Value
	}
	match, title := attr("data-match"), attr("data-title")
	if match != "true" || title != "公积金查询" {
		t.Errorf("title check in the page: match=%q title=%q, want true 公积金查询", match, title)
	}
	want := e.citizen(testkit.JinchengTester)["userid"]
	got := map[string]exchanged{}
	for len(got) < 2 {
		select {
		case x := <-results:
			got[x.via] = x
		case <-ctx.Done():
			t.Fatalf("integrator saw %v, want a redirect and a bridge exchange", got)
		}
	}
	for via, x := range got {
		if x.err != "" || x.userid != want || x.callback != "GJJCX" {
			t.Errorf("%s exchange = %+v, want userid %v and GJJCX", via, x, want)
		}
	}

	// Back to the list, then a service whose page title differs from its listed name.
	err = chromedp.Do(ctx,
		chromedp.Click(sel(`#back`)),
		chromedp.WaitVisible(sel(`a.svc[data-service="`+mismatched+`"]`)),
		chromedp.Click(sel(`a.svc[data-service="`+mismatched+`"]`)),
		chromedp.WaitReady(sel(`#checks[data-match="false"]`)),
	)
	if err != nil {
		t.Fatalf("browser, second service: %v", err)
	}
	checks := e.Control("GET", "/_sandbox/jincheng/title-checks", nil).JSON["items"].([]any)
	if len(checks) != 2 {
		t.Fatalf("title checks = %v, want 2", checks)
	}
	first, second := checks[0].(map[string]any), checks[1].(map[string]any)
	if first["serviceCode"] != testkit.JinchengTesting || first["match"] != true || second["serviceCode"] != mismatched || second["match"] != false || second["title"] != "缴存证明打印" {
		t.Errorf("title checks = %v", checks)
	}
}
