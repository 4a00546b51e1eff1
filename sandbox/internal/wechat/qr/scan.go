package qr

// The control-plane side of the QR families: linking official accounts and Mini Programs (what
// WeChat's "关联小程序" does in the admin console), and a simulated user scanning a code.
//
// The scan simulator answers what WeChat would do with what the camera read:
//
//   - open_mini_program when a QR-jump rule matches: among the rules whose prefix starts the
//     link, a rule with permit_sub_rule 2 gives its account every link under it; a published
//     rule works for everyone and opens the release version; an unpublished ordinary-link rule
//     works only for its debug_url links and only for the roles its open_version allows (1:
//     developers, develop version; 2: admins and testers, trial version; 3: all three, release
//     version); the longest prefix wins. A service-account code the sandbox issued only follows
//     rules of the account that owns it. The page gets the link in q (URL-encoded, as WeChat
//     passes it) and the scan time in scancode_time, next to any query the rule's path has.
//   - follow_official_account for a live code of a service account without a matching rule;
//   - invalid_code for a weixin.qq.com/q/ link the sandbox never issued or that has expired
//     (WeChat shows an error page; this action is the sandbox's name for it);
//   - open_web_page for any other http(s) or ftp link.
//
// A scan of a code the sandbox issued is journalled as an event (Event "scan") for the service
// account, with the scene and the scanning user's openid: given in the request, or a seeded one.

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// registerScanRoutes lists the control verbs of the QR families.
func (e *Emulator) registerScanRoutes(r endpoint.Routes) {
	r.Handle("linkWeChatApps", e.handleLink)          // POST /_sandbox/wechat/apps/{appid}/links
	r.Handle("listWeChatAppLinks", e.handleListLinks) // GET /_sandbox/wechat/apps/{appid}/links
	r.Handle("scanQRCode", e.handleScan)              // POST /_sandbox/wechat/scan
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

// LinkApps links an official account and a Mini Program (in either order); linking twice is
// harmless. It is the Go twin of POST /_sandbox/wechat/apps/{appid}/links.
func (e *Emulator) LinkApps(a, b string, now time.Time) error {
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
	if err := e.LinkApps(c.Param("appid"), req.AppID, c.Now); err != nil {
		return nil, err
	}
	v, err := e.linksOf(c.Param("appid"))
	return endpoint.Created(v), err
}

func (e *Emulator) handleListLinks(c *endpoint.Call) (any, error) {
	return e.linksOf(c.Param("appid"))
}

// Scan roles.
const (
	RoleUser      = "user"
	RoleDeveloper = "developer"
	RoleTester    = "tester"
	RoleAdmin     = "admin"
)

// ScanRequest is what a simulated user scans.
type ScanRequest struct {
	URL string `json:"url"`
	// As is the user's role towards the Mini Program a rule opens; empty means user.
	As string `json:"as,omitempty"`
	// OpenID is the scanning user's openid for the service account; empty means a seeded one.
	OpenID string `json:"openid,omitempty"`
}

// ScanResult is what WeChat does with a scanned link.
type ScanResult struct {
	Action string `json:"action"`
	// open_mini_program
	AppID        string            `json:"appid,omitempty"`
	Path         string            `json:"path,omitempty"`
	Query        map[string]string `json:"query,omitempty"`
	Version      string            `json:"version,omitempty"`
	Q            string            `json:"q,omitempty"`
	ScancodeTime int64             `json:"scancode_time,omitempty"`
	Prefix       string            `json:"prefix,omitempty"`
	// follow_official_account (AppID is the account's)
	Scene  string `json:"scene,omitempty"`
	Ticket string `json:"ticket,omitempty"`
	OpenID string `json:"openid,omitempty"`
	// open_web_page and invalid_code
	URL    string `json:"url,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Scan actions.
const (
	ScanOpenMiniProgram = "open_mini_program"
	ScanFollow          = "follow_official_account"
	ScanOpenWebPage     = "open_web_page"
	ScanInvalidCode     = "invalid_code"
)

// versionFor says which Mini Program version an unpublished rule opens for a role, if any.
func versionFor(openVersion int, role string) string {
	switch {
	case openVersion == 1 && role == RoleDeveloper:
		return "develop"
	case openVersion == 2 && (role == RoleAdmin || role == RoleTester):
		return "trial"
	case openVersion == 3 && role != RoleUser:
		return "release"
	}
	return ""
}

// Scan answers what WeChat does when a user scans link, and journals a scan of an issued code.
// It is the Go twin of POST /_sandbox/wechat/scan.
func (e *Emulator) Scan(req ScanRequest, now time.Time) (ScanResult, error) {
	if req.As == "" {
		req.As = RoleUser
	}
	if !slices.Contains([]string{RoleUser, RoleDeveloper, RoleTester, RoleAdmin}, req.As) {
		return ScanResult{}, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_scan", Reason: "as must be user, developer, tester or admin"}
	}
	u, err := url.Parse(req.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ftp") {
		return ScanResult{}, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_scan", Reason: "url must be an absolute http, https or ftp link"}
	}
	var res ScanResult
	var code *QRCode
	var oa *wechat.App
	err = e.deps.Store.View(func(tx *store.Tx) error {
		var err error
		if code, err = e.LookupQRCode(tx, req.URL); err != nil {
			return err
		}
		if code != nil {
			if oa, err = wechat.GetApp(tx, code.AppID); err != nil {
				return err
			}
		}
		rule, version, err := matchRule(tx, req.URL, req.As, code)
		if err != nil {
			return err
		}
		switch {
		case rule != nil:
			res = openMiniProgram(rule, version, req.URL, now)
		case code != nil && code.live(now):
			res = ScanResult{Action: ScanFollow, AppID: code.AppID, Scene: code.Scene(), Ticket: code.Ticket}
		case code != nil:
			res = ScanResult{Action: ScanInvalidCode, URL: req.URL, Reason: "expired"}
		case qrTokenOf(req.URL) != "" || strings.HasPrefix(req.URL, qrURLPrefix):
			res = ScanResult{Action: ScanInvalidCode, URL: req.URL, Reason: "unknown"}
		default:
			res = ScanResult{Action: ScanOpenWebPage, URL: req.URL}
		}
		return nil
	})
	if err != nil || code == nil {
		return res, err
	}
	openid := req.OpenID
	if openid == "" {
		openid = "o" + e.deps.Rand.Token(27, seeded.URLSafe)
	}
	if res.Action == ScanFollow {
		res.OpenID = openid
	}
	e.journalScan(req, res, code, oa, openid, now)
	return res, nil
}

// matchRule finds the rule a scan of link follows, and the version it opens.
func matchRule(tx *store.Tx, link, role string, code *QRCode) (*QRJumpRule, string, error) {
	var cands []prefixOwner
	var prefixes []string
	if err := eachPrefixOwner(tx, link, func(pf string, po prefixOwner) error {
		cands = append(cands, po)
		prefixes = append(prefixes, pf)
		return nil
	}); err != nil {
		return nil, "", err
	}
	// The shortest prefix that occupies its sub-rules gives its account the link.
	owner := ""
	if code != nil {
		owner = code.AppID
	}
	for _, po := range cands {
		if po.PermitSubRule == 2 && owner == "" {
			owner = po.Owner
		}
	}
	// Longest first.
	for i := len(cands) - 1; i >= 0; i-- {
		po := cands[i]
		if owner != "" && po.Owner != owner {
			continue
		}
		r, err := getRule(tx, qrjumpScope(po.MiniProgram, po.Owner), prefixes[i])
		if err != nil {
			if e := apierr.As(err); e != nil && e.Kind == apierr.NotFound {
				continue
			}
			return nil, "", err
		}
		if r.State == RulePublished {
			return r, "release", nil
		}
		if r.Ordinary() && slices.Contains(r.DebugURL, link) {
			if v := versionFor(r.OpenVersion, role); v != "" {
				return r, v, nil
			}
		}
	}
	return nil, "", nil
}

func openMiniProgram(r *QRJumpRule, version, link string, now time.Time) ScanResult {
	page, rawQuery, _ := strings.Cut(r.Path, "?")
	query := map[string]string{}
	if vals, err := url.ParseQuery(rawQuery); err == nil {
		for k := range vals {
			query[k] = vals.Get(k)
		}
	}
	query["q"] = url.QueryEscape(link)
	query["scancode_time"] = strconv.FormatInt(now.Unix(), 10)
	return ScanResult{
		Action: ScanOpenMiniProgram, AppID: r.MiniProgram, Path: page, Query: query, Version: version,
		Q: link, ScancodeTime: now.Unix(), Prefix: r.Prefix,
	}
}

// journalScan records the scan event the service account would receive.
func (e *Emulator) journalScan(req ScanRequest, res ScanResult, code *QRCode, oa *wechat.App, openid string, now time.Time) {
	event := map[string]any{
		"FromUserName": openid, "CreateTime": now.Unix(), "MsgType": "event", "Event": "SCAN",
		"EventKey": code.Scene(), "Ticket": code.Ticket, "Action": res.Action,
	}
	if oa != nil {
		event["ToUserName"] = oa.OriginalID
	}
	body, _ := json.Marshal(event)
	reqBody, _ := json.Marshal(req)
	e.deps.Journal.Add(journal.Entry{
		Time: now, Platform: e.deps.WeChat.Name(), Method: "SCAN", Path: "/_sandbox/wechat/scan", AppID: code.AppID,
		Status: 200, Event: "scan", RequestBody: string(reqBody), Response: string(body),
		Reason: "scene " + code.Scene() + " scanned by " + openid + ": " + res.Action,
	})
}

// ScanNow is Scan at the sandbox's current time.
func (e *Emulator) ScanNow(req ScanRequest) (ScanResult, error) {
	return e.Scan(req, e.deps.Clock.Now())
}

// LinkAppsNow is LinkApps at the sandbox's current time.
func (e *Emulator) LinkAppsNow(a, b string) error { return e.LinkApps(a, b, e.deps.Clock.Now()) }

func (e *Emulator) handleScan(c *endpoint.Call) (any, error) {
	var req ScanRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return e.Scan(req, c.Now)
}
