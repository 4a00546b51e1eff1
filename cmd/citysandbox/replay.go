package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/citysandbox/citysandbox/sandbox"
)

// replay runs scenario files against a built-in sandbox or --target, and exits non-zero on the
// first failure with what was expected and what came back.
func replay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: citysandbox replay [--target URL] [--admin-token T] [--report] FILE...")
		fs.PrintDefaults()
	}
	target := fs.String("target", "", "base URL of a running sandbox (default: a built-in one)")
	adminToken := fs.String("admin-token", "", "bearer token for the target's /_sandbox/ routes")
	report := fs.Bool("report", false, "print the contract report (operations, errcodes seen and never seen) after the run")
	if err := parseFlags(fs, args, stdout, true); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError("replay: no scenario files (see citysandbox replay -h)")
	}
	err := sandbox.Replay(ctx, sandbox.ReplayOptions{Target: *target, AdminToken: *adminToken, Report: *report, Out: stdout}, fs.Args()...)
	if err != nil {
		fmt.Fprintf(stdout, "\n%v\n", err)
		return &exitError{1, errors.New("replay failed")}
	}
	return nil
}
