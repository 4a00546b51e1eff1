package review

// Mini Program transaction reviews — 交易评价 评价管理 (reference: wechat-api.md §5; seed part 6),
// with simulated reviewers, and the negative-review customer-service flow.
//
// Emulated:
//   - the eight /wxaapi/comment/* APIs on a mini-program token (permission set 151 for
//     authorizers), with the family's success shape {"errcode":0,"success":true,...} and its
//     errcodes: -10001 for any parameter error, -10003 when a replyId or commentReplyId does not
//     belong to the review or comment, -10403 for another mini program's review, 10000 for a
//     compromise on a review that is not negative or already has one, -10008 for an internal
//     failure, plus the token errors;
//   - filterType exactly as the reference defines it: 1 current score 1–2 stars, 2 4–5 stars,
//     3 originally negative with no compromise (和解挽回) submitted, 4 no developer comment yet,
//     5 originally negative and revised by the user, 6 (and a missing or 0 filterType) all;
//   - offset/limit default 0/8, total counts the whole filtered range; newest first;
//   - commentinfo/get's processInfo.actionList (for originally negative reviews) and oldComment
//     (for a revised one); deleting a comment (reply/delete) deletes its replies;
//   - a 1–2 star review pushes wxa_comment_bad_score to the mini program's push URL (package
//     push; synchronously, inside the control verb that posted it);
//   - apikfquota/reset enables exactly one POST /cgi-bin/message/custom/send text message to the
//     reviewer; without it the message is refused with 45015 (WeChat's code for a user outside the
//     customer-service window), and extInfo.isAlreadySendTmpl turns true once it is sent (the API
//     is the core's; this family opens the window and records the message, see reviewerWindows);
//   - confirmcompromise's picList must hold image media ids of the same mini program from
//     POST /cgi-bin/media/upload (the core's temporary media), at most 3 days old (40007
//     otherwise).
//
// Invented (the sources are silent; chosen as the most plausible):
//   - an unknown commentId answers -10403 like another mini program's (existence is not
//     revealed); a non-numeric one -10001;
//   - a mini program whose subject is "personal" answers -10007 (personal mini programs cannot
//     take payments, so they have no transaction reviews);
//   - one developer comment per review (the reply list has a single "reply"): a second reply/add
//     answers 10000; commentreply/add without a replyId uses the review's comment, and with no
//     comment answers 10000; contents are 1–1000 characters;
//   - apikfquota/reset works once per negative review (10000 afterwards, and on a review that is
//     not negative); the customer-service message is text only (40008 for other types) and an
//     openid that never reviewed the mini program answers 40003;
//   - actionList always lists types 1–4 in order; a step carries updateTime (Unix seconds, a
//     number as the SDKs type it) once reached: 1 when the review is posted, 2 when the developer
//     first acts on it (kf quota reset or compromise), 3 when the compromise offer is shown to the
//     reviewer (at once), 4 when the reviewer revises;
//   - oldComment.content has txt and media like a review's content (the official page writes
//     "ext", which the SDKs read as the same content object);
//   - the reviewer revises through POST /_sandbox/wechat/reviews/{commentId}/revise, or at once
//     when the review was posted with accept_compromise; the revised review keeps its createTime
//     and position in the list;
//   - createTime is the sandbox time of posting, never earlier than the mini program's previous
//     review (so that posting order is time order even when the clock is set back); the list is
//     in posting order, newest first; the request's startTime/endTime select by createTime;
//   - limit is at most 100; the GET APIs read their parameters from the query, or else from a
//     JSON body (the new documentation calls them body fields);
//   - wxa_comment_bad_score comes from the openid "oWeChatTeamNotify0000000000000".
//
// Storage, built so that a page costs the same at any offset: each review gets a sequence
// number per mini program (posting order); for each filterType a Fenwick tree of membership
// counts over sequence numbers (keys wechat:review:fw:...) and an ordered membership key per
// member (wechat:review:m:..., newest first). A page finds its first member with one Fenwick
// descent (24 reads), then reads limit membership keys and reviews: O(log N + limit), whatever
// the offset.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// Deps are what the review family needs.
type Deps struct {
	Store *store.Store
	Clock clock.Clock
	Rand  *seeded.Source
	// Faker writes the simulated reviewers' names and texts.
	Faker *fixture.Faker
	// WeChat knows the Mini Programs and delivers their pushes.
	WeChat *wechat.Platform
}

// Emulator is the transaction-review family: its API handlers and the simulated reviewers.
type Emulator struct {
	deps Deps
}

// New returns the emulation; the reviewers become users the mini program may send
// customer-service messages to (see reviewerWindows).
func New(d Deps) *Emulator {
	d.WeChat.AddMessageWindows(reviewerWindows{})
	return &Emulator{deps: d}
}

// Routes lists the transaction-review APIs and the simulated reviewer's control verbs.
func (e *Emulator) Routes(r endpoint.Routes) {
	r.Handle("getCommentList", e.handleCommentList)              // GET /wxaapi/comment/mpcommentlist/get
	r.Handle("getCommentReplyList", e.handleCommentReplyList)    // GET /wxaapi/comment/replyandcommentreplylist/get
	r.Handle("getCommentInfo", e.handleCommentInfo)              // GET /wxaapi/comment/commentinfo/get
	r.Handle("addCommentReply", e.handleReplyAdd)                // POST /wxaapi/comment/reply/add
	r.Handle("deleteCommentReply", e.handleReplyDelete)          // POST /wxaapi/comment/reply/delete
	r.Handle("addCommentReplyReply", e.handleCommentReplyAdd)    // POST /wxaapi/comment/commentreply/add
	r.Handle("deleteCommentReplyReply", e.handleCommentReplyDel) // POST /wxaapi/comment/commentreply/delete
	r.Handle("resetCommentKfQuota", e.handleKfQuotaReset)        // POST /wxaapi/comment/apikfquota/reset
	r.Handle("confirmCompromise", e.handleConfirmCompromise)     // POST /wxaapi/comment/confirmcompromise
	r.Handle("postWeChatReviews", e.handlePostReviews)           // POST /_sandbox/wechat/reviews
	r.Handle("getWeChatReview", e.handleGetReview)               // GET /_sandbox/wechat/reviews/{commentId}
	r.Handle("reviseWeChatReview", e.handleReviseReview)         // POST /_sandbox/wechat/reviews/{commentId}/revise
}

// Review limits and fixed values.
const (
	reviewFwBits    = 24
	reviewFwCap     = 1 << reviewFwBits // reviews per mini program
	reviewMaxLimit  = 100
	reviewMaxText   = 1000
	reviewMaxCount  = 1000 // reviews per POST /_sandbox/wechat/reviews
	reviewFilters   = 6
	badScoreFrom    = "oWeChatTeamNotify0000000000000"
	negativeMaxStar = 2
)

