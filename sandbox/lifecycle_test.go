package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// TestSnapshotsRoundTripAtAnySize restores a snapshot of over 5 MiB, far above the 1 MiB the
// platform APIs take: whatever GET /_sandbox/state returns, PUT takes back.
func TestSnapshotsRoundTripAtAnySize(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	snap := k.Control(http.MethodGet, "/_sandbox/state", nil)
	entries, _ := snap.JSON["entries"].([]any)
	// Grow the state past 5 MiB with records of a size a busy sandbox holds.
	pad := strings.Repeat("x", 4<<10)
	for i := range 1400 {
		entries = append(entries, map[string]any{"key": fmt.Sprintf("wechat:bulk:%05d", i), "value": map[string]any{"pad": pad}})
	}
	if put := k.Control(http.MethodPut, "/_sandbox/state", map[string]any{"entries": entries}); put.Status != http.StatusOK {
		t.Fatalf("PUT a grown state: %s", put)
	}
	big := k.Control(http.MethodGet, "/_sandbox/state", nil)
	if len(big.Raw) < 5<<20 {
		t.Fatalf("the snapshot is %d bytes, want at least 5 MiB", len(big.Raw))
	}
	hash := big.Str("hash")
	if err := k.Srv.Reset(); err != nil {
		t.Fatal(err)
	}
	if k.StateHash() == hash {
		t.Fatal("the reset did not change the state")
	}
	put := k.Do(http.MethodPut, "/_sandbox/state", json.RawMessage(big.Raw))
	if put.Status != http.StatusOK || put.Str("hash") != hash || k.StateHash() != hash {
		t.Errorf("PUT of the %d-byte snapshot GET returned: %d, hash %q, want %q", len(big.Raw), put.Status, put.Str("hash"), hash)
	}
	// Other control routes and the platform APIs keep their 1 MiB limit.
	over := `{"type":"mini_program","name":"` + strings.Repeat("x", 1<<20) + `"}`
	if a := k.Control(http.MethodPost, "/_sandbox/wechat/apps", over); a.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a control verb with a body over 1 MiB: %d, want 413", a.Status)
	}
	k.WantErrcode(k.Do(http.MethodPost, "/cgi-bin/stable_token", `{"grant_type":"`+strings.Repeat("x", 1<<20)+`"}`), 45002)
}

// TestRestartLeavesTheStateAsItWas reopens a store file: the state hash is the one it had, though
// the sandbox's own bookkeeping in the file (its random stream, its clock) moved on.
func TestRestartLeavesTheStateAsItWas(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sandbox.New(sandbox.WithStorePath(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "mini_program"}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.StateHash()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sandbox.New(sandbox.WithStorePath(path))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if after, _ := s.StateHash(); after != before {
		t.Errorf("state hash after a restart = %s, want %s", after, before)
	}
}

// TestSecondOpenOfAStoreFileIsRefused opens one file twice: the second sandbox refuses at once,
// naming the file, and the first keeps working.
func TestSecondOpenOfAStoreFileIsRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sandbox.New(sandbox.WithStorePath(path))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	second, err := sandbox.New(sandbox.WithStorePath(path))
	if err == nil {
		second.Close()
		t.Fatal("a second sandbox opened a store file in use")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("refusal %q does not say the file is in use", err)
	}
	if _, err := s.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "mini_program"}); err != nil {
		t.Errorf("the first sandbox after the refusal: %v", err)
	}
	// Once the first closes, the file is free.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := sandbox.New(sandbox.WithStorePath(path))
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
