package charge

// Resource packs (资源包): the trial pack, packs bought as orders in the MP console, their status
// on the sandbox clock and a product's totals.

import (
	"cmp"
	"slices"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// Pack sources (PackageSource).
const (
	SourceTrial  = 1 // 体验额度
	SourceBought = 2 // 付费购买
)

// Pack statuses (PackageStatus), derived from the sandbox clock.
const (
	StatusActive   = 1 // 生效中
	StatusUpcoming = 2 // 未生效
	StatusExpired  = 3 // 已失效
)

// expiredPackLifetime is how long an expired pack stays listed before the sandbox forgets it.
const expiredPackLifetime = 365 * day

// Pack is one resource pack of a Mini Program, as stored.
type Pack struct {
	// PkgID is "ZY" and 19 digits; the trial pack's is empty, as WeChat answers it.
	PkgID  string `json:"pkg_id"`
	AppID  string `json:"appid"`
	SpuID  int64  `json:"spu_id"`
	SkuID  int64  `json:"sku_id"`
	Seq    int64  `json:"seq"`
	Source int    `json:"source"`
	All    int64  `json:"all"`
	Used   int64  `json:"used"`
	// StartTime and EndTime are Unix seconds: the pack is in effect in [StartTime, EndTime).
	StartTime int64  `json:"start_time"`
	EndTime   int64  `json:"end_time"`
	OrderID   string `json:"order_id,omitempty"`
	// ExpiryWarnings are the validity warnings sent, in the order they were sent.
	ExpiryWarnings []ExpiryWarning `json:"expiry_warnings"`
}

// ExpiryWarning is a validity warning (event_type 4) sent Days before a pack's end.
type ExpiryWarning struct {
	Days   int   `json:"days"`
	SentAt int64 `json:"sent_at"`
}

// Status is the pack's PackageStatus at now (Unix seconds). A used-up pack stays in effect.
func (p *Pack) Status(now int64) int {
	switch {
	case now < p.StartTime:
		return StatusUpcoming
	case now >= p.EndTime:
		return StatusExpired
	}
	return StatusActive
}

// Left is the units the pack still holds.
func (p *Pack) Left() int64 { return p.All - p.Used }

// trialPack is a Mini Program's trial pack of a phone-number component as it is before its first
// unit is spent: the sandbox stores it then.
func trialPack(appid string, prod *Product) *Pack {
	return &Pack{
		AppID: appid, SpuID: prod.SpuID, SkuID: prod.TrialSkuID, Source: SourceTrial, All: TrialQuota,
		StartTime: ChargingStart, EndTime: TrialEnd, ExpiryWarnings: []ExpiryWarning{},
	}
}

// loadPacks returns a product's packs in the order usage/get lists them (start time, then the
// order they were made), the trial pack included for a phone-number component even before it
// is stored.
func loadPacks(tx *store.Tx, appid string, prod *Product) ([]*Pack, error) {
	var packs []*Pack
	err := store.Each(tx, packPrefix(appid, prod.SpuID), func(_ string, p *Pack) error {
		packs = append(packs, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if prod.Phone && (len(packs) == 0 || packs[0].Seq != 0) {
		packs = append(packs, trialPack(appid, prod))
	}
	slices.SortStableFunc(packs, func(a, b *Pack) int {
		return cmp.Or(cmp.Compare(a.StartTime, b.StartTime), cmp.Compare(a.Seq, b.Seq))
	})
	return packs, nil
}

func savePack(tx *store.Tx, p *Pack) error { return tx.Put(packKey(p.AppID, p.SpuID, p.Seq), p) }

// totals are a product's units in effect: the sums over its active packs.
type totals struct {
	All, Used int64
}

func (t totals) left() int64 { return t.All - t.Used }

func totalsOf(packs []*Pack, now int64) totals {
	var t totals
	for _, p := range packs {
		if p.Status(now) == StatusActive {
			t.All += p.All
			t.Used += p.Used
		}
	}
	return t
}

// spendOrder returns the packs units are taken from, in order: active and not used up, the trial
// pack first, then the one that expires soonest.
func spendOrder(packs []*Pack, now int64) []*Pack {
	var out []*Pack
	for _, p := range packs {
		if p.Status(now) == StatusActive && p.Left() > 0 {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b *Pack) int {
		trialFirst := func(p *Pack) int {
			if p.Source == SourceTrial {
				return 0
			}
			return 1
		}
		return cmp.Or(cmp.Compare(trialFirst(a), trialFirst(b)), cmp.Compare(a.EndTime, b.EndTime), cmp.Compare(a.Seq, b.Seq))
	})
	return out
}

// productState is a Mini Program's bookkeeping for one product: the next pack's sequence number,
// units spent per Beijing month (get_recent_average), and the quota warnings sent and not yet
// re-armed.
type productState struct {
	NextSeq       int64            `json:"next_seq"`
	Monthly       map[string]int64 `json:"monthly,omitempty"`
	QuotaWarnings []QuotaWarning   `json:"quota_warnings,omitempty"`
}

// QuotaWarning is a usage warning (event_type 3) sent when a product's remaining share fell to
// Percent.
type QuotaWarning struct {
	Percent int   `json:"percent"`
	SentAt  int64 `json:"sent_at"`
}

func loadState(tx *store.Tx, appid string, spu int64) (*productState, error) {
	st := &productState{NextSeq: 1}
	if _, err := tx.Get(productKey(appid, spu), st); err != nil {
		return nil, err
	}
	return st, nil
}

// monthOf is the Beijing calendar month of t, as the monthly counts key it.
func monthOf(t time.Time) string { return t.In(clock.Beijing).Format("200601") }

// recentMonths are now's Beijing month and the two before it, the window of get_recent_average.
func recentMonths(now time.Time) []string {
	bj := now.In(clock.Beijing)
	first := time.Date(bj.Year(), bj.Month(), 1, 0, 0, 0, 0, clock.Beijing)
	return []string{first.Format("200601"), first.AddDate(0, -1, 0).Format("200601"), first.AddDate(0, -2, 0).Format("200601")}
}

// countUsage adds units to now's month and forgets the months get_recent_average no longer reads.
func (st *productState) countUsage(now time.Time, units int64) {
	if st.Monthly == nil {
		st.Monthly = map[string]int64{}
	}
	st.Monthly[monthOf(now)] += units
	keep := recentMonths(now)
	for m := range st.Monthly {
		if !slices.Contains(keep, m) {
			delete(st.Monthly, m)
		}
	}
}
