package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/citysandbox/citysandbox/sandbox"
)

// replay runs scenario files against a built-in sandbox or --target, and exits non-zero on the
// first failure with what was expected and what came back.
func replay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay")
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: citysandbox replay [--target URL [--keep-state]] [--admin-token T] [--report] FILE...")
		fmt.Fprintln(fs.Output(), "\nWith --target, each scenario resets the target (state, journal and faults) and freezes its clock\nat the scenario's time, where it stays after the run, unless --keep-state.\n\nflags:")
		fs.PrintDefaults()
	}
	target := fs.String("target", "", "base URL of a running sandbox (default: a built-in one)")
	keepState := fs.Bool("keep-state", false, "with --target: leave the target's state and clock as they are (no reset, no freeze); the responses' digests and state hashes then differ from recorded ones, so expected digests and state_hash values are skipped, with a note")
	adminToken := fs.String("admin-token", "", "bearer token for the target's /_sandbox/ routes")
	report := fs.Bool("report", false, "print the contract report (operations, errcodes seen and never seen) after the run")
	if err := parseFlags(fs, args, stdout, true); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError("replay: no scenario files (see citysandbox replay -h)")
	}
	if *keepState && *target == "" {
		return usageError("replay: --keep-state needs --target (the built-in sandbox starts fresh)")
	}
	err := sandbox.Replay(ctx, sandbox.ReplayOptions{Target: *target, AdminToken: *adminToken, Report: *report, KeepState: *keepState, Out: stdout, Notice: stderr}, fs.Args()...)
	if err != nil {
		fmt.Fprintf(stdout, "\n%v\n", err)
		return &exitError{1, errors.New("replay failed")}
	}
	return nil
}
