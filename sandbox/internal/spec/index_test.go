package spec

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/openapi"
)

var update = flag.Bool("update", false, "rewrite openapi/operations.json from the documents")

// TestOperationIndexIsCurrent derives the operation index from the built-in documents and
// compares it with the one the sandbox starts from (openapi/operations.json).
func TestOperationIndexIsCurrent(t *testing.T) {
	t.Parallel()
	s, err := LoadValidated(openapi.FS)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Index()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("../../../openapi/operations.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, openapi.Index) {
		t.Fatal("openapi/operations.json does not match the documents: run go test ./sandbox/internal/spec -run TestOperationIndexIsCurrent -update")
	}
}

// TestLoadIndexedIsLoad loads the built-in documents both ways: the same operations, and once
// parsed the same validation.
func TestLoadIndexedIsLoad(t *testing.T) {
	t.Parallel()
	want, err := LoadValidated(openapi.FS)
	if err != nil {
		t.Fatal(err)
	}
	got, err := LoadIndexed(openapi.FS, openapi.Index)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Operations) != len(want.Operations) || len(got.Documents) != len(want.Documents) {
		t.Fatalf("%d operations in %d documents, want %d in %d", len(got.Operations), len(got.Documents), len(want.Operations), len(want.Documents))
	}
	if err := got.Wait(); err != nil {
		t.Fatal(err)
	}
	accepting := 0
	for i, op := range got.Operations {
		w := want.Operations[i]
		if a, b := indexOf(op, op.acceptsAll), indexOf(w, w.acceptsEverything()); !strings.EqualFold(mustMarshal(t, a), mustMarshal(t, b)) {
			t.Errorf("operation %d: %+v, want %+v", i, a, b)
		}
		if op.acceptsAll {
			accepting++
		}
		if op.rt() == nil || op.rt().Operation != op.Document.doc.Paths.Value(op.Path).GetOperation(op.Method) {
			t.Errorf("%s: no route into its parsed document", op.ID)
		}
	}
	if accepting == 0 {
		t.Error("no operation admits every request (health should)")
	}
	// A refusal comes out the same from both.
	op, wop := got.Find("health"), want.Find("health")
	if op == nil || !op.acceptsAll {
		t.Fatal("health does not admit every request without its document")
	}
	reset, wreset := got.Find("reset"), want.Find("reset")
	r := httptest.NewRequest("POST", "/_sandbox/reset", strings.NewReader(`{"seed":"x"}`))
	r.Header.Set("Content-Type", "application/json")
	e1 := reset.ValidateRequest(context.Background(), Request{HTTP: r, Body: []byte(`{"seed":"x"}`)})
	e2 := wreset.ValidateRequest(context.Background(), Request{HTTP: r, Body: []byte(`{"seed":"x"}`)})
	if e1 == nil || e2 == nil || e1.Error() != e2.Error() {
		t.Errorf("reset with a string seed: %v, want %v (and an error)", e1, e2)
	}
	_ = wop
}

// TestLoadIndexedParsesWhenAsked: LoadIndexed parses nothing until Parse is called or something
// waits for a document, which then parses.
func TestLoadIndexedParsesWhenAsked(t *testing.T) {
	t.Parallel()
	idle, err := LoadIndexed(openapi.FS, openapi.Index)
	if err != nil {
		t.Fatal(err)
	}
	if idle.parsing.Load() {
		t.Fatal("the documents began to parse before Parse was called")
	}
	// Waiting for an operation's route starts the parse rather than waiting for ever.
	if idle.Find("reset").rt() == nil {
		t.Fatal("no route for reset once parsed")
	}
	started, err := LoadIndexed(openapi.FS, openapi.Index)
	if err != nil {
		t.Fatal(err)
	}
	started.Parse()
	started.Parse() // a second call changes nothing
	if !started.parsing.Load() {
		t.Error("Parse did not start the parse")
	}
	if err := started.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestLoadIndexedFindsAStaleIndex gives LoadIndexed an index that says an operation needs no
// admin token: once parsed, the document contradicts it and Wait says so.
func TestLoadIndexedFindsAStaleIndex(t *testing.T) {
	t.Parallel()
	stale := bytes.Replace(openapi.Index, []byte(`"id":"reset","method":"POST","path":"/_sandbox/reset","summary":"Back to the fixtures (all platforms, or one)","security":["adminToken"]`),
		[]byte(`"id":"reset","method":"POST","path":"/_sandbox/reset","summary":"Back to the fixtures (all platforms, or one)"`), 1)
	if bytes.Equal(stale, openapi.Index) {
		t.Fatal("the index has no reset operation as this test expects")
	}
	s, err := LoadIndexed(openapi.FS, stale)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("Wait = %v, want the index found stale", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("the route of an operation of a stale index was given out")
		}
	}()
	s.Find("reset").rt()
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
