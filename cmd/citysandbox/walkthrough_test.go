package main

import (
	"context"
	"fmt"
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

// The README-execution test: every shell walkthrough of README.md and scenarios/README.md runs,
// as written, in bash against a fresh sandbox, and the outputs it shows are compared with what
// the commands print, so that the documentation cannot drift from the product.
//
// The conventions the documents follow, which this test enforces:
//
//   - A walkthrough is a ```sh block. Each belongs to a session below (a fresh temporary
//     directory, a fresh bash, and — unless the session starts its own — a fresh
//     `citysandbox serve` on 127.0.0.1:8844, as "The two commands" starts it) or is skipped with
//     a reason. A block this table does not name fails the test, so a new walkthrough must be
//     placed in a session or skipped on purpose.
//   - An output the document shows is a comment line "# → TEXT" right under the command that
//     prints it; a long one continues on lines starting "#   " and a character that is not a
//     space (joined without a separator).
//     The command's whole standard output must be those lines, in order. "…" in TEXT stands for
//     any text; rids, request ids and RFC 3339 times are normalised on both sides.
//   - bash runs with -u, so a walkthrough uses no variable it has not set.
//   - `go build -o X ./cmd/citysandbox` and `go run ./cmd/citysandbox ARGS` use the binary this
//     test builds (a shell function stands in for the go command for those two forms only).
//   - Files a walkthrough says to save (a Go, Java or JavaScript block) are written where the
//     session's table says before the session runs.

// session is a run of walkthroughs in one shell, in document order.
type session struct {
	name   string
	file   string   // README.md or scenarios/README.md
	blocks []string // block ids: "Heading#N", N counting the section's sh blocks from 1
	// ownServer says that the walkthrough starts (and stops) its servers itself.
	ownServer bool
	// needs lists commands that must be on PATH (or, with a space, a shell probe that must
	// succeed); without one, the session is skipped, named — or, under
	// CITYSANDBOX_REQUIRE_README=1 (CI), fails, unless the need starts with "?" (Java and
	// Python's requests, which CI cannot always install).
	needs []string
	// files maps a file to write in the session's directory to the block id ("Heading#go1",
	// "Heading#java1", ...) whose text it holds.
	files map[string]string
	// serveArgs are extra flags for the sandbox the test starts.
	serveArgs []string
}

// walkthroughSessions is the plan: every sh block of the two documents is in a session or in
// skippedWalkthroughs.
var walkthroughSessions = []session{
	{name: "state on disk", file: "README.md", blocks: []string{"State on disk#1"}, ownServer: true, needs: []string{"curl"}},
	{name: "forgetting", file: "README.md", blocks: []string{"What the sandbox forgets, and when#1"}, needs: []string{"curl", "jq"}},
	{name: "tokens and control plane", file: "README.md", blocks: []string{"WeChat: tokens and quotas#1", "The control plane (`/_sandbox/`)#1"}, needs: []string{"curl", "jq"}},
	{
		name: "https and proxy", file: "README.md", ownServer: true, needs: []string{"curl", "jq", "go"},
		blocks: []string{
			"HTTPS on the platforms' own hosts, a forward proxy and the leak tripwire#1",
			"HTTPS on the platforms' own hosts, a forward proxy and the leak tripwire#2",
			"HTTPS on the platforms' own hosts, a forward proxy and the leak tripwire#3",
			"HTTPS on the platforms' own hosts, a forward proxy and the leak tripwire#7",
		},
		files: map[string]string{"wxclient/main.go": "HTTPS on the platforms' own hosts, a forward proxy and the leak tripwire#go1"},
	},
	{
		name: "https from python", file: "README.md", ownServer: true, needs: []string{"curl", "python3", "?python3 -c 'import requests'"},
		blocks: []string{
			"HTTPS on the platforms' own hosts, a forward proxy and the leak tripwire#1",
			"HTTPS on the platforms' own hosts, a forward proxy and the leak tripwire#4",
		},
	},
	{
		name: "https from java", file: "README.md", ownServer: true, needs: []string{"curl", "?java", "?keytool"},
		blocks: []string{
			"HTTPS on the platforms' own hosts, a forward proxy and the leak tripwire#1",
			"HTTPS on the platforms' own hosts, a forward proxy and the leak tripwire#5",
		},
		files: map[string]string{"Token.java": "HTTPS on the platforms' own hosts, a forward proxy and the leak tripwire#java1"},
	},
	{name: "namespaces", file: "README.md", blocks: []string{"Namespaces: one sandbox for many test runs#1"}, ownServer: true, needs: []string{"curl", "jq"}},
	{name: "nginx", file: "README.md", blocks: []string{"Scale-out behind nginx#1"}, ownServer: true, needs: []string{"curl", "jq", "nginx"}},
	{name: "city service", file: "README.md", blocks: []string{"WeChat: City Service interconnection (城市服务开放互联能力)#1"}, needs: []string{"curl", "jq"}},
	{name: "paid capabilities", file: "README.md", blocks: []string{"WeChat: paid capabilities (付费能力)#1"}, needs: []string{"curl", "jq"}},
	{
		name: "jincheng", file: "README.md", needs: []string{"curl", "jq", "openssl", "go"},
		blocks: []string{"Onboarding#1", "Single sign-on with a tiny integrator server#1", "A to-do, from the shell#1"},
		files:  map[string]string{"bdc/main.go": "Single sign-on with a tiny integrator server#go1"},
	},
	{
		name: "pushes, reviews, third-party platforms, QR codes", file: "README.md", needs: []string{"curl", "jq", "python3"},
		blocks: []string{
			"Message push and transaction reviews#1",
			"WeChat: third-party platforms (第三方平台授权)#1",
			"WeChat: parametric QR codes, QR-jump rules, scan-to-follow#1",
			"WeChat: parametric QR codes, QR-jump rules, scan-to-follow#2",
			"WeChat: parametric QR codes, QR-jump rules, scan-to-follow#3",
			"WeChat: parametric QR codes, QR-jump rules, scan-to-follow#4",
			"WeChat: parametric QR codes, QR-jump rules, scan-to-follow#5",
		},
	},
	{name: "scenarios", file: "README.md", blocks: []string{"Scenarios, recording and contract reports#1"}},
	{name: "scenarios readme", file: "scenarios/README.md", blocks: []string{"Scenarios#1"}},
}

// skippedWalkthroughs names the sh blocks that do not run, and why.
var skippedWalkthroughs = map[string]string{
	"README.md#The two commands#1": "starts the sandbox every other session starts, and the test suite this test is part of",
	"README.md#HTTPS on the platforms' own hosts, a forward proxy and the leak tripwire#6": "installs global-agent from the npm registry, and tests touch loopback only; the proxy's CONNECT path it uses is the one curl, Go, Python and Java take",
	"README.md#Docker#1":          "needs a Docker daemon; TestDockerfile checks the Dockerfile and TestVersionFromLdflags the build arguments",
	"README.md#Docker#2":          "needs a Docker daemon",
	"README.md#Measuring speed#1": "measures for minutes (a soak, wrk rounds); TestBenchCommand runs bench briefly",
}

func TestREADMEWalkthroughs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's walkthroughs against served binaries")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	docs := map[string]*walkDoc{}
	for _, name := range []string{"README.md", "scenarios/README.md"} {
		text, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		docs[name] = parseWalkDoc(string(text))
	}
	placed := map[string]bool{}
	for _, s := range walkthroughSessions {
		for _, id := range s.blocks {
			if docs[s.file].sh[id] == "" {
				t.Errorf("session %q names %s#%s, which the document does not have", s.name, s.file, id)
			}
			placed[s.file+"#"+id] = true
		}
		for path, id := range s.files {
			if docs[s.file].other[id] == "" {
				t.Errorf("session %q writes %s from %s#%s, which the document does not have", s.name, path, s.file, id)
			}
		}
	}
	for name, d := range docs {
		for _, id := range d.order {
			key := name + "#" + id
			if !placed[key] && skippedWalkthroughs[key] == "" {
				t.Errorf("%s is in no session and not skipped: add it to walkthroughSessions or skippedWalkthroughs", key)
			}
		}
	}
	for key := range skippedWalkthroughs {
		name, id, _ := strings.Cut(key, "#")
		if docs[name] == nil || docs[name].sh[id] == "" {
			t.Errorf("skippedWalkthroughs names %s, which the document does not have", key)
		}
	}
	if t.Failed() {
		return
	}
	for _, port := range []string{"8844", "8845", "8443", "8851", "8852", "9000", "9100", "3000"} {
		l, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			if os.Getenv("CITYSANDBOX_REQUIRE_README") == "1" {
				t.Fatalf("port %s, which the walkthroughs use, is taken: %v", port, err)
			}
			t.Skipf("port %s, which the walkthroughs use, is taken (a sandbox of yours?): %v", port, err)
		}
		l.Close()
	}
	bin := filepath.Join(t.TempDir(), "citysandbox")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for key, why := range skippedWalkthroughs {
		t.Logf("not run: %s: %s", key, why)
	}
	for _, s := range walkthroughSessions {
		t.Run(s.name, func(t *testing.T) {
			for _, need := range s.needs {
				optional := strings.HasPrefix(need, "?")
				need = strings.TrimPrefix(need, "?")
				if err := probe(bash, need); err != nil {
					if os.Getenv("CITYSANDBOX_REQUIRE_README") == "1" && !optional {
						t.Fatalf("%s is not on PATH", need)
					}
					t.Skipf("%s is not on PATH", need)
				}
			}
			runSession(t, bash, bin, repo, docs[s.file], s)
		})
	}
}

