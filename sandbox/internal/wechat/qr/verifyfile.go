package qr

// The verification file of ordinary-link QR-jump rules (reference: wechat-api.md §3.5): an
// ordinary-link rule is accepted only if the file qrcodejumpdownload hands out is served under
// the prefix, in the prefix's last directory (or at the host's root). WeChat fetches it from the
// integrator's domain; the sandbox fetches it the same way — GET over HTTP, no redirects
// followed, 5 s — but only from a host the user mapped to a local address (package hostmap:
// --resolve, /_sandbox/hosts), and it never opens a connection to any other host.
//
// Emulated: a missing file (any status but 200), a body that is not the file's content, or a
// server that does not answer is 85069 "check confirm file fail".
//
// Invented: the body is compared with surrounding white space trimmed (an editor's final
// newline); an https prefix is fetched over plain HTTP from the mapped address (the sandbox
// holds no certificate of the integrator's); the file is checked when a rule is added, not when
// it is modified (the prefix cannot change); a prefix on a host nobody mapped is accepted as
// before, unchecked, and the journal entry says so ("verification file not checked: host not
// mapped") — unless the Mini Program's qrjump_file_required setting makes the check mandatory,
// when it is 85069; ftp prefixes are never checked (and refused with 85069 when the check is
// mandatory). Each fetch is journalled as an event "qrjump_file".

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/hostmap"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// verificationFileCap bounds the body read back: the file is 32 hex digits.
const verificationFileCap = 4 << 10

// notMappedReason is the journal's note for a rule accepted without its file being fetched.
const notMappedReason = "verification file not checked: host not mapped"

// verificationFileURL is where WeChat looks for the file of a prefix: in the prefix's last
// directory, or at the host's root.
func verificationFileURL(prefix, name string) (*url.URL, error) {
	u, err := url.Parse(prefix)
	if err != nil {
		return nil, err
	}
	dir := u.Path
	if !strings.HasSuffix(dir, "/") {
		dir = path.Dir(dir)
	}
	if dir == "" || dir == "." {
		dir = "/"
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: path.Join(dir, name)}, nil
}

// checkVerificationFile fetches the verification file for an ordinary-link prefix of mp from a
// mapped host: nil when it is served, 85069 when it is not. An unmapped host passes unchecked
// (c.Reason says so) unless mp requires the check.
func (e *Emulator) checkVerificationFile(c *endpoint.Call, mp *wechat.App, prefix string) error {
	name, content := verificationFile(mp.AppID)
	fileURL, err := verificationFileURL(prefix, name)
	if err != nil {
		return apierr.Newf(apierr.Invalid, 85066, "prefix %q is not a URL", prefix)
	}
	refuse := func(format string, args ...any) error {
		return apierr.Newf(apierr.Invalid, 85069, "verification file %s: "+format, append([]any{fileURL}, args...)...)
	}
	_, mapped := e.deps.Hosts.Lookup(fileURL.Hostname())
	switch {
	case fileURL.Scheme == "ftp" && mp.QRJumpFileRequired:
		return refuse("ftp prefixes cannot be checked, and %s requires the check", mp.AppID)
	case fileURL.Scheme == "ftp":
		c.Reason = "verification file not checked: ftp"
		return nil
	case !mapped && mp.QRJumpFileRequired:
		return refuse("host %s is not mapped to a local address (--resolve %s=ADDR:PORT), and %s requires the check", fileURL.Hostname(), fileURL.Hostname(), mp.AppID)
	case !mapped:
		c.Reason = notMappedReason
		return nil
	}
	// WeChat's fetch is plain HTTP to the mapped address whatever the prefix's scheme.
	fetch := *fileURL
	fetch.Scheme = "http"
	status, body, ferr := e.fetch(c.Request().Context(), fetch.String())
	reason := ""
	switch {
	case ferr != nil:
		reason = "not fetched: " + ferr.Error()
	case status != http.StatusOK:
		reason = "answered HTTP " + strconv.Itoa(status)
	case strings.TrimSpace(body) != content:
		reason = fmt.Sprintf("served %q, want the file_content of qrcodejumpdownload", truncate(body, 64))
	}
	e.deps.Journal.Add(journal.Entry{
		Time: c.Now, Platform: e.deps.WeChat.Name(), Method: http.MethodGet, Path: fileURL.String(), AppID: mp.AppID,
		Status: status, Event: "qrjump_file", Response: truncate(body, 256), Reason: reason,
	})
	if reason != "" {
		return refuse("%s", reason)
	}
	return nil
}

// fetch GETs u through the mapped-only client.
func (e *Emulator) fetch(ctx context.Context, u string) (int, string, error) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", "Mozilla/4.0")
	resp, err := e.files.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && hostmap.IsUnmapped(ue.Err) {
			return 0, "", ue.Err
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, verificationFileCap))
	return resp.StatusCode, string(b), err
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
