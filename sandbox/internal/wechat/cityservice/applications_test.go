package cityservice_test

import (
	"testing"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

func TestCityServiceApplication(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	a := k.Control("POST", csApplications, csApplication(testkit.ServiceAppID))
	if a.Status != 201 || a.Str("status") != "pending" {
		t.Fatalf("apply: %d %s", a.Status, a.Raw)
	}
	if want := "【城市服务开放互联能力申请+晋城市政务服务管理局+" + testkit.ServiceAppID + "】"; a.Str("email_title") != want {
		t.Errorf("email_title = %q, want %q", a.Str("email_title"), want)
	}
	id := a.Str("id")
	tok := k.Token(testkit.ServiceAppID, testkit.ServiceSecret)
	home := map[string]any{"page_type": 1, "src_channel": 0, "city_name": "晋城"}

	t.Run("pending answers 48001", func(t *testing.T) {
		k := k.For(t)
		k.Unchanged(func() { k.WantErrcode(csPath(k, tok, home), 48001) })
	})

	refusals := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"unknown app", "POST", csApplications, csApplication("wx0000000000000bad"), 404, "app_not_found"},
		{"no service", "POST", csApplications, csApplication(testkit.PersonalMiniAppID), 403, "not_eligible"},
		{"service without homepage", "POST", csApplications, csApplication(testkit.SubscriptionAppID), 403, "not_eligible"},
		{"second application", "POST", csApplications, csApplication(testkit.ServiceAppID), 409, "application_exists"},
		{"missing contact", "POST", csApplications, func() map[string]any {
			m := csApplication(testkit.MiniAppID)
			delete(m, "contact_wechat")
			return m
		}(), 400, ""},
		{"page type 4", "POST", csApplications, func() map[string]any {
			m := csApplication(testkit.MiniAppID)
			m["page_types"] = []int{4}
			return m
		}(), 400, ""},
		{"unknown application", "POST", csApplications + "/csa999999/approve", map[string]any{}, 404, "application_not_found"},
		{"grant beyond application", "POST", csApplications + "/" + id + "/approve", map[string]any{"page_types": []int{1}, "src_channels": []int{0, 9}}, 400, ""},
		{"empty grant", "POST", csApplications + "/" + id + "/approve", map[string]any{"page_types": []int{}}, 400, "invalid_grant"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() {
				r := k.Do(tc.method, tc.path, tc.body)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Raw)
				}
				if got := testkit.Dig(r.JSON, "error", "code"); tc.code != "" && got != tc.code {
					t.Errorf("error code %v, want %s", got, tc.code)
				}
			})
		})
	}

	b := k.Control("POST", csApplications+"/"+id+"/approve", map[string]any{"page_types": []int{1, 2}, "src_channels": []int{0}})
	if b.Status != 200 || b.Str("status") != "approved" || b.Str("business_type") == "" {
		t.Fatalf("approve: %d %s", b.Status, b.Raw)
	}
	k.WantErrcode(csPath(k, tok, home), 0)

	t.Run("decided twice", func(t *testing.T) {
		k := k.For(t)
		k.Unchanged(func() {
			for _, verb := range []string{"approve", "reject"} {
				if r := k.Control("POST", csApplications+"/"+id+"/"+verb, map[string]any{}); r.Status != 409 {
					t.Errorf("%s an approved application: status %d, want 409", verb, r.Status)
				}
			}
		})
	})
	t.Run("outside the grant answers 48001", func(t *testing.T) {
		k := k.For(t)
		for _, body := range []map[string]any{
			{"page_type": 3, "src_channel": 0, "city_name": "晋城", "content_name": "养老"},
			{"page_type": 1, "src_channel": 1, "city_name": "晋城"},
		} {
			k.Unchanged(func() { k.WantErrcode(csPath(k, tok, body), 48001) })
		}
	})
	t.Run("rejected, then applying again", func(t *testing.T) {
		k := k.For(t)
		r := k.Control("POST", csApplications, csApplication(testkit.MiniAppID))
		rej := k.Control("POST", csApplications+"/"+r.Str("id")+"/reject", map[string]any{"reason": "材料不全"})
		if rej.Str("status") != "rejected" || rej.Str("reject_reason") != "材料不全" {
			t.Fatalf("reject: %s", rej.Raw)
		}
		mtok := k.Token(testkit.MiniAppID, testkit.MiniSecret)
		k.Unchanged(func() { k.WantErrcode(csPath(k, mtok, home), 48001) })
		if again := k.Control("POST", csApplications, csApplication(testkit.MiniAppID)); again.Status != 201 {
			t.Errorf("applying after a rejection: %d %s", again.Status, again.Raw)
		}
		list := k.Control("GET", csApplications+"?appid="+testkit.MiniAppID, nil)
		if n := len(list.JSON["applications"].([]any)); n != 2 {
			t.Errorf("%d applications for %s, want 2", n, testkit.MiniAppID)
		}
	})
}
