package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// BrowserPath finds Debian's chromium for the tests that drive a real browser. Without it the
// test skips, unless CITYSANDBOX_REQUIRE_BROWSER is set (CI), when a missing browser fails it.
func BrowserPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CITYSANDBOX_REQUIRE_BROWSER") != "" {
		t.Fatal("chromium is not installed and CITYSANDBOX_REQUIRE_BROWSER is set")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium); skipping the browser test")
	return ""
}
