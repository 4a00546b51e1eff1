package component_test

import (
	"slices"
	"testing"

	"github.com/citysandbox/citysandbox/openapi"
	"github.com/citysandbox/citysandbox/sandbox/internal/spec"
)

// TestEveryTokenAPIDeclaresPermissionSets keeps openapi/wechat.yaml honest as families are added:
// every API called with an account's access token says which third-party permission sets grant
// it (x-wechat-permission-sets), since an authorizer token is refused with 61007 only where one
// is declared. The quota and rid tools are exempt: WeChat lets any token call them.
func TestEveryTokenAPIDeclaresPermissionSets(t *testing.T) {
	t.Parallel()
	s, err := spec.Load(openapi.FS)
	if err != nil {
		t.Fatal(err)
	}
	exempt := []string{"/cgi-bin/clear_quota", "/cgi-bin/openapi/quota/get", "/cgi-bin/openapi/quota/clear", "/cgi-bin/openapi/rid/get"}
	// The ids of the reference's permission-set table (wechat-component.md §9.1).
	known := []int{1, 2, 3, 4, 7, 11, 15, 17, 18, 19, 22, 25, 76, 105, 151}
	checked := 0
	for _, op := range s.Operations {
		if op.Document.Platform != "wechat" || !slices.Contains(op.Security, "accessToken") || slices.Contains(exempt, op.Path) {
			continue
		}
		checked++
		if len(op.PermissionSets) == 0 {
			t.Errorf("%s %s (%s) declares no x-wechat-permission-sets", op.Method, op.Path, op.ID)
		}
		for _, id := range op.PermissionSets {
			if !slices.Contains(known, id) {
				t.Errorf("%s %s: permission set %d is not in the reference's table", op.Method, op.Path, id)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no token-authenticated WeChat API found: the check checks nothing")
	}
}
