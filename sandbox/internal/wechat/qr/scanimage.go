package qr

// The console's QR codes: the parametric codes the sandbox issued, listed with the URL of their
// image, and a scan from an uploaded image, which reads the code as a phone's camera would and
// then scans what it read, exactly as POST /_sandbox/wechat/scan does with a pasted URL.

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/qrimage"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerCodeListRoutes lists the control verbs of the issued codes and the scan by image.
func (e *Emulator) registerCodeListRoutes(r endpoint.Routes) {
	r.Handle("listWeChatQRCodes", e.handleListQRCodes) // GET /_sandbox/wechat/qrcodes
	r.Handle("scanQRCodeImage", e.handleScanImage)     // POST /_sandbox/wechat/scan/image
}

// issuedCode is a code as GET /_sandbox/wechat/qrcodes lists it.
type issuedCode struct {
	AppID      string     `json:"appid"`
	ActionName string     `json:"action_name"`
	Permanent  bool       `json:"permanent"`
	Scene      string     `json:"scene"`
	Ticket     string     `json:"ticket"`
	URL        string     `json:"url"`
	Image      string     `json:"image"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Live       bool       `json:"live"`
}

// handleListQRCodes answers GET /_sandbox/wechat/qrcodes: the issued codes (of one account, or
// of all), newest first, at most limit of them (default 100); expired temporary codes are listed
// until the sandbox forgets them.
func (e *Emulator) handleListQRCodes(c *endpoint.Call) (any, error) {
	appid := c.Query("appid")
	limit := 100
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_filter", Reason: "limit must be a positive integer"}
		}
		limit = n
	}
	var codes []QRCode
	err := e.deps.Store.View(func(tx *store.Tx) error {
		return store.Each(tx, "wechat:qrcode:code:", func(_ string, q *QRCode) error {
			if appid == "" || q.AppID == appid {
				codes = append(codes, *q)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// Newest first; the url (unique) orders codes of the same instant.
	slices.SortFunc(codes, func(a, b QRCode) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		if a.URL < b.URL {
			return -1
		}
		return 1
	})
	total := len(codes)
	out := []issuedCode{}
	for _, q := range codes[:min(limit, total)] {
		out = append(out, issuedCode{
			AppID: q.AppID, ActionName: q.ActionName, Permanent: q.Permanent(), Scene: q.Scene(),
			Ticket: q.Ticket, URL: q.URL, Image: "/cgi-bin/showqrcode?ticket=" + url.QueryEscape(q.Ticket),
			CreatedAt: q.CreatedAt, ExpiresAt: q.ExpiresAt, Live: q.live(c.Now),
		})
	}
	return map[string]any{"qrcodes": out, "total": total}, nil
}

// handleScanImage answers POST /_sandbox/wechat/scan/image: the body is a PNG, JPEG or GIF image
// of a code; the user, as and openid query parameters are those of POST /_sandbox/wechat/scan.
// The answer is the scan's, with the url that was read.
func (e *Emulator) handleScanImage(c *endpoint.Call) (any, error) {
	if len(c.Body) == 0 {
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_image", Reason: "the body must be the image (PNG, JPEG or GIF) of a QR code; it is empty"}
	}
	content, err := qrimage.Decode(c.Body)
	switch {
	case errors.Is(err, qrimage.ErrNotAnImage):
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "invalid_image", Reason: "the body is not a PNG, JPEG or GIF image"}
	case err != nil:
		return nil, &apierr.Error{Kind: apierr.Invalid, Name: "no_qr_code", Reason: "no QR code could be read in the image"}
	}
	req := ScanRequest{URL: content, As: c.Query("as"), User: c.Query("user"), OpenID: c.Query("openid")}
	// The push outlives a client that hangs up: it is part of the sandbox's state.
	res, err := e.scan(context.WithoutCancel(c.Request().Context()), req, c.Now)
	if err != nil {
		return nil, err
	}
	return imageScanResult{ScanResult: res, Read: content}, nil
}

// imageScanResult is a scan's answer with what was read in the image.
type imageScanResult struct {
	ScanResult
	Read string `json:"read"`
}
