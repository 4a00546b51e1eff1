package review_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// reviewEnv is a sandbox with a mini program and its token, and the review APIs' calls.
type reviewEnv struct {
	*testkit.Kit
	app *sandbox.WeChatApp
	tok string
}

func newReviewEnv(t *testing.T) *reviewEnv {
	t.Helper()
	k := testkit.New(t)
	app := k.App(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "unlimited"})
	return &reviewEnv{Kit: k, app: app, tok: k.Token(app.AppID, app.Secret)}
}

// in is the same environment reporting to t, a subtest.
func (e *reviewEnv) in(t *testing.T) *reviewEnv {
	return &reviewEnv{Kit: e.For(t), app: e.app, tok: e.tok}
}

func (e *reviewEnv) get(path string, q url.Values) testkit.Answer {
	e.T().Helper()
	q.Set("access_token", e.tok)
	return e.API(http.MethodGet, path+"?"+q.Encode(), "", nil)
}

func (e *reviewEnv) post(path string, body any) testkit.Answer {
	e.T().Helper()
	return e.Post(path, e.tok, body)
}

// ok fails unless a is the family's success shape.
func ok(t testing.TB, a testkit.Answer) {
	t.Helper()
	if a.Status != http.StatusOK || a.Errcode() != 0 || a.JSON["success"] != true {
		t.Fatalf("%s, want errcode 0 and success true", a)
	}
}

// postReviews posts reviews through the control verb.
func (e *reviewEnv) postReviews(body map[string]any) sandbox.WeChatPostedReviews {
	e.T().Helper()
	if body["appid"] == nil {
		body["appid"] = e.app.AppID
	}
	a := e.Control(http.MethodPost, "/_sandbox/wechat/reviews", body)
	if a.Status != http.StatusCreated {
		e.T().Fatalf("%s, want 201", a)
	}
	var out sandbox.WeChatPostedReviews
	e.Decode(a, &out)
	return out
}

type listPage struct {
	Total       int `json:"total"`
	Offset      int `json:"offset"`
	CommentList []struct {
		CommentID string `json:"commentId"`
		Score     int    `json:"score"`
		Create    string `json:"createTime"`
		ExtInfo   struct {
			IsAlreadySendTmpl bool `json:"isAlreadySendTmpl"`
		} `json:"extInfo"`
	} `json:"commentList"`
}

func (e *reviewEnv) list(filter, offset, limit int, start, end int64) listPage {
	e.T().Helper()
	q := url.Values{"startTime": {strconv.FormatInt(start, 10)}, "endTime": {strconv.FormatInt(end, 10)}}
	if filter >= 0 {
		q.Set("filterType", strconv.Itoa(filter))
	}
	if offset >= 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	if limit >= 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	a := e.get("/wxaapi/comment/mpcommentlist/get", q)
	ok(e.T(), a)
	if _, has := a.JSON["errmsg"]; has {
		e.T().Errorf("list answer has errmsg: %s", a.Raw)
	}
	var p listPage
	e.Decode(a, &p)
	return p
}

func (e *reviewEnv) listAll(filter int) listPage {
	return e.list(filter, -1, 100, 0, 1<<40)
}

func ids(p listPage) []string {
	var out []string
	for _, c := range p.CommentList {
		out = append(out, c.CommentID)
	}
	return out
}

func (e *reviewEnv) info(commentID string) testkit.Answer {
	e.T().Helper()
	return e.get("/wxaapi/comment/commentinfo/get", url.Values{"commentId": {commentID}})
}

