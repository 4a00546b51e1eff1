package spec

import (
	"net/url"
	"strings"
)

// QueryValue returns the first value of the query parameter name in the raw query and how many
// values it has, as url.ParseQuery would read them: pairs split on "&", a pair holding ";" or a
// malformed escape skipped, keys and values unescaped ("+" is a space). It builds no map, and
// copies nothing for a key and value without escapes, which is every request on the hot path;
// the router's own query parsing builds a map of slices for every request that asks.
func QueryValue(raw, name string) (first string, n int) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(key, "%+") {
			k, err := url.QueryUnescape(key)
			if err != nil {
				continue
			}
			key = k
		}
		if key != name {
			continue
		}
		if strings.ContainsAny(value, "%+") {
			v, err := url.QueryUnescape(value)
			if err != nil {
				continue
			}
			value = v
		}
		if n == 0 {
			first = value
		}
		n++
	}
	return first, n
}
