package sandboxtest_test

import (
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// TestClientRefusesOtherHosts checks that a request that would leak to a real host fails, with an
// error naming the host, while the sandbox and the mapped WeChat hosts are reached.
func TestClientRefusesOtherHosts(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	c := srv.Client()
	for _, host := range []string{"open.weixin.qq.com", "api.weixin.qq.com.evil.example", "www.jcgov.gov.cn", "127.0.0.2"} {
		resp, err := c.Get("https://" + host + "/cgi-bin/token")
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET https://%s/ reached something (status %d), want a refusal", host, resp.StatusCode)
			continue
		}
		if !strings.Contains(err.Error(), "refusing a request to "+host) {
			t.Errorf("GET https://%s/ error = %q, want it to name the host", host, err)
		}
	}
	before, err := srv.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{
		srv.URL + "/_sandbox/health", "https://api.weixin.qq.com/_sandbox/health", "http://mp.weixin.qq.com/_sandbox/health",
		"https://api2.weixin.qq.com/_sandbox/health", "https://sh.api.weixin.qq.com/_sandbox/health",
		"https://sz.api.weixin.qq.com/_sandbox/health", "https://hk.api.weixin.qq.com/_sandbox/health",
	} {
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
	if after, _ := srv.StateHash(); after != before {
		t.Errorf("refused requests changed the state")
	}
}
