package wechat

import (
	"reflect"
	"regexp"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
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

// The answers that write their own JSON write jsonenc.Marshal's bytes: every field set (found by
// reflection, so that a field added to the answer and not to its AppendAnswer fails here), and
// envelopes whose errmsg needs escaping.
func TestAnswersWriteMarshalsBytes(t *testing.T) {
	var full quotaAnswer
	n := int64(1)
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		case reflect.Int:
			n = n*7 + 1
			v.SetInt(n)
		case reflect.String:
			v.SetString("s<>&\"\\\u2028 晋")
		default:
			t.Fatalf("a %s in quotaAnswer: teach this test and AppendAnswer about it", v.Kind())
		}
	}
	fill(reflect.ValueOf(&full).Elem())
	answers := []AnswerAppender{full, quotaAnswer{Envelope: OK()}, quotaAnswer{Envelope: Envelope{Errcode: -1, Errmsg: "\xff"}}}
	for _, a := range answers {
		want, err := jsonenc.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := marshal(a); string(got) != string(want) {
			t.Errorf("%+v writes\n%s\njsonenc.Marshal writes\n%s", a, got, want)
		}
	}
}
