package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary run the command instead of the tests (see TestMain), so that a
// test can kill a real server process.
const childEnv = "CITYSANDBOX_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is a citysandbox process started by a test.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *io.PipeReader
	URL    string
	stderr *syncBuffer
	done   chan error
}

// startChild runs "citysandbox args..." in a process of its own and waits for its banner. It
// fails the test if the process exits first or prints no banner within 20 s (a bound on a
// failure, not a timing the test relies on).
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := launchChild(t, args...)
	banner := regexp.MustCompile(`listening on (http://\S+) `)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(c.stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(20 * time.Second)
	for c.URL == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("citysandbox %s exited before listening: %v\n%s", strings.Join(args, " "), <-c.done, c.stderr)
			}
			if m := banner.FindStringSubmatch(line); m != nil {
				c.URL = m[1]
			}
		case <-deadline:
			c.kill()
			t.Fatalf("citysandbox %s printed no banner\n%s", strings.Join(args, " "), c.stderr)
		}
	}
	go func() {
		for range lines { // keep the pipe drained
		}
	}()
	return c
}

// launchChild starts the process without waiting for anything.
func launchChild(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	pr, pw := io.Pipe()
	c := &child{t: t, cmd: cmd, stdout: pr, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = pw, c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		pw.Close()
		c.done <- err
	}()
	t.Cleanup(c.kill)
	return c
}

// kill ends the process with SIGKILL, as a crash or kill -9 does, and waits for it.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Kill()
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
	}
}

// stop ends the process as Ctrl-C does and returns its exit error.
func (c *child) stop() error {
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-c.done:
		return err
	case <-time.After(20 * time.Second):
		c.kill()
		c.t.Fatalf("citysandbox did not stop after an interrupt\n%s", c.stderr)
		return nil
	}
}

// wait waits for the process to end on its own and returns its exit error.
func (c *child) wait() error {
	select {
	case err := <-c.done:
		return err
	case <-time.After(20 * time.Second):
		c.kill()
		c.t.Fatalf("citysandbox did not exit\n%s", c.stderr)
		return nil
	}
}

// call sends a request to the child and decodes its JSON answer.
func (c *child) call(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, v
}

// mustCall is call that fails the test on a status other than 200 or 201.
func (c *child) mustCall(method, path, body string) map[string]any {
	c.t.Helper()
	status, v := c.call(method, path, body)
	if status != http.StatusOK && status != http.StatusCreated {
		c.t.Fatalf("%s %s: %d %v", method, path, status, v)
	}
	return v
}

func (c *child) stateHash() string {
	c.t.Helper()
	h, _ := c.mustCall("GET", "/_sandbox/state", "")["hash"].(string)
	return h
}

