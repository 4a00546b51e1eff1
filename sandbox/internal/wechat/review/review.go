// Package review emulates Mini Program transaction reviews — 交易评价 评价管理 (reference:
// wechat-api.md §5; seed part 6): the eight /wxaapi/comment/* APIs (comments.go), the review
// index that pages them at any offset (index.go), the simulated reviewers who post and revise
// reviews (reviewers.go), and the customer-service window of the negative-review flow
// (kfwindow.go).
//
// The family is one package because a review's life — posted, pushed as negative, answered,
// offered a compromise, revised — runs through all of it, on one record. It depends on the
// WeChat core (package wechat) for the mini programs, the pushes and the envelope, and hands
// the core what only it knows: which openids are a mini program's users and when a
// customer-service message may reach them (wechat.MessageWindows). The message API and the
// temporary media that confirmcompromise reads are the core's, because any account uses them.
//
// Emulated faithfully:
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
// What is kept: reviews, replies and customer-service windows for good (they are the Mini
// Program's records); the pushes they cause are the core's deliveries, kept a day.
package review

import (
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
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
