package sandbox_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// proxyBench serves a sandbox as citysandbox serve does and returns its listeners and an
// unlimited-tier account's token, so that quotas never refuse a benchmark's reads.
func proxyBench(b *testing.B) (*testkit.Listeners, string) {
	sb, err := sandbox.New(sandbox.WithSeed(1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sb.Close() })
	app, err := sb.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "official_account", Tier: "unlimited"})
	if err != nil {
		b.Fatal(err)
	}
	ln := testkit.ServeListeners(b, sb)
	resp, err := http.Get("http://" + ln.Plain + "/cgi-bin/token?grant_type=client_credential&appid=" + app.AppID + "&secret=" + app.Secret)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, rest, _ := strings.Cut(string(body), `"access_token":"`)
	tok, _, _ := strings.Cut(rest, `"`)
	return ln, tok
}

// readQuota runs the authenticated read (openapi/quota/get) in parallel on client at base.
func readQuota(b *testing.B, client *http.Client, base, tok string) {
	target := base + "/cgi-bin/openapi/quota/get?access_token=" + tok
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(target, "application/json", strings.NewReader(`{"cgi_path":"/cgi-bin/token"}`))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkQuotaReadPlain is the authenticated read over the plain listener, kept-alive
// connections: the baseline the proxied path is compared with.
func BenchmarkQuotaReadPlain(b *testing.B) {
	ln, tok := proxyBench(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections) // before the listeners stop: a spare never used would hold up their shutdown
	readQuota(b, client, "http://"+ln.Plain, tok)
}

// BenchmarkQuotaReadProxiedTLS is the same read on https://api.weixin.qq.com through the forward
// proxy: a CONNECT tunnel terminated in process, kept alive as a client's would be.
func BenchmarkQuotaReadProxiedTLS(b *testing.B) {
	ln, tok := proxyBench(b)
	client := ln.ProxyClient(nil)
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.Cleanup(client.CloseIdleConnections)
	readQuota(b, client, "https://api.weixin.qq.com", tok)
}

// BenchmarkTunnelHandshake is what a client pays for a new connection through the proxy: the
// CONNECT, the TLS handshake with the cached leaf certificate, and one health request.
func BenchmarkTunnelHandshake(b *testing.B) {
	ln, _ := proxyBench(b)
	client := ln.ProxyClient(nil)
	client.Transport.(*http.Transport).DisableKeepAlives = true
	for b.Loop() {
		resp, err := client.Get("https://api.weixin.qq.com/_sandbox/health")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkPlainConnection is the same as BenchmarkTunnelHandshake without the proxy and TLS:
// a new plain connection and one health request.
func BenchmarkPlainConnection(b *testing.B) {
	ln, _ := proxyBench(b)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{}}}
	for b.Loop() {
		resp, err := client.Get("http://" + ln.Plain + "/_sandbox/health")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
