package cityservice

import (
	"slices"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// csMenuEntry is one menu item configured in the MP console, pointing at a City Service page.
type csMenuEntry struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	PageType    int    `json:"page_type"`
	CityName    string `json:"city_name,omitempty"`
	ContentName string `json:"content_name,omitempty"`
	ExtParams   []KV   `json:"ext_params,omitempty"`
	ServiceID   *int64 `json:"service_id,omitempty"`
	Params      string `json:"params,omitempty"`
	CityID      string `json:"city_id,omitempty"`
	// Path and QueryString are what the entry opens, as getservicepath would return them.
	Path        string `json:"path"`
	QueryString string `json:"query_string,omitempty"`
}

type csMenu struct {
	AppID      string        `json:"appid"`
	SrcChannel int           `json:"src_channel"`
	Entries    []csMenuEntry `json:"entries"`
	UpdatedAt  time.Time     `json:"updated_at"`
}

func csMenuKey(appid string) string { return csPrefix + "menu:" + appid }

// csMenuChannel is the src_channel of a menu configured by an account of app's type.
func csMenuChannel(app *wechat.App) int {
	switch app.Type {
	case wechat.TypeOfficialAccount:
		return 0
	case wechat.TypeMiniProgram:
		return 1
	}
	return 3
}

// handlePutCityServiceMenu replaces an account's City Service menu: PUT …/menus/{appid}.
func (e *Emulator) handlePutCityServiceMenu(c *endpoint.Call) (any, error) {
	var body struct {
		Entries []csMenuEntry `json:"entries"`
	}
	if err := c.Bind(&body); err != nil {
		return nil, err
	}
	var menu csMenu
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		meta, err := csLoadMeta(tx)
		if err != nil {
			return err
		}
		if meta == nil {
			return csCtlErr(apierr.NotFound, "no_world", "no City Service world is loaded")
		}
		app, err := wechat.GetApp(tx, c.Param("appid"))
		if err != nil {
			return err
		}
		if app == nil {
			return csCtlErr(apierr.NotFound, "app_not_found", "no app %s", c.Param("appid"))
		}
		var g csGrant
		if ok, err := tx.Get(csGrantKey(app.AppID), &g); err != nil {
			return err
		} else if !ok {
			return csCtlErr(apierr.Forbidden, "not_approved", "%s has no approved City Service interconnection application", app.AppID)
		}
		menu = csMenu{AppID: app.AppID, SrcChannel: csMenuChannel(app), Entries: []csMenuEntry{}, UpdatedAt: c.Now}
		if !slices.Contains(g.SrcChannels, menu.SrcChannel) {
			return csCtlErr(apierr.Forbidden, "not_granted", "src_channel %d (a %s menu) is not granted to %s (granted: %v)", menu.SrcChannel, app.Type, app.AppID, g.SrcChannels)
		}
		seen := map[string]bool{}
		for _, ent := range body.Entries {
			if seen[ent.Key] {
				return csCtlErr(apierr.Invalid, "invalid_entry", "menu key %q appears twice", ent.Key)
			}
			seen[ent.Key] = true
			if !slices.Contains(g.PageTypes, ent.PageType) {
				return csCtlErr(apierr.Forbidden, "not_granted", "entry %q: page_type %d is not granted to %s (granted: %v)", ent.Key, ent.PageType, app.AppID, g.PageTypes)
			}
			req := csPathRequest{PageType: ent.PageType, SrcChannel: menu.SrcChannel, CityName: ent.CityName, ContentName: ent.ContentName,
				ExtParams: ent.ExtParams, ServiceID: ent.ServiceID, Params: ent.Params, CityID: ent.CityID}
			t, err := csResolve(tx, meta, &req)
			if err != nil {
				if ae := apierr.As(err); ae != nil && ae.Code == 40097 {
					return csCtlErr(apierr.Invalid, "invalid_entry", "entry %q: %s (getservicepath would answer 40097)", ent.Key, ae.Reason)
				}
				return err
			}
			a := csBuildPath(meta, t, menu.SrcChannel, g.BusinessType, false)
			ent.Path, ent.QueryString = a.Path, a.QueryString
			menu.Entries = append(menu.Entries, ent)
		}
		return tx.Put(csMenuKey(app.AppID), &menu)
	})
	if err != nil {
		return nil, err
	}
	return menu, nil
}

// handleGetCityServiceMenu shows an account's City Service menu: GET …/menus/{appid}.
func (e *Emulator) handleGetCityServiceMenu(c *endpoint.Call) (any, error) {
	var menu csMenu
	err := e.deps.Store.View(func(tx *store.Tx) error {
		ok, err := tx.Get(csMenuKey(c.Param("appid")), &menu)
		if err == nil && !ok {
			err = csCtlErr(apierr.NotFound, "menu_not_found", "no City Service menu for %s", c.Param("appid"))
		}
		return err
	})
	return menu, err
}
