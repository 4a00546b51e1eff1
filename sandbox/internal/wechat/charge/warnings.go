package charge

// Usage warnings (用量预警): event_type 3 when a product's remaining share falls to 20, 10, 5
// and 0 %, event_type 4 15, 7, 3, 1 and 0 days before a pack's end, each sent once, pushed to
// the Mini Program's push URL and journaled. Spending, buying and refunding check the quota
// warnings at once; ClockMoved checks both as the sandbox clock moves.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// QuotaThresholds are the remaining shares (percent) at which event_type 3 is pushed, highest
// first.
var QuotaThresholds = []int{20, 10, 5, 0}

// ValidityDays are the days before a pack's end at which event_type 4 is pushed, most first.
var ValidityDays = []int{15, 7, 3, 1, 0}

// Event names: the wire value both warnings carry in Event, and the documentation's names of
// the two, which the journal and the delivery list use to tell them apart.
const (
	WireEvent          = "charge_service_quota_notify"
	QuotaEventName     = "charge_mp_service_quota_notify"
	ValidityEventName  = "charge_mp_service_validity_notify"
	EventTypeQuota     = 3
	EventTypeValidity  = 4
	warningFromOpenID  = "oWeChatChargeNotify000000000"
	warningJournalVerb = http.MethodPost
)

// warning is a push that is due, decided inside a transaction and delivered after it.
type warning struct {
	App       *wechat.App
	Product   *Product
	EventType int
	At        int64
	// Percent, Total and Used describe a quota warning.
	Percent     int
	Total, Used int64
	// Days, PkgID and EndTime describe a validity warning.
	Days    int
	PkgID   string
	EndTime int64
}

func (w warning) name() string {
	if w.EventType == EventTypeQuota {
		return QuotaEventName
	}
	return ValidityEventName
}

// message is the push body in the field order of the captured real push.
func (w warning) message() push.Message {
	m := push.Message{
		{Name: "ToUserName", Value: w.App.OriginalID},
		{Name: "FromUserName", Value: warningFromOpenID},
		{Name: "CreateTime", Value: w.At},
		{Name: "MsgType", Value: "event"},
		{Name: "Event", Value: WireEvent},
		{Name: "event_type", Value: w.EventType},
		{Name: "spu_id", Value: w.Product.SpuID},
		{Name: "spu_name", Value: w.Product.Name},
	}
	if w.EventType == EventTypeQuota {
		m = append(m, push.Field{Name: "total_quota", Value: w.Total}, push.Field{Name: "total_used_quota", Value: w.Used})
	} else {
		m = append(m, push.Field{Name: "validity_end_time", Value: strconv.FormatInt(w.EndTime, 10)})
	}
	return append(m, push.Field{Name: "appid", Value: w.App.AppID})
}

func (w warning) summary() string {
	switch {
	case w.EventType == EventTypeQuota && w.Percent == 0:
		return fmt.Sprintf("%s: used up (%d of %d used)", w.Product.Name, w.Used, w.Total)
	case w.EventType == EventTypeQuota:
		return fmt.Sprintf("%s: %d%% or less remaining (%d of %d used)", w.Product.Name, w.Percent, w.Used, w.Total)
	}
	if w.Days == 0 {
		return fmt.Sprintf("%s: pack %q expired at %d", w.Product.Name, w.PkgID, w.EndTime)
	}
	return fmt.Sprintf("%s: pack %q expires in %d days, at %d", w.Product.Name, w.PkgID, w.Days, w.EndTime)
}

