package sandbox_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/citysandbox/citysandbox/sandbox"
)

// A scenario resets the sandbox to its seed and clock, then runs its steps and checks each
// answer; capture keeps a value of an answer for later steps, and advance moves the clock.
func ExampleServer_RunScenario() {
	s, err := sandbox.New()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	const tokenExpiry = `
name: a token expires after two hours
steps:
  - name: a token for the fixture service account
    request:
      method: GET
      path: /cgi-bin/token
      query: {grant_type: client_credential, appid: wx5a1d0c0e00000001, secret: 5a1d0c0e5a1d0c0e5a1d0c0e00000001}
    expect: {status: 200, json: {expires_in: 7200}}
    capture: {token: access_token}
  - name: the token works
    request:
      method: POST
      path: /cgi-bin/openapi/quota/get
      query: {access_token: "${token}"}
      json: {cgi_path: /cgi-bin/token}
    expect: {errcode: 0}
  - advance: 2h
  - name: two hours later it has expired
    request:
      method: POST
      path: /cgi-bin/openapi/quota/get
      query: {access_token: "${token}"}
      json: {cgi_path: /cgi-bin/token}
    expect: {errcode: 42001}
`
	res, err := s.RunScenario(context.Background(), "token-expiry.yaml", []byte(tokenExpiry), os.Stdout)
	if err != nil {
		log.Fatal(err) // a *sandbox.ScenarioFailure names the step, what it expected and what came
	}
	// The same seed, clock and steps give the same answers and state, step for step.
	last := res.Steps[len(res.Steps)-1]
	fmt.Println("state after the last step:", last.StateHash)
	// Output:
	// == a token expires after two hours (token-expiry.yaml)
	// ok   step 1 "a token for the fixture service account" (line 4)  GET /cgi-bin/token?appid=wx5a1d0c0e00000001&grant_type=client_credential&secret=5a1d0c0e5a1d0c0e5a1d0c0e00000001 → 200
	// ok   step 2 "the token works" (line 11)  POST /cgi-bin/openapi/quota/get?access_token=${token} → 200 errcode 0
	// ok   step 3 (line 18)  advance 2h → 200
	// ok   step 4 "two hours later it has expired" (line 19)  POST /cgi-bin/openapi/quota/get?access_token=${token} → 200 errcode 42001
	// PASS a token expires after two hours (4 steps)
	// state after the last step: e5d09bd1c403867ccf04dbd9abc596f5931b699f853f305614d8fc27c942765c
}
