package sandboxtest_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// The body of a test: in yours, t is the test's *testing.T. (An Example has none, so runAsTest
// stands in for the test.)
func ExampleNew() {
	runAsTest(func(t testing.TB) {
		srv := sandboxtest.New(t) // closed when the test ends
		fmt.Println("the clock stands at", srv.Now().In(time.FixedZone("CST", 8*60*60)))

		app, err := srv.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "test"})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("created", app.Type, app.AppID, "on the", app.Tier, "tier")

		// The client sends WeChat's hosts to the sandbox, so production URLs work unchanged (here
		// with a wrong secret, to show an error's envelope)...
		client := srv.Client()
		resp, err := client.Get("https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential" +
			"&appid=" + app.AppID + "&secret=wrong")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))

		// ...and refuses every other host, so a test cannot reach production.
		_, err = client.Get("https://open.weixin.qq.com/connect/qrconnect")
		fmt.Println(err)
	})
	// Output:
	// the clock stands at 2026-03-02 10:00:00 +0800 CST
	// created mini_program wx354c125e0420a50b on the test tier
	// {"errcode":40125,"errmsg":"invalid appsecret, rid: 69a4ef20-e530613b-8efb2782"}
	// Get "https://open.weixin.qq.com/connect/qrconnect": sandboxtest: refusing a request to open.weixin.qq.com: only the sandbox and [api.weixin.qq.com mp.weixin.qq.com api2.weixin.qq.com sh.api.weixin.qq.com sz.api.weixin.qq.com hk.api.weixin.qq.com] are reachable from a sandboxtest client
}
