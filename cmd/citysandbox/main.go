// Command citysandbox runs the sandbox of the WeChat and Jincheng ("晋来办") platforms.
//
//	citysandbox serve [flags]     serve the sandbox (default 127.0.0.1:8844)
//	citysandbox bench [flags]     measure throughput and latency over loopback
//	citysandbox healthcheck       exit 0 if a running sandbox is healthy
//	citysandbox replay FILE...    replay scenario files (against --target or a built-in sandbox)
//	citysandbox ca                print the sandbox CA's certificate (PEM), for clients to trust
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

	"github.com/gin-gonic/gin"
)

func main() {
	// The process owns gin's global mode; the library never touches it.
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "citysandbox:", err)
		}
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
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

const usage = `usage: citysandbox <command> [flags]

commands:
  serve    serve the sandbox (default on 127.0.0.1:8844)
  bench    drive load over loopback and print throughput, p50 and p99
  healthcheck  exit 0 if a running sandbox answers /_sandbox/health (used by the Docker image)
  replay   replay scenario files: replay [--target URL] [--report] FILE...
  ca       print the certificate of the sandbox's CA (PEM; its path on stderr): ca [--data FILE] [--ca-dir DIR] [--path]

Run "citysandbox <command> -h" for the flags of a command.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{2, errors.New("no command")}
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
	case "ca":
		return caCommand(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return &exitError{2, fmt.Errorf("unknown command %q", cmd)}
}

// envDefaults sets every flag not given on the command line from CITYSANDBOX_<NAME>.
func envDefaults(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "CITYSANDBOX_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, serr)
			}
		}
	})
	return err
}
