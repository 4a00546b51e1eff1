package sandbox

import (
	"context"

	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/qr"
)

// WeChatScan is what a simulated user scans, as the body of POST /_sandbox/wechat/scan.
type WeChatScan struct {
	// URL is the link the camera read: an absolute http, https or ftp link; required.
	URL string `json:"url"`
	// As is the user's role towards the Mini Program a rule opens: "user", "developer", "tester"
	// or "admin". Default "user". An unpublished rule opens its debug_url links only for the
	// roles its open_version allows.
	As string `json:"as,omitempty"`
	// OpenID is the scanning user's openid for the service account, and User names a simulated
	// user whose openid the account keeps (give one or neither). Default: a user the account has
	// never met, with a seeded openid.
	OpenID string `json:"openid,omitempty"`
	User   string `json:"user,omitempty"`
}

func (s WeChatScan) internal() qr.ScanRequest {
	return qr.ScanRequest{URL: s.URL, As: s.As, OpenID: s.OpenID, User: s.User}
}

// WeChatScanResult is what WeChat does with a scanned link. Action says which, and which of the
// other fields are set:
//
//   - "open_mini_program": AppID, Path, Query, Version, Q, ScancodeTime, Prefix, and
//     FollowComponent when the Mini Program's scan-to-follow component shows an account (no
//     account receives an event);
//   - "follow_official_account": AppID (the account's), Scene, Ticket, OpenID and Event (what the
//     account's server receives: "subscribe" when the user followed, "SCAN" from a follower);
//   - "open_web_page": URL;
//   - "invalid_code": URL and Reason ("expired" or "unknown").
type WeChatScanResult struct {
	Action string `json:"action"`
	// AppID is the Mini Program opened, or the official account followed.
	AppID string `json:"appid,omitempty"`
	// Path is the page opened, without its query.
	Path string `json:"path,omitempty"`
	// Query is the page's query: the rule's path query, plus q (the link, URL-encoded) and
	// scancode_time, as the Mini Program's onLoad receives it.
	Query map[string]string `json:"query,omitempty"`
	// Version is the Mini Program version opened: "release", "trial" or "develop".
	Version string `json:"version,omitempty"`
	// Q is the scanned link, and ScancodeTime the scan's Unix time.
	Q            string `json:"q,omitempty"`
	ScancodeTime int64  `json:"scancode_time,omitempty"`
	// Prefix is the QR-jump rule that matched.
	Prefix string `json:"prefix,omitempty"`
	// FollowComponent is the official account the Mini Program's scan-to-follow component shows.
	FollowComponent string `json:"follow_component,omitempty"`
	// Scene and Ticket are the parametric code's scene and ticket.
	Scene  string `json:"scene,omitempty"`
	Ticket string `json:"ticket,omitempty"`
	// OpenID is the scanning user's openid for the account, and Event what its server receives:
	// "subscribe" (the user followed) or "SCAN" (a follower scanned).
	OpenID string `json:"openid,omitempty"`
	Event  string `json:"event,omitempty"`
	// URL is the web page opened, or the invalid code's link.
	URL string `json:"url,omitempty"`
	// Reason says why a code is invalid.
	Reason string `json:"reason,omitempty"`
}

func weChatScanResultFrom(r qr.ScanResult) WeChatScanResult {
	return WeChatScanResult{
		Action: r.Action, AppID: r.AppID, Path: r.Path, Query: r.Query, Version: r.Version, Q: r.Q,
		ScancodeTime: r.ScancodeTime, Prefix: r.Prefix, FollowComponent: r.FollowComponent, Scene: r.Scene,
		Ticket: r.Ticket, OpenID: r.OpenID, Event: r.Event, URL: r.URL, Reason: r.Reason,
	}
}

// Link links an official account and a Mini Program (in either order), as
// POST /_sandbox/wechat/apps/{appid}/links does. Linking twice is harmless.
func (w *WeChatControl) Link(a, b string) error { return w.s.qr.LinkApps(a, b) }

// Scan answers what WeChat does when a user scans a link, pushes the event the account's server
// receives (subscribe or SCAN for a service account's code), and journals the scan of a code the
// sandbox issued, as POST /_sandbox/wechat/scan does.
func (w *WeChatControl) Scan(ctx context.Context, s WeChatScan) (WeChatScanResult, error) {
	r, err := w.s.qr.Scan(ctx, s.internal())
	return weChatScanResultFrom(r), err
}
