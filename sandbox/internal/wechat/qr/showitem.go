package qr

// The scan-to-follow component (扫码关注组件; reference: wechat-api.md §4): a Mini Program opened
// by a scan may show one official account to follow. The accounts it may show are the ones
// linked to it (POST /_sandbox/wechat/apps/{appid}/links).
//
// Invented where the sources are silent: setting an account that is not linked to the Mini
// Program, or turning the component on (wxa_subscribe_biz_flag 1) without an appid, answers
// 40097 "invalid args" (the reference's choice); turning it off forgets the account; can_open is
// 1 when the Mini Program has at least one linked account; an account's head image is a stable
// made-up wx.qlogo.cn address; page past the end answers an empty list.

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// registerShowItemRoutes lists the scan-to-follow component APIs.
func (e *Emulator) registerShowItemRoutes(r endpoint.Routes) {
	r.Handle("getShowWxaItem", e.handleGetShowItem)         // GET /wxa/getshowwxaitem
	r.Handle("updateShowWxaItem", e.handleUpdateShowItem)   // POST /wxa/updateshowwxaitem
	r.Handle("getWxaMpLinkForShow", e.handleGetLinkForShow) // GET /wxa/getwxamplinkforshow
}

// ShowItemMaxNum is the most accounts getwxamplinkforshow answers per page.
const ShowItemMaxNum = 20

func showItemKey(mp string) string { return "wechat:showitem:" + mp }

// showItem is what a Mini Program shows.
type showItem struct {
	AppID string `json:"appid"`
}

// headImg is an account's made-up, stable head image address.
func headImg(appid string) string {
	sum := sha256.Sum256([]byte("headimg " + appid))
	return "http://wx.qlogo.cn/mmhead/" + hex.EncodeToString(sum[:20]) + "/0"
}

type showBizInfo struct {
	Nickname string `json:"nickname"`
	AppID    string `json:"appid"`
	Headimg  string `json:"headimg"`
}

// officialLinks returns the official accounts linked to a Mini Program.
func officialLinks(tx *store.Tx, mp string) ([]Link, error) {
	all, err := links(tx, mp)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, l := range all {
		if l.Type == wechat.TypeOfficialAccount {
			out = append(out, l)
		}
	}
	return out, nil
}

// handleGetShowItem emulates GET /wxa/getshowwxaitem.
func (e *Emulator) handleGetShowItem(c *endpoint.Call) (any, error) {
	mp := c.Principal.(*wechat.Principal).App
	out := struct {
		wechat.Envelope
		CanOpen  int    `json:"can_open"`
		IsOpen   int    `json:"is_open"`
		AppID    string `json:"appid"`
		Nickname string `json:"nickname"`
		Headimg  string `json:"headimg"`
	}{Envelope: wechat.OK()}
	err := e.deps.Store.View(func(tx *store.Tx) error {
		ls, err := officialLinks(tx, mp.AppID)
		if err != nil {
			return err
		}
		if len(ls) > 0 {
			out.CanOpen = 1
		}
		var it showItem
		ok, err := tx.Get(showItemKey(mp.AppID), &it)
		if err != nil || !ok {
			return err
		}
		oa, err := wechat.GetApp(tx, it.AppID)
		if err != nil || oa == nil {
			return err
		}
		out.IsOpen, out.AppID, out.Nickname, out.Headimg = 1, oa.AppID, oa.Name, headImg(oa.AppID)
		return nil
	})
	return out, err
}

// handleUpdateShowItem emulates POST /wxa/updateshowwxaitem.
func (e *Emulator) handleUpdateShowItem(c *endpoint.Call) (any, error) {
	var req struct {
		Flag  int    `json:"wxa_subscribe_biz_flag"`
		AppID string `json:"appid"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	mp := c.Principal.(*wechat.Principal).App
	return nil, e.deps.Store.Update(func(tx *store.Tx) error {
		if req.Flag == 0 {
			return tx.Delete(showItemKey(mp.AppID))
		}
		if req.AppID == "" {
			return apierr.New(apierr.Invalid, 40097, "wxa_subscribe_biz_flag 1 needs the appid of the account to show")
		}
		ls, err := officialLinks(tx, mp.AppID)
		if err != nil {
			return err
		}
		for _, l := range ls {
			if l.AppID == req.AppID {
				return tx.Put(showItemKey(mp.AppID), showItem{AppID: req.AppID})
			}
		}
		return apierr.Newf(apierr.Invalid, 40097, "%s is not an official account linked to %s (see getwxamplinkforshow)", req.AppID, mp.AppID)
	})
}

// handleGetLinkForShow emulates GET /wxa/getwxamplinkforshow?page=&num=; numbers are read
// trimmed, since one SDK sends "page=%200".
func (e *Emulator) handleGetLinkForShow(c *endpoint.Call) (any, error) {
	page, err := strconv.Atoi(c.QueryNumber("page"))
	if err != nil || page < 0 {
		return nil, apierr.Newf(apierr.Invalid, 40097, "page %q must be a number from 0", c.QueryNumber("page"))
	}
	num, err := strconv.Atoi(c.QueryNumber("num"))
	if err != nil || num < 1 || num > ShowItemMaxNum {
		return nil, apierr.Newf(apierr.Invalid, 40097, "num %q must be a number from 1 to %d", c.QueryNumber("num"), ShowItemMaxNum)
	}
	mp := c.Principal.(*wechat.Principal).App
	out := struct {
		wechat.Envelope
		TotalNum    int           `json:"total_num"`
		BizInfoList []showBizInfo `json:"biz_info_list"`
	}{Envelope: wechat.OK(), BizInfoList: []showBizInfo{}}
	err = e.deps.Store.View(func(tx *store.Tx) error {
		ls, err := officialLinks(tx, mp.AppID)
		if err != nil {
			return err
		}
		out.TotalNum = len(ls)
		if page > len(ls) {
			return nil // and page*num cannot overflow below
		}
		for i := page * num; i < len(ls) && i < (page+1)*num; i++ {
			name := ls[i].Name
			if oa, err := wechat.GetApp(tx, ls[i].AppID); err != nil {
				return err
			} else if oa != nil {
				name = oa.Name
			}
			out.BizInfoList = append(out.BizInfoList, showBizInfo{Nickname: name, AppID: ls[i].AppID, Headimg: headImg(ls[i].AppID)})
		}
		return nil
	})
	return out, err
}
