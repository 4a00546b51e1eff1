package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestHelpExitsZero: -h and --help print the usage to stdout and succeed, at the top level and
// on every command.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"help", "serve"},
		{"serve", "-h"}, {"serve", "--help"}, {"replay", "--help"}, {"bench", "-h"},
		{"healthcheck", "--help"}, {"ca", "-h"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		// The usage names the command as it is run, not as the flag package would ("Usage of serve:").
		want := "usage: citysandbox "
		if cmd := args[len(args)-1]; len(args) > 1 && !strings.HasPrefix(cmd, "-") {
			want += cmd // help serve
		} else if len(args) > 1 {
			want += args[0]
		}
		if err != nil || !strings.HasPrefix(out.String(), want) || errOut.Len() != 0 {
			t.Errorf("%q: err %v (exit %d), stdout %q, stderr %q; want exit 0 and the usage on stdout, from %q", args, err, exitCode(err), out.String(), errOut.String(), want)
		}
	}
}

// TestUsageErrorsNameTheArgument: a stray argument, an unknown flag or a flag after replay's
// files is exit 2 with an error that names it, and nothing is started.
func TestUsageErrorsNameTheArgument(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		// Before, "foo" stopped the flag parsing and --addr was silently dropped.
		{[]string{"serve", "foo", "--addr", "127.0.0.1:0"}, `unexpected argument "foo"`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--data", ":memory:", "extra"}, `unexpected argument "extra"`},
		{[]string{"serve", "--bogus"}, "-bogus"},
		{[]string{"healthcheck", "now"}, `unexpected argument "now"`},
		{[]string{"ca", "--data", ":memory:", "x"}, `unexpected argument "x"`},
		{[]string{"bench", "--nope"}, "-nope"},
		{[]string{"replay", "a.yaml", "--target", "http://127.0.0.1:1"}, `"--target" after the arguments`},
		{[]string{"version", "x"}, `unexpected argument "x"`},
		{[]string{"frobnicate"}, `"frobnicate"`},
		{[]string{"help", "frobnicate"}, `"frobnicate"`},
		{[]string{"serve", "--sync", "never"}, "--sync"},
		{[]string{"serve", "--log-format", "xml"}, "--log-format"},
		{[]string{"serve", "--max-namespaces", "0"}, "--max-namespaces"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tt.args, &out, &errOut)
		if exitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v (exit %d), want exit 2 naming %s", tt.args, err, exitCode(err), tt.want)
		}
		if err != nil && strings.Count(err.Error(), tt.want) != 1 {
			t.Errorf("%q: %q says %s more than once", tt.args, err, tt.want)
		}
	}
	t.Setenv("CITYSANDBOX_SEED", "many")
	if err := run(context.Background(), []string{"serve", "--data", ":memory:"}, &bytes.Buffer{}, &bytes.Buffer{}); exitCode(err) != 2 || !strings.Contains(err.Error(), "CITYSANDBOX_SEED") {
		t.Errorf("a bad CITYSANDBOX_SEED: %v (exit %d), want exit 2 naming it", err, exitCode(err))
	}
}

// TestFixturesDirRefused: --fixtures naming a missing directory, a file, or a directory without
// fixture files stops the start instead of serving an empty world.
func TestFixturesDirRefused(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(empty, "notes.txt")
	for _, dir := range []string{filepath.Join(empty, "missing"), file, empty} {
		var out bytes.Buffer
		err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", ":memory:", "--fixtures", dir}, &out, &out)
		if err == nil || !strings.Contains(err.Error(), "--fixtures") || strings.Count(err.Error(), dir) != 1 {
			t.Errorf("--fixtures %s: %v, want a refusal naming the flag and the directory once", dir, err)
		}
		if strings.Contains(out.String(), "listening on") {
			t.Errorf("--fixtures %s: the sandbox started:\n%s", dir, out.String())
		}
	}
}

// TestListenErrorSaysItOnce: the address in use is named once, not "listen A: listen tcp A: …".
func TestListenErrorSaysItOnce(t *testing.T) {
	c := startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", ":memory:")
	addr := strings.TrimPrefix(c.URL, "http://")
	err := run(context.Background(), []string{"serve", "--addr", addr, "--data", ":memory:"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || strings.Count(err.Error(), addr) != 1 || strings.Count(err.Error(), "listen") != 1 {
		t.Errorf("serve on a busy address: %v, want one mention of %s and of listen", err, addr)
	}
}

func TestBuildVersion(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"},
	}}
	read := func() (*debug.BuildInfo, bool) { return info, true }
	if v, c := buildVersion("", "", read); v != "v1.4.0" || c != "0123abcd-dirty" {
		t.Errorf("from build info: %s %s, want v1.4.0 0123abcd-dirty", v, c)
	}
	if v, c := buildVersion("2.0.0", "feed", read); v != "2.0.0" || c != "feed" {
		t.Errorf("set by -ldflags: %s %s, want 2.0.0 feed", v, c)
	}
	info.Main.Version, info.Settings = "(devel)", nil
	if v, c := buildVersion("", "", read); v != "dev" || c != "unknown" {
		t.Errorf("nothing known: %s %s, want dev unknown", v, c)
	}
}

// TestVersionFromLdflags builds the real binary as the Dockerfile does, with -ldflags -X, and
// runs "version" and "--version".
func TestVersionFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "citysandbox")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=9.8.7 -X main.commit=c0ffee", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	want := regexp.MustCompile(`^citysandbox 9\.8\.7 \(commit c0ffee, ` + regexp.QuoteMeta(runtime.Version()) + ` [a-z0-9]+/[a-z0-9]+\)\n$`)
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil || !want.Match(out) {
			t.Errorf("citysandbox %s: %q (%v), want %s", arg, out, err, want)
		}
	}
}

// TestMissingDataDirectorySaysItOnce: a data file in a directory that does not exist is
// refused with the file and the directory named once each, not "lock F: open F.lock: …".
func TestMissingDataDirectorySaysItOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	data := filepath.Join(dir, "x.db")
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, &out, &out)
	if err == nil || strings.Count(err.Error(), data) != 1 || !strings.Contains(err.Error(), "directory "+dir+" does not exist") {
		t.Errorf("serve --data %s: %v, want the file named once and the missing directory", data, err)
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Errorf("serve --data %s made the directory (%v)", data, statErr)
	}
}
