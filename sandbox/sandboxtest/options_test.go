package sandboxtest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// TestWithHostsReplacesTheMappedHosts checks that WithHosts's list is the one the client maps:
// its hosts reach the sandbox, and a default host left out of it is refused like any other.
func TestWithHostsReplacesTheMappedHosts(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t, sandboxtest.WithHosts("api.weixin.qq.com", "gov.example"))
	c := srv.Client()
	for _, u := range []string{"https://gov.example/_sandbox/health", "https://api.weixin.qq.com/_sandbox/health"} {
		resp, err := c.Get(u)
		if err != nil {
			t.Errorf("GET %s: %v", u, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d, want 200", u, resp.StatusCode)
		}
	}
	resp, err := c.Get("https://mp.weixin.qq.com/_sandbox/health")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET mp.weixin.qq.com reached something (status %d), want a refusal: it is not in the list", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), "refusing a request to mp.weixin.qq.com") || !strings.Contains(err.Error(), "gov.example") {
		t.Errorf("error = %q, want it to name the host and the mapped list", err)
	}
}

// TestStartOptions checks where the clock starts: DefaultStart, WithStart, and a sandbox option
// passed through WithSandboxOptions, which wins over WithStart.
func TestStartOptions(t *testing.T) {
	t.Parallel()
	at := time.Date(2027, 1, 15, 0, 30, 0, 0, time.UTC)
	later := at.Add(48 * time.Hour)
	for name, tc := range map[string]struct {
		opts []sandboxtest.Option
		want time.Time
	}{
		"default":      {nil, sandboxtest.DefaultStart()},
		"WithStart":    {[]sandboxtest.Option{sandboxtest.WithStart(at)}, at},
		"sandbox wins": {[]sandboxtest.Option{sandboxtest.WithStart(at), sandboxtest.WithSandboxOptions(sandbox.WithFrozenClock(later))}, later},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := sandboxtest.New(t, tc.opts...).Now(); !got.Equal(tc.want) {
				t.Errorf("clock starts at %s, want %s", got, tc.want)
			}
		})
	}
}
