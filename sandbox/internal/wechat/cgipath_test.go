package wechat

import (
	"regexp"
	"testing"
)

// isCgiPath is the pattern ^/[A-Za-z0-9_/.-]+$ written out; this holds it to the pattern.
func TestIsCgiPathIsThePattern(t *testing.T) {
	pattern := regexp.MustCompile(`^/[A-Za-z0-9_/.-]+$`)
	cases := []string{
		"", "/", "//", "/cgi-bin/token", "cgi-bin/token", "/cgi-bin/token?x=1", "/a b", "/a\n",
		"/Z_9.-/", "/é", "https://api.weixin.qq.com/cgi-bin/token", "/cgi-bin/token#", "/\x00",
		"/a%2F", "/~", "/@", "/[", "/`", "/{",
	}
	for ch := 0; ch < 256; ch++ {
		cases = append(cases, "/"+string(rune(ch)), "/a"+string([]byte{byte(ch)}))
	}
	for _, c := range cases {
		if got, want := isCgiPath(c), pattern.MatchString(c); got != want {
			t.Errorf("isCgiPath(%q) = %v, the pattern says %v", c, got, want)
		}
	}
}
