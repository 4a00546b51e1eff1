package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve")
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8844", "address to listen on")
	data := fs.String("data", "citysandbox.db", `buntdb file for the state; ":memory:" keeps nothing`)
	seed := fs.Uint64("seed", 1, "seed of every random value")
	fixturesDir := fs.String("fixtures", "", "directory that replaces the built-in fixtures")
	adminToken := fs.String("admin-token", "", "token required on /_sandbox/ routes (but health and ca.pem) and the simulated 晋来办 app (/jincheng/app/): a bearer token, or a browser's Basic password")
	logLevel := fs.String("log-level", "info", "debug, info (a line per request, push, clock move, reset and fault fired), warn or error")
	logFormat := fs.String("log-format", "text", "text (key=value) or json (one object a line), on stderr")
	trustedProxies := fs.String("trusted-proxies", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For/X-Real-IP give the client address (default: none, the connection's address)")
	syncPolicy := fs.String("sync", "second", `when the data file is flushed to the disk: "second" (a power loss can lose the last second) or "always" (an fsync per write)`)
	record := fs.String("record", "", "write the traffic of this run as a scenario to FILE on shutdown (freezes the clock; state in memory unless --data is given)")
	recordHashes := fs.Bool("record-hashes", false, "with --record, also pin every step's response digest and state hash")
	dataDir := fs.String("data-dir", "", `directory of the namespaces' data files, one buntdb file each; "" or ":memory:" keeps namespaces in memory`)
	maxNamespaces := fs.Int("max-namespaces", sandbox.DefaultMaxNamespaces, "how many namespaces may exist at once")
	namespaceTTL := fs.Duration("namespace-ttl", 0, "how long a namespace created without a ttl may stay unused (wall time) before it is removed; 0 keeps it until deleted")
	var resolve []string
	fs.Func("resolve", "map HOST to a local ADDR:PORT (repeatable; the environment variable takes a comma-separated list): the QR-jump verification file is fetched there, pushes to HOST go there", func(v string) error {
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				resolve = append(resolve, m)
			}
		}
		return nil
	})
	tlsAddr := fs.String("tls-addr", "", "also serve HTTPS here (e.g. 127.0.0.1:8443) for the platforms' own host names, chosen by SNI, with certificates from the sandbox CA")
	caDir := fs.String("ca-dir", "", "directory of the sandbox's certificate authority (default: beside --data; in memory for :memory:)")
	extraHosts := fs.String("extra-hosts", "", "comma-separated host names that the forward proxy and --tls-addr answer for, beside WeChat's")
	if err := parseFlags(fs, args, stdout, false); err != nil {
		return err
	}
	dataSet := false
	fs.Visit(func(f *flag.Flag) { dataSet = dataSet || f.Name == "data" })
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageError("--log-level: %v", err)
	}
	var newHandler func(io.Writer, *slog.HandlerOptions) slog.Handler
	switch *logFormat {
	case "text":
		newHandler = func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewTextHandler(w, o) }
	case "json":
		newHandler = func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(w, o) }
	default:
		return usageError("--log-format: %q is neither text nor json", *logFormat)
	}
	sync, err := sandbox.ParseSync(*syncPolicy)
	if err != nil {
		return usageError("--sync: %v", err)
	}
	logs := newLogBuffer(stderr)
	defer logs.Close() // deferred first, so it runs last: after the lines of the shutdown
	logger := slog.New(newHandler(logs, &slog.HandlerOptions{Level: level}))
	opts := []sandbox.Option{
		sandbox.WithSeed(*seed), sandbox.WithStorePath(*data), sandbox.WithAdminToken(*adminToken),
		sandbox.WithLogger(logger), sandbox.WithVersion(version), sandbox.WithResolve(resolve...),
		sandbox.WithSync(sync), sandbox.WithTrustedProxies(splitList(*trustedProxies)...), sandbox.WithNamespaceDir(*dataDir), sandbox.WithMaxNamespaces(*maxNamespaces),
		sandbox.WithNamespaceTTL(*namespaceTTL),
	}
	if *maxNamespaces < 1 || *namespaceTTL < 0 {
		return usageError("--max-namespaces must be at least 1 and --namespace-ttl not negative")
	}
	if *fixturesDir != "" {
		fsys, err := sandbox.FixturesDir(*fixturesDir)
		if err != nil {
			return fmt.Errorf("--fixtures: %w", err)
		}
		opts = append(opts, sandbox.WithFixtures(fsys))
	}
	if *caDir != "" {
		opts = append(opts, sandbox.WithCADir(*caDir))
	}
	for h := range strings.SplitSeq(*extraHosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			opts = append(opts, sandbox.WithEmulatedHosts(h))
		}
	}
	var rec *sandbox.Recorder
	if *record != "" {
		// A recording replays byte for byte only from a fresh store with a frozen clock: the
		// integrator's suite moves time through /_sandbox/clock, which is recorded too.
		rec = &sandbox.Recorder{Name: "recorded " + time.Now().UTC().Format(time.RFC3339), PinHashes: *recordHashes}
		opts = append(opts, sandbox.WithRecorder(rec), sandbox.WithFrozenClock(time.Now().UTC().Truncate(time.Second)))
		if !dataSet {
			opts = append(opts, sandbox.WithStorePath(":memory:"))
			*data = ":memory:"
		}
	}
	// The port first: a second server started by mistake on the same address stops here, before
	// it opens (let alone writes) the data file. The data file's own lock stops one on another
	// address.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	var tlsLn net.Listener
	if *tlsAddr != "" {
		if tlsLn, err = net.Listen("tcp", *tlsAddr); err != nil {
			_ = ln.Close()
			return fmt.Errorf("--tls-addr: %w", err)
		}
	}
	// Start-up is mostly parsing the OpenAPI documents, which allocates a great deal of
	// short-lived memory: hold the collector off until the sandbox is built, then give the
	// memory back once it listens.
	startGC := debug.SetGCPercent(-1)
	hub, err := sandbox.NewHub(opts...)
	debug.SetGCPercent(startGC)
	useServingGC()
	if err != nil {
		_ = ln.Close()
		if tlsLn != nil {
			_ = tlsLn.Close()
		}
		return err
	}
	defer func() {
		if rec != nil {
			if err := rec.WriteFile(*record); err != nil {
				logger.Error("write recording", "err", err)
			} else {
				fmt.Fprintf(stdout, "recorded %d requests to %s (replay: citysandbox replay %s)\n", rec.Len(), *record, *record)
			}
		}
		if err := hub.Close(); err != nil {
			logger.Error("close", "err", err)
		}
	}()
	// The forward proxy is always on, so the CA is made (or read) now: a problem with its
	// directory stops the start instead of the first tunnel.
	sb := hub.Default()
	ca, err := sb.CA()
	if err != nil {
		_ = ln.Close()
		if tlsLn != nil {
			_ = tlsLn.Close()
		}
		return err
	}
	go debug.FreeOSMemory()
	banner(stdout, hub, ln.Addr(), *data, *dataDir, *adminToken)
	tlsBanner(stdout, sb, ln.Addr(), tlsLn, ca)
	if *adminToken == "" && !isLoopback(ln.Addr()) {
		logger.Warn("the control plane is open to the network: set --admin-token when listening on a non-loopback address", "addr", ln.Addr().String())
	}
	if tlsLn == nil {
		return hub.Serve(ctx, ln)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tlsDone := make(chan error, 1)
	go func() {
		err := hub.ServeTLS(ctx, tlsLn)
		cancel() // either listener failing stops both
		tlsDone <- err
	}()
	err = hub.Serve(ctx, ln)
	cancel()
	return errors.Join(err, <-tlsDone)
}

