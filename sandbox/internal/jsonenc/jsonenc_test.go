package jsonenc

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
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

// decodeTarget has what the sandbox's records and request bodies have: pointers for optional
// fields, nesting, times, numbers of several widths, a slice and a map.
type decodeTarget struct {
	Name     string               `json:"name"`
	Expire   *int64               `json:"expire_seconds"`
	Scene    *struct{ ID *int64 } `json:"scene"`
	Small    uint8                `json:"small"`
	At       time.Time            `json:"at"`
	List     []string             `json:"list"`
	Extra    map[string]any       `json:"extra"`
	Optional *string              `json:"optional"`
}

// Unmarshal promises encoding/json's results: the same value, and an error where encoding/json
// has one.
func TestUnmarshalDecodesAsEncodingJSONDoes(t *testing.T) {
	for _, in := range []string{
		`{"name":"a","expire_seconds":60,"scene":{"ID":7},"small":3,"at":"2026-12-03T08:00:00+08:00","list":["x"],"extra":{"k":[1,"2",null]}}`,
		`{"NAME":"case is ignored","Expire_Seconds":1}`,
		`{"name":"unknown fields are skipped","other":{"deep":[1,2,3]}}`,
		`{"optional":null,"scene":null,"list":null}`,
		`{"name":"first","name":"last wins"}`,
		`{"small":300}`,
		`{"expire_seconds":"60"}`,
		`{"at":"yesterday"}`,
		`{"name":"\ud800 lone surrogate"}`,
		`{"name":1}`,
		`[1,2]`,
		`{"name":"a"`,
		`{"extra":{"n":1e400}}`,
	} {
		var got, want decodeTarget
		gotErr, wantErr := Unmarshal([]byte(in), &got), json.Unmarshal([]byte(in), &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: error %v, encoding/json's %v", in, gotErr, wantErr)
			continue
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, encoding/json decodes %+v", in, got, want)
		}
	}
}

// AppendQuoted and AppendTime write what encoding/json.Marshal writes for a string and a time,
// AppendString what Marshal writes for a string.
func TestAppendersWriteEncodingJSONsBytes(t *testing.T) {
	for _, s := range []string{"", "plain ascii", `"q"`, `\`, "<>&", "晋城", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "a\tb"} {
		want, _ := json.Marshal(s)
		if got := AppendQuoted([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendQuoted(%q) = %s, want x%s", s, got, want)
		}
		want, _ = Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendString(%q) = %s, want x%s (Marshal's)", s, got, want)
		}
	}
	for _, at := range []time.Time{
		{}, time.Unix(1764720000, 1).UTC(), time.Date(2026, 12, 3, 8, 0, 0, 500, time.FixedZone("CST", 8*3600)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("", -(23*3600+59*60))),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600)),
	} {
		want, wantErr := json.Marshal(at)
		got, err := AppendTime(nil, at)
		if (err == nil) != (wantErr == nil) || (err == nil && string(got) != string(want)) {
			t.Errorf("AppendTime(%v) = %s, %v; encoding/json writes %s, %v", at, got, err, want, wantErr)
		}
	}
}

// FuzzAppendersWriteEncodingJSONsBytes: for any string, the appenders write what encoding/json
// (AppendQuoted) and Marshal (AppendString) write.
func FuzzAppendersWriteEncodingJSONsBytes(f *testing.F) {
	for _, s := range []string{"", "晋城市民服务号", "<a href=\"x\">&</a>", "\u2028", "\xe2\x80", "\xed\xa0\x80", "\U0010ffff", "tab\t\b\f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendQuoted(nil, s); string(got) != string(want) {
			t.Fatalf("AppendQuoted(%q) = %s, encoding/json writes %s", s, got, want)
		}
		want, _ = Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, Marshal writes %s", s, got, want)
		}
	})
}