// evaluateQuota re-arms the quota warnings above the remaining share of t and reports the
// threshold to warn of, if the share fell to one not yet sent; changed tells whether st moved.
// A fall past several thresholds at once sends one warning, of the lowest.
func (st *productState) evaluateQuota(t totals, now int64) (percent int, due, changed bool) {
	if t.All == 0 {
		return 0, false, false // nothing in effect: no share to speak of
	}
	crossed := func(p int) bool { return t.left()*100 <= int64(p)*t.All }
	kept := []QuotaWarning{}
	for _, w := range st.QuotaWarnings {
		if crossed(w.Percent) {
			kept = append(kept, w)
		} else {
			changed = true
		}
	}
	lowest := -1
	for _, p := range QuotaThresholds {
		if crossed(p) {
			lowest = p
		}
	}
	sent := func(p int) bool {
		for _, w := range kept {
			if w.Percent == p {
				return true
			}
		}
		return false
	}
	if lowest >= 0 && !sent(lowest) {
		due, percent = true, lowest
		for _, p := range QuotaThresholds {
			if crossed(p) && !sent(p) {
				kept = append(kept, QuotaWarning{Percent: p, SentAt: now})
			}
		}
		changed = true
	}
	if changed {
		st.QuotaWarnings = kept
	}
	return percent, due, changed
}

// quotaWarning evaluates a product's share after a change and returns the warning due, if any.
// Exempt accounts spend nothing and are not warned.
func quotaWarning(app *wechat.App, prod *Product, exempt bool, packs []*Pack, st *productState, now time.Time) (*warning, bool) {
	if exempt && prod.Phone {
		return nil, false
	}
	t := totalsOf(packs, now.Unix())
	percent, due, changed := st.evaluateQuota(t, now.Unix())
	if !due {
		return nil, changed
	}
	return &warning{App: app, Product: prod, EventType: EventTypeQuota, At: now.Unix(), Percent: percent, Total: t.All, Used: t.Used}, changed
}

// settle evaluates a product's quota warnings after a pack was bought or refunded.
func (e *Emulator) settle(tx *store.Tx, app *wechat.App, prod *Product, now time.Time) ([]warning, error) {
	s, err := loadSettings(tx, app.AppID)
	if err != nil {
		return nil, err
	}
	packs, err := loadPacks(tx, app.AppID, prod)
	if err != nil {
		return nil, err
	}
	st, err := loadState(tx, app.AppID, prod.SpuID)
	if err != nil {
		return nil, err
	}
	w, changed := quotaWarning(app, prod, standingOf(app, s).Exempt, packs, st, now)
	if changed {
		if err := tx.Put(productKey(app.AppID, prod.SpuID), st); err != nil {
			return nil, err
		}
	}
	if w == nil {
		return nil, nil
	}
	return []warning{*w}, nil
}

// validityDue returns the validity milestones of p that now has passed and that were not sent,
// most days first: the last is the one to warn of.
func validityDue(p *Pack, now int64) []int {
	if p.EndTime == TrialEnd {
		return nil
	}
	var due []int
	for _, d := range ValidityDays {
		if now < p.EndTime-int64(d)*int64(day/time.Second) {
			continue
		}
		sent := false
		for _, w := range p.ExpiryWarnings {
			sent = sent || w.Days == d
		}
		if !sent {
			due = append(due, d)
		}
	}
	return due
}

// ClockMoved does what the sandbox clock made due: the validity warnings of packs, the quota
// warnings of shares changed by packs that took effect or expired, and forgetting expired phone
// codes and packs expired for a year. A move with nothing due writes nothing. The sandbox calls
// it whenever its clock moves.
func (e *Emulator) ClockMoved(now time.Time) error {
	var due bool
	if err := e.deps.Store.View(func(tx *store.Tx) error {
		var err error
		due, err = e.sweep(tx, now, nil)
		return err
	}); err != nil || !due {
		return err
	}
	var warnings []warning
	if err := e.deps.Store.Update(func(tx *store.Tx) error {
		warnings = warnings[:0]
		_, err := e.sweep(tx, now, &warnings)
		return err
	}); err != nil {
		return err
	}
	e.deliver(context.Background(), warnings)
	return nil
}

