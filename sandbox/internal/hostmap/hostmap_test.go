package hostmap_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/hostmap"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want hostmap.Mapping
	}{
		{"www.citytest.cn=127.0.0.1:9000", hostmap.Mapping{Host: "www.citytest.cn", Addr: "127.0.0.1:9000"}},
		{" WWW.CityTest.CN = 10.1.2.3:80 ", hostmap.Mapping{Host: "www.citytest.cn", Addr: "10.1.2.3:80"}},
		{"oa.receiver.invalid=[::1]:8080", hostmap.Mapping{Host: "oa.receiver.invalid", Addr: "[::1]:8080"}},
		{"localhost=192.168.0.7:443", hostmap.Mapping{Host: "localhost", Addr: "192.168.0.7:443"}},
	} {
		got, err := hostmap.Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "www.citytest.cn", "www.citytest.cn=127.0.0.1", "www.citytest.cn=localhost:80",
		"www.citytest.cn=8.8.8.8:80", "www.citytest.cn=203.0.113.9:80", "www.citytest.cn=127.0.0.1:0",
		"127.0.0.1=127.0.0.1:80", "bad_host.cn=127.0.0.1:80", "-a.cn=127.0.0.1:80", "a..cn=127.0.0.1:80",
		"=127.0.0.1:80",
	} {
		if got, err := hostmap.Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestMapSetLookupDelete(t *testing.T) {
	t.Parallel()
	m := hostmap.New(hostmap.Mapping{Host: "b.test.cn", Addr: "127.0.0.1:2"})
	if _, err := m.Set("A.test.cn", "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Set("c.test.cn", "1.1.1.1:80"); err == nil {
		t.Error("Set accepted a public address")
	}
	if got := m.Hosts(); !slices.Equal(got, []string{"a.test.cn", "b.test.cn"}) {
		t.Errorf("Hosts() = %v", got)
	}
	if addr, ok := m.Lookup("a.TEST.cn:443"); !ok || addr != "127.0.0.1:1" {
		t.Errorf("Lookup(a.TEST.cn:443) = %q, %v", addr, ok)
	}
	if !m.Delete("a.test.cn") || m.Delete("a.test.cn") {
		t.Error("Delete reported the wrong thing")
	}
	if _, ok := m.Lookup("a.test.cn"); ok {
		t.Error("a deleted host is still mapped")
	}
}

// TestClientPolicies: a mapped host reaches its address whatever port its URL names; a
// MappedOnly client refuses any other host before dialling.
func TestClientPolicies(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "host "+r.Host)
	}))
	defer srv.Close()
	m := hostmap.New()
	if _, err := m.Set("files.citytest.cn", strings.TrimPrefix(srv.URL, "http://")); err != nil {
		t.Fatal(err)
	}
	only := m.Client(hostmap.MappedOnly, 5*time.Second)
	resp, err := only.Get("http://files.citytest.cn/a/x.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "host files.citytest.cn" {
		t.Errorf("mapped host answered %q", body)
	}
	if _, err := only.Get("http://unmapped.citytest.cn/x.txt"); !hostmap.IsUnmapped(err) {
		t.Errorf("MappedOnly client on an unmapped host: %v, want an UnmappedError", err)
	}
	if _, err := only.Get(srv.URL); !hostmap.IsUnmapped(err) {
		t.Errorf("MappedOnly client on a bare address: %v, want an UnmappedError", err)
	}
	direct := m.Client(hostmap.MappedOrDirect, 5*time.Second)
	resp, err = direct.Get(srv.URL)
	if err != nil {
		t.Fatalf("MappedOrDirect client on the server's own address: %v", err)
	}
	resp.Body.Close()
	m.Delete("files.citytest.cn")
	if _, err := only.Get("http://files.citytest.cn/a/x.txt"); !hostmap.IsUnmapped(err) {
		t.Errorf("after Delete: %v, want an UnmappedError", err)
	}
}
