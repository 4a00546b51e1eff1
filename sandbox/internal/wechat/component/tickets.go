package component

// component_verify_ticket: the ticket WeChat pushes to a third-party platform every 10 minutes
// and that api_component_token requires. The schedule runs on the sandbox clock (PushDueTickets,
// called when the clock moves); api_start_push_ticket and a control verb push one at once.

import (
	"fmt"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// Ticket is a component_verify_ticket the sandbox pushed.
type Ticket struct {
	Ticket         string    `json:"ticket"`
	ComponentAppID string    `json:"component_appid"`
	IssuedAt       time.Time `json:"issued_at"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// ForgetAt implements store.Forgettable: wechat.ExpiredMemory after the ticket expired (until
// then api_component_token answers 61005 for it, after that 61006 as for a ticket never pushed).
func (t Ticket) ForgetAt() time.Time { return t.ExpiresAt.Add(wechat.ExpiredMemory) }

// componentState is a component's ticket schedule.
type componentState struct {
	// Ticket is the value pushed last, drawn at TicketIssuedAt.
	Ticket         string    `json:"ticket,omitempty"`
	TicketIssuedAt time.Time `json:"ticket_issued_at"`
	// LastSlot is the number k of the last scheduled push (at creation + k*TicketPushPeriod).
	LastSlot int64 `json:"last_slot"`
}

func componentStateKey(comp string) string { return "wechat:component:state:" + comp }

func ticketKey(t string) string { return "wechat:component:ticket:" + t }

// nextTicket returns the ticket to push at time at: the current one while it is younger than
// TicketRotation, else a new one.
func (e *Emulator) nextTicket(tx *store.Tx, comp *wechat.App, st *componentState, at time.Time) (*Ticket, error) {
	if st.Ticket != "" && at.Sub(st.TicketIssuedAt) < TicketRotation {
		var t Ticket
		if ok, err := tx.Get(ticketKey(st.Ticket), &t); err != nil {
			return nil, err
		} else if ok {
			return &t, nil
		}
	}
	t := &Ticket{
		Ticket: "ticket@@@" + e.deps.Rand.Token(86, seeded.URLSafe), ComponentAppID: comp.AppID,
		IssuedAt: at, ExpiresAt: at.Add(TicketLifetime),
	}
	if err := tx.Put(ticketKey(t.Ticket), t); err != nil {
		return nil, err
	}
	st.Ticket, st.TicketIssuedAt = t.Ticket, at
	return t, nil
}

// ticketPush is a ticket due for delivery.
type ticketPush struct {
	comp   *wechat.App
	ticket *Ticket
	at     time.Time
}

// PushDueTickets pushes, for every component, the ticket of the latest scheduled push at or
// before now that has not been sent yet. The sandbox calls it whenever its clock moves.
func (e *Emulator) PushDueTickets(now time.Time) error {
	// Look first (a View), so that a clock move with nothing due writes nothing.
	var comps []*wechat.App
	err := e.deps.Store.View(func(tx *store.Tx) error {
		all, err := wechat.ListApps(tx, wechat.TypeComponent)
		if err != nil {
			return err
		}
		for _, a := range all {
			if now.Sub(a.CreatedAt) < TicketPushPeriod {
				continue
			}
			var st componentState
			if _, err := tx.Get(componentStateKey(a.AppID), &st); err != nil {
				return err
			}
			if int64(now.Sub(a.CreatedAt)/TicketPushPeriod) > st.LastSlot {
				comps = append(comps, a)
			}
		}
		return nil
	})
	if err != nil || len(comps) == 0 {
		return err
	}
	var due []ticketPush
	err = e.deps.Store.Update(func(tx *store.Tx) error {
		for _, comp := range comps {
			slot := int64(now.Sub(comp.CreatedAt) / TicketPushPeriod)
			var st componentState
			if _, err := tx.Get(componentStateKey(comp.AppID), &st); err != nil {
				return err
			}
			if slot <= st.LastSlot {
				continue // pushed meanwhile by a concurrent clock move
			}
			at := comp.CreatedAt.Add(time.Duration(slot) * TicketPushPeriod)
			t, err := e.nextTicket(tx, comp, &st, at)
			if err != nil {
				return err
			}
			st.LastSlot = slot
			if err := tx.Put(componentStateKey(comp.AppID), st); err != nil {
				return err
			}
			due = append(due, ticketPush{comp: comp, ticket: t, at: at})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wechat: ticket schedule: %w", err)
	}
	for _, d := range due {
		e.pushTicket(d.comp, d.ticket, d.at)
	}
	return nil
}

// pushTicketNow draws (or repeats) the ticket at now and pushes it: the on-demand verb and
// api_start_push_ticket.
func (e *Emulator) pushTicketNow(comp *wechat.App, now time.Time) (*Ticket, pushResult, error) {
	var t *Ticket
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		var st componentState
		if _, err := tx.Get(componentStateKey(comp.AppID), &st); err != nil {
			return err
		}
		var err error
		if t, err = e.nextTicket(tx, comp, &st, now); err != nil {
			return err
		}
		return tx.Put(componentStateKey(comp.AppID), st)
	})
	if err != nil {
		return nil, pushResult{}, err
	}
	return t, e.pushTicket(comp, t, now), nil
}

func (e *Emulator) pushTicket(comp *wechat.App, t *Ticket, at time.Time) pushResult {
	return e.pushComponentEvent(comp, at, componentEvent{InfoType: "component_verify_ticket", Extra: push.Message{
		{Name: "ComponentVerifyTicket", Value: t.Ticket},
	}})
}

// handleStartPushTicket emulates POST /cgi-bin/component/api_start_push_ticket: a ticket is
// pushed at once, and the answer is ok whether or not the delivery succeeded.
func (e *Emulator) handleStartPushTicket(c *endpoint.Call) (any, error) {
	var req struct {
		ComponentAppID  string `json:"component_appid"`
		ComponentSecret string `json:"component_secret"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	comp, err := e.checkComponentSecret(c, req.ComponentAppID, req.ComponentSecret)
	if err != nil {
		return nil, err
	}
	_, res, err := e.pushTicketNow(comp, c.Now)
	if err != nil {
		return nil, err
	}
	c.Reason = "ticket push: " + res.summary()
	return nil, nil
}

// TicketResult is a ticket pushed on demand.
type TicketResult struct {
	ComponentAppID string     `json:"component_appid"`
	Ticket         string     `json:"ticket"`
	CreateTime     int64      `json:"create_time"`
	ExpiresAt      time.Time  `json:"expires_at"`
	Push           pushResult `json:"push"`
}

func (e *Emulator) handlePushTicket(c *endpoint.Call) (any, error) {
	return e.PushTicket(c.Param("appid"))
}

// PushTicket pushes the component's ticket now (the current one while it is younger than 20
// minutes). It is the Go twin of POST /_sandbox/wechat/components/{appid}/ticket.
func (e *Emulator) PushTicket(compID string) (*TicketResult, error) {
	var comp *wechat.App
	err := e.deps.Store.View(func(tx *store.Tx) (err error) {
		comp, err = wechat.GetApp(tx, compID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if comp == nil || comp.Type != wechat.TypeComponent {
		return nil, componentNotFound(compID)
	}
	now := e.deps.Clock.Now()
	t, res, err := e.pushTicketNow(comp, now)
	if err != nil {
		return nil, err
	}
	return &TicketResult{ComponentAppID: comp.AppID, Ticket: t.Ticket, CreateTime: now.Unix(), ExpiresAt: t.ExpiresAt, Push: res}, nil
}
