package component

// Pushes to the component's authorization-event URL (授权事件接收URL): the ticket and the
// authorization events, always XML in safe mode, and journaled whether delivered or not.

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// componentEvent is the plaintext of a push to a component's authorization-event URL, in
// WeChat's field order.
type componentEvent struct {
	InfoType string
	// Extra are the fields after InfoType.
	Extra push.Message
}

func (ev componentEvent) message(comp *wechat.App, at time.Time) push.Message {
	m := push.Message{{Name: "AppId", Value: comp.AppID}, {Name: "CreateTime", Value: at.Unix()}, {Name: "InfoType", Value: ev.InfoType}}
	return append(m, ev.Extra...)
}

// pushResult is what became of a push when it was made: queued for delivery (its record, under
// Delivery, says how it went once settled) or not sent at all, and why.
type pushResult struct {
	Queued   bool   `json:"queued"`
	Delivery string `json:"delivery,omitempty"`
	URL      string `json:"url,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (r pushResult) summary() string {
	if r.Queued {
		return "queued for " + r.URL + " as delivery " + r.Delivery
	}
	return "not sent: " + r.Error
}

// pushComponentEvent posts ev to the component's authorization-event URL (its push URL, set with
// PUT /_sandbox/wechat/apps/{appid}/push) the way WeChat posts system pushes whatever the push
// configuration says: XML, safe mode (an <AppId> and <Encrypt> envelope, encrypted with the
// component's appid in the trailer), delivered only when the answer is exactly "success". The
// push is queued, not awaited. The happening is journaled (event component_verify_ticket,
// component_authorized, component_updateauthorized, component_unauthorized) once the push is
// settled, delivered or not, or at once when there is no URL to push to.
func (e *Emulator) pushComponentEvent(comp *wechat.App, at time.Time, ev componentEvent) pushResult {
	msg := ev.message(comp, at)
	event := ev.InfoType // component_verify_ticket, component_authorized, ...
	if !strings.HasPrefix(event, "component_") {
		event = "component_" + event
	}
	plain, _ := msg.Encode(push.XML)
	entry := journal.Entry{
		Event: event, Time: e.deps.Clock.Now(), Platform: e.deps.WeChat.Name(),
		Method: http.MethodPost, AppID: comp.AppID, RequestBody: string(plain),
	}
	res := e.deliverComponentPush(comp, msg, event, func(d push.Delivery) {
		entry.Path, entry.Reason = d.URL, "delivered to "+d.URL
		if n := len(d.Tries); n > 0 {
			entry.Status = d.Tries[n-1].HTTPStatus
		}
		if d.Status != push.StatusDelivered {
			entry.Reason = "not delivered: " + d.Tries[len(d.Tries)-1].Error
		}
		e.deps.Journal.Add(entry)
	})
	if !res.Queued {
		entry.Reason = res.summary()
		e.deps.Journal.Add(entry)
	}
	return res
}

func (e *Emulator) deliverComponentPush(comp *wechat.App, msg push.Message, event string, done func(push.Delivery)) pushResult {
	var t *push.Target
	if err := e.deps.Store.View(func(tx *store.Tx) error {
		var err error
		t, err = e.deps.WeChat.PushTarget(tx, comp)
		return err
	}); err != nil {
		return pushResult{Error: err.Error()}
	}
	if t == nil {
		return pushResult{Error: "no authorization-event URL: set one with PUT /_sandbox/wechat/apps/" + comp.AppID + "/push"}
	}
	t.Format, t.Mode, t.CryptAppID, t.RequireSuccess = push.XML, push.Safe, comp.AppID, true
	d, err := e.deps.Push.DeliverThen(context.Background(), *t, event, msg, done)
	if err != nil {
		return pushResult{URL: t.URL, Error: err.Error()}
	}
	return pushResult{Queued: true, Delivery: d.ID, URL: t.URL}
}