// pngBytes is a small real PNG.
func pngBytes(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const (
	sinkToken = "SinkToken1"
	sinkKey   = "kWxPqR7sT2uV9wX4yZ6aB8cD0eF1gH3iJ5kL7mN9oPq"
)

func TestNegativeReviewFlowEndToEnd(t *testing.T) {
	t.Parallel()
	e := newReviewEnv(t)
	sink := testkit.NewReceiver(t, e.app.AppID, sinkToken, sinkKey, "json", "safe")
	if _, err := e.Srv.WeChat().SetPush(t.Context(), e.app.AppID, sandbox.WeChatPushConfig{
		URL: sink.URL + "/wx/push", Token: sinkToken, EncodingAESKey: sinkKey, Format: "json", Mode: "safe",
	}); err != nil {
		t.Fatal(err)
	}

	// A one-star review: the event is queued for the receiver (the answer does not wait for it)
	// and pushed, encrypted.
	posted := e.postReviews(map[string]any{"score": 1, "txt": "等了一个星期才发货"})
	r := posted.Reviews[0]
	if len(posted.Deliveries) != 1 || posted.Deliveries[0].Status != "pending" || posted.Deliveries[0].Event != "wxa_comment_bad_score" {
		t.Fatalf("deliveries = %+v, want one pending wxa_comment_bad_score", posted.Deliveries)
	}
	events := sink.Wait(1)
	if len(events) != 1 {
		t.Fatalf("receiver got %d events, want 1", len(events))
	}
	ev := events[0]
	result, _ := ev.Fields["result"].(map[string]any)
	if ev.Str("Event") != "wxa_comment_bad_score" || ev.Str("MsgType") != "event" || ev.Str("ToUserName") != e.app.OriginalID || result["comment_id"] != r.CommentID {
		t.Errorf("event = %s, want wxa_comment_bad_score for %s to %s", ev.Plain, r.CommentID, e.app.OriginalID)
	}
	if got := e.listAll(1); !slices.Contains(ids(got), r.CommentID) {
		t.Errorf("filterType 1 = %v, want the new review", ids(got))
	}
	if got := e.listAll(3); !slices.Contains(ids(got), r.CommentID) {
		t.Errorf("filterType 3 = %v, want the new review (no compromise yet)", ids(got))
	}

	// Customer service: refused until the quota is reset, then exactly one message.
	msg := map[string]any{"touser": r.OpenID, "msgtype": "text", "text": map[string]any{"content": "您好，我们想了解一下情况"}}
	e.Unchanged(func() { e.WantErrcode(e.post("/cgi-bin/message/custom/send", msg), 45015) })
	ok(t, e.post("/wxaapi/comment/apikfquota/reset", map[string]any{"commentId": r.CommentID}))
	e.WantErrcode(e.post("/cgi-bin/message/custom/send", msg), 0)
	e.Unchanged(func() { e.WantErrcode(e.post("/cgi-bin/message/custom/send", msg), 45015) })
	if p := e.listAll(1); len(p.CommentList) != 1 || !p.CommentList[0].ExtInfo.IsAlreadySendTmpl {
		t.Errorf("after the message, extInfo = %+v, want isAlreadySendTmpl true", p.CommentList)
	}

	// A compromise offer with an uploaded picture; the reviewer sees it and revises.
	up := e.Upload(e.tok, "image", "media", pngBytes(t))
	mediaID := up.Str("media_id")
	if up.Status != 200 || up.Str("type") != "image" || mediaID == "" || up.JSON["created_at"] != float64(e.Start.Unix()) {
		t.Fatalf("upload = %s, want an image media id created now", up.Raw)
	}
	ok(t, e.post("/wxaapi/comment/confirmcompromise", map[string]any{"commentId": r.CommentID, "picList": []string{mediaID}, "content": "全额退款并补发"}))
	seen := e.Control(http.MethodGet, "/_sandbox/wechat/reviews/"+r.CommentID, nil)
	if comp, _ := seen.JSON["compromise"].(map[string]any); comp["content"] != "全额退款并补发" {
		t.Errorf("the reviewer sees %s, want the compromise offer", seen.Raw)
	}
	if msgs, _ := seen.JSON["kf_messages"].([]any); len(msgs) != 1 {
		t.Errorf("the reviewer got %d customer-service messages, want 1", len(msgs))
	}
	if got := e.listAll(3); slices.Contains(ids(got), r.CommentID) {
		t.Errorf("filterType 3 still lists the review after the compromise")
	}
	e.Advance(time.Hour)
	rev := e.Control(http.MethodPost, "/_sandbox/wechat/reviews/"+r.CommentID+"/revise", map[string]any{"score": 5, "txt": "商家处理得很好"})
	if rev.Status != http.StatusOK {
		t.Fatalf("revise = %d %s", rev.Status, rev.Raw)
	}

	for _, tc := range []struct {
		filter int
		want   bool
	}{{1, false}, {2, true}, {3, false}, {4, true}, {5, true}, {6, true}} {
		if got := slices.Contains(ids(e.listAll(tc.filter)), r.CommentID); got != tc.want {
			t.Errorf("after revision, filterType %d lists the review = %v, want %v", tc.filter, got, tc.want)
		}
	}
	info := e.info(r.CommentID)
	ok(t, info)
	var detail struct {
		Info struct {
			Content struct {
				Score   int `json:"score"`
				Content struct {
					Txt string `json:"txt"`
				} `json:"content"`
			} `json:"content"`
		} `json:"info"`
		ProcessInfo struct {
			CommentID  string `json:"commentId"`
			ActionList []struct {
				Type       int    `json:"type"`
				UpdateTime *int64 `json:"updateTime"`
			} `json:"actionList"`
		} `json:"processInfo"`
		OldComment *struct {
			CommentID string `json:"commentId"`
			Score     int    `json:"score"`
			Content   struct {
				Txt string `json:"txt"`
			} `json:"content"`
		} `json:"oldComment"`
	}
	if err := json.Unmarshal(info.Raw, &detail); err != nil {
		t.Fatal(err)
	}
	if detail.Info.Content.Score != 500 || detail.Info.Content.Content.Txt != "商家处理得很好" {
		t.Errorf("revised review = %+v, want 500 and the new text", detail.Info.Content)
	}
	if o := detail.OldComment; o == nil || o.Score != 100 || o.Content.Txt != "等了一个星期才发货" || o.CommentID != r.CommentID {
		t.Errorf("oldComment = %+v, want the one-star original", o)
	}
	start := e.Start.Unix()
	wantTimes := []int64{start, start, start, start + 3600}
	if al := detail.ProcessInfo.ActionList; len(al) != 4 {
		t.Fatalf("actionList = %+v, want 4 steps", al)
	} else {
		for i, a := range al {
			if a.Type != i+1 || a.UpdateTime == nil || *a.UpdateTime != wantTimes[i] {
				t.Errorf("actionList[%d] = %+v, want type %d at %d", i, a, i+1, wantTimes[i])
			}
		}
	}

	// The control plane's delivery log has the push with its try.
	e.WaitPushes()
	dl := e.Control(http.MethodGet, "/_sandbox/wechat/push/deliveries?appid="+e.app.AppID, nil)
	list, _ := dl.JSON["deliveries"].([]any)
	if len(list) != 1 {
		t.Fatalf("deliveries = %s, want 1", dl.Raw)
	}
	d := list[0].(map[string]any)
	if tries, _ := d["tries"].([]any); d["status"] != "delivered" || len(tries) != 1 || d["answer"] != "success" || d["url"] == "" {
		t.Errorf("delivery = %v, want delivered after 1 try with answer success", d)
	}
}

func TestPositiveReviewsPushNothing(t *testing.T) {
	t.Parallel()
	e := newReviewEnv(t)
	sink := testkit.NewReceiver(t, e.app.AppID, sinkToken, sinkKey, "xml", "plaintext")
	if _, err := e.Srv.WeChat().SetPush(t.Context(), e.app.AppID, sandbox.WeChatPushConfig{URL: sink.URL, Token: sinkToken, Format: "xml"}); err != nil {
		t.Fatal(err)
	}
	for _, stars := range []int{3, 4, 5} {
		if p := e.postReviews(map[string]any{"score": stars}); len(p.Deliveries) != 0 {
			t.Errorf("a %d-star review pushed %+v, want nothing", stars, p.Deliveries)
		}
	}
	if n := len(sink.Events()); n != 0 {
		t.Errorf("receiver got %d events, want 0", n)
	}
}

func TestPushRetriesAHangingReceiver(t *testing.T) {
	t.Parallel()
	// The receiver hangs on the first push until the sandbox gives up (a 1 s timeout for the
	// test), then answers: the delivery log shows a timeout and a success, same message twice.
	k := testkit.New(t, sandboxtest.WithSandboxOptions(sandbox.WithPushTiming(time.Second, 3)))
	app := k.App(sandbox.WeChatAppSpec{Type: "mini_program"})
	release := make(chan struct{})
	var mu sync.Mutex
	var bodies []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			io.WriteString(w, r.URL.Query().Get("echostr"))
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.URL.RawQuery+"\n"+string(b))
		n := len(bodies)
		mu.Unlock()
		if n == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, "success")
	}))
	t.Cleanup(func() { close(release); recv.Close() })
	if _, err := k.Srv.WeChat().SetPush(t.Context(), app.AppID, sandbox.WeChatPushConfig{URL: recv.URL, Token: "Tok123", Format: "xml", Mode: "compatible"}); err != nil {
		t.Fatal(err)
	}
	a := k.Control(http.MethodPost, "/_sandbox/wechat/reviews", map[string]any{"appid": app.AppID, "score": 2})
	if a.Status != http.StatusCreated {
		t.Fatalf("post review = %d %s", a.Status, a.Raw)
	}
	k.WaitPushes()
	ds, err := k.Srv.WeChat().Deliveries(app.AppID)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Deliveries = %+v, %v; want 1", ds, err)
	}
	// Normally two tries; a third only if the prompt answer itself took over a second.
	d := ds[0]
	last := d.Tries[len(d.Tries)-1]
	if d.Status != "delivered" || len(d.Tries) < 2 || d.Tries[0].HTTPStatus != 0 || d.Tries[0].Error == "" || last.Answer != "success" {
		t.Errorf("delivery = %+v, want a timed-out try then a successful one", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != len(d.Tries) {
		t.Errorf("receiver got %d requests, the log says %d tries", len(bodies), len(d.Tries))
	}
	for _, b := range bodies {
		if b != bodies[0] {
			t.Errorf("receiver got %q, want the same URL and body every time", bodies)
			break
		}
	}
}

func TestReviewFiltersAndReplies(t *testing.T) {
	t.Parallel()
	e := newReviewEnv(t)
	byStars := map[int]string{}
	for _, stars := range []int{1, 2, 3, 4, 5} {
		byStars[stars] = e.postReviews(map[string]any{"score": stars}).Reviews[0].CommentID
		e.Advance(time.Minute)
	}
	want := map[int][]string{
		1: {byStars[2], byStars[1]},
		2: {byStars[5], byStars[4]},
		3: {byStars[2], byStars[1]},
		4: {byStars[5], byStars[4], byStars[3], byStars[2], byStars[1]},
		5: nil,
		6: {byStars[5], byStars[4], byStars[3], byStars[2], byStars[1]},
		0: {byStars[5], byStars[4], byStars[3], byStars[2], byStars[1]},
	}
	for f, w := range want {
		p := e.listAll(f)
		if got := ids(p); !slices.Equal(got, w) || p.Total != len(w) {
			t.Errorf("filterType %d = %v (total %d), want %v newest first", f, got, p.Total, w)
		}
	}
	// No filterType at all is "all" too, with the default page of 8.
	if p := e.list(-1, -1, -1, 0, 1<<40); p.Total != 5 || p.Offset != 0 {
		t.Errorf("no filterType: total %d offset %d, want 5 and 0", p.Total, p.Offset)
	}

	// The developer's comment takes a review out of filterType 4; deleting it brings it back and
	// deletes the replies under it.
	id := byStars[3]
	ok(t, e.post("/wxaapi/comment/reply/add", map[string]any{"commentId": id, "content": "感谢您的评价"}))
	if slices.Contains(ids(e.listAll(4)), id) {
		t.Error("filterType 4 lists a review that has a comment")
	}
	replies := func() (string, []string) {
		a := e.get("/wxaapi/comment/replyandcommentreplylist/get", url.Values{"commentId": {id}})
		ok(t, a)
		var out struct {
			List struct {
				Reply *struct {
					ReplyID      string `json:"replyId"`
					ReplyContent struct {
						Content string `json:"content"`
					} `json:"replyContent"`
				} `json:"reply"`
				CommentReplyList []struct {
					CommentReplyID string `json:"commentReplyId"`
				} `json:"commentReplyList"`
			} `json:"list"`
		}
		json.Unmarshal(a.Raw, &out)
		var crs []string
		for _, cr := range out.List.CommentReplyList {
			crs = append(crs, cr.CommentReplyID)
		}
		if out.List.Reply == nil {
			return "", crs
		}
		return out.List.Reply.ReplyID, crs
	}
	replyID, _ := replies()
	if replyID == "" {
		t.Fatal("no reply listed after reply/add")
	}
	ok(t, e.post("/wxaapi/comment/commentreply/add", map[string]any{"commentId": id, "replyId": replyID, "content": "补充说明一"}))
	ok(t, e.post("/wxaapi/comment/commentreply/add", map[string]any{"commentId": id, "content": "补充说明二"}))
	_, crs := replies()
	if len(crs) != 2 {
		t.Fatalf("comment replies = %v, want 2", crs)
	}
	ok(t, e.post("/wxaapi/comment/commentreply/delete", map[string]any{"commentId": id, "replyId": replyID, "commentReplyId": crs[0]}))
	if _, left := replies(); !slices.Equal(left, crs[1:]) {
		t.Errorf("after deleting %s: %v, want %v", crs[0], left, crs[1:])
	}
	ok(t, e.post("/wxaapi/comment/reply/delete", map[string]any{"commentId": id, "replyId": replyID}))
	if r, left := replies(); r != "" || len(left) != 0 {
		t.Errorf("after reply/delete: reply %q, replies %v; want none", r, left)
	}
	if !slices.Contains(ids(e.listAll(4)), id) {
		t.Error("filterType 4 does not list the review after its comment was deleted")
	}
}

func TestReviewListPagingAndTimeRange(t *testing.T) {
	t.Parallel()
	e := newReviewEnv(t)
	var all []string // oldest first
	var times []int64
	for i := range 20 {
		p := e.postReviews(map[string]any{"score": 4 + i%2})
		all = append(all, p.Reviews[0].CommentID)
		times = append(times, p.Reviews[0].CreateTime)
		e.Advance(time.Minute)
	}
	newest := slices.Clone(all)
	slices.Reverse(newest)
	var paged []string
	for off := 0; ; off += 8 {
		p := e.list(6, off, -1, 0, 1<<40)
		if p.Total != 20 || p.Offset != off {
			t.Errorf("page at %d: total %d offset %d, want 20 and %d", off, p.Total, p.Offset, off)
		}
		if len(p.CommentList) == 0 {
			break
		}
		paged = append(paged, ids(p)...)
	}
	if !slices.Equal(paged, newest) {
		t.Errorf("paging by 8 gave %v, want %v", paged, newest)
	}
	// [times[5], times[9]] holds reviews 5..9; offset 1, limit 2 gives 8 and 7.
	p := e.list(6, 1, 2, times[5], times[9])
	if p.Total != 5 || !slices.Equal(ids(p), []string{all[8], all[7]}) {
		t.Errorf("range page = %v (total %d), want [%s %s] of 5", ids(p), p.Total, all[8], all[7])
	}
	if p := e.list(6, 0, 8, times[19]+1, times[19]+100); p.Total != 0 || len(p.CommentList) != 0 {
		t.Errorf("a range after the last review = %+v, want nothing", p)
	}
	if p := e.list(2, 0, 8, times[3], times[2]); p.Total != 0 {
		t.Errorf("startTime after endTime gave total %d, want 0", p.Total)
	}
}

func TestReviewsAreSeededAndChinese(t *testing.T) {
	t.Parallel()
	list := func() []byte {
		e := newReviewEnv(t)
		e.postReviews(map[string]any{"count": 50})
		a := e.get("/wxaapi/comment/mpcommentlist/get", url.Values{"startTime": {"0"}, "endTime": {"9999999999"}, "limit": {"100"}})
		ok(t, a)
		return a.Raw
	}
	first, second := list(), list()
	if !bytes.Equal(first, second) {
		t.Error("two sandboxes with the same seed listed different reviews")
	}
	var p struct {
		Total       int `json:"total"`
		CommentList []struct {
			UserInfo struct {
				NickName string `json:"nickName"`
			} `json:"userInfo"`
			Content struct {
				Txt string `json:"txt"`
			} `json:"content"`
			ProductInfo struct {
				ProductList []struct {
					Name string `json:"name"`
				} `json:"productList"`
			} `json:"productInfo"`
			Score int `json:"score"`
		} `json:"commentList"`
	}
	json.Unmarshal(first, &p)
	if p.Total != 50 || len(p.CommentList) != 50 {
		t.Fatalf("total %d, %d listed; want 50", p.Total, len(p.CommentList))
	}
	scores := map[int]bool{}
	for _, c := range p.CommentList {
		scores[c.Score] = true
		for _, s := range []string{c.UserInfo.NickName, c.Content.Txt} {
			if !hasHan(s) {
				t.Errorf("%q is not Chinese", s)
			}
		}
		if len(c.ProductInfo.ProductList) == 0 {
			t.Errorf("review without products")
		}
	}
	if len(scores) != 5 {
		t.Errorf("50 random reviews have scores %v, want all five", scores)
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

func TestAcceptCompromisePolicy(t *testing.T) {
	t.Parallel()
	e := newReviewEnv(t)
	r := e.postReviews(map[string]any{"score": 2, "accept_compromise": true}).Reviews[0]
	ok(t, e.post("/wxaapi/comment/confirmcompromise", map[string]any{"commentId": r.CommentID, "picList": []string{}, "content": "补偿优惠券"}))
	if got := ids(e.listAll(5)); !slices.Equal(got, []string{r.CommentID}) {
		t.Errorf("filterType 5 = %v, want the review the reviewer revised at once", got)
	}
	var detail struct {
		OldComment *struct {
			Score int `json:"score"`
		} `json:"oldComment"`
	}
	json.Unmarshal(e.info(r.CommentID).Raw, &detail)
	if detail.OldComment == nil || detail.OldComment.Score != 200 {
		t.Errorf("oldComment = %+v, want the two-star original", detail.OldComment)
	}
}

func TestReviewRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	e := newReviewEnv(t)
	neg := e.postReviews(map[string]any{"score": 1}).Reviews[0]
	pos := e.postReviews(map[string]any{"score": 5}).Reviews[0]
	replied := e.postReviews(map[string]any{"score": 2}).Reviews[0]
	ok(t, e.post("/wxaapi/comment/reply/add", map[string]any{"commentId": replied.CommentID, "content": "您好"}))
	ok(t, e.post("/wxaapi/comment/confirmcompromise", map[string]any{"commentId": replied.CommentID, "picList": []string{}, "content": "退款"}))
	ok(t, e.post("/wxaapi/comment/apikfquota/reset", map[string]any{"commentId": replied.CommentID}))
	other := e.App(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "unlimited"})
	theirs := e.postReviews(map[string]any{"appid": other.AppID, "score": 1}).Reviews[0]
	oa := e.App(sandbox.WeChatAppSpec{Type: "official_account", Tier: "unlimited"})
	oaTok := e.Token(oa.AppID, oa.Secret)
	personal := e.App(sandbox.WeChatAppSpec{Type: "mini_program", SubjectType: "personal", Tier: "unlimited"})
	personalTok := e.Token(personal.AppID, personal.Secret)
	png := pngBytes(t)
	oldMedia := e.Upload(e.tok, "image", "media", png).Str("media_id")
	e.Advance(72 * time.Hour)
	e.tok = e.Token(e.app.AppID, e.app.Secret)
	oaTok = e.Token(oa.AppID, oa.Secret)
	personalTok = e.Token(personal.AppID, personal.Secret)
	otherMedia := e.Upload(e.AppToken(other), "image", "media", png).Str("media_id")

	var replyID string
	{
		a := e.get("/wxaapi/comment/replyandcommentreplylist/get", url.Values{"commentId": {replied.CommentID}})
		var out struct {
			List struct {
				Reply struct {
					ReplyID string `json:"replyId"`
				} `json:"reply"`
			} `json:"list"`
		}
		json.Unmarshal(a.Raw, &out)
		replyID = out.List.Reply.ReplyID
	}
	ok(t, e.post("/wxaapi/comment/commentreply/add", map[string]any{"commentId": replied.CommentID, "content": "补充"}))

	api := "https://api.weixin.qq.com"
	q := func(path, tok string, v url.Values) string {
		v.Set("access_token", tok)
		return api + path + "?" + v.Encode()
	}
	p := func(path, tok string) string { return api + path + "?access_token=" + tok }
	span := url.Values{"startTime": {"0"}, "endTime": {"9999999999"}}
	with := func(k, v string) url.Values {
		out := url.Values{}
		for kk, vv := range span {
			out[kk] = vv
		}
		out.Set(k, v)
		return out
	}
	tests := []struct {
		name   string
		method string
		url    string
		body   any
		want   int
	}{
		{"list without startTime", "GET", q("/wxaapi/comment/mpcommentlist/get", e.tok, url.Values{"endTime": {"1"}}), nil, -10001},
		{"list without endTime", "GET", q("/wxaapi/comment/mpcommentlist/get", e.tok, url.Values{"startTime": {"1"}}), nil, -10001},
		{"list non-numeric startTime", "GET", q("/wxaapi/comment/mpcommentlist/get", e.tok, url.Values{"startTime": {"yesterday"}, "endTime": {"1"}}), nil, -10001},
		{"list filterType 7", "GET", q("/wxaapi/comment/mpcommentlist/get", e.tok, with("filterType", "7")), nil, -10001},
		{"list filterType text", "GET", q("/wxaapi/comment/mpcommentlist/get", e.tok, with("filterType", "bad")), nil, -10001},
		{"list limit 0", "GET", q("/wxaapi/comment/mpcommentlist/get", e.tok, with("limit", "0")), nil, -10001},
		{"list limit 101", "GET", q("/wxaapi/comment/mpcommentlist/get", e.tok, with("limit", "101")), nil, -10001},
		{"list negative offset", "GET", q("/wxaapi/comment/mpcommentlist/get", e.tok, with("offset", "-1")), nil, -10001},
		{"list without token", "GET", api + "/wxaapi/comment/mpcommentlist/get?" + span.Encode(), nil, 41001},
		{"list with a bad token", "GET", q("/wxaapi/comment/mpcommentlist/get", "12_bogus", span), nil, 40014},
		{"list by an official account", "GET", q("/wxaapi/comment/mpcommentlist/get", oaTok, span), nil, 48001},
		{"list by a personal mini program", "GET", q("/wxaapi/comment/mpcommentlist/get", personalTok, span), nil, -10007},
		{"info of another's review", "GET", q("/wxaapi/comment/commentinfo/get", e.tok, url.Values{"commentId": {theirs.CommentID}}), nil, -10403},
		{"info of an unknown review", "GET", q("/wxaapi/comment/commentinfo/get", e.tok, url.Values{"commentId": {"2000000000000000001"}}), nil, -10403},
		{"info of a non-numeric id", "GET", q("/wxaapi/comment/commentinfo/get", e.tok, url.Values{"commentId": {"abc"}}), nil, -10001},
		{"info without commentId", "GET", q("/wxaapi/comment/commentinfo/get", e.tok, url.Values{}), nil, -10001},
		{"replies of another's review", "GET", q("/wxaapi/comment/replyandcommentreplylist/get", e.tok, url.Values{"commentId": {theirs.CommentID}}), nil, -10403},
		{"reply/add to another's review", "POST", p("/wxaapi/comment/reply/add", e.tok), map[string]any{"commentId": theirs.CommentID, "content": "x"}, -10403},
		{"reply/add empty content", "POST", p("/wxaapi/comment/reply/add", e.tok), map[string]any{"commentId": neg.CommentID, "content": " "}, -10001},
		{"reply/add without content", "POST", p("/wxaapi/comment/reply/add", e.tok), map[string]any{"commentId": neg.CommentID}, -10001},
		{"reply/add twice", "POST", p("/wxaapi/comment/reply/add", e.tok), map[string]any{"commentId": replied.CommentID, "content": "again"}, 10000},
		{"reply/add numeric commentId", "POST", p("/wxaapi/comment/reply/add", e.tok), map[string]any{"commentId": 123, "content": "x"}, -10001},
		{"reply/add unknown field", "POST", p("/wxaapi/comment/reply/add", e.tok), map[string]any{"commentId": neg.CommentID, "content": "x", "extra": 1}, -10001},
		{"reply/add empty body", "POST", p("/wxaapi/comment/reply/add", e.tok), "", 44002},
		{"reply/add bad JSON", "POST", p("/wxaapi/comment/reply/add", e.tok), "{", 47001},
		{"reply/delete wrong replyId", "POST", p("/wxaapi/comment/reply/delete", e.tok), map[string]any{"commentId": replied.CommentID, "replyId": "123"}, -10003},
		{"reply/delete on a review without comment", "POST", p("/wxaapi/comment/reply/delete", e.tok), map[string]any{"commentId": neg.CommentID, "replyId": replyID}, -10003},
		{"commentreply/add wrong replyId", "POST", p("/wxaapi/comment/commentreply/add", e.tok), map[string]any{"commentId": replied.CommentID, "replyId": "999", "content": "x"}, -10003},
		{"commentreply/add without a comment", "POST", p("/wxaapi/comment/commentreply/add", e.tok), map[string]any{"commentId": neg.CommentID, "content": "x"}, 10000},
		{"commentreply/delete wrong id", "POST", p("/wxaapi/comment/commentreply/delete", e.tok), map[string]any{"commentId": replied.CommentID, "replyId": replyID, "commentReplyId": "1"}, -10003},
		{"commentreply/delete reply of another review", "POST", p("/wxaapi/comment/commentreply/delete", e.tok), map[string]any{"commentId": neg.CommentID, "replyId": replyID, "commentReplyId": "1"}, -10003},
		{"kf reset on a positive review", "POST", p("/wxaapi/comment/apikfquota/reset", e.tok), map[string]any{"commentId": pos.CommentID}, 10000},
		{"kf reset twice", "POST", p("/wxaapi/comment/apikfquota/reset", e.tok), map[string]any{"commentId": replied.CommentID}, 10000},
		{"kf reset another's review", "POST", p("/wxaapi/comment/apikfquota/reset", e.tok), map[string]any{"commentId": theirs.CommentID}, -10403},
		{"compromise on a positive review", "POST", p("/wxaapi/comment/confirmcompromise", e.tok), map[string]any{"commentId": pos.CommentID, "picList": []string{}, "content": "x"}, 10000},
		{"compromise twice", "POST", p("/wxaapi/comment/confirmcompromise", e.tok), map[string]any{"commentId": replied.CommentID, "picList": []string{}, "content": "x"}, 10000},
		{"compromise with an expired picture", "POST", p("/wxaapi/comment/confirmcompromise", e.tok), map[string]any{"commentId": neg.CommentID, "picList": []string{oldMedia}, "content": "x"}, 40007},
		{"compromise with another's picture", "POST", p("/wxaapi/comment/confirmcompromise", e.tok), map[string]any{"commentId": neg.CommentID, "picList": []string{otherMedia}, "content": "x"}, 40007},
		{"compromise with an unknown picture", "POST", p("/wxaapi/comment/confirmcompromise", e.tok), map[string]any{"commentId": neg.CommentID, "picList": []string{"nope"}, "content": "x"}, 40007},
		{"compromise without picList", "POST", p("/wxaapi/comment/confirmcompromise", e.tok), map[string]any{"commentId": neg.CommentID, "content": "x"}, -10001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			e.Unchanged(func() { e.WantErrcode(e.Do(tt.method, tt.url, tt.body), tt.want) })
		})
	}
}

