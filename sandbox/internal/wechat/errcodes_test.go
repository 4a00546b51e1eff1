package wechat_test

import (
	"strings"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

func TestErrmsgPunctuation(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	a := k.Do("GET", testkit.TokenURL(testkit.ServiceAppID, strings.Repeat("0", 32)), nil)
	if !strings.HasPrefix(a.Str("errmsg"), "invalid appsecret, rid: ") {
		t.Errorf("40125 errmsg = %q, want WeChat's comma before rid", a.Str("errmsg"))
	}
}