// Action types of processInfo.actionList.
const (
	actionPosted    = 1
	actionHandled   = 2
	actionSurveyed  = 3
	actionRevised   = 4
	reviewEventName = "wxa_comment_bad_score"
)

// Review is a transaction review as the sandbox keeps it (and as the control plane shows it).
type Review struct {
	CommentID   string          `json:"comment_id"`
	AppID       string          `json:"appid"`
	Seq         int64           `json:"seq"`
	CreateTime  int64           `json:"create_time"`
	PayTime     int64           `json:"pay_time"`
	Amount      int64           `json:"amount"`
	WxPayID     string          `json:"wx_pay_id"`
	BusiOrderID string          `json:"busi_order_id"`
	OpenID      string          `json:"openid"`
	NickName    string          `json:"nickname"`
	HeadImg     string          `json:"head_img"`
	Score       int             `json:"score"`
	Txt         string          `json:"txt"`
	Media       []ReviewMedia   `json:"media"`
	Products    []ReviewProduct `json:"products"`
	// Negative is whether the review was posted with 1–2 stars (it stays so after a revision).
	Negative bool `json:"negative"`
	// AcceptCompromise is the simulated reviewer's policy: revise at once when offered one.
	AcceptCompromise bool `json:"accept_compromise"`
	// Actions holds the time each actionList step was reached (index type-1; 0 = not yet).
	Actions      [4]int64           `json:"actions"`
	KfResetAt    int64              `json:"kf_reset_at,omitempty"`
	KfMessages   []KfMessage        `json:"kf_messages"`
	Compromise   *Compromise        `json:"compromise,omitempty"`
	Old          *OldReview         `json:"old,omitempty"`
	Reply        *ReviewReply       `json:"reply,omitempty"`
	CommentReply []ReviewReplyReply `json:"comment_replies"`
}

// ReviewMedia is one image or the one video of a review.
type ReviewMedia struct {
	Img           string `json:"img,omitempty"`
	ThumbImg      string `json:"thumbImg,omitempty"`
	Video         string `json:"video,omitempty"`
	VideoCover    string `json:"videoCover,omitempty"`
	VideoDuration int    `json:"videoDuration,omitempty"`
}

// ReviewProduct is a reviewed product.
type ReviewProduct struct {
	Name   string `json:"name"`
	PicURL string `json:"picUrl"`
}

// KfMessage is a customer-service message the reviewer received.
type KfMessage struct {
	Content string `json:"content"`
	At      int64  `json:"at"`
}

// Compromise is the developer's 和解挽回 offer, as shown to the reviewer.
type Compromise struct {
	Content string   `json:"content"`
	PicList []string `json:"pic_list"`
	At      int64    `json:"at"`
}

// OldReview is the review as it was before the reviewer revised it.
type OldReview struct {
	CreateTime int64         `json:"create_time"`
	Score      int           `json:"score"`
	Txt        string        `json:"txt"`
	Media      []ReviewMedia `json:"media"`
	RevisedAt  int64         `json:"revised_at"`
}

// ReviewReply is the developer's comment (评论) on a review.
type ReviewReply struct {
	ReplyID    string `json:"reply_id"`
	Content    string `json:"content"`
	CreateTime int64  `json:"create_time"`
	UpdateTime int64  `json:"update_time"`
}

// ReviewReplyReply is a later reply (回复) under the developer's comment.
type ReviewReplyReply struct {
	ID         string `json:"comment_reply_id"`
	Content    string `json:"content"`
	CreateTime int64  `json:"create_time"`
	UpdateTime int64  `json:"update_time"`
}

// filters returns the filterTypes the review belongs to.
func (r *Review) filters() [reviewFilters + 1]bool {
	var in [reviewFilters + 1]bool
	in[1] = r.Score <= negativeMaxStar*100
	in[2] = r.Score >= 400
	in[3] = r.Negative && r.Compromise == nil
	in[4] = r.Reply == nil
	in[5] = r.Negative && r.Old != nil
	in[6] = true
	return in
}

// ---------------------------------------------------------------- storage

type reviewHead struct {
	Seq        int64 `json:"seq"`
	CreateTime int64 `json:"create_time"`
}

func reviewKey(commentID string) string { return "wechat:review:c:" + commentID }
func reviewHeadKey(appid string) string { return "wechat:review:head:" + appid }
func reviewTimePrefix(appid string) string {
	return "wechat:review:t:" + appid + ":"
}
func reviewTimeKey(appid string, t, seq int64) string {
	return fmt.Sprintf("%s%012d:%07x", reviewTimePrefix(appid), t, seq)
}
func reviewMemberPrefix(appid string, f int) string {
	return fmt.Sprintf("wechat:review:m:%s:%d:", appid, f)
}

// reviewMemberKey orders members newest first: the sequence number is stored inverted.
func reviewMemberKey(appid string, f int, seq int64) string {
	return fmt.Sprintf("%s%07x", reviewMemberPrefix(appid, f), reviewFwCap-seq)
}
func reviewFwKey(appid string, f int, i int64) string {
	return fmt.Sprintf("wechat:review:fw:%s:%d:%07x", appid, f, i)
}
func reviewUserKey(appid, openid string) string { return "wechat:review:user:" + appid + ":" + openid }
func reviewKfKey(appid, openid string) string   { return "wechat:review:kf:" + appid + ":" + openid }

func getInt(tx *store.Tx, key string) (int64, error) {
	s, ok, err := tx.GetRaw(key)
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("wechat: counter %s: %w", key, err)
	}
	return n, nil
}

