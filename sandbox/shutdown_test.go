package sandbox_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

// TestSandboxtestStopsTheHTTPServerBeforeTheStore holds a request in flight — a QR-jump rule
// whose verification file the integrator's server serves only when told — while the test that
// made the sandbox ends. The file is released only once the sandbox's listener is closed, that
// is once the cleanup has begun stopping the HTTP server: the request then completes with its
// store still open, and is answered errcode 0. Closing the store first would fail it.
func TestSandboxtestStopsTheHTTPServerBeforeTheStore(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	content := make(chan string, 1)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, <-content)
	}))
	defer files.Close()
	type answer struct {
		status int
		body   string
		err    error
	}
	done := make(chan answer, 1)
	t.Run("sandbox", func(t *testing.T) {
		srv := sandboxtest.New(t)
		addr := strings.TrimPrefix(srv.URL, "http://")
		k := testkit.Wrap(t, srv)
		released := true
		mp := k.App(sandbox.WeChatAppSpec{Type: "mini_program", Released: &released})
		tok := k.AppToken(mp)
		if _, err := srv.MapHost("bus.citytest.cn", strings.TrimPrefix(files.URL, "http://")); err != nil {
			t.Fatal(err)
		}
		dl := k.Post("/cgi-bin/wxopen/qrcodejumpdownload", tok, `{}`)
		content <- dl.Str("file_content")
		rule := `{"prefix":"https://bus.citytest.cn/` + dl.Str("file_name") + `","path":"pages/index/index","is_edit":0,"open_version":3,"permit_sub_rule":1}`
		client := srv.Client()
		go func() {
			resp, err := client.Post(srv.URL+"/cgi-bin/wxopen/qrcodejumpadd?access_token="+tok, "application/json", strings.NewReader(rule))
			if err != nil {
				done <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			done <- answer{status: resp.StatusCode, body: string(b)}
		}()
		select {
		case <-arrived:
		case <-time.After(20 * time.Second):
			t.Fatal("the sandbox never fetched the verification file")
		}
		// Ending here runs the cleanups with the request in flight.
		go func() {
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					break // the listener is closed: the HTTP server is stopping
				}
				c.Close()
			}
			close(release)
		}()
	})
	select {
	case a := <-done:
		if a.err != nil || a.status != http.StatusOK || !strings.Contains(a.body, `"errcode":0`) {
			t.Errorf("the request in flight at shutdown: %d %s %v, want 200 errcode 0", a.status, a.body, a.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the request in flight never completed")
	}
}

// TestServeStopsTheHTTPServerFirst cancels Serve while a request is held in flight as above:
// Serve closes its listener but returns only after the request has been answered (errcode 0),
// so Close, which comes after Serve in citysandbox serve and the hub, never finds a request
// still using the store.
func TestServeStopsTheHTTPServerFirst(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	content := make(chan string, 1)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, <-content)
	}))
	defer files.Close()
	sb, err := sandbox.New()
	if err != nil {
		t.Fatal(err)
	}
	// Registered before sandboxtest.Serve's cleanup, so it runs after it.
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Error(err)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- sb.Serve(ctx, ln) }()
	k := testkit.Wrap(t, sandboxtest.Serve(t, sb))
	released := true
	mp := k.App(sandbox.WeChatAppSpec{Type: "mini_program", Released: &released})
	tok := k.AppToken(mp)
	if _, err := sb.MapHost("bus.citytest.cn", strings.TrimPrefix(files.URL, "http://")); err != nil {
		t.Fatal(err)
	}
	dl := k.Post("/cgi-bin/wxopen/qrcodejumpdownload", tok, `{}`)
	content <- dl.Str("file_content")
	rule := `{"prefix":"https://bus.citytest.cn/` + dl.Str("file_name") + `","path":"pages/index/index","is_edit":0,"open_version":3,"permit_sub_rule":1}`
	type answer struct {
		status int
		body   string
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/cgi-bin/wxopen/qrcodejumpadd?access_token="+tok, "application/json", strings.NewReader(rule))
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- answer{status: resp.StatusCode, body: string(b)}
	}()
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the sandbox never fetched the verification file")
	}
	cancel()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break // the listener is closed
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("Serve kept its listener open after its context ended")
		}
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if a := <-done; a.err != nil || a.status != http.StatusOK || !strings.Contains(a.body, `"errcode":0`) {
		t.Errorf("the request in flight at shutdown: %d %s %v, want 200 errcode 0", a.status, a.body, a.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after the request was answered")
	}
}
