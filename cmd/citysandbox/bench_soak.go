package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchSoak serves the binary on a data file and drives mixed load at it — token calls, reads
// and bench's write (a permanent QR code, one of 90,000 scenes) — from concurrency clients at
// the maximum rate for d, printing the server's RSS and the data file's size each minute.
// Temporary codes are left out: the sandbox remembers one 5 minutes past its expiry
// (qr.ExpiredCodeMemory), so they hold the state at that many minutes of writes.
func benchSoak(ctx context.Context, d time.Duration, concurrency int, stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "citysandbox-soak-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "citysandbox.db")
	sb, err := startBenchChild(ctx, "/_sandbox/health", "serve", "--data", data, "--log-level", "error")
	if err != nil {
		return err
	}
	defer sb.stop()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2}}
	app, err := createApp(client, sb.url())
	if err != nil {
		return err
	}
	t, err := fetchToken(client, sb.url(), app.AppID, app.Secret)
	if err != nil {
		return err
	}
	// The token calls are another app's: a token call supersedes the app's token, and only the
	// one before stays valid for the overlap, so the reads and writes keep one token of their own.
	issuer, err := createApp(client, sb.url())
	if err != nil {
		return err
	}
	var sent, failed atomic.Int64
	var n atomic.Int64
	// One request in eight is a token call, four are reads, three are writes.
	step := func() error {
		i := n.Add(1)
		var req *http.Request
		switch i % 8 {
		case 0:
			req, _ = http.NewRequest("GET", sb.url()+"/cgi-bin/token?grant_type=client_credential&appid="+issuer.AppID+"&secret="+issuer.Secret, nil)
		case 1, 2, 3, 4:
			req, _ = http.NewRequest("POST", sb.url()+"/cgi-bin/openapi/quota/get?access_token="+t, strings.NewReader(`{"cgi_path":"/cgi-bin/token"}`))
		default:
			req, _ = http.NewRequest("POST", sb.url()+"/cgi-bin/qrcode/create?access_token="+t, strings.NewReader(fmt.Sprintf(`{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"soak-%d"}}}`, i%90000)))
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || strings.Contains(string(raw), `"errcode":4`) {
			return fmt.Errorf("%d %s", resp.StatusCode, raw)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var lastErr atomic.Value
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sent.Add(1)
				if err := step(); err != nil && ctx.Err() == nil {
					failed.Add(1)
					lastErr.Store(err.Error())
				}
			}
		}()
	}
	fmt.Fprintf(stdout, "citysandbox bench --soak %s: %d clients, mixed tokens (1/8), reads (4/8), writes (3/8), served binary on a data file\n", d, concurrency)
	fmt.Fprintf(stdout, "%6s %12s %12s %12s %8s\n", "minute", "requests", "RSS", "data file", "errors")
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	var prev int64
	for minute := 1; ; minute++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			if s := sent.Load(); s > prev {
				fmt.Fprintf(stdout, "%6d %12d %12s %12s %8d\n", minute, s-prev, rss(sb.cmd.Process.Pid), fileSize(data), failed.Load())
			}
			if e, ok := lastErr.Load().(string); ok {
				fmt.Fprintf(stdout, "last error: %s\n", e)
			}
			return nil
		case <-tick.C:
		}
		s := sent.Load()
		fmt.Fprintf(stdout, "%6d %12d %12s %12s %8d\n", minute, s-prev, rss(sb.cmd.Process.Pid), fileSize(data), failed.Load())
		prev = s
	}
}

// benchRecords makes calls token calls against a served binary on a data file, moves its clock
// 3 hours and prints how many records the calls added and how many are left.
func benchRecords(ctx context.Context, calls, concurrency int, stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "citysandbox-records-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	sb, err := startBenchChild(ctx, "/_sandbox/health", "serve", "--data", filepath.Join(dir, "citysandbox.db"), "--log-level", "error")
	if err != nil {
		return err
	}
	defer sb.stop()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2}}
	app, err := createApp(client, sb.url())
	if err != nil {
		return err
	}
	before, err := countRecords(client, sb.url())
	if err != nil {
		return err
	}
	var left atomic.Int64
	left.Store(int64(calls))
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 && ctx.Err() == nil {
				if _, err := fetchToken(client, sb.url(), app.AppID, app.Secret); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	grown, err := countRecords(client, sb.url())
	if err != nil {
		return err
	}
	if raw, err := post(client, sb.url()+"/_sandbox/clock", []byte(`{"advance":"3h"}`)); err != nil {
		return err
	} else if !strings.Contains(string(raw), "now") {
		return fmt.Errorf("bench: clock: %s", raw)
	}
	after, err := countRecords(client, sb.url())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "citysandbox bench --records %d: %d token calls (%d failed) against a served binary on a data file\n", calls, calls, failed.Load())
	fmt.Fprintf(stdout, "records before %d, after the calls %d (+%d), 3 hours on %d (+%d): %.3f %% of the calls left a record\n",
		before, grown, grown-before, after, after-before, 100*float64(after-before)/float64(calls))
	return nil
}

// countRecords counts the entries of the state's snapshot.
func countRecords(client *http.Client, base string) (int, error) {
	resp, err := client.Get(base + "/_sandbox/state")
	if err != nil {
		return 0, fmt.Errorf("bench: state: %w", err)
	}
	defer resp.Body.Close()
	var snap struct {
		Entries []json.RawMessage `json:"entries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		return 0, fmt.Errorf("bench: state: %w", err)
	}
	return len(snap.Entries), nil
}