// fwAdd adds delta at position i of a filter's Fenwick tree.
func fwAdd(tx *store.Tx, appid string, f int, i, delta int64) error {
	for ; i <= reviewFwCap; i += i & -i {
		k := reviewFwKey(appid, f, i)
		n, err := getInt(tx, k)
		if err != nil {
			return err
		}
		if n+delta == 0 {
			err = tx.Delete(k)
		} else {
			err = tx.PutRaw(k, strconv.FormatInt(n+delta, 10))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fwPrefix counts a filter's members with sequence number <= i.
func fwPrefix(tx *store.Tx, appid string, f int, i int64) (int64, error) {
	var sum int64
	for ; i > 0; i -= i & -i {
		n, err := getInt(tx, reviewFwKey(appid, f, i))
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// fwFind returns the sequence number of a filter's k-th member (1-based, oldest first).
func fwFind(tx *store.Tx, appid string, f int, k int64) (int64, error) {
	var pos int64
	for step := int64(reviewFwCap); step > 0; step >>= 1 {
		if pos+step > reviewFwCap {
			continue
		}
		n, err := getInt(tx, reviewFwKey(appid, f, pos+step))
		if err != nil {
			return 0, err
		}
		if n < k {
			pos += step
			k -= n
		}
	}
	return pos + 1, nil
}

// saveReview stores r and moves it between filters: was says where it was (nil for a new review).
func saveReview(tx *store.Tx, r *Review, was *[reviewFilters + 1]bool) error {
	now := r.filters()
	for f := 1; f <= reviewFilters; f++ {
		before := was != nil && was[f]
		switch {
		case now[f] && !before:
			if err := tx.PutRaw(reviewMemberKey(r.AppID, f, r.Seq), r.CommentID); err != nil {
				return err
			}
			if err := fwAdd(tx, r.AppID, f, r.Seq, 1); err != nil {
				return err
			}
		case !now[f] && before:
			if err := tx.Delete(reviewMemberKey(r.AppID, f, r.Seq)); err != nil {
				return err
			}
			if err := fwAdd(tx, r.AppID, f, r.Seq, -1); err != nil {
				return err
			}
		}
	}
	return tx.Put(reviewKey(r.CommentID), r)
}

// updateReview applies fn to a stored review and saves it with its filters.
func updateReview(tx *store.Tx, r *Review, fn func(r *Review) error) error {
	was := r.filters()
	if err := fn(r); err != nil {
		return err
	}
	return saveReview(tx, r, &was)
}

// listReviews returns one page of a filter over [start, end], newest first, and the filter's
// total over that range.
func listReviews(tx *store.Tx, appid string, f int, start, end int64, offset, limit int) (int64, []*Review, error) {
	page := []*Review{}
	var head reviewHead
	if _, err := tx.Get(reviewHeadKey(appid), &head); err != nil || head.Seq == 0 || start > end {
		return 0, page, err
	}
	// Posting order is time order, so the time range is a range of sequence numbers [lo, hi].
	var lo, hi int64
	first := func(pivot int64) (int64, error) {
		raw := ""
		err := tx.AscendFrom(reviewTimePrefix(appid), fmt.Sprintf("%s%012d", reviewTimePrefix(appid), pivot), func(_, v string) bool {
			raw = v
			return false
		})
		if err != nil || raw == "" {
			return 0, err
		}
		seq, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("wechat: review time key: %w", err)
		}
		return seq, nil
	}
	var err error
	if lo, err = first(start); err != nil || lo == 0 {
		return 0, page, err
	}
	if hi, err = first(end + 1); err != nil {
		return 0, page, err
	}
	if hi == 0 {
		hi = head.Seq
	} else {
		hi--
	}
	if hi < lo {
		return 0, page, nil
	}
	upTo, err := fwPrefix(tx, appid, f, hi)
	if err != nil {
		return 0, page, err
	}
	below, err := fwPrefix(tx, appid, f, lo-1)
	if err != nil {
		return 0, page, err
	}
	total := upTo - below
	if int64(offset) >= total {
		return total, page, nil
	}
	from, err := fwFind(tx, appid, f, upTo-int64(offset))
	if err != nil {
		return 0, page, err
	}
	var ids []string
	err = tx.AscendFrom(reviewMemberPrefix(appid, f), reviewMemberKey(appid, f, from), func(k, v string) bool {
		inv, perr := strconv.ParseInt(k[strings.LastIndexByte(k, ':')+1:], 16, 64)
		if perr != nil || reviewFwCap-inv < lo {
			return false
		}
		ids = append(ids, v)
		return len(ids) < limit
	})
	if err != nil {
		return 0, page, err
	}
	for _, id := range ids {
		var r Review
		if ok, err := tx.Get(reviewKey(id), &r); err != nil {
			return 0, page, err
		} else if !ok {
			return 0, page, fmt.Errorf("wechat: review %s indexed but missing", id)
		}
		page = append(page, &r)
	}
	return total, page, nil
}

// ---------------------------------------------------------------- WeChat's shapes

type reviewUserInfo struct {
	OpenID   string `json:"openid"`
	HeadImg  string `json:"headImg"`
	NickName string `json:"nickName"`
}

type reviewContent struct {
	Txt   string        `json:"txt"`
	Media []ReviewMedia `json:"media"`
}

type reviewItem struct {
	CommentID string `json:"commentId"`
	Amount    int64  `json:"amount"`
	OrderID   string `json:"orderId"`
	PayTime   string `json:"payTime"`
	WxPayID   string `json:"wxPayId"`
	OrderInfo struct {
		BusiOrderID string `json:"busiOrderId"`
	} `json:"orderInfo"`
	UserInfo    reviewUserInfo `json:"userInfo"`
	BizInfo     bizInfo        `json:"bizInfo"`
	Score       int            `json:"score"`
	CreateTime  string         `json:"createTime"`
	Content     reviewContent  `json:"content"`
	ExtInfo     extInfo        `json:"extInfo"`
	ProductInfo productInfo    `json:"productInfo"`
}

type bizInfo struct {
	AppID    string `json:"appid"`
	HeadImg  string `json:"headImg"`
	NickName string `json:"nickName"`
}

type extInfo struct {
	IsAlreadySendTmpl bool `json:"isAlreadySendTmpl"`
}

type productInfo struct {
	ProductList []ReviewProduct `json:"productList"`
}

func appHeadImg(app *wechat.App) string { return "https://wx.qlogo.cn/mmhead/" + app.AppID + "/0" }

func (r *Review) item(app *wechat.App) reviewItem {
	it := reviewItem{
		CommentID: r.CommentID, Amount: r.Amount, OrderID: "payorder@_" + r.WxPayID,
		PayTime: strconv.FormatInt(r.PayTime, 10), WxPayID: r.WxPayID,
		UserInfo:   reviewUserInfo{OpenID: r.OpenID, HeadImg: r.HeadImg, NickName: r.NickName},
		BizInfo:    bizInfo{AppID: app.AppID, HeadImg: appHeadImg(app), NickName: app.Name},
		Score:      r.Score,
		CreateTime: strconv.FormatInt(r.CreateTime, 10),
		Content:    reviewContent{Txt: r.Txt, Media: nonNil(r.Media)},
		ExtInfo:    extInfo{IsAlreadySendTmpl: len(r.KfMessages) > 0},
		ProductInfo: productInfo{
			ProductList: nonNil(r.Products),
		},
	}
	it.OrderInfo.BusiOrderID = r.BusiOrderID
	return it
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// reviewOK is the family's success shape.
type reviewOK struct {
	Errcode int    `json:"errcode"`
	Success bool   `json:"success"`
	Errmsg  string `json:"errmsg,omitempty"`
}

func okReview() reviewOK { return reviewOK{Errcode: 0, Success: true, Errmsg: "ok"} }

// ---------------------------------------------------------------- the WeChat API

// reviewApp is the caller of a review API: a mini program that may take transactions.
func (e *Emulator) reviewApp(c *endpoint.Call) (*wechat.App, error) {
	pr, _ := c.Principal.(*wechat.Principal)
	if pr == nil {
		return nil, apierr.New(apierr.Internal, -10008, "review API without a token principal")
	}
	if pr.App.SubjectType == "personal" {
		return nil, apierr.Newf(apierr.Forbidden, -10007, "mini program %s has a personal subject: no transaction reviews", pr.App.AppID)
	}
	return pr.App, nil
}

// serviceError turns a failure that is not the family's own error into -10008.
func serviceError(err error) error {
	if err == nil || apierr.As(err) != nil {
		return err
	}
	return &apierr.Error{Kind: apierr.Internal, Code: -10008, Reason: err.Error()}
}

var digits = func() [256]bool {
	var d [256]bool
	for c := '0'; c <= '9'; c++ {
		d[c] = true
	}
	return d
}()

func numericID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !digits[s[i]] {
			return false
		}
	}
	return true
}

// ownReview loads commentID for app: -10001 when malformed, -10403 when unknown or another's.
func ownReview(tx *store.Tx, app *wechat.App, commentID string) (*Review, error) {
	if !numericID(commentID) {
		return nil, apierr.Newf(apierr.Invalid, -10001, "commentId %q is not a numeric id", commentID)
	}
	var r Review
	ok, err := tx.Get(reviewKey(commentID), &r)
	if err != nil {
		return nil, err
	}
	if !ok || r.AppID != app.AppID {
		return nil, apierr.Newf(apierr.Forbidden, -10403, "review %s is not one of %s's", commentID, app.AppID)
	}
	return &r, nil
}

func checkText(field, s string) error {
	if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > reviewMaxText {
		return apierr.Newf(apierr.Invalid, -10001, "%s must be 1 to %d characters", field, reviewMaxText)
	}
	return nil
}

// getParams reads a GET API's parameters from the query, or else from a JSON body: WeChat's
// new documentation lists them as a "request body" although the method is GET and its example
// uses the query. A body value may be a string or a number.
func getParams(c *endpoint.Call) func(name string) string {
	var body map[string]any
	if len(bytes.TrimSpace(c.Body)) > 0 {
		_ = json.Unmarshal(c.Body, &body) // a body that is not an object is ignored, like WeChat's GET
	}
	return func(name string) string {
		if v := c.Query(name); v != "" {
			return v
		}
		switch v := body[name].(type) {
		case string:
			return strings.TrimSpace(v)
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
}

func parseUnix(name, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, apierr.Newf(apierr.Invalid, -10001, "%s %q is not Unix seconds", name, s)
	}
	return n, nil
}

// handleCommentList emulates GET /wxaapi/comment/mpcommentlist/get.
func (e *Emulator) handleCommentList(c *endpoint.Call) (any, error) {
	app, err := e.reviewApp(c)
	if err != nil {
		return nil, err
	}
	param := getParams(c)
	start, err := parseUnix("startTime", param("startTime"))
	if err != nil {
		return nil, err
	}
	end, err := parseUnix("endTime", param("endTime"))
	if err != nil {
		return nil, err
	}
	f, offset, limit := 6, 0, 8
	for _, q := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"filterType", &f, 0, reviewFilters}, {"offset", &offset, 0, 1 << 30}, {"limit", &limit, 1, reviewMaxLimit}} {
		s := param(q.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < q.min || n > q.max {
			return nil, apierr.Newf(apierr.Invalid, -10001, "%s must be an integer from %d to %d", q.name, q.min, q.max)
		}
		*q.dst = n
	}
	if f == 0 {
		f = 6
	}
	var total int64
	var page []*Review
	err = e.deps.Store.View(func(tx *store.Tx) error {
		total, page, err = listReviews(tx, app.AppID, f, start, end, offset, limit)
		return err
	})
	if err != nil {
		return nil, serviceError(err)
	}
	items := make([]reviewItem, len(page))
	for i, r := range page {
		items[i] = r.item(app)
	}
	return struct {
		Errcode     int          `json:"errcode"`
		Success     bool         `json:"success"`
		CommentList []reviewItem `json:"commentList"`
		Total       int64        `json:"total"`
		Offset      int          `json:"offset"`
	}{0, true, items, total, offset}, nil
}

// viewReview runs fn on app's review named by the commentId query parameter.
func (e *Emulator) viewReview(c *endpoint.Call, fn func(app *wechat.App, r *Review) (any, error)) (any, error) {
	app, err := e.reviewApp(c)
	if err != nil {
		return nil, err
	}
	var out any
	err = e.deps.Store.View(func(tx *store.Tx) error {
		r, err := ownReview(tx, app, getParams(c)("commentId"))
		if err != nil {
			return err
		}
		out, err = fn(app, r)
		return err
	})
	return out, serviceError(err)
}

type replyObject struct {
	Nickname string `json:"nickname"`
	ImgURL   string `json:"imgUrl"`
}

// handleCommentReplyList emulates GET /wxaapi/comment/replyandcommentreplylist/get.
func (e *Emulator) handleCommentReplyList(c *endpoint.Call) (any, error) {
	return e.viewReview(c, func(app *wechat.App, r *Review) (any, error) {
		obj := replyObject{Nickname: app.Name, ImgURL: appHeadImg(app)}
		type content struct {
			Content string `json:"content"`
		}
		type commentReply struct {
			CommentID           string      `json:"commentId"`
			CommentReplyID      string      `json:"commentReplyId"`
			CreateTime          string      `json:"createTime"`
			UpdateTime          string      `json:"updateTime"`
			CommentReplyContent content     `json:"commentReplyContent"`
			CommentReplyObject  replyObject `json:"commentReplyObject"`
		}
		type reply struct {
			CommentID    string      `json:"commentId"`
			ReplyID      string      `json:"replyId"`
			CreateTime   string      `json:"createTime"`
			UpdateTime   string      `json:"updateTime"`
			ReplyContent content     `json:"replyContent"`
			ReplyObject  replyObject `json:"replyObject"`
		}
		list := struct {
			Reply            *reply         `json:"reply,omitempty"`
			CommentReplyList []commentReply `json:"commentReplyList"`
		}{CommentReplyList: []commentReply{}}
		if rp := r.Reply; rp != nil {
			list.Reply = &reply{
				CommentID: r.CommentID, ReplyID: rp.ReplyID, CreateTime: strconv.FormatInt(rp.CreateTime, 10),
				UpdateTime: strconv.FormatInt(rp.UpdateTime, 10), ReplyContent: content{rp.Content}, ReplyObject: obj,
			}
			for _, cr := range r.CommentReply {
				list.CommentReplyList = append(list.CommentReplyList, commentReply{
					CommentID: r.CommentID, CommentReplyID: cr.ID, CreateTime: strconv.FormatInt(cr.CreateTime, 10),
					UpdateTime: strconv.FormatInt(cr.UpdateTime, 10), CommentReplyContent: content{cr.Content}, CommentReplyObject: obj,
				})
			}
		}
		return struct {
			Errcode int  `json:"errcode"`
			Success bool `json:"success"`
			List    any  `json:"list"`
		}{0, true, list}, nil
	})
}

// handleCommentInfo emulates GET /wxaapi/comment/commentinfo/get.
func (e *Emulator) handleCommentInfo(c *endpoint.Call) (any, error) {
	return e.viewReview(c, func(app *wechat.App, r *Review) (any, error) {
		type action struct {
			Type       int    `json:"type"`
			UpdateTime *int64 `json:"updateTime,omitempty"`
		}
		type process struct {
			CommentID  string   `json:"commentId"`
			ActionList []action `json:"actionList"`
		}
		type old struct {
			CommentID  string        `json:"commentId"`
			CreateTime string        `json:"createTime"`
			Score      int           `json:"score"`
			Content    reviewContent `json:"content"`
		}
		out := struct {
			Errcode int  `json:"errcode"`
			Success bool `json:"success"`
			Info    struct {
				Content reviewItem `json:"content"`
			} `json:"info"`
			ProcessInfo *process `json:"processInfo,omitempty"`
			OldComment  *old     `json:"oldComment,omitempty"`
		}{Errcode: 0, Success: true}
		out.Info.Content = r.item(app)
		if r.Negative {
			pi := &process{CommentID: r.CommentID, ActionList: []action{}}
			for i, at := range r.Actions {
				a := action{Type: i + 1}
				if at != 0 {
					a.UpdateTime = &r.Actions[i]
				}
				pi.ActionList = append(pi.ActionList, a)
			}
			out.ProcessInfo = pi
		}
		if o := r.Old; o != nil {
			out.OldComment = &old{CommentID: r.CommentID, CreateTime: strconv.FormatInt(o.CreateTime, 10), Score: o.Score,
				Content: reviewContent{Txt: o.Txt, Media: nonNil(o.Media)}}
		}
		return out, nil
	})
}

// changeReview runs fn on app's review commentID inside an update, and answers the family's OK.
func (e *Emulator) changeReview(c *endpoint.Call, commentID string, fn func(tx *store.Tx, app *wechat.App, r *Review) error) (any, error) {
	app, err := e.reviewApp(c)
	if err != nil {
		return nil, err
	}
	err = e.deps.Store.Update(func(tx *store.Tx) error {
		r, err := ownReview(tx, app, commentID)
		if err != nil {
			return err
		}
		return updateReview(tx, r, func(r *Review) error { return fn(tx, app, r) })
	})
	if err != nil {
		return nil, serviceError(err)
	}
	return okReview(), nil
}

func (e *Emulator) newReplyID() string { return "1" + e.deps.Rand.Token(18, seeded.Digits) }

// handleReplyAdd emulates POST /wxaapi/comment/reply/add: the developer's comment on a review.
func (e *Emulator) handleReplyAdd(c *endpoint.Call) (any, error) {
	var req struct {
		CommentID string `json:"commentId"`
		Content   string `json:"content"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	if err := checkText("content", req.Content); err != nil {
		return nil, err
	}
	return e.changeReview(c, req.CommentID, func(_ *store.Tx, _ *wechat.App, r *Review) error {
		if r.Reply != nil {
			return apierr.Newf(apierr.Conflict, 10000, "review %s already has comment %s", r.CommentID, r.Reply.ReplyID)
		}
		now := c.Now.Unix()
		r.Reply = &ReviewReply{ReplyID: e.newReplyID(), Content: req.Content, CreateTime: now, UpdateTime: now}
		return nil
	})
}

// handleReplyDelete emulates POST /wxaapi/comment/reply/delete; the comment's replies go with it.
func (e *Emulator) handleReplyDelete(c *endpoint.Call) (any, error) {
	var req struct {
		CommentID string `json:"commentId"`
		ReplyID   string `json:"replyId"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return e.changeReview(c, req.CommentID, func(_ *store.Tx, _ *wechat.App, r *Review) error {
		if r.Reply == nil || r.Reply.ReplyID != req.ReplyID {
			return apierr.Newf(apierr.Invalid, -10003, "reply %s does not belong to review %s", req.ReplyID, r.CommentID)
		}
		r.Reply, r.CommentReply = nil, nil
		return nil
	})
}

// handleCommentReplyAdd emulates POST /wxaapi/comment/commentreply/add: a reply under the
// developer's comment.
func (e *Emulator) handleCommentReplyAdd(c *endpoint.Call) (any, error) {
	var req struct {
		CommentID string `json:"commentId"`
		ReplyID   string `json:"replyId"`
		Content   string `json:"content"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	if err := checkText("content", req.Content); err != nil {
		return nil, err
	}
	return e.changeReview(c, req.CommentID, func(_ *store.Tx, _ *wechat.App, r *Review) error {
		if r.Reply == nil {
			if req.ReplyID != "" {
				return apierr.Newf(apierr.Invalid, -10003, "reply %s does not belong to review %s", req.ReplyID, r.CommentID)
			}
			return apierr.Newf(apierr.Conflict, 10000, "review %s has no comment to reply under", r.CommentID)
		}
		if req.ReplyID != "" && req.ReplyID != r.Reply.ReplyID {
			return apierr.Newf(apierr.Invalid, -10003, "reply %s does not belong to review %s", req.ReplyID, r.CommentID)
		}
		now := c.Now.Unix()
		r.CommentReply = append(r.CommentReply, ReviewReplyReply{ID: e.newReplyID(), Content: req.Content, CreateTime: now, UpdateTime: now})
		return nil
	})
}

// handleCommentReplyDel emulates POST /wxaapi/comment/commentreply/delete.
func (e *Emulator) handleCommentReplyDel(c *endpoint.Call) (any, error) {
	var req struct {
		CommentID      string `json:"commentId"`
		ReplyID        string `json:"replyId"`
		CommentReplyID string `json:"commentReplyId"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return e.changeReview(c, req.CommentID, func(_ *store.Tx, _ *wechat.App, r *Review) error {
		if r.Reply == nil || r.Reply.ReplyID != req.ReplyID {
			return apierr.Newf(apierr.Invalid, -10003, "reply %s does not belong to review %s", req.ReplyID, r.CommentID)
		}
		for i, cr := range r.CommentReply {
			if cr.ID == req.CommentReplyID {
				r.CommentReply = append(r.CommentReply[:i:i], r.CommentReply[i+1:]...)
				return nil
			}
		}
		return apierr.Newf(apierr.Invalid, -10003, "comment reply %s does not belong to reply %s", req.CommentReplyID, req.ReplyID)
	})
}

// handleKfQuotaReset emulates POST /wxaapi/comment/apikfquota/reset: one customer-service
// message to the reviewer of a negative review becomes possible.
func (e *Emulator) handleKfQuotaReset(c *endpoint.Call) (any, error) {
	var req struct {
		CommentID string `json:"commentId"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return e.changeReview(c, req.CommentID, func(tx *store.Tx, app *wechat.App, r *Review) error {
		if !r.Negative {
			return apierr.Newf(apierr.Conflict, 10000, "review %s is not negative", r.CommentID)
		}
		if r.KfResetAt != 0 {
			return apierr.Newf(apierr.Conflict, 10000, "the customer-service quota of review %s was already reset", r.CommentID)
		}
		r.KfResetAt = c.Now.Unix()
		r.handled(c.Now.Unix())
		return tx.PutRaw(reviewKfKey(app.AppID, r.OpenID), r.CommentID)
	})
}

// reviewerWindows are the customer-service windows of the negative-review flow: a reviewer is a
// user of the mini program they reviewed, and apikfquota/reset opens a window for one message,
// which is recorded on the review (KfMessages, extInfo.isAlreadySendTmpl).
type reviewerWindows struct{}

// IsUser implements wechat.MessageWindows: whether openid reviewed the mini program appid.
func (reviewerWindows) IsUser(tx *store.Tx, appid, openid string) (bool, error) {
	return tx.Has(reviewUserKey(appid, openid))
}

// Deliver implements wechat.MessageWindows: the message uses up the window of the review whose
// customer-service quota was reset, and is recorded on it.
func (reviewerWindows) Deliver(tx *store.Tx, m wechat.CustomMessage) (bool, error) {
	commentID, ok, err := tx.GetRaw(reviewKfKey(m.AppID, m.ToUser))
	if err != nil || !ok {
		return false, err
	}
	r, err := store.Get[Review](tx, reviewKey(commentID))
	if err != nil {
		return false, err
	}
	if r == nil {
		return false, fmt.Errorf("wechat: review %s of a kf quota is missing", commentID)
	}
	if err := tx.Delete(reviewKfKey(m.AppID, m.ToUser)); err != nil {
		return false, err
	}
	return true, updateReview(tx, r, func(r *Review) error {
		r.KfMessages = append(r.KfMessages, KfMessage{Content: m.Content, At: m.At.Unix()})
		return nil
	})
}

// handled records the developer's first action on a negative review.
func (r *Review) handled(now int64) {
	if r.Actions[actionHandled-1] == 0 {
		r.Actions[actionHandled-1] = now
	}
}

// handleConfirmCompromise emulates POST /wxaapi/comment/confirmcompromise: the developer's
// 和解挽回 offer, shown to the reviewer.
func (e *Emulator) handleConfirmCompromise(c *endpoint.Call) (any, error) {
	var req struct {
		CommentID string   `json:"commentId"`
		PicList   []string `json:"picList"`
		Content   string   `json:"content"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	if err := checkText("content", req.Content); err != nil {
		return nil, err
	}
	return e.changeReview(c, req.CommentID, func(tx *store.Tx, app *wechat.App, r *Review) error {
		if !r.Negative {
			return apierr.Newf(apierr.Conflict, 10000, "review %s is not negative", r.CommentID)
		}
		if r.Compromise != nil {
			return apierr.Newf(apierr.Conflict, 10000, "review %s already has a compromise", r.CommentID)
		}
		for _, id := range req.PicList {
			m, err := wechat.GetMedia(tx, id)
			if err != nil {
				return err
			}
			if m == nil || m.AppID != app.AppID || m.Type != "image" || !m.LiveAt(c.Now) {
				return apierr.Newf(apierr.Invalid, 40007, "picList item %q is not a live image media id of %s", id, app.AppID)
			}
		}
		now := c.Now.Unix()
		r.Compromise = &Compromise{Content: req.Content, PicList: nonNil(req.PicList), At: now}
		r.handled(now)
		r.Actions[actionSurveyed-1] = now
		if r.AcceptCompromise {
			e.revise(r, now, 0, "")
		}
		return nil
	})
}

// revise is the reviewer changing the review after a compromise: stars 0 and txt "" are
// filled with 5 stars and a seeded positive text.
func (e *Emulator) revise(r *Review, now int64, stars int, txt string) {
	if stars == 0 {
		stars = 5
	}
	if txt == "" && stars >= 4 {
		txt = e.deps.Faker.Pick(textsRevised)
	} else if txt == "" {
		txt = e.reviewText(stars)
	}
	r.Old = &OldReview{CreateTime: r.CreateTime, Score: r.Score, Txt: r.Txt, Media: r.Media, RevisedAt: now}
	r.Score, r.Txt, r.Media = stars*100, txt, []ReviewMedia{}
	r.Actions[actionRevised-1] = now
}

// ---------------------------------------------------------------- simulated reviewers

// ReviewSpec is what POST /_sandbox/wechat/reviews may say about the reviews to post; seeded fake
// data fills the rest, separately for each of Count reviews.
type ReviewSpec struct {
	AppID            string          `json:"appid"`
	Count            int             `json:"count,omitempty"`
	OpenID           string          `json:"openid,omitempty"`
	NickName         string          `json:"nickname,omitempty"`
	Stars            int             `json:"score,omitempty"`
	Txt              string          `json:"txt,omitempty"`
	Images           []string        `json:"images,omitempty"`
	Video            *ReviewVideo    `json:"video,omitempty"`
	Amount           int64           `json:"amount,omitempty"`
	PayTime          int64           `json:"pay_time,omitempty"`
	WxPayID          string          `json:"wx_pay_id,omitempty"`
	BusiOrderID      string          `json:"busi_order_id,omitempty"`
	Products         []ReviewProduct `json:"products,omitempty"`
	AcceptCompromise bool            `json:"accept_compromise,omitempty"`
}

// ReviewVideo is a review's one video.
type ReviewVideo struct {
	URL      string `json:"url"`
	Cover    string `json:"cover,omitempty"`
	Duration int    `json:"duration,omitempty"`
}

// PostedReviews is what posting reviews did: the reviews and the pushes they caused.
type PostedReviews struct {
	Reviews    []*Review        `json:"reviews"`
	Deliveries []*push.Delivery `json:"deliveries"`
}

// PostReviews posts reviews as simulated users, then pushes wxa_comment_bad_score for each
// negative one to the mini program's push URL, in order, before returning. It is the Go twin of
// POST /_sandbox/wechat/reviews.
func (e *Emulator) PostReviews(ctx context.Context, s ReviewSpec) (*PostedReviews, error) {
	invalid := func(format string, args ...any) error {
		return &apierr.Error{Kind: apierr.Invalid, Name: "invalid_review", Reason: fmt.Sprintf(format, args...)}
	}
	if s.Count == 0 {
		s.Count = 1
	}
	switch {
	case s.Count < 1 || s.Count > reviewMaxCount:
		return nil, invalid("count must be 1 to %d", reviewMaxCount)
	case s.Stars < 0 || s.Stars > 5:
		return nil, invalid("score is 1 to 5 stars")
	case len(s.Images) > 0 && s.Video != nil:
		return nil, invalid("a review has images or one video, not both")
	case s.PayTime < 0 || s.Amount < 0:
		return nil, invalid("amount and pay_time must not be negative")
	}
	out := &PostedReviews{Reviews: []*Review{}, Deliveries: []*push.Delivery{}}
	var app *wechat.App
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		if app, err = wechat.GetApp(tx, s.AppID); err != nil {
			return err
		}
		if app == nil {
			return &apierr.Error{Kind: apierr.NotFound, Name: "app_not_found", Reason: "no app " + s.AppID}
		}
		if app.Type != wechat.TypeMiniProgram {
			return invalid("app %s is not a mini program", s.AppID)
		}
		var head reviewHead
		if _, err := tx.Get(reviewHeadKey(app.AppID), &head); err != nil {
			return err
		}
		if head.Seq+int64(s.Count) >= reviewFwCap {
			return &apierr.Error{Kind: apierr.Conflict, Name: "too_many_reviews", Reason: fmt.Sprintf("a mini program holds at most %d reviews", reviewFwCap-1)}
		}
		now := max(e.deps.Clock.Now().Unix(), head.CreateTime)
		if s.PayTime > now {
			return invalid("pay_time is after the review's time %d", now)
		}
		for range s.Count {
			head.Seq++
			head.CreateTime = now
			r, err := e.newReview(tx, app, s, head.Seq, now)
			if err != nil {
				return err
			}
			if err := saveReview(tx, r, nil); err != nil {
				return err
			}
			if err := tx.PutRaw(reviewTimeKey(app.AppID, now, r.Seq), strconv.FormatInt(r.Seq, 10)); err != nil {
				return err
			}
			if err := tx.PutRaw(reviewUserKey(app.AppID, r.OpenID), r.CommentID); err != nil {
				return err
			}
			out.Reviews = append(out.Reviews, r)
		}
		return tx.Put(reviewHeadKey(app.AppID), head)
	})
	if err != nil {
		return nil, err
	}
	for _, r := range out.Reviews {
		if !r.Negative {
			continue
		}
		d, err := e.deps.WeChat.Push(ctx, app, reviewEventName, push.Message{
			{Name: "ToUserName", Value: app.OriginalID},
			{Name: "FromUserName", Value: badScoreFrom},
			{Name: "CreateTime", Value: e.deps.Clock.Now().Unix()},
			{Name: "MsgType", Value: "event"},
			{Name: "Event", Value: reviewEventName},
			{Name: "result", Value: push.Message{{Name: "comment_id", Value: r.CommentID}}},
		})
		if err != nil {
			return nil, fmt.Errorf("wechat: push %s: %w", reviewEventName, err)
		}
		if d != nil {
			out.Deliveries = append(out.Deliveries, d)
		}
	}
	return out, nil
}

// newReview builds one review from s, filling what it leaves out with seeded fake data.
func (e *Emulator) newReview(tx *store.Tx, app *wechat.App, s ReviewSpec, seq, now int64) (*Review, error) {
	rnd := e.deps.Rand
	r := &Review{
		AppID: app.AppID, Seq: seq, CreateTime: now, OpenID: s.OpenID, NickName: s.NickName, Txt: s.Txt,
		Amount: s.Amount, PayTime: s.PayTime, WxPayID: s.WxPayID, BusiOrderID: s.BusiOrderID,
		Products: s.Products, AcceptCompromise: s.AcceptCompromise, Media: []ReviewMedia{},
		KfMessages: []KfMessage{}, CommentReply: []ReviewReplyReply{},
	}
	for {
		r.CommentID = "2" + rnd.Token(18, seeded.Digits)
		if taken, err := tx.Has(reviewKey(r.CommentID)); err != nil {
			return nil, err
		} else if !taken {
			break
		}
	}
	stars := s.Stars
	fk := e.deps.Faker
	if stars == 0 {
		stars = fk.IntRange(1, 5)
	}
	if r.NickName == "" {
		r.NickName = e.chineseNickname()
	}
	if r.Amount == 0 {
		r.Amount = int64(fk.IntRange(1, 500)) * 100 / int64(fk.IntRange(1, 4))
	}
	if r.PayTime == 0 {
		r.PayTime = now - int64(fk.IntRange(3600, 7*24*3600))
	}
	if len(r.Products) == 0 {
		for range fk.IntRange(1, 3) {
			r.Products = append(r.Products, ReviewProduct{Name: fk.Pick(productNames), PicURL: "https://mmbiz.qpic.cn/mmbiz_jpg/" + rnd.Token(24, seeded.Alphanumeric) + "/0"})
		}
	}
	if r.OpenID == "" {
		r.OpenID = "o" + rnd.Token(27, seeded.URLSafe)
	}
	r.HeadImg = "https://thirdwx.qlogo.cn/mmopen/vi_32/" + rnd.Token(40, seeded.Alphanumeric) + "/132"
	if r.WxPayID == "" {
		r.WxPayID = "42000017" + rnd.Token(20, seeded.Digits)
	}
	if r.BusiOrderID == "" {
		r.BusiOrderID = "SO" + time.Unix(r.PayTime, 0).In(clock.Beijing).Format("20060102") + rnd.Token(10, seeded.Digits)
	}
	if r.Txt == "" {
		r.Txt = e.reviewText(stars)
	}
	for _, img := range s.Images {
		r.Media = append(r.Media, ReviewMedia{Img: img, ThumbImg: img + "?thumb=1"})
	}
	if v := s.Video; v != nil {
		cover, dur := v.Cover, v.Duration
		if cover == "" {
			cover = v.URL + "?cover=1"
		}
		if dur == 0 {
			dur = 15
		}
		r.Media = append(r.Media, ReviewMedia{Video: v.URL, VideoCover: cover, VideoDuration: dur})
	}
	r.Score = stars * 100
	r.Negative = stars <= negativeMaxStar
	if r.Negative {
		r.Actions[actionPosted-1] = now
	}
	return r, nil
}

// Word lists for seeded Chinese fake data (gofakeit has no Chinese locale).
var (
	nickSurnames = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "罗", "高"}
	nickGiven    = []string{"小明", "晓燕", "子涵", "一诺", "浩然", "欣怡", "梓萱", "宇轩", "雨桐", "思远", "佳怡", "俊杰", "静", "磊", "芳", "伟", "娜", "敏", "强", "丽"}
	nickStyles   = []string{"快乐的", "爱吃", "晋城", "阳光", "不吃香菜的", "努力的", "咸鱼", "追风的", "温柔的", "早睡的"}
	nickThings   = []string{"小猫", "橘子", "少年", "打工人", "兔子", "西瓜", "太阳", "奶茶", "小熊", "星星"}
	productNames = []string{"纸巾一盒", "有机牛奶 250ml×12", "太行山小米 5斤", "晋城老陈醋", "不锈钢保温杯", "无线蓝牙耳机", "儿童绘本套装", "手工刀削面", "沁州黄小米礼盒", "阳城烧肉套餐", "家政保洁 2小时", "电动牙刷", "洗衣凝珠", "羽绒服", "运动跑鞋"}
	textsGood    = []string{"东西很好，物流也快，下次还来。", "质量不错，和描述一致，包装很用心。", "客服态度很好，解决问题很及时，点赞！", "性价比很高，家里人都说好。", "第二次购买了，一如既往的好。", "服务很专业，预约也方便。"}
	textsMiddle  = []string{"一般吧，凑合能用。", "还行，就是发货有点慢。", "东西可以，包装有点简陋。", "中规中矩，没有惊喜。"}
	textsBad     = []string{"一般吧 我总感觉这个成分很伤皮肤，用了之后一直很干燥，不是很喜欢这款产品", "等了一个星期才发货，客服也不回消息。", "收到的东西和图片差别太大了，很失望。", "质量太差，用了两天就坏了。", "上门服务迟到了一个小时，也没提前说。", "退款流程太复杂，到现在还没退。"}
	textsRevised = []string{"商家主动联系解决了问题，态度很好，改个好评。", "客服及时处理并补发了，体验不错。", "问题已经解决，给商家一个好评。"}
)

// chineseNickname draws a nickname: a plain name or a playful one, like WeChat users choose.
func (e *Emulator) chineseNickname() string {
	fk := e.deps.Faker
	if fk.IntRange(0, 1) == 0 {
		return fk.Pick(nickSurnames) + fk.Pick(nickGiven)
	}
	return fk.Pick(nickStyles) + fk.Pick(nickThings)
}

// reviewText draws a review text that fits the stars.
func (e *Emulator) reviewText(stars int) string {
	switch {
	case stars <= negativeMaxStar:
		return e.deps.Faker.Pick(textsBad)
	case stars == 3:
		return e.deps.Faker.Pick(textsMiddle)
	}
	return e.deps.Faker.Pick(textsGood)
}

// handlePostReviews serves POST /_sandbox/wechat/reviews (a simulated reviewer posting).
func (e *Emulator) handlePostReviews(c *endpoint.Call) (any, error) {
	var s ReviewSpec
	if err := c.Bind(&s); err != nil {
		return nil, err
	}
	// The pushes outlive a client that hangs up: they are part of the sandbox's state.
	out, err := e.PostReviews(context.WithoutCancel(c.Request().Context()), s)
	if err != nil {
		return nil, err
	}
	return endpoint.Created(out), nil
}

// LoadReview returns a review by commentId, or nil.
func (e *Emulator) LoadReview(commentID string) (*Review, error) {
	var r *Review
	err := e.deps.Store.View(func(tx *store.Tx) error {
		var v Review
		ok, err := tx.Get(reviewKey(commentID), &v)
		if ok {
			r = &v
		}
		return err
	})
	return r, err
}

// handleGetReview serves GET /_sandbox/wechat/reviews/{commentId}: the review as its author sees it.
func (e *Emulator) handleGetReview(c *endpoint.Call) (any, error) {
	r, err := e.LoadReview(c.Param("commentId"))
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, &apierr.Error{Kind: apierr.NotFound, Name: "review_not_found", Reason: "no review " + c.Param("commentId")}
	}
	return r, nil
}

// ReviseReview is the simulated reviewer revising a review after the developer's compromise
// offer: stars 0 means 5, txt "" a seeded positive text. It is the Go twin of
// POST /_sandbox/wechat/reviews/{commentId}/revise.
func (e *Emulator) ReviseReview(commentID string, stars int, txt string) (*Review, error) {
	if stars < 0 || stars > 5 {
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_review", Reason: "score is 1 to 5 stars"}
	}
	var out *Review
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		var r Review
		ok, err := tx.Get(reviewKey(commentID), &r)
		if err != nil {
			return err
		}
		if !ok {
			return &apierr.Error{Kind: apierr.NotFound, Name: "review_not_found", Reason: "no review " + commentID}
		}
		if r.Compromise == nil {
			return &apierr.Error{Kind: apierr.Conflict, Name: "no_compromise_offer", Reason: "the developer has not offered a compromise (confirmcompromise) on review " + commentID}
		}
		if r.Old != nil {
			return &apierr.Error{Kind: apierr.Conflict, Name: "already_revised", Reason: "review " + commentID + " was already revised"}
		}
		out = &r
		return updateReview(tx, &r, func(r *Review) error {
			e.revise(r, e.deps.Clock.Now().Unix(), stars, txt)
			return nil
		})
	})
	return out, err
}

// handleReviseReview serves POST /_sandbox/wechat/reviews/{commentId}/revise.
func (e *Emulator) handleReviseReview(c *endpoint.Call) (any, error) {
	var req struct {
		Stars int    `json:"score"`
		Txt   string `json:"txt"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return e.ReviseReview(c.Param("commentId"), req.Stars, req.Txt)
}
