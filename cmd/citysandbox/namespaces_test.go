package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestKilledServerKeepsItsNamespaces kills a server with --data-dir after changing a namespace:
// the next server on the same files serves the namespace with the same state hash, clock and
// faults, and a second server on the same directory is refused.
func TestKilledServerKeepsItsNamespaces(t *testing.T) {
	dir := t.TempDir()
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "root.db"), "--data-dir", filepath.Join(dir, "ns")}
	first := startChild(t, args...)
	first.mustCall("POST", "/_sandbox/namespaces", `{"name":"ci-1","seed":7,"clock":"2026-03-02T10:00:00+08:00","ttl":"2h"}`)
	first.mustCall("POST", "/ns/ci-1/_sandbox/wechat/apps", `{"type":"official_account"}`)
	first.mustCall("POST", "/ns/ci-1/_sandbox/clock", `{"advance":"90m"}`)
	first.mustCall("POST", "/ns/ci-1/_sandbox/faults", `{"path":"/cgi-bin/token","errcode":45009}`)
	state := first.mustCall("GET", "/ns/ci-1/_sandbox/state", "")["hash"]
	clock := clockAt(t, first.mustCall("GET", "/ns/ci-1/_sandbox/clock", ""))

	other := launchChild(t, "serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "other.db"), "--data-dir", filepath.Join(dir, "ns"))
	if err := other.wait(); err == nil || !strings.Contains(other.stderr.String(), "in use") {
		t.Errorf("a second server on the directory: %v\n%s, want a refusal naming it in use", err, other.stderr)
	}
	first.kill()

	second := startChild(t, args...)
	if got := second.mustCall("GET", "/ns/ci-1/_sandbox/state", "")["hash"]; got != state {
		t.Errorf("state hash after kill -9 = %v, want %v", got, state)
	}
	if got := clockAt(t, second.mustCall("GET", "/ns/ci-1/_sandbox/clock", "")); !got.Equal(clock) {
		t.Errorf("clock after kill -9 = %s, want %s", got, clock)
	}
	_, v := second.call("GET", "/ns/ci-1/cgi-bin/token?grant_type=client_credential&appid=wx5a1d0c0e00000001&secret=5a1d0c0e5a1d0c0e5a1d0c0e00000001", "")
	if v["errcode"] != float64(45009) {
		t.Errorf("the namespace's fault after kill -9: %v, want errcode 45009", v)
	}
	list := second.mustCall("GET", "/_sandbox/namespaces", "")
	spaces, _ := list["namespaces"].([]any)
	if len(spaces) != 1 || spaces[0].(map[string]any)["ttl"] != "2h0m0s" {
		t.Errorf("namespaces after kill -9 = %v", list)
	}
	if err := second.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}