// sweep finds what is due at now and reports whether anything is. With out it also does it,
// appending the warnings to push; without, it only looks (inside a read-only transaction).
func (e *Emulator) sweep(tx *store.Tx, now time.Time, out *[]warning) (bool, error) {
	write := out != nil
	changed, err := e.forgetCodes(tx, now, write)
	if err != nil {
		return false, err
	}
	type product struct {
		appid string
		spu   int64
	}
	var groups []product
	err = store.Each(tx, allPacksPrefix, func(_ string, p *Pack) error {
		if n := len(groups); n == 0 || groups[n-1] != (product{p.AppID, p.SpuID}) {
			groups = append(groups, product{p.AppID, p.SpuID})
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		app, err := wechat.GetApp(tx, g.appid)
		if err != nil {
			return false, err
		}
		prod := productBySpu(g.spu)
		if app == nil || prod == nil {
			continue
		}
		packs, err := loadPacks(tx, g.appid, prod)
		if err != nil {
			return false, err
		}
		kept := packs[:0]
		for _, p := range packs {
			if p.EndTime != TrialEnd && now.Unix() >= p.EndTime+int64(expiredPackLifetime/time.Second) {
				changed = true
				if write {
					if err := tx.Delete(packKey(p.AppID, p.SpuID, p.Seq)); err != nil {
						return false, err
					}
				}
				continue
			}
			kept = append(kept, p)
			days := validityDue(p, now.Unix())
			if len(days) == 0 {
				continue
			}
			changed = true
			if !write {
				continue
			}
			for _, d := range days {
				p.ExpiryWarnings = append(p.ExpiryWarnings, ExpiryWarning{Days: d, SentAt: now.Unix()})
			}
			if err := savePack(tx, p); err != nil {
				return false, err
			}
			*out = append(*out, warning{App: app, Product: prod, EventType: EventTypeValidity, At: now.Unix(), Days: days[len(days)-1], PkgID: p.PkgID, EndTime: p.EndTime})
		}
		s, err := loadSettings(tx, g.appid)
		if err != nil {
			return false, err
		}
		st, err := loadState(tx, g.appid, g.spu)
		if err != nil {
			return false, err
		}
		w, stateChanged := quotaWarning(app, prod, standingOf(app, s).Exempt, kept, st, now)
		if !stateChanged {
			continue
		}
		changed = true
		if !write {
			continue
		}
		if err := tx.Put(productKey(g.appid, g.spu), st); err != nil {
			return false, err
		}
		if w != nil {
			*out = append(*out, *w)
		}
	}
	return changed, nil
}

// deliver pushes each warning to its Mini Program's push URL (in its format and mode) and
// journals it, delivered or not. Every warning is in the journal before any of the pushes is
// queued, so that no push's own entry comes between them, however soon a receiver answers: the
// same requests give the same journal. It must not run inside a store transaction.
func (e *Emulator) deliver(ctx context.Context, warnings []warning) {
	var starts []func()
	defer func() {
		for _, start := range starts {
			start()
		}
	}()
	for _, w := range warnings {
		msg := w.message()
		entry := journal.Entry{
			Event: w.name(), Time: e.deps.Clock.Now(), Platform: e.deps.WeChat.Name(), Method: warningJournalVerb,
			AppID: w.App.AppID, Reason: w.summary(),
		}
		if plain, err := msg.Encode(push.JSON); err == nil {
			entry.RequestBody = string(plain)
		}
		d, start, err := e.deps.WeChat.PushLater(ctx, w.App, w.name(), msg)
		starts = append(starts, start)
		switch {
		case err != nil:
			entry.Reason += "; not delivered: " + err.Error()
		case d == nil:
			entry.Reason += "; not delivered: no push URL (PUT /_sandbox/wechat/apps/" + w.App.AppID + "/push)"
		default:
			entry.Path, _, _ = strings.Cut(d.URL, "?")
			if n := len(d.Tries); n > 0 {
				entry.Status = d.Tries[n-1].HTTPStatus
			}
			entry.Reason += "; push " + d.Status
		}
		e.deps.Journal.Add(entry)
	}
}
