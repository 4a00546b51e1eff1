package scenario_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/scenario"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// target starts a fresh sandbox for one test.
func target(t *testing.T) scenario.Target {
	t.Helper()
	srv := sandboxtest.New(t)
	return scenario.Target{
		URL: srv.URL, Client: srv.Client(),
		StateHash: func(context.Context) (string, error) { return srv.StateHash() },
	}
}

func run(t *testing.T, tg scenario.Target, src string) (*scenario.Result, error) {
	t.Helper()
	sc, err := scenario.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	r := &scenario.Runner{Target: tg}
	return r.Run(context.Background(), sc)
}

const tokenQuery = `query: {grant_type: client_credential, appid: wx5a1d0c0e00000001, secret: 5a1d0c0e5a1d0c0e5a1d0c0e00000001}`

func TestParseRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"unknown top-level key", "name: x\nstepz: []\nsteps:\n  - advance: 1h\n", `test.yaml:2: unknown key "stepz"`},
		{"typo in a step", "steps:\n  - advance: 1h\n  - request: {method: GET, path: /x}\n    expct: {status: 200}\n", `test.yaml:4: unknown key "expct"`},
		{"typo in expect", "steps:\n  - request: {method: GET, path: /x}\n    expect:\n      statu: 200\n", `test.yaml:4: unknown key "statu"`},
		{"typo in a request", "steps:\n  - request: {method: GET, path: /x, qurey: {a: b}}\n", `test.yaml:2: unknown key "qurey"`},
		{"unclosed expression", "steps:\n  - request:\n      method: GET\n      path: /x\n      query: {a: \"${tok\"}\n", `test.yaml:5: bad expression "${tok": no closing }`},
		{"bad expression", "vars: {a: b}\nsteps:\n  - request:\n      method: GET\n      path: \"/x/${a b}\"\n", `test.yaml:5: bad expression "${a b}"`},
		{"variable used before capture", "steps:\n  - request: {method: GET, path: /x}\n  - request:\n      method: GET\n      path: /y\n      query: {t: \"${token}\"}\n    capture: {token: access_token}\n", "test.yaml:6: variable ${token} is used before any step captures it"},
		{"two kinds in a step", "steps:\n  - advance: 1h\n    set: 2026-03-02T10:00:00+08:00\n", "test.yaml:2: a step needs exactly one of request, advance and set"},
		{"no kind", "steps:\n  - name: nothing\n", "test.yaml:2: a step needs exactly one of"},
		{"unknown matcher", "steps:\n  - request: {method: GET, path: /x}\n    expect:\n      json:\n        a: {$regx: x}\n", `test.yaml:5: unknown matcher "$regx"`},
		{"bad regex", "steps:\n  - request: {method: GET, path: /x}\n    expect:\n      json:\n        a: {$regex: \"(\"}\n", "test.yaml:5: $regex:"},
		{"bad method", "steps:\n  - request: {method: FETCH, path: /x}\n", `test.yaml:2: method "FETCH"`},
		{"relative path", "steps:\n  - request: {method: GET, path: x}\n", `test.yaml:2: path "x" must start with /`},
		{"bad duration", "steps:\n  - advance: two hours\n", `test.yaml:2: advance "two hours"`},
		{"bad clock", "clock: tomorrow\nsteps:\n  - advance: 1h\n", `test.yaml:1: clock "tomorrow"`},
		{"no steps", "name: x\nsteps: []\n", "a scenario needs at least one step"},
		{"bad capture key", "steps:\n  - request: {method: GET, path: /x}\n    capture: {t: {pth: a}}\n", `unknown key "pth" in a capture`},
		{"repeat without a request", "steps:\n  - advance: 1h\n    repeat: 3\n", "test.yaml:3: repeat applies to a request step"},
		{"json and body", "steps:\n  - request: {method: POST, path: /x, json: {a: 1}, body: x}\n", "give json or body, not both"},
		{"bad signing scheme", "steps:\n  - request: {method: POST, path: /x, sign: {scheme: aws, app_code: a, app_secret: b}}\n", "test.yaml:2: sign needs scheme: jincheng"},
		{"bad digest", "steps:\n  - request: {method: GET, path: /x}\n    expect: {digest: md5:abc}\n", `digest "md5:abc"`},
		{"receiver declared twice", "receivers: [{name: oa, token: abcd}, {name: oa, token: abcd}]\nsteps:\n  - advance: 1h\n", `receiver "oa" is declared twice`},
		{"safe receiver without a key", "receivers:\n  - {name: oa, token: abcd, mode: safe}\nsteps:\n  - advance: 1h\n", "test.yaml:2: receiver oa: mode safe needs an encoding_aes_key"},
		{"push to an undeclared receiver", "receivers: [{name: oa, token: abcd}]\nsteps:\n  - request: {method: GET, path: /x}\n    expect:\n      pushes:\n        - receiver: ob\n", `test.yaml:6: push 1 names receiver "ob"`},
		{"pushes on a repeated step", "receivers: [{name: oa, token: abcd}]\nsteps:\n  - request: {method: GET, path: /x}\n    repeat: 2\n    expect: {pushes: []}\n", "pushes applies to a step that runs once"},
		{"bad matcher in a push", "receivers: [{name: oa, token: abcd}]\nsteps:\n  - request: {method: GET, path: /x}\n    expect: {pushes: [{receiver: oa, json: {Event: {$regx: a}}}]}\n", `unknown matcher "$regx"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scenario.Parse("test.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.src)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseAcceptsEscapedDollar(t *testing.T) {
	t.Parallel()
	sc, err := scenario.Parse("test.yaml", []byte("steps:\n  - request: {method: POST, path: /x, body: \"price $${not_a_var}\"}\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := *sc.Steps[0].Request.Body; got != "price $${not_a_var}" {
		t.Errorf("body = %q", got)
	}
}

func TestFailingExpectationFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, expect, want string
	}{
		{"status", "{status: 404}", "status: want 404, got 200"},
		{"errcode", "{errcode: 40001}", "errcode: want 40001, got no errcode"},
		{"json value", "{json: {expires_in: 7100}}", "json expires_in: want 7100, got 7200"},
		{"missing field", "{json: {errmsg: ok}}", `json errmsg: want "ok", got nothing`},
		{"regex", "{json: {access_token: {$regex: '^00_'}}}", "json access_token: want a match of /^00_/"},
		{"type", "{json: {expires_in: {$type: string}}}", "json expires_in: want a string, got integer 7200"},
		{"exists", "{json: {errcode: {$exists: true}}}", "json errcode: want the field to exist"},
		{"header", "{headers: {Content-Type: text/plain}}", `header Content-Type: want "text/plain", got "application/json; encoding=utf-8"`},
	}
	tg := target(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "steps:\n  - advance: 1m\n  - name: token\n    request:\n      method: GET\n      path: /cgi-bin/token\n      " + tokenQuery + "\n    expect: " + tt.expect + "\n"
			res, err := run(t, tg, src)
			var f *scenario.Failure
			if !errors.As(err, &f) {
				t.Fatalf("Run error = %v, want a *Failure", err)
			}
			if f.Step.Index != 2 || f.Step.Name != "token" || f.Step.Line != 3 {
				t.Errorf("failed step = %d %q line %d, want 2 \"token\" line 3", f.Step.Index, f.Step.Name, f.Step.Line)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || !strings.Contains(msg, "test.yaml:3") || !strings.Contains(msg, `"expires_in": 7200`) {
				t.Errorf("failure message:\n%s\nwant it to name test.yaml:3, contain %q and show the response", msg, tt.want)
			}
			if len(res.Steps) != 2 {
				t.Errorf("steps run = %d, want 2", len(res.Steps))
			}
		})
	}
}

func TestPassingExpectations(t *testing.T) {
	t.Parallel()
	src := `steps:
  - request:
      method: GET
      path: /cgi-bin/token
      ` + tokenQuery + `
    expect:
      status: 200
      errcode: 0
      headers: {Content-Type: {$contains: json}, X-Nothing: {$exists: false}}
      json:
        expires_in: 7200
        access_token: {$regex: '^[0-9]{2}_', $len: 131, $type: string}
        errmsg: {$exists: false}
`
	if _, err := run(t, target(t), src); err != nil {
		t.Fatal(err)
	}
}

func TestCaptureFlows(t *testing.T) {
	t.Parallel()
	src := `steps:
  - request:
      method: POST
      path: /_sandbox/wechat/apps
      json: {type: official_account, tier: test}
    expect: {status: 201}
    capture: {appid: appid, secret: secret}
  - request:
      method: GET
      path: /cgi-bin/token
      query: {grant_type: client_credential, appid: "${appid}", secret: "${secret}"}
    capture:
      token: access_token
      prefix: {path: access_token, regex: '^([0-9]{2})_'}
      ctype: {header: Content-Type}
  - name: the captured token authenticates, and a captured number stays a number in a body
    request:
      method: POST
      path: /cgi-bin/openapi/quota/get
      query: {access_token: "${token}"}
      json: {cgi_path: /cgi-bin/token}
    expect: {errcode: 0, json: {quota.used: 1, quota.daily_limit: 200}}
    capture: {limit: quota.daily_limit}
  - request:
      method: GET
      path: /_sandbox/wechat/apps/${appid}
    expect: {json: {appid: "${appid}", tokens.0.access_token: "${token}", tokens.#: 1}}
`
	res, err := run(t, target(t), src)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Vars["limit"]); got != "200" {
		t.Errorf("limit = %s, want the JSON number 200", got)
	}
	if got := string(res.Vars["ctype"]); got != `"application/json; encoding=utf-8"` {
		t.Errorf("ctype = %s", got)
	}
	token := strings.Trim(string(res.Vars["token"]), `"`)
	if got := strings.Trim(string(res.Vars["prefix"]), `"`); len(got) != 2 || !strings.HasPrefix(token, got+"_") {
		t.Errorf("prefix = %q, want the token's first two digits (token %q)", got, token)
	}
}

func TestCaptureOfMissingFieldFails(t *testing.T) {
	t.Parallel()
	src := "steps:\n  - request:\n      method: GET\n      path: /cgi-bin/token\n      " + tokenQuery + "\n    capture: {t: ticket}\n"
	_, err := run(t, target(t), src)
	if err == nil || !strings.Contains(err.Error(), "capture t: no field ticket") {
		t.Errorf("Run error = %v, want a failed capture", err)
	}
}

func TestRepeat(t *testing.T) {
	t.Parallel()
	src := `steps:
  - request: {method: POST, path: /_sandbox/wechat/apps, json: {type: mini_program, tier: test}}
    capture: {appid: appid, secret: secret}
  - repeat: 200
    request:
      method: GET
      path: /cgi-bin/token
      query: {grant_type: client_credential, appid: "${appid}", secret: "${secret}"}
    expect: {json: {expires_in: 7200}}
  - repeat: 2
    request:
      method: GET
      path: /cgi-bin/token
      query: {grant_type: client_credential, appid: "${appid}", secret: "${secret}"}
    expect: {json: {expires_in: 7200}}
`
	res, err := run(t, target(t), src)
	var f *scenario.Failure
	if !errors.As(err, &f) {
		t.Fatalf("Run error = %v, want the third step to fail on its first repetition", err)
	}
	if f.Step.Index != 3 || !strings.Contains(err.Error(), "(on repetition 1 of 2)") || !strings.Contains(err.Error(), "45009") {
		t.Errorf("failure = %v", err)
	}
	if len(res.Steps) != 3 {
		t.Errorf("steps run = %d, want 3", len(res.Steps))
	}
}

// TestDivergence runs a scenario, then a copy that differs from step 3 on, and checks that both
// Compare and pinned hashes name step 3.
func TestDivergence(t *testing.T) {
	t.Parallel()
	steps := func(third string) string {
		return `seed: 3
steps:
  - request: {method: POST, path: /_sandbox/wechat/apps, json: {type: official_account}}
    capture: {appid: appid, secret: secret}
  - request:
      method: GET
      path: /cgi-bin/token
      query: {grant_type: client_credential, appid: "${appid}", secret: "${secret}"}
  - ` + third + `
  - request: {method: GET, path: "/_sandbox/wechat/apps/${appid}"}
`
	}
	tg := target(t)
	want, err := run(t, tg, steps("advance: 1h"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := run(t, tg, steps("advance: 1h"))
	if err != nil {
		t.Fatal(err)
	}
	if d := scenario.Compare(want, again); d != nil {
		t.Fatalf("two runs of the same scenario differ: %s", d)
	}
	// A request that changes the state but answers like the original would: only the state hash
	// can tell.
	got, err := run(t, tg, steps("request: {method: PATCH, path: \"/_sandbox/wechat/apps/${appid}\", json: {verified: false}}"))
	if err != nil {
		t.Fatal(err)
	}
	d := scenario.Compare(want, got)
	if d == nil || d.Step.Index != 3 || d.Step.Section != "steps" {
		t.Fatalf("Compare = %v, want a divergence at step 3", d)
	}
	if d.What != "response" && d.What != "state" {
		t.Errorf("divergence is in %q", d.What)
	}

	// The same, through hashes pinned in the file: the first run's digests and state hashes.
	pinned := steps("request: {method: GET, path: /_sandbox/clock}")
	sc, err := scenario.Parse("pinned.yaml", []byte(pinned))
	if err != nil {
		t.Fatal(err)
	}
	first, err := (&scenario.Runner{Target: tg}).Run(context.Background(), sc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sc.Steps {
		sc.Steps[i].Expect = &scenario.Expect{Digest: first.Steps[i].Digest, StateHash: first.Steps[i].StateHash}
	}
	if _, err := (&scenario.Runner{Target: tg}).Run(context.Background(), sc); err != nil {
		t.Fatalf("replay with pinned hashes: %v", err)
	}
	sc.Steps[2].Advance, sc.Steps[2].Request = "1s", nil // the clock now reads one second later
	_, err = (&scenario.Runner{Target: tg}).Run(context.Background(), sc)
	var f *scenario.Failure
	if !errors.As(err, &f) || f.Step.Index != 3 || !strings.Contains(err.Error(), "response diverged: digest want") {
		t.Errorf("replay of a changed step 3 = %v, want a response divergence at step 3", err)
	}
}

func TestTargetOverHTTPStateHash(t *testing.T) {
	t.Parallel()
	srv := sandboxtest.New(t)
	tg := scenario.Target{URL: srv.URL} // no in-process hash: GET /_sandbox/state
	res, err := run(t, tg, "steps:\n  - advance: 1h\n")
	if err != nil {
		t.Fatal(err)
	}
	want, err := srv.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Steps[0].StateHash; got != want {
		t.Errorf("state hash over HTTP = %q, want %q", got, want)
	}
}

func TestRunPinsSeedAndClock(t *testing.T) {
	t.Parallel()
	tg := target(t)
	src := "seed: 42\nclock: 2030-01-01T08:00:00+08:00\nsteps:\n  - request: {method: GET, path: /_sandbox/clock}\n    expect: {json: {unix: 1893456000, frozen: true}}\n"
	if _, err := run(t, tg, src); err != nil {
		t.Fatal(err)
	}
	// The same seed gives the same app; another seed another one.
	app := func(seed string) string {
		res, err := run(t, tg, "seed: "+seed+"\nsteps:\n  - request: {method: POST, path: /_sandbox/wechat/apps, json: {type: mini_program}}\n    capture: {appid: appid}\n")
		if err != nil {
			t.Fatal(err)
		}
		return string(res.Vars["appid"])
	}
	if a, b, c := app("5"), app("5"), app("6"); a != b || a == c {
		t.Errorf("appids for seeds 5, 5, 6 = %s %s %s: want the first two equal and the third different", a, b, c)
	}
}

func TestServerErrorFailsUnlessExpected(t *testing.T) {
	t.Parallel()
	src := `steps:
  - request:
      method: POST
      path: /_sandbox/faults
      json: {path: /_sandbox/wechat/apps, error_name: unavailable, status: 503, times: 2}
    expect: {status: 201}
  - name: expected
    request: {method: GET, path: /_sandbox/wechat/apps}
    expect: {status: 503}
  - name: unexpected
    request: {method: GET, path: /_sandbox/wechat/apps}
`
	_, err := run(t, target(t), src)
	var f *scenario.Failure
	if !errors.As(err, &f) || f.Step.Name != "unexpected" || !strings.Contains(err.Error(), "status: got 503, a server error") {
		t.Errorf("Run = %v, want the unexpected 503 to fail", err)
	}
}

// TestPushExpectations: a receiver the runner hosts gets the pushes; a step expecting none fails
// when one comes, one expecting a push fails on a field that differs, and XML fields read as
// JSON (CDATA a string, bare digits a number).
func TestPushExpectations(t *testing.T) {
	t.Parallel()
	const head = `receivers:
  - {name: mp, token: abcd1, encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG, format: xml, mode: compatible, appid: "${appid}"}
setup:
  - request: {method: POST, path: /_sandbox/wechat/apps, json: {type: mini_program}}
    capture: {appid: appid}
  - request:
      method: PUT
      path: /_sandbox/wechat/apps/${appid}/push
      json: {url: "http://mp.receiver.invalid/p", token: abcd1, encoding_aes_key: abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG, format: xml, mode: compatible}
    expect: {status: 200}
steps:
  - request: {method: POST, path: /_sandbox/wechat/reviews, json: {appid: "${appid}", score: 1}}
`
	tg := target(t)
	for _, tc := range []struct {
		name, expect, want string
	}{
		{"as expected", "{pushes: [{receiver: mp, json: {Event: wxa_comment_bad_score, CreateTime: {$type: integer}, result.comment_id: {$type: string}, MsgType: event}}]}", ""},
		{"none expected", "{pushes: []}", "pushes: want 0, got 1"},
		{"a field differs", "{pushes: [{receiver: mp, json: {Event: SCAN}}]}", `push 1 to mp: json Event: want "SCAN", got "wxa_comment_bad_score"`},
		{"two expected", "{pushes: [{receiver: mp}, {receiver: mp}]}", "pushes: want 2, got 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := scenario.Parse("test.yaml", []byte(head+"    expect: "+tc.expect+"\n"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			r := &scenario.Runner{Target: tg, PushWait: 300 * time.Millisecond}
			_, err = r.Run(context.Background(), sc)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Run: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Run error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