func fileDigest(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func clockAt(t *testing.T, v map[string]any) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, v["now"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func TestKilledServerKeepsEveryAcknowledgedChange(t *testing.T) {
	data := filepath.Join(t.TempDir(), "state.db")
	serve := []string{"serve", "--addr", "127.0.0.1:0", "--data", data}
	c := startChild(t, serve...)
	app := c.mustCall("POST", "/_sandbox/wechat/apps", `{"type":"official_account","name":"durable"}`)
	appid := app["appid"].(string)
	c.mustCall("PATCH", "/_sandbox/wechat/apps/"+appid, `{"tier":"unlimited","ip_whitelist":["10.1.2.3"]}`)
	fault := c.mustCall("POST", "/_sandbox/faults", `{"path":"/cgi-bin/qrcode/create","errcode":-1,"times":3}`)
	moved := clockAt(t, c.mustCall("POST", "/_sandbox/clock", `{"advance":"48h"}`))
	c.kill()

	c = startChild(t, serve...)
	now := clockAt(t, c.mustCall("GET", "/_sandbox/clock", ""))
	if now.Before(moved) || now.Sub(moved) > time.Hour {
		t.Errorf("clock after kill -9 = %s, want just after the acknowledged move to %s", now, moved)
	}
	got := c.mustCall("GET", "/_sandbox/wechat/apps/"+appid, "")
	if got["tier"] != "unlimited" || len(got["ip_whitelist"].([]any)) != 1 {
		t.Errorf("app settings after kill -9: %v", got)
	}
	faults := c.mustCall("GET", "/_sandbox/faults", "")["faults"].([]any)
	if len(faults) != 1 || faults[0].(map[string]any)["id"] != fault["id"] || faults[0].(map[string]any)["remaining"] != float64(3) {
		t.Errorf("faults after kill -9 = %v, want %v", faults, fault)
	}

	// A frozen clock (a reset with a clock) stays frozen at its instant, and the reset itself
	// (no fault left, ids numbered afresh) stays done.
	c.mustCall("POST", "/_sandbox/reset", `{"seed":7,"clock":"2030-01-02T03:04:05Z"}`)
	c.kill()
	c = startChild(t, serve...)
	clk := c.mustCall("GET", "/_sandbox/clock", "")
	if clk["frozen"] != true || !clockAt(t, clk).Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("clock after a reset with a clock and kill -9 = %v, want frozen at 2030-01-02T03:04:05Z", clk)
	}
	if faults := c.mustCall("GET", "/_sandbox/faults", "")["faults"].([]any); len(faults) != 0 {
		t.Errorf("faults after a reset and kill -9 = %v, want none", faults)
	}
	if f := c.mustCall("POST", "/_sandbox/faults", `{"path":"/x","errcode":-1}`); f["id"] != "fault-1" {
		t.Errorf("first fault after a reset = %v, want fault-1", f["id"])
	}

	// Back to real time from that frozen clock: still wall time, running, after kill -9.
	before := time.Now().UTC().Truncate(time.Second)
	c.mustCall("POST", "/_sandbox/clock", `{"real":true}`)
	c.kill()
	c = startChild(t, serve...)
	clk = c.mustCall("GET", "/_sandbox/clock", "")
	if now, after := clockAt(t, clk), time.Now().UTC(); clk["frozen"] != false || now.Before(before) || now.After(after) {
		t.Errorf("clock after real and kill -9 = %v, want running on wall time, between %s and %s", clk, before, after)
	}
}

func TestRestartLeavesTheStateHashAsItWas(t *testing.T) {
	data := filepath.Join(t.TempDir(), "state.db")
	serve := []string{"serve", "--addr", "127.0.0.1:0", "--data", data}
	c := startChild(t, serve...)
	c.mustCall("POST", "/_sandbox/wechat/apps", `{"type":"mini_program"}`)
	c.mustCall("POST", "/_sandbox/clock", `{"advance":"1h"}`)
	before := c.stateHash()
	if err := c.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, c.stderr)
	}
	c = startChild(t, serve...)
	if after := c.stateHash(); after != before {
		t.Errorf("state hash after a clean restart = %s, want %s", after, before)
	}
	c.kill()
	c = startChild(t, serve...)
	if after := c.stateHash(); after != before {
		t.Errorf("state hash after kill -9 and a restart = %s, want %s", after, before)
	}
}

func TestSecondServerRefusesADataFileInUse(t *testing.T) {
	data := filepath.Join(t.TempDir(), "state.db")
	first := startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	first.mustCall("POST", "/_sandbox/wechat/apps", `{"type":"mini_program"}`)
	before := fileDigest(t, data)

	second := launchChild(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	err := second.wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("a second server on the same file exited with %v, want a non-zero code", err)
	}
	if msg := second.stderr.String(); !strings.Contains(msg, data) || !strings.Contains(msg, "in use") {
		t.Errorf("the refusal does not name the file as in use: %q", msg)
	}
	// The same port: refused at the bind, before the data file is touched.
	addr := strings.TrimPrefix(first.URL, "http://")
	third := launchChild(t, "serve", "--addr", addr, "--data", data)
	if err := third.wait(); !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("a second server on the same address exited with %v, want a non-zero code", err)
	}
	if after := fileDigest(t, data); after != before {
		t.Error("the refused servers changed the data file")
	}
	if status, _ := first.call("GET", "/_sandbox/health", ""); status != http.StatusOK {
		t.Errorf("the first server after the refusals: health %d", status)
	}
}

func TestServeBindsBeforeWritingAnything(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := filepath.Join(t.TempDir(), "state.db")
	c := launchChild(t, "serve", "--addr", ln.Addr().String(), "--data", data)
	var exit *exec.ExitError
	if err := c.wait(); !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("serve on a taken address exited with %v, want a non-zero code", err)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("serve on a taken address created its data file (%v)", err)
	}
	if !strings.Contains(c.stderr.String(), syscall.EADDRINUSE.Error()) {
		t.Errorf("the refusal does not say the address is taken: %q", c.stderr)
	}
}
