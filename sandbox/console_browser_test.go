package sandbox_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// TestConsoleInChromium drives the web console of a sandbox that has an admin token: the token
// given once as ?token= opens every panel; a scan from the console produces its journal line
// (live, over the stream) and the push; the clock panel moves the clock; a bad input shows the
// platform's own error. With CITYSANDBOX_SCREENSHOTS set, each panel is saved there as a PNG.
func TestConsoleInChromium(t *testing.T) {
	path := testkit.BrowserPath(t)
	const admin = "console-secret"
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithAdminToken(admin)))
	auth := http.Header{"Authorization": {"Bearer " + admin}}
	rcv := testkit.NewReceiver(t, testkit.ServiceAppID, "consoletok", strings.Repeat("c", 43), "json", "plaintext")
	if a := k.DoHeader(http.MethodPut, "/_sandbox/wechat/apps/"+testkit.ServiceAppID+"/push", auth, rcv.PushConfig()); a.Status != http.StatusOK {
		t.Fatalf("push config: %s", a)
	}
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	code := k.Post("/cgi-bin/qrcode/create", tok, `{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":7}}}`)
	codeURL := code.Str("url")
	if codeURL == "" {
		t.Fatalf("qrcode: %s", code)
	}
	// A temporary code whose image the console uploads, as a user would from a photo.
	upload := k.Post("/cgi-bin/qrcode/create", tok, `{"action_name":"QR_STR_SCENE","expire_seconds":3600,"action_info":{"scene":{"scene_str":"upload-1"}}}`)
	img := k.Do(http.MethodGet, "/cgi-bin/showqrcode?ticket="+url.QueryEscape(upload.Str("ticket")), nil)
	if img.Status != http.StatusOK {
		t.Fatalf("showqrcode: %d", img.Status)
	}
	imagePath := filepath.Join(t.TempDir(), "code.jpg")
	if err := os.WriteFile(imagePath, img.Raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// A pending City Service application for the console's operator to decide.
	csApp := k.DoHeader(http.MethodPost, "/_sandbox/wechat/cityservice/applications", auth, map[string]any{
		"subject_name": "晋城市政务服务管理局", "appid": testkit.ServiceAppID,
		"jump_scenes": []int{0, 1, 3}, "page_types": []int{0, 1, 2},
		"contact_unit": "晋城市政务服务管理局", "contact_person": "王敏",
		"contact_phone": "0356-2021234", "contact_wechat": "wangmin_jc",
	})
	if csApp.Status != http.StatusCreated {
		t.Fatalf("city service application: %s", csApp)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	shots := os.Getenv("CITYSANDBOX_SCREENSHOTS")
	shot := func(name string) {
		t.Helper()
		if shots == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, "console-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}

	// Without the token the page asks for it; ?token= sets the cookie and every panel opens.
	run("login page", chromedp.Navigate(k.Srv.URL+"/_sandbox/console/"), chromedp.WaitVisible(css(`input[name=token]`)))
	run("open with the token", chromedp.Navigate(k.Srv.URL+"/_sandbox/console/?token="+admin),
		chromedp.WaitVisible(css(`#apps[data-loaded] tr.app`)))
	if got := text("#apps-list"); !strings.Contains(got, "晋城市民服务号") || !strings.Contains(got, testkit.ServiceSecret) {
		t.Errorf("apps panel: %q", got)
	}
	run("app detail", chromedp.Click(css(`#apps-list tr.app button:nth-of-type(2)`)), chromedp.WaitVisible(css(`#app-detail .card`)))
	if got := text("#app-detail"); !strings.Contains(got, tok) || !strings.Contains(got, "/cgi-bin/qrcode/create") {
		t.Errorf("app detail lacks the live token or the quota use: %q", got)
	}
	shot("apps")

	// The journal is live: it is open before the scan, and the scan's line arrives over the stream.
	run("journal", chromedp.Navigate(k.Srv.URL+"/_sandbox/console/#journal"), chromedp.WaitVisible(css(`#journal[data-loaded] tr.entry`)))
	run("scan", chromedp.Click(css(`header a[data-panel=scan]`)), chromedp.WaitVisible(css(`#scan-form`)),
		chromedp.SendKeys(css(`#scan-form input[name=url]`), codeURL),
		chromedp.Click(css(`#scan-form button`)),
		chromedp.WaitVisible(css(`#scan-result:not(:empty)`)))
	if got := text("#scan-result"); !strings.Contains(got, "follow_official_account") || !strings.Contains(got, "subscribe") {
		t.Errorf("scan result: %q", got)
	}
	shot("scan")
	if ev := rcv.Wait(1)[0]; ev.Str("Event") != "subscribe" || ev.Str("EventKey") != "qrscene_7" {
		t.Errorf("push = %s", ev.Plain)
	}

	// Scan by image: without a file the platform says what is wrong; with the code's image the
	// sandbox reads it and scans it as bob, who follows: the push and the journal line follow.
	run("scan no image", chromedp.Click(css(`#scan-image button`)), chromedp.WaitVisible(css(`#scan-error:not(:empty)`)))
	if got := text("#scan-error"); !strings.Contains(got, "400 invalid_image") {
		t.Errorf("scan without an image: %q, want the platform's invalid_image", got)
	}
	run("scan image", chromedp.SetUploadFiles(css(`#scan-image input[type=file]`), []string{imagePath}),
		chromedp.SendKeys(css(`#scan-image input[name=user]`), "bob"),
		chromedp.Click(css(`#scan-image button`)), chromedp.WaitVisible(css(`#scan-result:not(:empty)`)))
	if got := text("#scan-result"); !strings.Contains(got, "follow_official_account") || !strings.Contains(got, upload.Str("url")) || !strings.Contains(got, "upload-1") {
		t.Errorf("scan of the image: %q, want a follow by %s", got, upload.Str("url"))
	}
	if got := text("#scan-error"); got != "" {
		t.Errorf("scan error after a good scan: %q", got)
	}
	shot("scan-image")
	if ev := rcv.Wait(2)[1]; ev.Str("Event") != "subscribe" || ev.Str("EventKey") != "qrscene_upload-1" {
		t.Errorf("push of the image scan = %s", ev.Plain)
	}
	run("journal line", chromedp.Click(css(`header a[data-panel=journal]`)),
		chromedp.WaitVisible(css(`#journal-list tr.entry td:nth-child(3)`)))
	events, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const s = [...document.querySelectorAll("#journal-list tr.entry td:nth-child(3)")].map(td => td.textContent).filter(t => t === "scan"); return s.length >= 2 && s.join(" "); })()`, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("scan lines: %v", err)
	}
	if events != "scan scan" {
		t.Errorf("journal lines = %q, want the two scans (url and image)", events)
	}
	shot("journal")

	// Paging: three a page; Older shows the three before, as the control API has them; Newer
	// comes back to the newest (live again).
	seqsShown := func() []string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#journal-list tr.entry")].map(tr => tr.dataset.seq).join(" ")`))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Fields(s)
	}
	run("per page", chromedp.SetValue(css(`#journal-filter input[name=limit]`), "3"), chromedp.Click(css(`#journal-filter button`)))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll("#journal-list tr.entry").length === 3`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("a page of 3: %v", err)
	}
	newest := seqsShown()
	run("older", chromedp.Click(css(`#journal-older`)), chromedp.WaitVisible(css(`#journal-state`)))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#journal-state").textContent === "paused"`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("older page: %v", err)
	}
	older := seqsShown()
	wantPage := k.DoHeader(http.MethodGet, "/_sandbox/requests?control=false&limit=3&before="+newest[len(newest)-1], auth, nil)
	var wantSeqs []string
	for _, e := range wantPage.JSON["requests"].([]any) {
		wantSeqs = append([]string{strconv.Itoa(int(e.(map[string]any)["seq"].(float64)))}, wantSeqs...)
	}
	if strings.Join(older, " ") != strings.Join(wantSeqs, " ") || len(older) != 3 {
		t.Errorf("older page shows %v (newest was %v), want %v", older, newest, wantSeqs)
	}
	shot("journal-older")
	run("newer", chromedp.Click(css(`#journal-newer`)))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#journal-state").textContent === "live" && document.querySelector("#journal-list tr.entry").dataset.seq === "`+newest[0]+`"`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("newer page: %v (shows %v)", err, seqsShown())
	}
	run("per page back", chromedp.SetValue(css(`#journal-filter input[name=limit]`), "200"), chromedp.Click(css(`#journal-filter button`)))

	// QR codes: both issued codes, each with its image, which the page loaded.
	run("qrcodes", chromedp.Click(css(`header a[data-panel=qrcodes]`)), chromedp.WaitVisible(css(`#qrcodes[data-loaded] tr.qrcode`)))
	if got := text("#qrcodes-list"); !strings.Contains(got, codeURL) || !strings.Contains(got, upload.Str("url")) || !strings.Contains(got, "permanent") || !strings.Contains(got, "temporary") {
		t.Errorf("qrcodes panel: %q", got)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const i = [...document.querySelectorAll("#qrcodes-list img.qr")]; return i.length === 2 && i.every(x => x.complete && x.naturalWidth === 430); })()`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("QR images not loaded: %v", err)
	}
	shot("qrcodes")

	// The clock panel moves the clock; a bad duration shows the platform's error.
	before := k.DoHeader(http.MethodGet, "/_sandbox/clock", auth, nil).Str("now")
	run("clock", chromedp.Click(css(`header a[data-panel=clock]`)), chromedp.WaitVisible(css(`#clock[data-loaded]`)),
		chromedp.SendKeys(css(`#clock-advance input`), "2h"), chromedp.Click(css(`#clock-advance button`)))
	b, _ := time.Parse(time.RFC3339Nano, before)
	want := b.Add(2 * time.Hour).Format("2006-01-02T15:04:05")
	moved, err := chromedp.Run(ctx, chromedp.Poll[string](`document.querySelector("#clock-view").textContent.includes("`+want+`") && document.querySelector("#clock-view").textContent`, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("clock moved: %v", err)
	}
	after := k.DoHeader(http.MethodGet, "/_sandbox/clock", auth, nil).Str("now")
	a, _ := time.Parse(time.RFC3339Nano, after)
	if a.Sub(b) != 2*time.Hour || !strings.Contains(moved, want) {
		t.Errorf("clock %s → %s (page %q), want two hours on", before, after, moved)
	}
	run("bad advance", chromedp.SetValue(css(`#clock-advance input`), "soon"), chromedp.Click(css(`#clock-advance button`)),
		chromedp.WaitVisible(css(`#clock-error:not(:empty)`)))
	if got := text("#clock-error"); !strings.Contains(got, "400 invalid_clock") || !strings.Contains(got, `"soon"`) {
		t.Errorf("clock error = %q, want the platform's invalid_clock", got)
	}
	// Unfreeze, then freeze from the console: the control API agrees, and a frozen clock stands.
	// (Not back to real time: a jump of months would forget the scan's push delivery.)
	clockState := func(want bool) {
		t.Helper()
		word := map[bool]string{true: "· frozen", false: "· running"}[want]
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#clock-view").textContent.endsWith("`+word+`")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("clock view never said %q: %v (it says %q)", word, err, text("#clock-view"))
		}
		if got := k.DoHeader(http.MethodGet, "/_sandbox/clock", auth, nil).JSON["frozen"]; got != want {
			t.Errorf("control API: frozen = %v, want %v", got, want)
		}
	}
	run("unfreeze", chromedp.Click(css(`#clock-thaw button`)))
	clockState(false)
	run("freeze", chromedp.Click(css(`#clock-freeze button`)))
	clockState(true)
	frozenAt := k.DoHeader(http.MethodGet, "/_sandbox/clock", auth, nil).Str("now")
	if again := k.DoHeader(http.MethodGet, "/_sandbox/clock", auth, nil).Str("now"); again != frozenAt {
		t.Errorf("a frozen clock moved: %s → %s", frozenAt, again)
	}
	shot("clock")

	// Faults: add one, see it listed, a bad one is refused with the platform's reason, remove it.
	run("faults", chromedp.Click(css(`header a[data-panel=faults]`)), chromedp.WaitVisible(css(`#faults[data-loaded]`)),
		chromedp.SendKeys(css(`#fault-add input[name=path]`), "/cgi-bin/token"),
		chromedp.SendKeys(css(`#fault-add input[name=errcode]`), "45009"),
		chromedp.Click(css(`#fault-add button`)), chromedp.WaitVisible(css(`#faults-list tr.fault`)))
	if f := k.DoHeader(http.MethodGet, "/_sandbox/faults", auth, nil); !strings.Contains(string(f.Raw), `"errcode":45009`) {
		t.Errorf("faults after adding: %s", f)
	}
	run("bad fault", chromedp.SetValue(css(`#fault-add input[name=errcode]`), "abc"), chromedp.Click(css(`#fault-add button`)),
		chromedp.WaitVisible(css(`#faults-error:not(:empty)`)))
	if got := text("#faults-error"); !strings.HasPrefix(got, "400 ") || !strings.Contains(got, "errcode") {
		t.Errorf("fault error = %q", got)
	}
	shot("faults")
	run("remove fault", chromedp.Click(css(`#faults-list tr.fault button`)), chromedp.WaitNotPresent(css(`#faults-list tr.fault`)))
	if f := k.DoHeader(http.MethodGet, "/_sandbox/faults", auth, nil); strings.Contains(string(f.Raw), "fault-") {
		t.Errorf("faults after removing: %s", f)
	}

	// Pushes (the scan's subscribe), the Jincheng applications (a reject without a reason is
	// refused by the platform), the contract report.
	run("pushes", chromedp.Click(css(`header a[data-panel=pushes]`)), chromedp.WaitVisible(css(`#pushes[data-loaded] tr.push`)))
	if got := text("#pushes-list"); !strings.Contains(got, "subscribe") || !strings.Contains(got, "delivered") {
		t.Errorf("pushes panel: %q", got)
	}
	shot("pushes")
	run("jincheng", chromedp.Click(css(`header a[data-panel=jincheng]`)), chromedp.WaitVisible(css(`#jincheng[data-loaded] tr.jlbapp`)),
		chromedp.Click(css(`#jincheng-list tr.jlbapp button.reject`)), chromedp.WaitVisible(css(`#jincheng-error:not(:empty)`)))
	if got := text("#jincheng-error"); !strings.HasPrefix(got, "400 ") || !strings.Contains(got, "reason") {
		t.Errorf("jincheng reject without a reason: %q", got)
	}
	shot("jincheng")

	// City Service: a grant the application did not ask for is refused by the platform, and
	// leaves it pending; an approval from the console approves it.
	csStatus := func() string {
		t.Helper()
		a := k.DoHeader(http.MethodGet, "/_sandbox/wechat/cityservice/applications?appid="+testkit.ServiceAppID, auth, nil)
		apps, _ := a.JSON["applications"].([]any)
		if len(apps) != 1 {
			t.Fatalf("applications: %s", a)
		}
		return apps[0].(map[string]any)["status"].(string)
	}
	run("cityservice", chromedp.Click(css(`header a[data-panel=cityservice]`)), chromedp.WaitVisible(css(`#cityservice[data-loaded] tr.csapp`)),
		chromedp.SendKeys(css(`#cityservice-list tr.csapp input[name=page_types]`), "3"),
		chromedp.Click(css(`#cityservice-list tr.csapp button.approve`)), chromedp.WaitVisible(css(`#cityservice-error:not(:empty)`)))
	if got := text("#cityservice-error"); !strings.Contains(got, "400 invalid_grant") || !strings.Contains(got, "page type 3") {
		t.Errorf("approve with an ungranted page type: %q, want the platform's invalid_grant", got)
	}
	if st := csStatus(); st != "pending" {
		t.Errorf("after a refused approval the application is %s", st)
	}
	shot("cityservice-error")
	run("approve", chromedp.SetValue(css(`#cityservice-list tr.csapp input[name=page_types]`), "0 1"),
		chromedp.Click(css(`#cityservice-list tr.csapp button.approve`)), chromedp.WaitVisible(css(`#cityservice-result:not(:empty)`)))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#cityservice-list tr.csapp td.status").textContent.startsWith("approved")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the page never showed the approval: %v (%q)", err, text("#cityservice-list"))
	}
	if st := csStatus(); st != "approved" {
		t.Errorf("after the console's approval the application is %s", st)
	}
	if got := text("#cityservice-list"); !strings.Contains(got, "pages 0 1,") {
		t.Errorf("granted page types: %q, want 0 1", got)
	}
	shot("cityservice")
	run("contract", chromedp.Click(css(`header a[data-panel=contract]`)), chromedp.WaitVisible(css(`#contract[data-loaded] #contract-list tr`)))
	if got := text("#contract-list"); !strings.Contains(got, "createQRCode") {
		t.Errorf("contract panel: %q", got)
	}
	shot("contract")

	// The simulators: a citizen launches a service; following a user who already follows is
	// refused by the platform.
	run("launch", chromedp.Click(css(`header a[data-panel=scan]`)), chromedp.WaitVisible(css(`#launch`)),
		chromedp.SendKeys(css(`#launch input[name=serviceCode]`), testkit.JinchengTesting),
		chromedp.SendKeys(css(`#launch input[name=persona]`), testkit.JinchengTester),
		chromedp.Click(css(`#launch button`)), chromedp.WaitVisible(css(`#verb-result:not(:empty)`)))
	if got := text("#verb-result"); !strings.Contains(got, "ticket") {
		t.Errorf("launch: %q", got)
	}
	run("follow twice", chromedp.SendKeys(css(`#follow input[name=appid]`), testkit.ServiceAppID),
		chromedp.SendKeys(css(`#follow input[name=user]`), "alice"), chromedp.Click(css(`#follow button`)),
		chromedp.WaitVisible(css(`#verb-result:not(:empty)`)), chromedp.Click(css(`#follow button`)),
		chromedp.WaitVisible(css(`#verb-error:not(:empty)`)))
	if got := text("#verb-error"); !strings.Contains(got, "409 already_following") {
		t.Errorf("second follow: %q", got)
	}
	shot("simulators")

	// The reviewer: a one-star review posted from the console; revising it before the developer
	// offers a compromise is refused by the platform; after confirmcompromise the reviewer
	// revises it from the console.
	run("post a review", chromedp.SendKeys(css(`#review input[name=appid]`), testkit.MiniAppID),
		chromedp.SendKeys(css(`#review input[name=score]`), "1"), chromedp.SendKeys(css(`#review input[name=txt]`), "等了一个小时"),
		chromedp.Click(css(`#review button`)), chromedp.WaitVisible(css(`#verb-result:not(:empty)`)))
	commentID, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#review-revise input[name=commentId]").value`))
	if err != nil || commentID == "" {
		t.Fatalf("the posted review's comment id was not filled in: %q, %v (%s)", commentID, err, text("#verb-result"))
	}
	run("revise too early", chromedp.Click(css(`#review-revise button`)), chromedp.WaitVisible(css(`#verb-error:not(:empty)`)))
	if got := text("#verb-error"); !strings.Contains(got, "409 no_compromise_offer") {
		t.Errorf("revise before a compromise: %q", got)
	}
	mpTok := k.Token(testkit.MiniAppID, testkit.MiniSecret)
	if a := k.Post("/wxaapi/comment/confirmcompromise", mpTok, map[string]any{"commentId": commentID, "picList": []string{}, "content": "全额退款"}); a.JSON["errcode"] != float64(0) {
		t.Fatalf("confirmcompromise: %s", a)
	}
	run("see the review", chromedp.Click(css(`#review-get button`)), chromedp.WaitVisible(css(`#verb-result:not(:empty)`)))
	if got := text("#verb-result"); !strings.Contains(got, "全额退款") {
		t.Errorf("the reviewer's view lacks the compromise offer: %q", got)
	}
	run("revise", chromedp.SendKeys(css(`#review-revise input[name=score]`), "5"), chromedp.SendKeys(css(`#review-revise input[name=txt]`), "退款很快"),
		chromedp.Click(css(`#review-revise button`)), chromedp.WaitVisible(css(`#verb-result:not(:empty)`)))
	if got := text("#verb-error"); got != "" {
		t.Errorf("revise: %q", got)
	}
	// WeChat counts stars in hundredths: five stars are 500.
	if r := k.DoHeader(http.MethodGet, "/_sandbox/wechat/reviews/"+commentID, auth, nil); r.JSON["score"] != float64(500) || r.Str("txt") != "退款很快" {
		t.Errorf("review after the console's revision: %s", r)
	}
	shot("reviewer")
}
