package review

// The customer-service window of the negative-review flow. The core serves
// /cgi-bin/message/custom/send; this family tells it who the mini program's users are (its
// reviewers) and opens the window apikfquota/reset grants.

import (
	"fmt"

	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

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