func TestReviewControlRefusals(t *testing.T) {
	t.Parallel()
	e := newReviewEnv(t)
	neg := e.postReviews(map[string]any{"score": 1}).Reviews[0]
	oa := e.App(sandbox.WeChatAppSpec{Type: "official_account"})
	tests := []struct {
		name       string
		path       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{"revise before a compromise", "/_sandbox/wechat/reviews/" + neg.CommentID + "/revise", map[string]any{}, 409, "no_compromise_offer"},
		{"revise an unknown review", "/_sandbox/wechat/reviews/2999/revise", map[string]any{}, 404, "review_not_found"},
		{"review of an unknown app", "/_sandbox/wechat/reviews", map[string]any{"appid": "wx0000000000000000"}, 404, "app_not_found"},
		{"review of an official account", "/_sandbox/wechat/reviews", map[string]any{"appid": oa.AppID}, 400, "invalid_review"},
		{"six stars", "/_sandbox/wechat/reviews", map[string]any{"appid": e.app.AppID, "score": 6}, 400, "invalid"},
		{"images and a video", "/_sandbox/wechat/reviews", map[string]any{"appid": e.app.AppID, "images": []string{"https://x/1.jpg"}, "video": map[string]any{"url": "https://x/v.mp4"}}, 400, "invalid_review"},
		{"too many", "/_sandbox/wechat/reviews", map[string]any{"appid": e.app.AppID, "count": 1001}, 400, "invalid"},
		{"paid in the future", "/_sandbox/wechat/reviews", map[string]any{"appid": e.app.AppID, "pay_time": e.Start.Unix() + 10}, 400, "invalid_review"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.in(t)
			e.Unchanged(func() {
				a := e.Do(http.MethodPost, tt.path, tt.body)
				if a.Status != tt.wantStatus || a.Code() != tt.wantCode {
					t.Errorf("= %d %s, want %d %s", a.Status, a.Raw, tt.wantStatus, tt.wantCode)
				}
			})
		})
	}
	ok(t, e.post("/wxaapi/comment/confirmcompromise", map[string]any{"commentId": neg.CommentID, "picList": []string{}, "content": "退款"}))
	if a := e.Control(http.MethodPost, "/_sandbox/wechat/reviews/"+neg.CommentID+"/revise", map[string]any{"score": 4}); a.Status != 200 {
		t.Fatalf("revise = %d %s", a.Status, a.Raw)
	}
	e.Unchanged(func() {
		if a := e.Control(http.MethodPost, "/_sandbox/wechat/reviews/"+neg.CommentID+"/revise", map[string]any{}); a.Status != 409 {
			t.Errorf("second revise = %d %s, want 409 already_revised", a.Status, a.Raw)
		}
	})
}

