package sandbox_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox"
)

// A hub serves many sandboxes from one handler: the default one at the root paths and each
// namespace under /ns/<name>/ (or on the host <name>.ns.<any host>), with its own store, clock,
// seed, journal and faults.
func ExampleNewHub() {
	hub, err := sandbox.NewHub(sandbox.WithSeed(1))
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	srv := httptest.NewServer(hub.Handler()) // or hub.ListenAndServe
	defer srv.Close()

	// One test run's namespace, its clock frozen at a time of its own.
	seed := uint64(7)
	ns, err := hub.CreateNamespace(sandbox.NamespaceSpec{Name: "ci-4711", Seed: &seed,
		Clock: time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*60*60)), TTL: 2 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	inside, _ := hub.Namespace(ns.Name) // its Go twins: WeChat(), Jincheng(), Advance...
	inside.Advance(2 * time.Hour)

	get := func(path string) string {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(body))
	}
	fmt.Println(get(ns.Path + "/_sandbox/clock"))
	// An unknown namespace gets WeChat's unknown-path answer (the rid follows the root's clock).
	unknown, _, _ := strings.Cut(get("/ns/nope/cgi-bin/token"), " rid: ")
	fmt.Println(unknown)
	// Output:
	// {"now":"2026-03-02T04:00:00Z","unix":1772424000,"frozen":true}
	// {"errcode":40066,"errmsg":"invalid url
}
