package wechat_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

func TestRidFirstGroupIsTheSandboxTime(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	k.Advance(90 * time.Minute)
	a := k.Do("GET", "/cgi-bin/token?grant_type=client_credential&appid=nope&secret=x", nil)
	m := regexp.MustCompile(`^invalid appid rid: ([0-9a-f]{8})-[0-9a-f]{8}-[0-9a-f]{8}$`).FindStringSubmatch(a.Str("errmsg"))
	if m == nil {
		t.Fatalf("errmsg %q is not WeChat's template + rid", a.Str("errmsg"))
	}
	sec, _ := strconv.ParseInt(m[1], 16, 64)
	if want := k.Now().Unix(); sec != want {
		t.Errorf("rid time = %d, want the sandbox clock's %d", sec, want)
	}
}
