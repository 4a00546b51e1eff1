package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheck asks a running sandbox whether it is healthy; it exits 0 when /_sandbox/health
// answers 200. The Docker image's HEALTHCHECK uses it, as the image has no shell or curl. It
// asks the address serve listens on, --addr or CITYSANDBOX_ADDR as serve reads it (an
// unspecified host such as 0.0.0.0 is asked on loopback), unless --url is given.
func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("healthcheck")
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8844", "the address the sandbox listens on (as serve's --addr)")
	url := fs.String("url", "", "the health URL (default: http://ADDR/_sandbox/health)")
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args, stdout, false); err != nil {
		return err
	}
	if *url == "" {
		host, port, err := net.SplitHostPort(*addr)
		if err != nil {
			return usageError("healthcheck: --addr %q: %v", *addr, err)
		}
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			host = "127.0.0.1"
		}
		*url = "http://" + net.JoinHostPort(host, port) + "/_sandbox/health"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: %s", *url, resp.StatusCode, body)
	}
	fmt.Fprintf(stdout, "%s\n", body)
	return nil
}
