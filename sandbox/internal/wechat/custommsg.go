package wechat

// Customer-service messages (客服消息), POST /cgi-bin/message/custom/send. On WeChat an account
// may message a user inside the customer-service window the user opened by interacting with it.
// The sandbox simulates those interactions in the families, so the windows are theirs: a family
// registers a MessageWindows that says which users an account has and takes a message through
// an open window (the review family: apikfquota/reset opens one message to the author of a
// negative review). The core checks the message and asks them, in order. Text messages only.

import (
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

func (p *Platform) registerCustomMessageRoutes(r endpoint.Routes) {
	r.Handle("sendCustomMessage", p.handleCustomSend) // POST /cgi-bin/message/custom/send
}

// CustomMessage is a customer-service text message from an account to one of its users.
type CustomMessage struct {
	AppID   string    // the sending account
	ToUser  string    // the recipient's openid
	Content string    // the text
	At      time.Time // when it was sent, on the sandbox clock
}

// MessageWindows is a family's part in customer-service messages: the users it knows and the
// windows it opens for them.
type MessageWindows interface {
	// IsUser reports whether openid is a user of the account appid.
	IsUser(tx *store.Tx, appid, openid string) (bool, error)
	// Deliver takes m if a window is open for its recipient (closing it when it admits no more
	// messages) and reports whether one was.
	Deliver(tx *store.Tx, m CustomMessage) (bool, error)
}

// AddMessageWindows makes w one of the families customer-service messages go through. Call it
// before serving requests.
func (p *Platform) AddMessageWindows(w MessageWindows) {
	p.messageWindows = append(p.messageWindows, w)
}

type customSendRequest struct {
	ToUser  string `json:"touser"`
	MsgType string `json:"msgtype"`
	Text    struct {
		Content string `json:"content"`
	} `json:"text"`
}

// handleCustomSend emulates POST /cgi-bin/message/custom/send for text messages: 40008 for
// another type, 40097 for an empty text, 40003 for an openid no family knows as the account's
// user, 45015 when no window is open for them.
func (p *Platform) handleCustomSend(c *endpoint.Call) (any, error) {
	var req customSendRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	app := c.Principal.(*Principal).App
	if req.MsgType != "text" {
		return nil, apierr.Newf(apierr.Invalid, 40008, "msgtype %q: the sandbox sends text messages only", req.MsgType)
	}
	if req.Text.Content == "" {
		return nil, apierr.New(apierr.Invalid, 40097, "text.content is empty")
	}
	m := CustomMessage{AppID: app.AppID, ToUser: req.ToUser, Content: req.Text.Content, At: c.Now}
	return nil, p.deps.Store.Update(func(tx *store.Tx) error { return p.sendCustomMessage(tx, m) })
}

// sendCustomMessage hands m to the first family with a window open for its recipient.
func (p *Platform) sendCustomMessage(tx *store.Tx, m CustomMessage) error {
	known, err := p.isUser(tx, m.AppID, m.ToUser)
	if err != nil {
		return err
	}
	if !known {
		return apierr.Newf(apierr.Invalid, 40003, "openid %q is not a user of %s", m.ToUser, m.AppID)
	}
	for _, w := range p.messageWindows {
		if sent, err := w.Deliver(tx, m); err != nil || sent {
			return err
		}
	}
	return apierr.Newf(apierr.Forbidden, 45015, "no customer-service quota for %s: reset it with apikfquota/reset on their negative review", m.ToUser)
}

// isUser reports whether any family knows openid as a user of appid.
func (p *Platform) isUser(tx *store.Tx, appid, openid string) (bool, error) {
	for _, w := range p.messageWindows {
		if ok, err := w.IsUser(tx, appid, openid); err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}
