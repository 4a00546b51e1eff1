package sandbox_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
)

// A sandbox is an http.Handler: mount it anywhere, point the SDK's base URL at the server, and
// call the platforms' APIs on their own paths.
func ExampleNew() {
	beijing := time.FixedZone("CST", 8*60*60)
	s, err := sandbox.New(sandbox.WithSeed(1), sandbox.WithFrozenClock(time.Date(2026, 3, 2, 10, 0, 0, 0, beijing)))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	mux := http.NewServeMux()
	mux.Handle("/", s.Handler())
	srv := httptest.NewServer(mux) // or http.ListenAndServe, or s.ListenAndServe
	defer srv.Close()

	// The fixture service account (fixtures/wechat.yaml) asks for an access token...
	resp, err := http.Get(srv.URL + "/cgi-bin/token?grant_type=client_credential" +
		"&appid=wx5a1d0c0e00000001&secret=5a1d0c0e5a1d0c0e5a1d0c0e00000001")
	if err != nil {
		log.Fatal(err)
	}
	var token struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err = json.NewDecoder(resp.Body).Decode(&token)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("expires in", token.ExpiresIn)

	// ...and reads, with it, how much of its daily quota of /cgi-bin/token is used.
	resp, err = http.Post(srv.URL+"/cgi-bin/openapi/quota/get?access_token="+token.AccessToken,
		"application/json", strings.NewReader(`{"cgi_path":"/cgi-bin/token"}`))
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(body))
	// Output:
	// expires in 7200
	// {"errcode":0,"errmsg":"ok","quota":{"daily_limit":2000,"used":1,"remain":1999},"rate_limit":{"call_count":0,"refresh_second":0},"component_rate_limit":{"call_count":0,"refresh_second":0}}
}
