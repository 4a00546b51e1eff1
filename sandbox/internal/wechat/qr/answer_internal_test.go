package qr

import (
	"reflect"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
)

// qrcode/create writes its answer itself (wechat.AnswerAppender); it must be what jsonenc.Marshal
// writes for it, byte for byte.
func TestQRCreateAnswerIsMarshals(t *testing.T) {
	t.Parallel()
	// Every field set, found by reflection, so that a field added to the answer and not to
	// AppendAnswer fails here.
	var full qrCreateAnswer
	v := reflect.ValueOf(&full).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.String:
			f.SetString("value of " + v.Type().Field(i).Name)
		case reflect.Int64:
			f.SetInt(2592000)
		default:
			t.Fatalf("qrCreateAnswer.%s is a %s: teach this test and AppendAnswer about it", v.Type().Field(i).Name, f.Kind())
		}
	}
	answers := []qrCreateAnswer{full, {}, {Ticket: "gQE+/=", URL: "http://weixin.qq.com/q/VcixxbsJjDwJ8CiKK6Lq"}}
	for _, odd := range []string{`quote " and \ backslash`, "<tag> & amp", "晋城", "tab\tnew\nline", "\x00\x1f", "\u2028\u2029", "bad \xff utf-8"} {
		answers = append(answers, qrCreateAnswer{Ticket: odd, ExpireSeconds: -1, URL: odd})
	}
	for _, a := range answers {
		want, err := jsonenc.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.AppendAnswer(nil); string(got) != string(want) {
			t.Errorf("%+v writes\n%s\njsonenc.Marshal writes\n%s", a, got, want)
		}
	}
}
