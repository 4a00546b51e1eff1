// Command citysandbox runs the sandbox of the WeChat and Jincheng ("晋来办") platforms.
//
//	citysandbox serve [flags]     serve the sandbox (default 127.0.0.1:8844)
//	citysandbox bench [flags]     measure throughput and latency over loopback, from another process
//	citysandbox healthcheck       exit 0 if a running sandbox is healthy
//	citysandbox replay FILE...    replay scenario files (against --target or a built-in sandbox)
//	citysandbox ca                print the sandbox CA's certificate (PEM), for clients to trust
//	citysandbox version           print the version, the commit and the Go release it was built with
//
// Every flag can also be set through the environment as CITYSANDBOX_<NAME> (for example
// CITYSANDBOX_ADDR, CITYSANDBOX_ADMIN_TOKEN); a flag on the command line wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "citysandbox:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// usageError is a command line the command cannot run: exit status 2.
func usageError(format string, args ...any) error {
	return &exitError{2, fmt.Errorf(format, args...)}
}

const usage = `usage: citysandbox <command> [flags]

commands:
  serve    serve the sandbox (default on 127.0.0.1:8844)
  bench    drive load over loopback and print throughput, p50 and p99
  healthcheck  exit 0 if a running sandbox answers /_sandbox/health (used by the Docker image)
  replay   replay scenario files: replay [--target URL] [--report] FILE...
  ca       print the certificate of the sandbox's CA (PEM; its path on stderr): ca [--data FILE] [--ca-dir DIR] [--path]
  version  print the version, the commit and the Go release (also: citysandbox --version)

Run "citysandbox <command> -h" for the flags of a command.
`

// run runs the command line args (without the program's name); main's exit status follows its
// error (see exitCode).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if err := runCommand(ctx, args, stdout, stderr); !errors.Is(err, errHelp) {
		return err
	}
	return nil
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError("no command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "bench":
		return bench(ctx, rest, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, rest, stdout, stderr)
	case "replay":
		return replay(ctx, rest, stdout, stderr)
	case "bench-bare": // bench's yardstick, in its own process
		return benchBare(ctx, rest, stderr)
	case "bench-load": // bench's load generator when wrk is not on PATH
		return benchLoad(ctx, rest, stdout)
	case "ca":
		return caCommand(rest, stdout, stderr)
	case "version", "-version", "--version":
		if len(rest) > 0 {
			return usageError("version: unexpected argument %q", rest[0])
		}
		_, err := fmt.Fprintln(stdout, versionLine())
		return err
	case "help", "-h", "-help", "--help":
		if cmd == "help" && len(rest) == 1 && rest[0] != "help" {
			return runCommand(ctx, []string{rest[0], "-h"}, stdout, stderr) // help serve
		}
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError("unknown command %q", cmd)
}

// errHelp is returned by parseFlags when -h or --help was asked for and the usage was printed:
// the command then does nothing and exits 0.
var errHelp = errors.New("help printed")

// newFlagSet is a command's flag set, whose usage names the command as it is run
// ("usage: citysandbox serve [flags]") rather than the flag package's "Usage of serve:".
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: citysandbox %s [flags]\n\nflags:\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a command's flags, then sets every flag not given on the command line from
// CITYSANDBOX_<NAME>. -h and --help print the command's usage to stdout and return errHelp; a
// flag the command does not have, a bad value, or (unless positional) an argument that is not a
// flag is a usage error that names it. With positional, the arguments after the flags are the
// command's (fs.Args()), and a flag among them is refused rather than taken for one of them.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, positional bool) error {
	usage := fs.Usage
	// The flag package would print its error and the usage to the command's stderr; the error is
	// said once, by main, and the usage only when asked for.
	out := fs.Output()
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		usage()
		fs.SetOutput(out)
		return errHelp
	}
	if err != nil {
		return usageError("%s: %v (see citysandbox %s -h)", fs.Name(), err, fs.Name())
	}
	if !positional && fs.NArg() > 0 {
		return usageError("%s: unexpected argument %q (flags go as --name value; see citysandbox %s -h)", fs.Name(), fs.Arg(0), fs.Name())
	}
	if positional {
		for _, a := range fs.Args() {
			if strings.HasPrefix(a, "-") && a != "-" {
				return usageError("%s: flag %q after the arguments: give the flags first", fs.Name(), a)
			}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	err = nil
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "CITYSANDBOX_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if serr := f.Value.Set(v); serr != nil {
				err = usageError("%s=%q: %v", env, v, serr)
			}
		}
	})
	return err
}
