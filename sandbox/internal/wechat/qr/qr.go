// Package qr emulates WeChat's QR families on WeChat's own paths: parametric QR codes of
// official accounts (qrcode.go), QR-jump rules that open a Mini Program from a scanned link
// (qrjump.go), the control-plane scan simulator (scan.go) and account links (links.go), and the
// scan-to-follow component of Mini Programs (showitem.go). Each file's comment says what it
// emulates faithfully and what is invented.
//
// The four belong together because a scan crosses all of them: a code from qrcode/create is
// the prefix of a QR-jump rule, the rule needs the accounts linked, and scan-to-follow shows a
// linked account. The package depends on the WeChat core (package wechat) only through Deps.
package qr

import (
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
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
}

// Emulator is the QR families: their API handlers and control verbs.
type Emulator struct {
	deps Deps
}

// New returns the emulation.
func New(d Deps) *Emulator { return &Emulator{deps: d} }

// Routes registers the QR families: parametric codes, QR-jump rules, the scan simulator and
// account links, and the scan-to-follow component.
func (e *Emulator) Routes(r endpoint.Routes) {
	e.registerQRCodeRoutes(r)
	e.registerQRJumpRoutes(r)
	e.registerLinkRoutes(r)
	e.registerScanRoutes(r)
	e.registerShowItemRoutes(r)
}
