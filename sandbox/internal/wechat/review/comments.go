package review

// The eight /wxaapi/comment/* APIs a mini program calls on its reviews: the list, the replies,
// one review's details, the developer's comment and the replies under it, the
// customer-service quota reset and the compromise offer. They answer with the family's own
// success shape and errcodes (see the package doc).

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

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
