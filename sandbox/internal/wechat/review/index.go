package review

// The review index, built so that a page costs the same at any offset: each review gets a
// sequence number per mini program (posting order); for each filterType a Fenwick tree of
// membership counts over sequence numbers (keys wechat:review:fw:...) and an ordered membership
// key per member (wechat:review:m:..., newest first). A page finds its first member with one
// Fenwick descent (24 reads), then reads limit membership keys and reviews: O(log N + limit),
// whatever the offset.

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

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

func reviewKfKey(appid, openid string) string { return "wechat:review:kf:" + appid + ":" + openid }

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
	lo, hi, err := seqRange(tx, appid, head.Seq, start, end)
	if err != nil || lo == 0 || hi < lo {
		return 0, page, err
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
	ids, err := membersFrom(tx, appid, f, from, lo, limit)
	if err != nil {
		return 0, page, err
	}
	for _, id := range ids {
		r, err := store.Get[Review](tx, reviewKey(id))
		if err != nil {
			return 0, page, err
		}
		if r == nil {
			return 0, page, fmt.Errorf("wechat: review %s indexed but missing", id)
		}
		page = append(page, r)
	}
	return total, page, nil
}

// seqRange returns the sequence numbers [lo, hi] of the reviews posted in [start, end]: posting
// order is time order. lo is 0 when no review was posted at start or later; hi < lo when none
// was posted in the range.
func seqRange(tx *store.Tx, appid string, lastSeq, start, end int64) (lo, hi int64, err error) {
	if lo, err = firstSeqFrom(tx, appid, start); err != nil || lo == 0 {
		return 0, 0, err
	}
	if hi, err = firstSeqFrom(tx, appid, end+1); err != nil {
		return 0, 0, err
	}
	if hi == 0 {
		return lo, lastSeq, nil
	}
	return lo, hi - 1, nil
}

// firstSeqFrom returns the sequence number of the first review posted at t or later, 0 if none.
func firstSeqFrom(tx *store.Tx, appid string, t int64) (int64, error) {
	raw := ""
	err := tx.AscendFrom(reviewTimePrefix(appid), fmt.Sprintf("%s%012d", reviewTimePrefix(appid), t), func(_, v string) bool {
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

// membersFrom returns the comment ids of up to limit members of filter f, newest first, from
// the member with sequence number from down to the one with lo.
func membersFrom(tx *store.Tx, appid string, f int, from, lo int64, limit int) ([]string, error) {
	var ids []string
	err := tx.AscendFrom(reviewMemberPrefix(appid, f), reviewMemberKey(appid, f, from), func(k, v string) bool {
		inv, err := strconv.ParseInt(k[strings.LastIndexByte(k, ':')+1:], 16, 64)
		if err != nil || reviewFwCap-inv < lo {
			return false
		}
		ids = append(ids, v)
		return len(ids) < limit
	})
	return ids, err
}
