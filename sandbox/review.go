package sandbox

import (
	"context"

	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/review"
)

// WeChatReview is a Mini Program's transaction review (交易评价), as its simulated author sees it.
// Times are Unix seconds of the sandbox clock.
type WeChatReview struct {
	// CommentID is the review's commentId.
	CommentID string `json:"comment_id"`
	// AppID is the Mini Program reviewed.
	AppID string `json:"appid"`
	// Seq counts the Mini Program's reviews from 1, in the order they were posted.
	Seq int64 `json:"seq"`
	// CreateTime is when the review was posted.
	CreateTime int64 `json:"create_time"`
	// PayTime, Amount (in cents), WxPayID and BusiOrderID describe the reviewed payment.
	PayTime     int64  `json:"pay_time"`
	Amount      int64  `json:"amount"`
	WxPayID     string `json:"wx_pay_id"`
	BusiOrderID string `json:"busi_order_id"`
	// OpenID, NickName and HeadImg are the reviewer's.
	OpenID   string `json:"openid"`
	NickName string `json:"nickname"`
	HeadImg  string `json:"head_img"`
	// Score is the stars times 100 (100 to 500), as WeChat's APIs answer it.
	Score int `json:"score"`
	// Txt is the review's text.
	Txt string `json:"txt"`
	// Media are the review's images, or its one video.
	Media []WeChatReviewMedia `json:"media"`
	// Products are the reviewed products.
	Products []WeChatReviewProduct `json:"products"`
	// Negative is whether the review was posted with 1–2 stars (it stays so after a revision).
	Negative bool `json:"negative"`
	// AcceptCompromise is the simulated reviewer's policy: revise at once when offered a
	// compromise.
	AcceptCompromise bool `json:"accept_compromise"`
	// Actions holds when each step of the review's actionList was reached (index type-1:
	// posted, handled, surveyed, revised); 0 means not yet.
	Actions [4]int64 `json:"actions"`
	// KfResetAt is when the developer reset the customer-service quota for the review
	// (apikfquota/reset); 0 means never.
	KfResetAt int64 `json:"kf_reset_at,omitempty"`
	// KfMessages are the customer-service messages the reviewer received.
	KfMessages []WeChatReviewKfMessage `json:"kf_messages"`
	// Compromise is the developer's compromise offer (和解挽回), if any.
	Compromise *WeChatReviewCompromise `json:"compromise,omitempty"`
	// Old is the review as it was before the reviewer revised it, if they did.
	Old *WeChatOldReview `json:"old,omitempty"`
	// Reply is the developer's comment (评论) on the review, if any.
	Reply *WeChatReviewReply `json:"reply,omitempty"`
	// CommentReply are the later replies (回复) under the developer's comment.
	CommentReply []WeChatReviewCommentReply `json:"comment_replies"`
}

// WeChatReviewMedia is one image of a review (Img, ThumbImg) or its one video (the others).
type WeChatReviewMedia struct {
	Img           string `json:"img,omitempty"`
	ThumbImg      string `json:"thumbImg,omitempty"`
	Video         string `json:"video,omitempty"`
	VideoCover    string `json:"videoCover,omitempty"`
	VideoDuration int    `json:"videoDuration,omitempty"`
}

// WeChatReviewProduct is a reviewed product: its name and picture.
type WeChatReviewProduct struct {
	Name   string `json:"name"`
	PicURL string `json:"picUrl"`
}

// WeChatReviewKfMessage is a customer-service message the reviewer received, and when.
type WeChatReviewKfMessage struct {
	Content string `json:"content"`
	At      int64  `json:"at"`
}

// WeChatReviewCompromise is the developer's compromise offer (和解挽回), as the reviewer sees it:
// the text, the pictures' media ids and when it was made.
type WeChatReviewCompromise struct {
	Content string   `json:"content"`
	PicList []string `json:"pic_list"`
	At      int64    `json:"at"`
}

// WeChatOldReview is a review as it was before the reviewer revised it, and when they did.
type WeChatOldReview struct {
	CreateTime int64               `json:"create_time"`
	Score      int                 `json:"score"`
	Txt        string              `json:"txt"`
	Media      []WeChatReviewMedia `json:"media"`
	RevisedAt  int64               `json:"revised_at"`
}

