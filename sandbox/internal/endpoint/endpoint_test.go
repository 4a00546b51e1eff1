package endpoint

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/citysandbox/citysandbox/sandbox/internal/spec"
)

const doc = `openapi: 3.0.3
info: {title: t, version: "1"}
x-sandbox-platform: wechat
paths:
  /a:
    get:
      operationId: opA
      responses: {"200": {description: ok}}
  /b:
    post:
      operationId: opB
      responses: {"200": {description: ok}}
`

func TestParity(t *testing.T) {
	s, err := spec.Load(fstest.MapFS{"t.yaml": {Data: []byte(doc)}})
	if err != nil {
		t.Fatal(err)
	}
	noop := func(*Call) (any, error) { return nil, nil }
	if err := Parity(s, Routes{"opA": noop, "opB": noop}); err != nil {
		t.Errorf("matching routes: %v", err)
	}
	err = Parity(s, Routes{"opA": noop, "opC": noop})
	if err == nil || !strings.Contains(err.Error(), "opB (POST /b) has no handler") || !strings.Contains(err.Error(), "handler opC has no operation") {
		t.Errorf("Parity = %v, want both problems named", err)
	}
}
