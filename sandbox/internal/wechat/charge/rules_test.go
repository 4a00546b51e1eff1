package charge

import (
	"slices"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

func testApp(subject string, verified bool) *wechat.App {
	return &wechat.App{AppID: "wx0123456789abcdef", Type: wechat.TypeMiniProgram, SubjectType: subject, Verified: verified}
}

func TestBlur(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ avg, want int64 }{
		{1, 50}, {50, 50}, {51, 51}, {99, 99}, {100, 100}, {101, 110}, {134, 140}, {999, 1000}, {259001, 260000}, {260000, 260000},
	} {
		if got := blur(tc.avg); got != tc.want {
			t.Errorf("blur(%d) = %d, want %d", tc.avg, got, tc.want)
		}
	}
}

func TestEvaluateQuota(t *testing.T) {
	t.Parallel()
	percents := func(st *productState) []int {
		var out []int
		for _, w := range st.QuotaWarnings {
			out = append(out, w.Percent)
		}
		return out
	}
	st := &productState{}
	for i, step := range []struct {
		all, used int64
		due       bool
		percent   int
		sent      []int
	}{
		{1000, 799, false, 0, nil},
		{1000, 800, true, 20, []int{20}},
		{1000, 801, false, 0, []int{20}},
		{1000, 960, true, 5, []int{20, 10, 5}}, // past 10 and 5 at once: one warning, of 5
		{2000, 960, false, 0, nil},             // a new pack: 52 % left, all re-armed
		{2000, 1900, true, 5, []int{20, 10, 5}},
		{2100, 1900, false, 0, []int{20, 10}}, // 9.5 % left: 5 re-armed only
		{2100, 2100, true, 0, []int{20, 10, 5, 0}},
		{0, 0, false, 0, []int{20, 10, 5, 0}}, // nothing in effect: nothing changes
	} {
		percent, due, _ := st.evaluateQuota(totals{All: step.all, Used: step.used}, int64(i))
		if due != step.due || percent != step.percent || !slices.Equal(percents(st), step.sent) {
			t.Errorf("step %d (%d of %d used): due %v percent %d sent %v, want %v %d %v", i, step.used, step.all, due, percent, percents(st), step.due, step.percent, step.sent)
		}
	}
}

func TestStanding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		subject, category, exemption string
		exempt, eligible             bool
	}{
		{"government", "", "", true, true},
		{"enterprise", "", "", false, true},
		{"nonprofit", "", "", true, true},
		{"public_institution", "政务民生", "", true, true},
		{"public_institution", "学历教育", "", true, true},
		{"public_institution", "文化", "", false, true},
		{"enterprise", "公立医疗机构", "", true, true},
		{"government", "", ExemptionCharged, false, true},
		{"enterprise", "", ExemptionExempt, true, true},
		{"personal", "", "", false, false},
	} {
		st := standingOf(testApp("other", true), &settings{Subject: tc.subject, Category: tc.category, Exemption: tc.exemption})
		if st.Exempt != tc.exempt || st.Eligible != tc.eligible {
			t.Errorf("%+v: exempt %v eligible %v", tc, st.Exempt, st.Eligible)
		}
	}
	if standingOf(testApp("enterprise", false), &settings{}).Eligible {
		t.Errorf("an unverified Mini Program is eligible")
	}
}
