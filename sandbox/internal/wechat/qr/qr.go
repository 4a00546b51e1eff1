// Package qr emulates WeChat's QR families on WeChat's own paths: parametric QR codes of
// official accounts (qrcode.go), QR-jump rules that open a Mini Program from a scanned link
// (qrjump.go), the scan-to-follow component of Mini Programs (showitem.go), and two control-plane
// parts WeChat has no API for: account links (links.go) and the scan simulator (scan.go).
//
// The parts belong together because a scan crosses all of them: a code from qrcode/create is
// the prefix of a QR-jump rule, the rule needs the accounts linked, and scan-to-follow shows a
// linked account. The package depends on the WeChat core (package wechat) for accounts, the
// admission of calls and the envelope, through Deps and the core's lookups.
//
// What each part emulates faithfully and what it invents is said at the top of its file. In
// short: the APIs' parameters, ranges, limits, errcodes and bare answers follow the reference
// (wechat-api.md §2–4), with quotas scaled by the account's tier; invented are the formats of
// tickets, url tokens and verification files, the errcodes the sources leave open (which
// prefix belongs to which account, the ordinary-link cap, the ICP check), the scan
// simulator's own action names for what WeChat shows on a phone, and the choice that a scan
// which opens a Mini Program gives the account no event. A scan of a service account's code
// pushes subscribe or SCAN to the account's server (scan.go, through the core's followers).
//
// What is kept, and for how long (sandbox time; the store forgets the rest, see package store):
// a temporary code 5 minutes (ExpiredCodeMemory) after it expires — showqrcode answers it 404
// from its expiry, as WeChat does; until it is forgotten the scan simulator says "expired"
// rather than "unknown" — and a month's QR-jump publish count once the month is over; permanent
// codes, QR-jump rules, links and scan-to-follow settings for good.
package qr

import (
	"net/http"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/hostmap"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// Deps are what the QR families need.
type Deps struct {
	Store *store.Store
	Clock clock.Clock
	Rand  *seeded.Source
	// Journal records each scan of a code the sandbox issued as event "scan".
	Journal *journal.Journal
	// WeChat knows the accounts, admits calls against their quotas and renders errcodes.
	WeChat *wechat.Platform
	// Hosts are the hosts mapped to local addresses, the only ones QR-jump verification files
	// are fetched from. Nil: none.
	Hosts *hostmap.Map
}

// Emulator is the QR families: their API handlers and control verbs.
type Emulator struct {
	deps Deps
	// files fetches verification files from mapped hosts only.
	files *http.Client
}

// New returns the emulation.
func New(d Deps) *Emulator {
	if d.Hosts == nil {
		d.Hosts = hostmap.New()
	}
	store.ForgetRecords[QRCode](d.Store, "wechat:qrcode:code:")
	d.Store.Forget("wechat:qrjump:pub:", publishCountForgetAt)
	return &Emulator{deps: d, files: d.Hosts.Client(hostmap.MappedOnly, 5*time.Second)}
}

// Routes registers the QR families: parametric codes, QR-jump rules, the scan simulator and
// account links, and the scan-to-follow component.
func (e *Emulator) Routes(r endpoint.Routes) {
	e.registerQRCodeRoutes(r)
	e.registerQRJumpRoutes(r)
	e.registerLinkRoutes(r)
	e.registerScanRoutes(r)
	e.registerCodeListRoutes(r)
	e.registerShowItemRoutes(r)
}