func TestReviewGetParamsFromBody(t *testing.T) {
	t.Parallel()
	e := newReviewEnv(t)
	r := e.postReviews(map[string]any{"score": 2}).Reviews[0]
	// The new documentation lists the GET parameters as body fields: a JSON body works too, with
	// numbers or strings, and the query wins when both are given.
	a := e.Do(http.MethodGet, "https://api.weixin.qq.com/wxaapi/comment/mpcommentlist/get?access_token="+e.tok,
		map[string]any{"startTime": "0", "endTime": 9999999999, "filterType": 1, "limit": 1})
	ok(t, a)
	if a.JSON["total"] != float64(1) {
		t.Errorf("list with a body = %s, want the one negative review", a.Raw)
	}
	a = e.Do(http.MethodGet, "https://api.weixin.qq.com/wxaapi/comment/mpcommentlist/get?filterType=2&access_token="+e.tok,
		map[string]any{"startTime": 0, "endTime": 9999999999, "filterType": 1})
	ok(t, a)
	if a.JSON["total"] != float64(0) {
		t.Errorf("query filterType 2 over body 1 = %s, want total 0", a.Raw)
	}
	ok(t, e.Do(http.MethodGet, "https://api.weixin.qq.com/wxaapi/comment/commentinfo/get?access_token="+e.tok, map[string]any{"commentId": r.CommentID}))
	e.Unchanged(func() {
		e.WantErrcode(e.Do(http.MethodGet, "https://api.weixin.qq.com/wxaapi/comment/mpcommentlist/get?access_token="+e.tok, map[string]any{"startTime": "0"}), -10001)
		e.WantErrcode(e.Do(http.MethodGet, "https://api.weixin.qq.com/wxaapi/comment/mpcommentlist/get?access_token="+e.tok, map[string]any{"startTime": "0", "endTime": "9", "limit": 500}), -10001)
	})
}