// tlsBanner says how clients reach the sandbox on the platforms' own https:// URLs.
func tlsBanner(w io.Writer, sb *sandbox.Server, plain net.Addr, tlsLn net.Listener, ca sandbox.CA) {
	where := ca.Path
	if where == "" {
		where = "in memory only"
	}
	fmt.Fprintf(w, "CA certificate: %s (also GET http://%s/_sandbox/ca.pem, or citysandbox ca)\n", where, plain)
	fmt.Fprintf(w, "forward proxy: HTTPS_PROXY=http://%s for %s\n", plain, strings.Join(sb.EmulatedHosts(), ", "))
	if tlsLn != nil {
		fmt.Fprintf(w, "HTTPS on https://%s for the same hosts by SNI (map them to %s in /etc/hosts or extra_hosts)\n", tlsLn.Addr(), hostOf(tlsLn.Addr()))
	}
}

func hostOf(a net.Addr) string {
	if tcp, ok := a.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	return a.String()
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// banner prints the address, the fixture credentials and the control plane's URL.
func banner(w io.Writer, hub *sandbox.Hub, a net.Addr, data, dataDir, adminToken string) {
	sb := hub.Default()
	base := "http://" + a.String()
	fmt.Fprintf(w, "citysandbox %s listening on %s (state: %s)\n", version, base, data)
	fmt.Fprintf(w, "control plane: %s/_sandbox/  (health: %s/_sandbox/health)\n", base, base)
	if dataDir == "" {
		dataDir = ":memory:"
	}
	spaces, _ := hub.Namespaces()
	fmt.Fprintf(w, "namespaces: POST %s/_sandbox/namespaces, then %s/ns/<name>/… (%d open, state: %s)\n", base, base, len(spaces), dataDir)
	for _, m := range sb.HostMappings() {
		fmt.Fprintf(w, "host %s resolves to %s\n", m.Host, m.Addr)
	}
	if adminToken != "" {
		fmt.Fprintln(w, "control plane and simulated app require: Authorization: Bearer <admin token> (a browser: any user, the token as password)")
	}
	apps, err := sb.WeChat().FixtureApps()
	if err != nil {
		fmt.Fprintf(w, "fixture apps: %v\n", err)
		return
	}
	fmt.Fprintln(w, "WeChat fixture apps (point api.weixin.qq.com and mp.weixin.qq.com here):")
	for _, app := range apps {
		kind := app.Type
		if app.ServiceType != "" {
			kind += "/" + app.ServiceType
		}
		fmt.Fprintf(w, "  %-28s appid=%s secret=%s  %s\n", kind, app.AppID, app.Secret, strings.TrimSpace(app.Name))
	}
	vendors, japps, err := sb.Jincheng().FixtureCredentials()
	if err != nil {
		fmt.Fprintf(w, "Jincheng fixtures: %v\n", err)
		return
	}
	fmt.Fprintf(w, "Jincheng 晋来办 (%s/jincheng/, simulated app: %s/jincheng/app/):\n", base, base)
	for _, v := range vendors {
		fmt.Fprintf(w, "  vendor %-21s password=%s  %s\n", v.Account, v.Password, v.Name)
	}
	for _, a := range japps {
		fmt.Fprintf(w, "  app    %-21s appSecret=%s  %s\n", a.AppCode, a.AppSecret, a.AppName)
	}
}
