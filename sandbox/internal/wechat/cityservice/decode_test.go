package cityservice

import (
	"encoding/json"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
)

// FuzzParseParams checks the params decoder: it never panics, and what it accepts is at most
// MaxParams pairs with unique, non-empty keys that survive a round trip.
func FuzzParseParams(f *testing.F) {
	for _, seed := range []string{
		`[]`, `[{"key":"type","value":"11"}]`, `[{"key":"city","value":"广州"},{"key":"type","value":"11"}]`,
		`{"key":"type"}`, `[{"key":1,"value":"x"}]`, `null`, `[{"key":"a","value":"b","c":"d"}]`, `[[]]`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kvs, err := csParseParams(s)
		if err != nil {
			return
		}
		if len(kvs) > MaxParams {
			t.Fatalf("accepted %d pairs", len(kvs))
		}
		seen := map[string]bool{}
		for _, kv := range kvs {
			if kv.Key == "" || seen[kv.Key] {
				t.Fatalf("accepted an empty or repeated key in %q", s)
			}
			seen[kv.Key] = true
		}
		enc, _ := jsonenc.Marshal(kvs)
		again, err := csParseParams(string(enc))
		if err != nil || len(again) != len(kvs) {
			t.Fatalf("round trip of %q: %v %v", s, again, err)
		}
	})
}

func TestParseParams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int // pairs, or -1 for a refusal
	}{
		{`[]`, 0},
		{`[{"key":"type","value":"11"}]`, 1},
		{`[{"value":"11","key":"type"}]`, 1},
		{` [ {"key":"a","value":""} ] `, 1},
		{``, -1},
		{`null`, -1},
		{`{}`, -1},
		{`[{"key":"a"}]`, -1},
		{`[{"key":"","value":"x"}]`, -1},
		{`[{"key":"a","value":null}]`, -1},
		{`[{"key":"a","value":"1"},{"key":"a","value":"2"}]`, -1},
	} {
		got, err := csParseParams(tc.in)
		switch {
		case tc.want < 0 && err == nil:
			t.Errorf("csParseParams(%q) = %v, want a refusal", tc.in, got)
		case tc.want >= 0 && (err != nil || len(got) != tc.want):
			t.Errorf("csParseParams(%q) = %v, %v; want %d pairs", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParseOpenPath checks that any path or URL either resolves to a known page or is refused,
// never panics.
func FuzzParseOpenPath(f *testing.F) {
	meta := &csMeta{MiniProgram: csMiniProgram{AppID: "wxc175e7f1ce5e7f00", Username: "gh_c175e7f1ce5e", H5Base: "https://city.weixin.qq.com/h5"}}
	for _, seed := range []string{
		"pages/index/index?city_id=440100&src=0&bt=x", "/pages/service/index", "https://city.weixin.qq.com/h5/topic?topic=%E5%85%BB%E8%80%81",
		"https://evil.example.com/h5/index", "http://[::1", "pages/x?%zz", "",
	} {
		f.Add(seed, "")
	}
	f.Fuzz(func(t *testing.T, path, extra string) {
		pt, q, _, err := csParseOpenPath(meta, path, extra)
		if err != nil {
			return
		}
		if _, ok := csPageNames[pt]; !ok || q == nil {
			t.Fatalf("csParseOpenPath(%q) = page type %d, query %v", path, pt, q)
		}
	})
}

func TestBusinessTypeIsStable(t *testing.T) {
	t.Parallel()
	a, b := csBusinessType("wx5a1d0c0e00000001"), csBusinessType("wx5a1d0c0e00000002")
	if a != csBusinessType("wx5a1d0c0e00000001") || a == b || len(a) != len("open_")+10 {
		t.Errorf("business types %q, %q", a, b)
	}
	raw, _ := json.Marshal(a)
	if string(raw) != `"`+a+`"` {
		t.Errorf("business type %q needs escaping", a)
	}
}
