package sandbox_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
	"github.com/citysandbox/citysandbox/sandbox/sandboxtest"
)

func TestUnknownPathAndWrongMethod(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	k.Unchanged(func() {
		k.WantErrcode(k.Do("GET", "/cgi-bin/no/such/api", nil), 40066)
		k.WantErrcode(k.Do("GET", "/cgi-bin/stable_token", nil), 43002)
		k.WantErrcode(k.Do("PUT", "/cgi-bin/clear_quota", "{}"), 43002)
		if a := k.Do("GET", "/_sandbox/nothing", nil); a.Status != 404 || a.JSON["error"] == nil {
			t.Errorf("unknown control route: %s", a)
		}
	})
}

func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	open := func() *sandbox.Server {
		s, err := sandbox.New(sandbox.WithStorePath(path))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	app, err := s.WeChat().CreateApp(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	base := "http://" + (<-addrc).String()
	resp, err := http.Get(base + "/cgi-bin/token?grant_type=client_credential&appid=" + app.AppID + "&secret=" + app.Secret)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("no state on disk: %v", err)
	}
	s2 := open()
	defer s2.Close()
	again, err := s2.WeChat().App(app.AppID)
	if err != nil || again == nil || again.Secret != app.Secret {
		t.Fatalf("app lost across restart: %v %v", again, err)
	}
	k := testkit.Wrap(t, sandboxtest.Serve(t, s2))
	a := k.Post("/cgi-bin/openapi/quota/get", tok.AccessToken, `{"cgi_path":"/cgi-bin/token"}`)
	k.WantErrcode(a, 0)
	if used := a.JSON.Get("quota", "used"); used != float64(1) {
		t.Errorf("quota counter after restart = %v, want 1", used)
	}
}
