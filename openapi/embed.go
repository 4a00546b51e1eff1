// Package openapi holds the OpenAPI documents that drive the sandbox's routing and validation:
// wechat.yaml (WeChat's API on its own paths), sandbox.yaml (the /_sandbox control plane) and,
// per platform, further documents. It is data only.
package openapi

import "embed"

// FS holds every *.yaml document.
//
//go:embed *.yaml
var FS embed.FS
