package charge

import (
	"net/url"
	"slices"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
)

// FuzzUsageParams checks that usage/get's parameter decoder never panics, refuses only with the
// family's codes, and accepts only values within the documented ranges.
func FuzzUsageParams(f *testing.F) {
	f.Add("spuId=10000077&offset=0&limit=20", []byte(nil))
	f.Add("", []byte(`{"spuId":"10000086","offset":3,"limit":1}`))
	f.Add("offset=-1", []byte(`{"spuId":10000058,"limit":"20"}`))
	f.Add("limit=1e3", []byte(`[1,2]`))
	f.Add("spuId=%00", []byte(`{"offset":1.5,"limit":null}`))
	f.Fuzz(func(t *testing.T, rawQuery string, body []byte) {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		param := queryOrBody(q.Get, body)
		refused := func(err error) bool {
			e := apierr.As(err)
			if e == nil || !slices.Contains([]int{codeInvalidParams, codeInvalidSpu}, e.Code) {
				t.Fatalf("refusal %v is not 10120002 or 10120700", err)
			}
			return true
		}
		prod, err := spuParam(param)
		if err != nil && refused(err) {
			return
		}
		if prod == nil {
			t.Fatal("spuParam accepted no product")
		}
		offset, err := intParam(param, "offset", 0, 1<<30)
		if err != nil && refused(err) {
			return
		}
		limit, err := intParam(param, "limit", 1, MaxUsageLimit)
		if err != nil && refused(err) {
			return
		}
		if offset < 0 || limit < 1 || limit > MaxUsageLimit {
			t.Fatalf("accepted offset %d, limit %d", offset, limit)
		}
	})
}
