package sandbox_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// cleanupTB collects a test's cleanups so a benchmark can run them after each iteration.
type cleanupTB struct {
	testing.TB
	cleanups []func()
}

func (c *cleanupTB) Cleanup(fn func()) { c.cleanups = append(c.cleanups, fn) }

func (c *cleanupTB) runCleanups() {
	for i := len(c.cleanups) - 1; i >= 0; i-- {
		c.cleanups[i]()
	}
	c.cleanups = c.cleanups[:0]
}

// BenchmarkNewSandbox measures sandboxtest.New plus its cleanup: what every test pays.
func BenchmarkNewSandbox(b *testing.B) {
	tb := &cleanupTB{TB: b}
	for b.Loop() {
		sandboxtest.New(tb)
		tb.runCleanups()
	}
}

// benchSandbox builds an in-process sandbox (seed 1, and opts) with an unlimited-tier account and
// a token.
func benchSandbox(b *testing.B, opts ...sandbox.Option) (http.Handler, string) {
	sb, err := sandbox.New(append([]sandbox.Option{sandbox.WithSeed(1)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sb.Close() })
	app, err := sb.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "official_account", Tier: "unlimited"})
	if err != nil {
		b.Fatal(err)
	}
	h := sb.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/cgi-bin/token?grant_type=client_credential&appid="+app.AppID+"&secret="+app.Secret, nil))
	_, rest, _ := strings.Cut(rec.Body.String(), `"access_token":"`)
	tok, _, _ := strings.Cut(rest, `"`)
	return h, tok
}

func serveOnce(b *testing.B, h http.Handler, method, target, body string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, strings.NewReader(body)))
	if rec.Code != 200 || strings.Contains(rec.Body.String(), `"errcode":4`) {
		b.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body.String())
	}
}

// BenchmarkAuthenticatedRead is the whole pipeline (validation, token, quota accounting,
// journal) for quota/get, next to a bare gin handler answering the same bytes.
func BenchmarkAuthenticatedRead(b *testing.B) {
	h, tok := benchSandbox(b)
	target := "/cgi-bin/openapi/quota/get?access_token=" + tok
	body := `{"cgi_path":"/cgi-bin/token"}`
	b.Run("sandbox", func(b *testing.B) {
		for b.Loop() {
			serveOnce(b, h, "POST", target, body)
		}
	})
	b.Run("bare-gin", func(b *testing.B) {
		g := gin.New()
		answer := []byte(`{"errcode":0,"errmsg":"ok","quota":{"daily_limit":2000,"used":1,"remain":1999},"rate_limit":{"call_count":0,"refresh_second":0},"component_rate_limit":{"call_count":0,"refresh_second":0}}`)
		g.POST("/cgi-bin/openapi/quota/get", func(c *gin.Context) {
			_, _ = io.Copy(io.Discard, c.Request.Body)
			c.Data(200, "application/json; encoding=utf-8", answer)
		})
		for b.Loop() {
			serveOnce(b, g, "POST", target, body)
		}
	})
}

// BenchmarkTokenIssuance is GET /cgi-bin/token for an unlimited-tier account.
func BenchmarkTokenIssuance(b *testing.B) {
	sb, err := sandbox.New(sandbox.WithSeed(1))
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	app, _ := sb.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "unlimited"})
	h := sb.Handler()
	target := "/cgi-bin/token?grant_type=client_credential&appid=" + app.AppID + "&secret=" + app.Secret
	for b.Loop() {
		serveOnce(b, h, "GET", target, "")
	}
}

// BenchmarkAuthenticatedWrite is qrcode/create on a data file: validation, token, quota
// accounting, the stored code and the journal. "temporary" stores a new temporary code per call
// (bench's write case); "permanent" a new permanent code per call; "again" asks for one of 1,000
// permanent codes created before, which WeChat answers with the code it has (bench's rewrite
// case).
func BenchmarkAuthenticatedWrite(b *testing.B) {
	temporary := func(i int) string {
		return `{"expire_seconds":600,"action_name":"QR_STR_SCENE","action_info":{"scene":{"scene_str":"bench-` + strconv.Itoa(i) + `"}}}`
	}
	permanent := func(i int) string {
		return `{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"bench-` + strconv.Itoa(i) + `"}}}`
	}
	b.Run("temporary", func(b *testing.B) { benchmarkQRCreate(b, temporary, 0, 0) })
	b.Run("permanent", func(b *testing.B) { benchmarkQRCreate(b, permanent, 0, 90000) })
	b.Run("again", func(b *testing.B) { benchmarkQRCreate(b, permanent, 1000, 1000) })
}

// benchmarkQRCreate times creates whose bodies are body(1), body(2), … (modulo cycle, when it is
// not 0), after creating body(0) to body(before-1).
func benchmarkQRCreate(b *testing.B, body func(int) string, before, cycle int) {
	h, tok := benchSandbox(b, sandbox.WithStorePath(b.TempDir()+"/bench.db"))
	target := "/cgi-bin/qrcode/create?access_token=" + tok
	for i := range before {
		serveOnce(b, h, "POST", target, body(i))
	}
	i := 0
	for b.Loop() {
		i++
		if cycle > 0 {
			serveOnce(b, h, "POST", target, body(i%cycle))
		} else {
			serveOnce(b, h, "POST", target, body(i))
		}
	}
}
