package review

// The simulated reviewers: control verbs that post reviews as seeded fake users (pushing
// wxa_comment_bad_score for the negative ones), show a review as its author sees it, and revise
// one after the developer's compromise offer.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

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
	if s.Count == 0 {
		s.Count = 1
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	out := &PostedReviews{Reviews: []*Review{}, Deliveries: []*push.Delivery{}}
	var app *wechat.App
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		app, out.Reviews, err = e.postReviews(tx, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, r := range out.Reviews {
		if !r.Negative {
			continue
		}
		d, err := e.pushBadScore(ctx, app, r)
		if err != nil {
			return nil, err
		}
		if d != nil {
			out.Deliveries = append(out.Deliveries, d)
		}
	}
	return out, nil
}

// invalidSpec is the control verb's refusal of a ReviewSpec.
func invalidSpec(format string, args ...any) error {
	return &apierr.Error{Kind: apierr.Invalid, Name: "invalid_review", Reason: fmt.Sprintf(format, args...)}
}

// check refuses a spec no review could satisfy.
func (s *ReviewSpec) check() error {
	switch {
	case s.Count < 1 || s.Count > reviewMaxCount:
		return invalidSpec("count must be 1 to %d", reviewMaxCount)
	case s.Stars < 0 || s.Stars > 5:
		return invalidSpec("score is 1 to 5 stars")
	case len(s.Images) > 0 && s.Video != nil:
		return invalidSpec("a review has images or one video, not both")
	case s.PayTime < 0 || s.Amount < 0:
		return invalidSpec("amount and pay_time must not be negative")
	}
	return nil
}

// postReviews stores s.Count reviews of the mini program s.AppID, posted now (never before its
// previous review), and returns the mini program and the reviews.
func (e *Emulator) postReviews(tx *store.Tx, s ReviewSpec) (*wechat.App, []*Review, error) {
	app, err := wechat.GetApp(tx, s.AppID)
	if err != nil {
		return nil, nil, err
	}
	if app == nil {
		return nil, nil, &apierr.Error{Kind: apierr.NotFound, Name: "app_not_found", Reason: "no app " + s.AppID}
	}
	if app.Type != wechat.TypeMiniProgram {
		return nil, nil, invalidSpec("app %s is not a mini program", s.AppID)
	}
	var head reviewHead
	if _, err := tx.Get(reviewHeadKey(app.AppID), &head); err != nil {
		return nil, nil, err
	}
	if head.Seq+int64(s.Count) >= reviewFwCap {
		return nil, nil, &apierr.Error{Kind: apierr.Conflict, Name: "too_many_reviews", Reason: fmt.Sprintf("a mini program holds at most %d reviews", reviewFwCap-1)}
	}
	now := max(e.deps.Clock.Now().Unix(), head.CreateTime)
	if s.PayTime > now {
		return nil, nil, invalidSpec("pay_time is after the review's time %d", now)
	}
	reviews := []*Review{}
	for range s.Count {
		head.Seq++
		head.CreateTime = now
		r, err := e.newReview(tx, app, s, head.Seq, now)
		if err != nil {
			return nil, nil, err
		}
		if err := saveReview(tx, r, nil); err != nil {
			return nil, nil, err
		}
		if err := tx.PutRaw(reviewTimeKey(app.AppID, now, r.Seq), strconv.FormatInt(r.Seq, 10)); err != nil {
			return nil, nil, err
		}
		if err := tx.PutRaw(reviewUserKey(app.AppID, r.OpenID), r.CommentID); err != nil {
			return nil, nil, err
		}
		reviews = append(reviews, r)
	}
	return app, reviews, tx.Put(reviewHeadKey(app.AppID), head)
}

// pushBadScore pushes wxa_comment_bad_score for a negative review to the mini program's push
// URL; nil when it has none.
func (e *Emulator) pushBadScore(ctx context.Context, app *wechat.App, r *Review) (*push.Delivery, error) {
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
	return d, nil
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
