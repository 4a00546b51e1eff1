package scenario_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/citysandbox/citysandbox/sandbox/internal/scenario"
	"github.com/citysandbox/citysandbox/sandbox/internal/yamldoc"
	"github.com/citysandbox/citysandbox/scenarios"
)

// compileSchema compiles scenarios/scenario.schema.json, the schema editors check files with.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := fs.ReadFile(scenarios.FS, "scenario.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("scenario.schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("scenario.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("scenario.schema.json")
	if err != nil {
		t.Fatalf("compile scenario.schema.json: %v", err)
	}
	return sch
}

// asJSON turns a YAML scenario into the JSON value an editor's YAML plugin would check.
func asJSON(t *testing.T, name string, data []byte) any {
	t.Helper()
	var v any
	if err := yamldoc.Decode(name, data, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s as JSON: %v", name, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// TestSchemaAcceptsShippedScenarios checks the schema against every shipped file (which the
// parser accepts: TestScenarios runs them), so the two cannot drift apart silently.
func TestSchemaAcceptsShippedScenarios(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	names, _ := fs.Glob(scenarios.FS, "*.yaml")
	for _, name := range names {
		data, _ := fs.ReadFile(scenarios.FS, name)
		if _, err := scenario.Parse(name, data); err != nil {
			t.Errorf("Parse: %v", err)
		}
		if err := sch.Validate(asJSON(t, name, data)); err != nil {
			t.Errorf("%s does not match scenario.schema.json: %v", name, err)
		}
	}
}

// TestSchemaRejectsWhatTheParserRejects: typos and malformed steps fail both.
func TestSchemaRejectsWhatTheParserRejects(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	for _, src := range []string{
		"stepz: []\nsteps:\n  - advance: 1h\n",
		"steps:\n  - request: {method: GET, path: /x}\n    expct: {status: 200}\n",
		"steps:\n  - request: {method: GET, path: /x}\n    expect: {statu: 200}\n",
		"steps:\n  - advance: 1h\n    set: 2026-03-02T10:00:00+08:00\n",
		"steps:\n  - name: nothing\n",
		"steps:\n  - request: {method: FETCH, path: /x}\n",
		"steps:\n  - request: {method: GET, path: x}\n",
		"steps:\n  - request: {method: GET, path: /x}\n    expect: {json: {a: {$regx: b}}}\n",
		"steps:\n  - request: {method: GET, path: /x}\n    capture: {t: {pth: a}}\n",
		"steps:\n  - advance: 1h\n    repeat: 3\n",
		"steps: []\n",
		"receivers: [{name: Oa, token: abcd}]\nsteps:\n  - advance: 1h\n",
		"receivers: [{name: oa, token: abcd, mode: safe}]\nsteps:\n  - advance: 1h\n",
		"receivers: [{name: oa, token: abcd, format: yaml}]\nsteps:\n  - advance: 1h\n",
		"receivers: [{name: oa}]\nsteps:\n  - advance: 1h\n",
		"receivers: [{name: oa, token: abcd}]\nsteps:\n  - request: {method: GET, path: /x}\n    expect: {pushes: [{receiver: oa, jsn: {}}]}\n",
		"receivers: [{name: oa, token: abcd}]\nsteps:\n  - request: {method: GET, path: /x}\n    expect: {pushes: [{json: {Event: SCAN}}]}\n",
	} {
		if _, err := scenario.Parse("bad.yaml", []byte(src)); err == nil {
			t.Errorf("Parse accepted:\n%s", src)
		}
		if err := sch.Validate(asJSON(t, "bad.yaml", []byte(src))); err == nil {
			t.Errorf("the schema accepted:\n%s", strings.TrimSpace(src))
		}
	}
}
