package qr

// The scan simulator: a simulated user scanning a code or a link. It answers what WeChat would
// do with what the camera read, and pushes what the account's server would receive:
//
//   - open_mini_program when a QR-jump rule matches: among the rules whose prefix starts the
//     link, a rule with permit_sub_rule 2 gives its account every link under it; a published
//     rule works for everyone and opens the release version; an unpublished ordinary-link rule
//     works only for its debug_url links and only for the roles its open_version allows (1:
//     developers, develop version; 2: admins and testers, trial version; 3: all three, release
//     version); the longest prefix wins. A service-account code the sandbox issued only follows
//     rules of the account that owns it. The page gets the link in q (URL-encoded, as WeChat
//     passes it) and the scan time in scancode_time, next to any query the rule's path has.
//     No account receives an event: the user lands in the Mini Program, not in the account
//     (WeChat's pages on both QR-jump variants describe no event; the sandbox's choice). When the
//     Mini Program shows an official account in its scan-to-follow component, follow_component
//     names it; a user who follows through the component is a follow like any other
//     (POST /_sandbox/wechat/apps/{appid}/followers: subscribe, without EventKey).
//   - follow_official_account for a live code of a service account without a matching rule. A
//     user who does not follow the account follows it, and the account's server receives
//     Event=subscribe with EventKey=qrscene_<scene> and Ticket; a follower's scan pushes
//     Event=SCAN with EventKey=<scene> and Ticket ("生成带参数的二维码", "接收事件推送": the
//     scene_id in decimal or the scene_str as given). Both carry ToUserName (the account's
//     original id), FromUserName (the user's openid for the account), CreateTime (the sandbox
//     time) and MsgType=event, in the account's push format and mode.
//   - invalid_code for a weixin.qq.com/q/ link the sandbox never issued or that has expired
//     (WeChat shows an error page; this action is the sandbox's name for it);
//   - open_web_page for any other http(s) or ftp link.
//
// The scanning user is named (user: the account's openid for them is stable), or given by
// openid, or — neither — a user the account has never met (a seeded openid each time). Invented:
// the simulated user always taps "follow" on the follow page; a scan of an issued code is also
// journalled as an event (Event "scan") for the service account, with what was pushed.

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/push"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// registerScanRoutes lists the scan simulator's control verb.
func (e *Emulator) registerScanRoutes(r endpoint.Routes) {
	r.Handle("scanQRCode", e.handleScan) // POST /_sandbox/wechat/scan
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
	// OpenID is the scanning user's openid for the service account, and User names a simulated
	// user whose openid the account keeps; both empty means a user the account never met.
	OpenID string `json:"openid,omitempty"`
	User   string `json:"user,omitempty"`
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
	// FollowComponent is the official account the Mini Program's scan-to-follow component shows.
	FollowComponent string `json:"follow_component,omitempty"`
	// follow_official_account (AppID is the account's); Event is what its server receives:
	// subscribe (the user followed) or SCAN (a follower scanned).
	Scene  string `json:"scene,omitempty"`
	Ticket string `json:"ticket,omitempty"`
	OpenID string `json:"openid,omitempty"`
	Event  string `json:"event,omitempty"`
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

// The scan events of a parametric code.
const (
	EventScan        = "SCAN"
	qrSceneKeyPrefix = "qrscene_"
)

// Scan answers what WeChat does when a user scans link now, pushes the event the account's
// server receives, and journals a scan of an issued code. It is the Go twin of
// POST /_sandbox/wechat/scan.
func (e *Emulator) Scan(ctx context.Context, req ScanRequest) (ScanResult, error) {
	return e.scan(ctx, req, e.deps.Clock.Now())
}

// scan is Scan at the time now (the request's, for the control verb).
func (e *Emulator) scan(ctx context.Context, req ScanRequest, now time.Time) (ScanResult, error) {
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
	who := wechat.Who{User: req.User, OpenID: req.OpenID}
	if err := who.Check(); err != nil {
		return ScanResult{}, err
	}
	var res ScanResult
	var code *QRCode
	var oa *wechat.App
	var event push.Message
	err = e.deps.Store.Update(func(tx *store.Tx) error {
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
			res.FollowComponent, err = shownAccount(tx, rule.MiniProgram)
			return err
		case code != nil && code.live(now) && oa != nil:
			res = ScanResult{Action: ScanFollow, AppID: code.AppID, Scene: code.Scene(), Ticket: code.Ticket}
			event, err = e.followByScan(tx, oa, code, who, now, &res)
			return err
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
	e.journalScan(req, res, code, event, now)
	if event != nil {
		if _, err := e.deps.WeChat.Push(ctx, oa, res.Event, event); err != nil {
			return res, err
		}
	}
	return res, nil
}

// followByScan is a user scanning a live code of the account oa: a non-follower follows it
// (subscribe, EventKey qrscene_<scene>), a follower's scan is SCAN (EventKey <scene>). It
// fills res and returns the event to push.
func (e *Emulator) followByScan(tx *store.Tx, oa *wechat.App, code *QRCode, who wechat.Who, now time.Time, res *ScanResult) (push.Message, error) {
	openid, err := e.deps.WeChat.OpenIDFor(tx, oa.AppID, who)
	if err != nil {
		return nil, err
	}
	res.OpenID = openid
	f, err := wechat.GetFollower(tx, oa.AppID, openid)
	if err != nil {
		return nil, err
	}
	key := code.Scene()
	if f == nil {
		res.Event, key = wechat.EventSubscribe, qrSceneKeyPrefix+key
		if err := wechat.PutFollower(tx, oa.AppID, wechat.Follower{OpenID: openid, User: who.User, FollowedAt: now, QRScene: code.Scene()}); err != nil {
			return nil, err
		}
	} else {
		res.Event = EventScan
	}
	return wechat.EventMessage(oa, openid, res.Event, now,
		push.Field{Name: "EventKey", Value: key}, push.Field{Name: "Ticket", Value: code.Ticket}), nil
}

// shownAccount is the official account a Mini Program's scan-to-follow component shows, or "".
func shownAccount(tx *store.Tx, mp string) (string, error) {
	var it showItem
	if _, err := tx.Get(showItemKey(mp), &it); err != nil {
		return "", err
	}
	return it.AppID, nil
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

// journalScan records a scan of an issued code for the service account: the event it pushes,
// or why there is none.
func (e *Emulator) journalScan(req ScanRequest, res ScanResult, code *QRCode, event push.Message, now time.Time) {
	body := []byte(`{"Action":"` + res.Action + `"}`)
	reason := "scene " + code.Scene() + " scanned: " + res.Action + ", no event for the account"
	if event != nil {
		body, _ = event.Encode(push.JSON)
		reason = "scene " + code.Scene() + " scanned by " + res.OpenID + ": " + res.Event
	}
	reqBody, _ := json.Marshal(req)
	e.deps.Journal.Add(journal.Entry{
		Time: now, Platform: e.deps.WeChat.Name(), Method: "SCAN", Path: "/_sandbox/wechat/scan", AppID: code.AppID,
		Status: 200, Event: "scan", RequestBody: string(reqBody), Response: string(body), Reason: reason,
	})
}

func (e *Emulator) handleScan(c *endpoint.Call) (any, error) {
	var req ScanRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	// The push outlives a client that hangs up: it is part of the sandbox's state.
	return e.scan(context.WithoutCancel(c.Request().Context()), req, c.Now)
}
