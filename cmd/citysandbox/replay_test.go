package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const passing = `name: tokens
steps:
  - request:
      method: GET
      path: /cgi-bin/token
      query: {grant_type: client_credential, appid: wx5a1d0c0e00000001, secret: "5a1d0c0e5a1d0c0e5a1d0c0e00000001"}
    expect: {status: 200, json: {expires_in: 7200}}
    capture: {token: access_token}
  - request:
      method: GET
      path: /cgi-bin/token
      query: {grant_type: client_credential, appid: wx5a1d0c0e00000001, secret: wrong}
    expect: {errcode: 40125}
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReplayCommand(t *testing.T) {
	ok := writeFile(t, "ok.yaml", passing)
	failing := writeFile(t, "fail.yaml", strings.Replace(passing, "errcode: 40125", "errcode: 40013", 1))
	typo := writeFile(t, "typo.yaml", strings.Replace(passing, "expect: {status: 200", "expct: {status: 200", 1))
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"passing", []string{"replay", ok}, 0, []string{"ok   step 1", "ok   step 2", "PASS: 1 scenario(s)"}},
		{"report", []string{"replay", "--report", ok}, 0, []string{"contract: 2 calls", "getAccessToken  GET /cgi-bin/token", "errcodes received: 40125×1", "documented errcodes never received: "}},
		{"failing", []string{"replay", ok, failing}, 1, []string{"PASS tokens (2 steps)", "FAIL step 2", "fail.yaml:9) failed: GET /cgi-bin/token", "errcode: want 40013, got 40125 (invalid appsecret, rid: "}},
		{"typo", []string{"replay", typo}, 1, []string{`typo.yaml:7: unknown key "expct"`}},
		{"no files", []string{"replay"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errOut)
			if got := exitCode(err); (err == nil && tt.code != 0) || (err != nil && got != tt.code) {
				t.Errorf("exit code %d (%v), want %d\n%s", got, err, tt.code, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestServeRecordReplays records a run of `serve --record`, then replays the file.
func TestServeRecordReplays(t *testing.T) {
	file := filepath.Join(t.TempDir(), "run.yaml")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--record", file}, &out, &errOut) }()
	addr := ""
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+) \(state: :memory:\)`)
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("no banner with an in-memory store: %s %s", out.String(), errOut.String())
	}
	get := func(path string) string {
		resp, err := http.Get(addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	body := get("/cgi-bin/token?grant_type=client_credential&appid=wx5a1d0c0e00000004&secret=5a1d0c0e5a1d0c0e5a1d0c0e00000004")
	tok := regexp.MustCompile(`"access_token":"([^"]+)"`).FindStringSubmatch(body)
	if tok == nil {
		t.Fatalf("token answer %s", body)
	}
	resp, err := http.Post(addr+"/cgi-bin/openapi/quota/get?access_token="+tok[1], "application/json", strings.NewReader(`{"cgi_path":"/cgi-bin/token"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	get("/_sandbox/health")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !strings.Contains(out.String(), "recorded 2 requests to "+file) {
		t.Errorf("serve output lacks the recording line:\n%s", out.String())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "access_token: ${access_token}") {
		t.Errorf("the recording does not reuse the captured token:\n%s", data)
	}
	var replayOut bytes.Buffer
	if err := run(context.Background(), []string{"replay", file}, &replayOut, &replayOut); err != nil {
		t.Errorf("replaying the recording: %v\n%s\n%s", err, replayOut.String(), data)
	}
}

// TestReplayAgainstTarget replays against a served sandbox with an admin token, as CI would
// against a container.
func TestReplayAgainstTarget(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", ":memory:", "--admin-token", "s3cret"}, &out, &errOut)
	}()
	addr := ""
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no banner: %s %s", out.String(), errOut.String())
	}
	file := writeFile(t, "ok.yaml", passing)
	var replayOut bytes.Buffer
	if err := run(context.Background(), []string{"replay", "--target", addr, "--report", file}, &replayOut, &replayOut); exitCode(err) != 1 {
		t.Errorf("replay without the admin token: exit code %d, want 1\n%s", exitCode(err), replayOut.String())
	}
	replayOut.Reset()
	if err := run(context.Background(), []string{"replay", "--target", addr, "--admin-token", "s3cret", "--report", file}, &replayOut, &replayOut); err != nil {
		t.Errorf("replay --target: %v\n%s", err, replayOut.String())
	}
	if !strings.Contains(replayOut.String(), "contract: 2 calls") {
		t.Errorf("report lacks the calls:\n%s", replayOut.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestReplayTargetNoticeAndKeepState replays against a served sandbox: the run first says on
// stderr what it does to the target, and --keep-state leaves the target's state and clock alone
// (and skips the digests the scenario pins, which only a reset target reproduces).
func TestReplayTargetNoticeAndKeepState(t *testing.T) {
	c := startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", ":memory:")
	appid := c.mustCall("POST", "/_sandbox/wechat/apps", `{"type":"mini_program"}`)["appid"].(string)
	pinned := writeFile(t, "pinned.yaml", strings.Replace(passing, "expect: {errcode: 40125}",
		"expect: {errcode: 40125, digest: \"sha256:"+strings.Repeat("0", 64)+"\"}", 1))

	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"replay", "--target", c.URL, "--keep-state", pinned}, &out, &errOut); err != nil {
		t.Fatalf("replay --keep-state: %v\n%s", err, out.String())
	}
	if lines := strings.Split(strings.TrimSpace(errOut.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], c.URL) || !strings.Contains(lines[0], "no reset") {
		t.Errorf("--keep-state notice on stderr = %q, want one line naming %s and saying there is no reset", errOut.String(), c.URL)
	}
	if !strings.Contains(out.String(), "note: state kept: 1 expected digest(s) and state hash(es) not checked") {
		t.Errorf("--keep-state output lacks the note on the skipped digest:\n%s", out.String())
	}
	if status, _ := c.call("GET", "/_sandbox/wechat/apps/"+appid, ""); status != 200 {
		t.Errorf("app %s after replay --keep-state: status %d, want 200 (state kept)", appid, status)
	}
	if clk := c.mustCall("GET", "/_sandbox/clock", ""); clk["frozen"] != false {
		t.Errorf("clock after replay --keep-state = %v, want still running", clk)
	}

	// Without it: the pinned digest is checked (and diverges), and the run resets and freezes.
	out.Reset()
	errOut.Reset()
	if err := run(context.Background(), []string{"replay", "--target", c.URL, pinned}, &out, &errOut); exitCode(err) != 1 || !strings.Contains(out.String(), "response diverged: digest") {
		t.Errorf("replay of a wrong digest without --keep-state: exit %d, want 1 and the divergence\n%s", exitCode(err), out.String())
	}
	out.Reset()
	errOut.Reset()
	if err := run(context.Background(), []string{"replay", "--target", c.URL, writeFile(t, "ok.yaml", passing)}, &out, &errOut); err != nil {
		t.Fatalf("replay --target: %v\n%s", err, out.String())
	}
	if lines := strings.Split(strings.TrimSpace(errOut.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], c.URL) || !strings.Contains(lines[0], "resets") || !strings.Contains(lines[0], "freezes its clock") {
		t.Errorf("notice on stderr = %q, want one line naming %s, the reset and the frozen clock", errOut.String(), c.URL)
	}
	if status, _ := c.call("GET", "/_sandbox/wechat/apps/"+appid, ""); status != 404 {
		t.Errorf("app %s after replay: status %d, want 404 (reset)", appid, status)
	}
	if clk := c.mustCall("GET", "/_sandbox/clock", ""); clk["frozen"] != true || clk["now"] != "2026-03-02T02:00:00Z" {
		t.Errorf("clock after replay = %v, want frozen at the scenario's 2026-03-02T02:00:00Z", clk)
	}

	// The notice comes before anything is sent: an unreachable target still gets it.
	errOut.Reset()
	_ = run(context.Background(), []string{"replay", "--target", "http://127.0.0.1:1", pinned}, &out, &errOut)
	if !strings.Contains(errOut.String(), "resets http://127.0.0.1:1") {
		t.Errorf("no notice before the first request: %q", errOut.String())
	}
	if err := run(context.Background(), []string{"replay", "--keep-state", pinned}, &out, &errOut); exitCode(err) != 2 {
		t.Errorf("--keep-state without --target: exit %d (%v), want 2", exitCode(err), err)
	}
}
