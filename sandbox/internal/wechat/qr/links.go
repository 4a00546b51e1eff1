package qr

// Account links: an official account and a Mini Program linked to each other, what WeChat's
// "关联小程序" does in the admin console. A service account manages QR-jump rules only for Mini
// Programs linked to it (40166 otherwise), and scan-to-follow offers only linked official
// accounts. Linking is a control verb (no WeChat API links accounts); each side keeps a record of
// the other.

import (
	"slices"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// registerLinkRoutes lists the account-link control verbs.
func (e *Emulator) registerLinkRoutes(r endpoint.Routes) {
	r.Handle("linkWeChatApps", e.handleLink)          // POST /_sandbox/wechat/apps/{appid}/links
	r.Handle("listWeChatAppLinks", e.handleListLinks) // GET /_sandbox/wechat/apps/{appid}/links
}

// Link is one side of a link between an official account and a Mini Program.
type Link struct {
	AppID    string    `json:"appid"`
	Type     string    `json:"type"`
	Name     string    `json:"name"`
	LinkedAt time.Time `json:"linked_at"`
}

func linkKey(a, b string) string { return "wechat:link:" + a + ":" + b }
func linkPrefix(a string) string { return "wechat:link:" + a + ":" }

// LinkApps links an official account and a Mini Program (in either order) now; linking twice is
// harmless. It is the Go twin of POST /_sandbox/wechat/apps/{appid}/links.
func (e *Emulator) LinkApps(a, b string) error { return e.linkApps(a, b, e.deps.Clock.Now()) }

// linkApps is LinkApps at the time now (the request's, for the control verb).
func (e *Emulator) linkApps(a, b string, now time.Time) error {
	return e.deps.Store.Update(func(tx *store.Tx) error {
		x, err := wechat.GetApp(tx, a)
		if err != nil {
			return err
		}
		if x == nil {
			return &apierr.Error{Kind: apierr.NotFound, Name: "app_not_found", Reason: "no app " + a}
		}
		y, err := wechat.GetApp(tx, b)
		if err != nil {
			return err
		}
		if y == nil {
			return &apierr.Error{Kind: apierr.Invalid, Name: "invalid_link", Reason: "no app " + b + " to link"}
		}
		types := []string{x.Type, y.Type}
		slices.Sort(types)
		if types[0] != wechat.TypeMiniProgram || types[1] != wechat.TypeOfficialAccount {
			return &apierr.Error{Kind: apierr.Invalid, Name: "invalid_link", Reason: "a link joins an official account and a Mini Program, not a " + x.Type + " and a " + y.Type}
		}
		if ok, err := tx.Has(linkKey(a, b)); err != nil || ok {
			return err
		}
		if err := tx.Put(linkKey(a, b), Link{AppID: b, Type: y.Type, Name: y.Name, LinkedAt: now}); err != nil {
			return err
		}
		return tx.Put(linkKey(b, a), Link{AppID: a, Type: x.Type, Name: x.Name, LinkedAt: now})
	})
}

// links returns the apps linked to appid, in appid order.
func links(tx *store.Tx, appid string) ([]Link, error) {
	out := []Link{}
	err := store.Each(tx, linkPrefix(appid), func(_ string, l *Link) error {
		out = append(out, *l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

type linksView struct {
	AppID string `json:"appid"`
	Links []Link `json:"links"`
}

func (e *Emulator) linksOf(appid string) (linksView, error) {
	v := linksView{AppID: appid}
	err := e.deps.Store.View(func(tx *store.Tx) error {
		app, err := wechat.GetApp(tx, appid)
		if err != nil {
			return err
		}
		if app == nil {
			return &apierr.Error{Kind: apierr.NotFound, Name: "app_not_found", Reason: "no app " + appid}
		}
		v.Links, err = links(tx, appid)
		return err
	})
	return v, err
}

func (e *Emulator) handleLink(c *endpoint.Call) (any, error) {
	var req struct {
		AppID string `json:"appid"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	if req.AppID == c.Param("appid") {
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_link", Reason: "an app cannot be linked to itself"}
	}
	if err := e.linkApps(c.Param("appid"), req.AppID, c.Now); err != nil {
		return nil, err
	}
	v, err := e.linksOf(c.Param("appid"))
	return endpoint.Created(v), err
}

func (e *Emulator) handleListLinks(c *endpoint.Call) (any, error) {
	return e.linksOf(c.Param("appid"))
}
