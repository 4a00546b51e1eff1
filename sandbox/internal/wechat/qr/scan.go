package qr

// The scan simulator: a simulated user scanning a code or a link. It answers what WeChat would
// do with what the camera read:
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

// Scan answers what WeChat does when a user scans link now, and journals a scan of an issued
// code. It is the Go twin of POST /_sandbox/wechat/scan.
func (e *Emulator) Scan(req ScanRequest) (ScanResult, error) {
	return e.scan(req, e.deps.Clock.Now())
}

// scan is Scan at the time now (the request's, for the control verb).
func (e *Emulator) scan(req ScanRequest, now time.Time) (ScanResult, error) {
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

func (e *Emulator) handleScan(c *endpoint.Call) (any, error) {
	var req ScanRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return e.scan(req, c.Now)
}
