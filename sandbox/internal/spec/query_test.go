package spec

import (
	"net/url"
	"testing"
)

// TestQueryValueReadsAsParseQuery compares QueryValue with url.ParseQuery on queries with
// escapes, repeats, empty values, semicolons and malformed escapes.
func TestQueryValueReadsAsParseQuery(t *testing.T) {
	for _, raw := range []string{
		"", "a=1", "a=1&a=2", "a=&b=2", "a", "a=1;b=2&a=3", "a=%zz&a=4", "a%3D=1&a=%3D", "a+b=c+d&a b=x",
		"access_token=86_abc&x=1", "&&a=1&&", "a=1=2", "%61=escaped-key", "a=%E4%B8%AD",
	} {
		want, _ := url.ParseQuery(raw)
		for _, name := range []string{"a", "b", "a b", "a=", "access_token", "x", "zz"} {
			first, n := QueryValue(raw, name)
			wantFirst := ""
			if vs := want[name]; len(vs) > 0 {
				wantFirst = vs[0]
			}
			if n != len(want[name]) || first != wantFirst {
				t.Errorf("QueryValue(%q, %q) = %q, %d; ParseQuery gives %q", raw, name, first, n, want[name])
			}
		}
	}
}

func FuzzQueryValue(f *testing.F) {
	f.Add("a=1&a=2;x&b=%zz", "a")
	f.Fuzz(func(t *testing.T, raw, name string) {
		want, _ := url.ParseQuery(raw)
		first, n := QueryValue(raw, name)
		wantFirst := ""
		if vs := want[name]; len(vs) > 0 {
			wantFirst = vs[0]
		}
		if n != len(want[name]) || first != wantFirst {
			t.Errorf("QueryValue(%q, %q) = %q, %d; ParseQuery gives %q", raw, name, first, n, want[name])
		}
	})
}
