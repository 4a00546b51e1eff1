package sandboxtest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

func TestMyIntegration(t *testing.T) {
	srv := sandboxtest.New(t) // fresh in-memory sandbox, frozen clock, seed 1
	app, err := srv.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "official_account"})
	if err != nil {
		t.Fatal(err)
	}
	client := srv.Client() // sends api.weixin.qq.com and mp.weixin.qq.com to srv
	resp, err := client.Get("https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=" +
		app.AppID + "&secret=" + app.Secret)
	if err != nil {
		t.Fatal(err)
	}
	var token struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&token)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}

	srv.Advance(2 * time.Hour) // the token is now expired: 42001
	resp, err = client.Post("https://api.weixin.qq.com/cgi-bin/openapi/quota/get?access_token="+token.AccessToken,
		"application/json", strings.NewReader(`{"cgi_path":"/cgi-bin/token"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Errcode int `json:"errcode"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatal(err)
	}
	if answer.Errcode != 42001 {
		t.Errorf("errcode two hours after the token was issued = %d, want 42001", answer.Errcode)
	}
}
