// Package openapi holds the OpenAPI documents that drive the sandbox's routing and validation:
// wechat.yaml (WeChat's API on its own paths), sandbox.yaml (the /_sandbox control plane) and,
// per platform, further documents. It is data only.
package openapi

import "embed"

// FS holds every *.yaml document.
//
//go:embed *.yaml
var FS embed.FS

// Index is operations.json, the operation index of the documents in FS (see package spec's
// LoadIndexed): derived from them, and checked against them by the test suite, so that a sandbox
// routes requests while the documents are still being parsed.
//
//go:embed operations.json
var Index []byte
