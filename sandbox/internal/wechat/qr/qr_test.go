package qr_test

import (
	"reflect"
	"slices"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// app creates an app; tier defaults to unlimited so that the 5-a-second limit of the QR-jump
// APIs does not get in the way of tests about something else.
func app(k *testkit.Kit, s sandbox.WeChatAppSpec) *sandbox.WeChatApp {
	k.T().Helper()
	if s.Tier == "" {
		s.Tier = "unlimited"
	}
	return k.App(s)
}

// serviceAccount creates a verified service account of the unlimited tier.
func serviceAccount(k *testkit.Kit) *sandbox.WeChatApp {
	k.T().Helper()
	return app(k, sandbox.WeChatAppSpec{Type: "official_account", ServiceType: "service"})
}

// miniProgram creates a released Mini Program of the unlimited tier.
func miniProgram(k *testkit.Kit) *sandbox.WeChatApp {
	k.T().Helper()
	released := true
	return app(k, sandbox.WeChatAppSpec{Type: "mini_program", Released: &released})
}

// sameKeys reports whether m has exactly the keys want.
func sameKeys(m testkit.Object, want ...string) bool {
	slices.Sort(want)
	return reflect.DeepEqual(m.Keys(), want)
}