// WeChatReviewReply is the developer's comment (评论) on a review.
type WeChatReviewReply struct {
	ReplyID    string `json:"reply_id"`
	Content    string `json:"content"`
	CreateTime int64  `json:"create_time"`
	UpdateTime int64  `json:"update_time"`
}

// WeChatReviewCommentReply is a later reply (回复) under the developer's comment on a review.
type WeChatReviewCommentReply struct {
	ID         string `json:"comment_reply_id"`
	Content    string `json:"content"`
	CreateTime int64  `json:"create_time"`
	UpdateTime int64  `json:"update_time"`
}

func weChatReviewFrom(r review.Review) WeChatReview {
	return WeChatReview{
		CommentID: r.CommentID, AppID: r.AppID, Seq: r.Seq, CreateTime: r.CreateTime, PayTime: r.PayTime,
		Amount: r.Amount, WxPayID: r.WxPayID, BusiOrderID: r.BusiOrderID, OpenID: r.OpenID, NickName: r.NickName,
		HeadImg: r.HeadImg, Score: r.Score, Txt: r.Txt,
		Media:    convertSlice(r.Media, weChatReviewMediaFrom),
		Products: convertSlice(r.Products, weChatReviewProductFrom),
		Negative: r.Negative, AcceptCompromise: r.AcceptCompromise, Actions: r.Actions, KfResetAt: r.KfResetAt,
		KfMessages: convertSlice(r.KfMessages, func(m review.KfMessage) WeChatReviewKfMessage {
			return WeChatReviewKfMessage{Content: m.Content, At: m.At}
		}),
		Compromise: convertPtr(r.Compromise, func(c review.Compromise) WeChatReviewCompromise {
			return WeChatReviewCompromise{Content: c.Content, PicList: c.PicList, At: c.At}
		}),
		Old: convertPtr(r.Old, func(o review.OldReview) WeChatOldReview {
			return WeChatOldReview{
				CreateTime: o.CreateTime, Score: o.Score, Txt: o.Txt, Media: convertSlice(o.Media, weChatReviewMediaFrom),
				RevisedAt: o.RevisedAt,
			}
		}),
		Reply: convertPtr(r.Reply, func(p review.ReviewReply) WeChatReviewReply {
			return WeChatReviewReply{ReplyID: p.ReplyID, Content: p.Content, CreateTime: p.CreateTime, UpdateTime: p.UpdateTime}
		}),
		CommentReply: convertSlice(r.CommentReply, func(p review.ReviewReplyReply) WeChatReviewCommentReply {
			return WeChatReviewCommentReply{ID: p.ID, Content: p.Content, CreateTime: p.CreateTime, UpdateTime: p.UpdateTime}
		}),
	}
}

func weChatReviewMediaFrom(m review.ReviewMedia) WeChatReviewMedia {
	return WeChatReviewMedia{
		Img: m.Img, ThumbImg: m.ThumbImg, Video: m.Video, VideoCover: m.VideoCover, VideoDuration: m.VideoDuration,
	}
}

func weChatReviewProductFrom(p review.ReviewProduct) WeChatReviewProduct {
	return WeChatReviewProduct{Name: p.Name, PicURL: p.PicURL}
}

// WeChatReviewSpec says what reviews to post, as the body of POST /_sandbox/wechat/reviews does;
// seeded fake data fills what it leaves out, separately for each review.
type WeChatReviewSpec struct {
	// AppID is the Mini Program reviewed; required.
	AppID string `json:"appid"`
	// Count is how many reviews to post, 1 to 1,000. Default 1.
	Count int `json:"count,omitempty"`
	// OpenID and NickName are the reviewer's. Default: generated.
	OpenID   string `json:"openid,omitempty"`
	NickName string `json:"nickname,omitempty"`
	// Stars is the rating, 1 to 5; 1–2 make a negative review, pushed as wxa_comment_bad_score.
	// Default (0): seeded.
	Stars int `json:"score,omitempty"`
	// Txt is the review's text. Default: seeded.
	Txt string `json:"txt,omitempty"`
	// Images (URLs) or Video, not both, are the review's media. Default: none.
	Images []string           `json:"images,omitempty"`
	Video  *WeChatReviewVideo `json:"video,omitempty"`
	// Amount (in cents), PayTime (Unix seconds, not after now), WxPayID and BusiOrderID describe
	// the reviewed payment. Default: generated.
	Amount      int64  `json:"amount,omitempty"`
	PayTime     int64  `json:"pay_time,omitempty"`
	WxPayID     string `json:"wx_pay_id,omitempty"`
	BusiOrderID string `json:"busi_order_id,omitempty"`
	// Products are the reviewed products. Default: generated.
	Products []WeChatReviewProduct `json:"products,omitempty"`
	// AcceptCompromise makes the reviewer revise as soon as the developer offers a compromise.
	// Default false: the reviewer revises when told to (ReviseReview).
	AcceptCompromise bool `json:"accept_compromise,omitempty"`
}

