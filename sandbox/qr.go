package sandbox

import "github.com/citysandbox/citysandbox/sandbox/internal/wechat/qr"

// WeChatScan is what a simulated user scans: the link the camera read, the user's role towards
// the Mini Program a rule opens (user, developer, tester, admin; empty means user) and,
// optionally, the user's openid.
type WeChatScan = qr.ScanRequest

// WeChatScanResult is what WeChat does with a scanned link: open_mini_program,
// follow_official_account, invalid_code or open_web_page, with their details.
type WeChatScanResult = qr.ScanResult

// Link links an official account and a Mini Program (in either order), as
// POST /_sandbox/wechat/apps/{appid}/links does. Linking twice is harmless.
func (w *WeChat) Link(a, b string) error { return w.s.qr.LinkAppsNow(a, b) }

// Scan answers what WeChat does when a user scans a link, and journals the scan of a code the
// sandbox issued, as POST /_sandbox/wechat/scan does.
func (w *WeChat) Scan(s WeChatScan) (WeChatScanResult, error) { return w.s.qr.ScanNow(s) }
