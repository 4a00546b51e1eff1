// Package scenarios holds the scenario files that ship with citysandbox: end-to-end examples of
// each emulated family, replayed by `citysandbox replay` and run by TestScenarios. The format is
// described in README.md and scenario.schema.json.
package scenarios

import "embed"

// FS holds every scenario (*.yaml) and the JSON Schema that describes them.
//
//go:embed *.yaml scenario.schema.json
var FS embed.FS