// WeChatReviewVideo is a review's one video.
type WeChatReviewVideo struct {
	// URL is the video's URL; required.
	URL string `json:"url"`
	// Cover is the cover picture's URL. Default: URL + "?cover=1".
	Cover string `json:"cover,omitempty"`
	// Duration is the length in seconds. Default 15.
	Duration int `json:"duration,omitempty"`
}

func (s WeChatReviewSpec) internal() review.ReviewSpec {
	return review.ReviewSpec{
		AppID: s.AppID, Count: s.Count, OpenID: s.OpenID, NickName: s.NickName, Stars: s.Stars, Txt: s.Txt,
		Images: s.Images,
		Video: convertPtr(s.Video, func(v WeChatReviewVideo) review.ReviewVideo {
			return review.ReviewVideo{URL: v.URL, Cover: v.Cover, Duration: v.Duration}
		}),
		Amount: s.Amount, PayTime: s.PayTime, WxPayID: s.WxPayID, BusiOrderID: s.BusiOrderID,
		Products: convertSlice(s.Products, func(p WeChatReviewProduct) review.ReviewProduct {
			return review.ReviewProduct{Name: p.Name, PicURL: p.PicURL}
		}),
		AcceptCompromise: s.AcceptCompromise,
	}
}

// WeChatPostedReviews is what posting reviews did: the reviews, and the wxa_comment_bad_score
// pushes the negative ones caused.
type WeChatPostedReviews struct {
	Reviews    []*WeChatReview       `json:"reviews"`
	Deliveries []*WeChatPushDelivery `json:"deliveries"`
}

func weChatPostedReviewsFrom(p review.PostedReviews) WeChatPostedReviews {
	return WeChatPostedReviews{
		Reviews: convertSlice(p.Reviews, func(r *review.Review) *WeChatReview { return convertPtr(r, weChatReviewFrom) }),
		Deliveries: convertSlice(p.Deliveries, func(d *push.Delivery) *WeChatPushDelivery {
			return convertPtr(d, weChatPushDeliveryFrom)
		}),
	}
}

// PostReviews posts reviews as simulated users and pushes wxa_comment_bad_score for the negative
// ones to the Mini Program's push URL before returning, as POST /_sandbox/wechat/reviews does.
func (w *WeChatControl) PostReviews(ctx context.Context, spec WeChatReviewSpec) (*WeChatPostedReviews, error) {
	p, err := w.s.review.PostReviews(ctx, spec.internal())
	if err != nil {
		return nil, err
	}
	return convertPtr(p, weChatPostedReviewsFrom), nil
}

// Review returns the review with commentID, or nil and no error when there is none.
func (w *WeChatControl) Review(commentID string) (*WeChatReview, error) {
	r, err := w.s.review.LoadReview(commentID)
	if err != nil {
		return nil, err
	}
	return convertPtr(r, weChatReviewFrom), nil
}

// ReviseReview has the reviewer revise a review after the developer's compromise offer, as
// POST /_sandbox/wechat/reviews/{commentId}/revise does: stars 0 means 5, txt "" a seeded
// positive text.
func (w *WeChatControl) ReviseReview(commentID string, stars int, txt string) (*WeChatReview, error) {
	r, err := w.s.review.ReviseReview(commentID, stars, txt)
	if err != nil {
		return nil, err
	}
	return convertPtr(r, weChatReviewFrom), nil
}
