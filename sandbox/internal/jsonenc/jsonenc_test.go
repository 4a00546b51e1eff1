package jsonenc

import (
	"bytes"
	"math"
	"testing"
)

func TestMarshalKeepsHTMLAndUTF8AndDropsTheNewline(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{map[string]string{"q": "a<b>&c"}, `{"q":"a<b>&c"}`},
		{"晋城", `"晋城"`},
		{[]int{1, 2}, `[1,2]`},
		{"line\nbreak", `"line\nbreak"`},
	} {
		got, err := Marshal(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("Marshal(%#v) = %s, %v; want %s, nil", tc.in, got, err, tc.want)
		}
	}
	if _, err := Marshal(math.Inf(1)); err == nil {
		t.Error("Marshal(+Inf) succeeded, want the encoder's error")
	}
}

func TestWriteStringAppends(t *testing.T) {
	buf := bytes.NewBufferString("x=")
	WriteString(buf, `<"&">`)
	if got, want := buf.String(), `x="<\"&\">"`; got != want {
		t.Errorf("WriteString = %s, want %s", got, want)
	}
}