// probe says whether a walkthrough's prerequisite is there: a command on PATH, or a shell
// command line that succeeds.
func probe(bash, need string) error {
	if !strings.Contains(need, " ") {
		_, err := exec.LookPath(need)
		return err
	}
	return exec.Command(bash, "-c", need).Run()
}

// runSession runs one session's blocks in a fresh directory and compares their outputs.
func runSession(t *testing.T, bash, bin, repo string, doc *walkDoc, s session) {
	dir := t.TempDir()
	for _, sub := range []string{"scenarios", "deploy", "fixtures"} {
		if err := os.Symlink(filepath.Join(repo, sub), filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	for path, id := range s.files {
		full := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(doc.other[id]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !s.ownServer {
		stop := serveForWalkthrough(t, bin, dir, s.serveArgs)
		defer stop()
	}
	var script strings.Builder
	script.WriteString(goShim)
	var expects []walkExpect
	show := os.Getenv("CITYSANDBOX_README_SHOW") == "1"
	for _, id := range s.blocks {
		text, exp := instrument(doc.sh[id], id, len(expects), show)
		script.WriteString(text)
		expects = append(expects, exp...)
	}
	if err := os.WriteFile(filepath.Join(dir, "walkthrough.sh"), []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "-u", "walkthrough.sh")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CITYSANDBOX_README_BIN="+bin, "GOFLAGS=-mod=mod", "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Files, not pipes: what the walkthrough leaves running in the background keeps its
	// output open, and the test must not wait for it.
	stdoutFile, err := os.Create(filepath.Join(dir, "walkthrough.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdoutFile.Close()
	stderrFile, err := os.Create(filepath.Join(dir, "walkthrough.err"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderrFile.Close()
	cmd.Stdout, cmd.Stderr = stdoutFile, stderrFile
	runErr := cmd.Run()
	// Whatever the walkthrough left running in the background (its own servers, receivers).
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	stdout, err := os.ReadFile(stdoutFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.ReadFile(stderrFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the walkthrough did not finish within 4 minutes\nstdout:\n%s\nstderr:\n%s", string(stdout), string(stderr))
	}
	got := segments(string(stdout))
	failed := false
	for i, e := range expects {
		lines, ok := got[i]
		if show {
			t.Logf("%s, line %d: %s\n    %s", e.block, e.line, e.command, strings.Join(lines, "\n    "))
		}
		if e.want == nil && ok {
			continue
		}
		if !ok {
			t.Errorf("%s, line %d: `%s` did not run (bash: %v)", e.block, e.line, e.command, runErr)
			failed = true
			continue
		}
		if msg := compareOutput(e.want, lines); msg != "" {
			t.Errorf("%s, line %d: `%s`\n%s", e.block, e.line, e.command, msg)
			failed = true
		}
	}
	if failed || t.Failed() {
		t.Logf("stderr of the walkthrough:\n%s", tail(string(stderr), 60))
	}
}

// serveForWalkthrough starts `citysandbox serve` in dir on 127.0.0.1:8844, as a user who
// follows "The two commands" has it, and waits until it answers.
func serveForWalkthrough(t *testing.T, bin, dir string, args []string) func() {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		log.Close()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:8844/_sandbox/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return stop
			}
		}
		select {
		case <-done:
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("citysandbox serve exited:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("citysandbox serve did not answer within 20 s:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// goShim stands in for the go command in the two forms the walkthroughs use to get the binary.
const goShim = `go() {
  if [ "$1" = build ] && [ "$2" = -o ] && [ "${4:-}" = ./cmd/citysandbox ]; then cp "$CITYSANDBOX_README_BIN" "$3"; return; fi
  if [ "$1" = run ] && [ "${2:-}" = ./cmd/citysandbox ]; then shift 2; "$CITYSANDBOX_README_BIN" "$@"; return; fi
  command go "$@"
}
`

// walkDoc holds a document's fenced blocks by id.
type walkDoc struct {
	sh    map[string]string // "Heading#N" → the N-th sh block under Heading
	other map[string]string // "Heading#goN", "Heading#javaN", ... → other fenced blocks
	order []string          // sh block ids in document order
}

// parseWalkDoc splits a Markdown document into its fenced blocks, named by the heading above.
func parseWalkDoc(text string) *walkDoc {
	d := &walkDoc{sh: map[string]string{}, other: map[string]string{}}
	heading := ""
	counts := map[string]int{}
	var lang string
	var cur *strings.Builder
	for line := range strings.Lines(text) {
		trimmed := strings.TrimRight(line, "\n")
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			lang = strings.TrimPrefix(trimmed, "```")
			cur = &strings.Builder{}
		case cur != nil && trimmed == "```":
			counts[heading+"#"+lang]++
			n := counts[heading+"#"+lang]
			if lang == "sh" {
				id := fmt.Sprintf("%s#%d", heading, n)
				d.sh[id] = cur.String()
				d.order = append(d.order, id)
			} else if lang != "" {
				d.other[fmt.Sprintf("%s#%s%d", heading, lang, n)] = cur.String()
			}
			cur = nil
		case cur != nil:
			cur.WriteString(line)
		case strings.HasPrefix(trimmed, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(trimmed, "#"))
		}
	}
	return d
}

// walkExpect is an output a walkthrough shows.
type walkExpect struct {
	block, command string
	line           int
	want           []string
}

const outputMark = "# → "

// instrument returns the block's text with markers around each command that has an output
// shown, and the outputs, numbered from first.
//
// With all, every command is marked (its output logged by CITYSANDBOX_README_SHOW=1, for a
// writer of the documents), and those without an output shown get a nil want.
func instrument(block, id string, first int, all bool) (string, []walkExpect) {
	lines := strings.Split(strings.TrimRight(block, "\n"), "\n")
	var out strings.Builder
	var expects []walkExpect
	heredoc := ""
	// pending is the command being collected: the lines since the last blank, comment or output.
	var pending []string
	pendingLine := 0
	flush := func() {
		if all && len(pending) > 0 {
			n := first + len(expects)
			fmt.Fprintf(&out, "printf '\\n\\036begin %d\\036\\n'\n", n)
			for _, l := range pending {
				out.WriteString(l + "\n")
			}
			fmt.Fprintf(&out, "printf '\\n\\036end %d\\036\\n'\n", n)
			expects = append(expects, walkExpect{block: id, line: pendingLine, command: strings.TrimSpace(strings.Join(pending, " "))})
			pending = nil
			return
		}
		for _, l := range pending {
			out.WriteString(l + "\n")
		}
		pending = nil
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if heredoc != "" {
			out.WriteString(l + "\n")
			if strings.TrimSpace(l) == heredoc {
				heredoc = ""
			}
			continue
		}
		if strings.HasPrefix(l, outputMark) && len(pending) > 0 {
			var want []string
			for ; i < len(lines); i++ {
				switch {
				case strings.HasPrefix(lines[i], outputMark):
					want = append(want, strings.TrimPrefix(lines[i], outputMark))
				case continuation.MatchString(lines[i]) && len(want) > 0:
					want[len(want)-1] += strings.TrimSpace(strings.TrimPrefix(lines[i], "#"))
				default:
					goto done
				}
			}
		done:
			i--
			n := first + len(expects)
			fmt.Fprintf(&out, "printf '\\n\\036begin %d\\036\\n'\n", n)
			cmdText := strings.TrimSpace(strings.Join(pending, " "))
			for _, l := range pending {
				out.WriteString(l + "\n")
			}
			pending = nil
			fmt.Fprintf(&out, "printf '\\n\\036end %d\\036\\n'\n", n)
			expects = append(expects, walkExpect{block: id, line: pendingLine, command: cmdText, want: want})
			continue
		}
		trimmed := strings.TrimSpace(l)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			flush()
			out.WriteString(l + "\n")
			continue
		}
		if len(pending) == 0 {
			pendingLine = i + 1
		}
		pending = append(pending, l)
		if m := heredocStart.FindStringSubmatch(l); m != nil {
			// The command that starts a heredoc is not marked: a marker would land in the text.
			for _, l := range pending {
				out.WriteString(l + "\n")
			}
			pending = nil
			heredoc = m[1]
		}
	}
	flush()
	return out.String(), expects
}

// continuation is a line that continues the output above it: "#", three spaces, then text.
var continuation = regexp.MustCompile(`^#   \S`)

var heredocStart = regexp.MustCompile(`<<-?\s*'?"?([A-Za-z_]+)'?"?`)

// segments splits the walkthrough's output at the markers: output n's lines, blank ones left out.
func segments(stdout string) map[int][]string {
	got := map[int][]string{}
	cur := -1
	for _, l := range strings.Split(stdout, "\n") {
		var n int
		if _, err := fmt.Sscanf(l, "\036begin %d\036", &n); err == nil {
			cur = n
			got[n] = []string{}
			continue
		}
		if _, err := fmt.Sscanf(l, "\036end %d\036", &n); err == nil {
			cur = -1
			continue
		}
		if cur >= 0 && strings.TrimSpace(l) != "" {
			got[cur] = append(got[cur], l)
		}
	}
	return got
}

var walkNormalisers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`rid: [0-9a-f]+-[0-9a-f]+-[0-9a-f]+`), "rid: <rid>"},
	{regexp.MustCompile(`"(requestId|rid)":"[^"]*"`), `"$1":"<rid>"`},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "<time>"},
}

func normaliseWalk(s string) string {
	for _, n := range walkNormalisers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// compareOutput says how the lines differ from the output shown, or "" if they match.
func compareOutput(want, got []string) string {
	var b strings.Builder
	ok := len(want) == len(got)
	for i := 0; ok && i < len(want); i++ {
		w := normaliseWalk(want[i])
		pattern := "^" + strings.ReplaceAll(regexp.QuoteMeta(w), "…", ".*") + "$"
		ok = regexp.MustCompile(pattern).MatchString(normaliseWalk(got[i]))
	}
	if ok {
		return ""
	}
	b.WriteString("  shown:\n")
	for _, w := range want {
		b.WriteString("    " + w + "\n")
	}
	b.WriteString("  printed:\n")
	for _, g := range got {
		b.WriteString("    " + g + "\n")
	}
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestWalkthroughHarnessCatchesDrift runs the harness's own steps on a small block: an output
// that differs from the one shown, a command that prints more than it shows, and one whose
// output matches only through "…", so that TestREADMEWalkthroughs cannot pass by accident.
func TestWalkthroughHarnessCatchesDrift(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	block := "X=hello\necho $X\n# → hello\necho world\n# → word\nprintf 'a\\nb\\n'\n# → a\necho '{\"rid\":\"abc\",\"t\":\"2026-03-02T10:00:00Z\"}'\n# → {\"rid\":\"…\",\"t\":\"…\"}\n"
	script, expects := instrument(block, "test#1", 0, false)
	out, err := exec.Command(bash, "-u", "-c", script).Output()
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	got := segments(string(out))
	if len(expects) != 4 || len(got) != 4 {
		t.Fatalf("%d outputs shown, %d printed, want 4 and 4:\n%s", len(expects), len(got), script)
	}
	for i, wantMatch := range []bool{true, false, false, true} {
		if msg := compareOutput(expects[i].want, got[i]); (msg == "") != wantMatch {
			t.Errorf("output %d (%q against %q): match %v, want %v", i, got[i], expects[i].want, msg == "", wantMatch)
		}
	}
	// An unset variable stops the walkthrough.
	if err := exec.Command(bash, "-u", "-c", "echo $UNSET_IN_WALKTHROUGH").Run(); err == nil {
		t.Error("bash -u ran a command with an unset variable")
	}
}
