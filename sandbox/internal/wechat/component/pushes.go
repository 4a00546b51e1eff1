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

// pushResult is how a push went.
type pushResult struct {
	Delivered bool   `json:"delivered"`
	URL       string `json:"url,omitempty"`
	Status    int    `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (r pushResult) summary() string {
	if r.Delivered {
		return "delivered to " + r.URL
	}
	return "not delivered: " + r.Error
}

// pushComponentEvent posts ev to the component's authorization-event URL (its push URL, set with
// PUT /_sandbox/wechat/apps/{appid}/push) the way WeChat posts system pushes whatever the push
// configuration says: XML, safe mode (an <AppId> and <Encrypt> envelope, encrypted with the
// component's appid in the trailer), delivered only when the answer is exactly "success". The
// happening is journaled (event component_verify_ticket, component_authorized,
// component_updateauthorized, component_unauthorized) even when no URL is set.
func (e *Emulator) pushComponentEvent(comp *wechat.App, at time.Time, ev componentEvent) pushResult {
	msg := ev.message(comp, at)
	event := ev.InfoType // component_verify_ticket, component_authorized, ...
	if !strings.HasPrefix(event, "component_") {
		event = "component_" + event
	}
	res := e.deliverComponentPush(comp, msg, event)
	plain, _ := msg.Encode(push.XML)
	e.deps.Journal.Add(journal.Entry{
		Event: event, Time: e.deps.Clock.Now(), Platform: e.deps.WeChat.Name(),
		Method: http.MethodPost, Path: res.URL, AppID: comp.AppID, Status: res.Status,
		RequestBody: string(plain), Reason: res.summary(),
	})
	return res
}

func (e *Emulator) deliverComponentPush(comp *wechat.App, msg push.Message, event string) pushResult {
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
	d, err := e.deps.Push.Deliver(context.Background(), *t, event, msg)
	if err != nil {
		return pushResult{URL: t.URL, Error: err.Error()}
	}
	res := pushResult{Delivered: d.Status == push.StatusDelivered, URL: t.URL}
	if n := len(d.Tries); n > 0 {
		res.Status, res.Error = d.Tries[n-1].HTTPStatus, d.Tries[n-1].Error
	}
	return res
}
