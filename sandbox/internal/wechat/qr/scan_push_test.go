package qr_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

const receiverKey = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ"

// receiverFor starts an integrator's receiver for the account and points its push
// configuration at it.
func receiverFor(k *testkit.Kit, app *sandbox.WeChatApp, format, mode string) *testkit.Receiver {
	k.T().Helper()
	r := testkit.NewReceiver(k.T(), app.AppID, "scanToken42", receiverKey, format, mode)
	if a := k.Control(http.MethodPut, "/_sandbox/wechat/apps/"+app.AppID+"/push", r.PushConfig()); a.Status != http.StatusOK {
		k.T().Fatalf("push config: %s", a)
	}
	return r
}

func scanAs(k *testkit.Kit, link string, body map[string]any) testkit.Object {
	k.T().Helper()
	body["url"] = link
	out := k.Control(http.MethodPost, "/_sandbox/wechat/scan", body)
	if out.Status != http.StatusOK {
		k.T().Fatalf("scan %v: %s", body, out)
	}
	return out.JSON
}

// TestScanPushesSubscribeThenScan: a non-follower's scan of a parametric code follows the
// account and pushes subscribe with EventKey qrscene_<scene> and Ticket; the follower's next
// scan pushes SCAN with EventKey <scene>; in every format and mode, decrypted by the
// integrator's own code.
func TestScanPushesSubscribeThenScan(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"xml", "json"} {
		for _, mode := range []string{"plaintext", "compatible", "safe"} {
			t.Run(format+"/"+mode, func(t *testing.T) {
				t.Parallel()
				k := testkit.New(t)
				oa := serviceAccount(k)
				tok := k.AppToken(oa)
				r := receiverFor(k, oa, format, mode)
				code := k.Post(qrCreate, tok, map[string]any{"action_name": "QR_LIMIT_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_id": 123}}})
				link, ticket := code.Str("url"), code.Str("ticket")

				first := scanAs(k, link, map[string]any{"user": "alice"})
				if first["action"] != "follow_official_account" || first["event"] != "subscribe" {
					t.Fatalf("first scan = %v, want follow_official_account and subscribe", first)
				}
				openid, _ := first["openid"].(string)
				if len(openid) != 28 || openid[0] != 'o' {
					t.Errorf("openid %q, want o and 27 characters", openid)
				}
				second := scanAs(k, link, map[string]any{"user": "alice"})
				if second["event"] != "SCAN" || second["openid"] != openid {
					t.Fatalf("second scan = %v, want SCAN by %s", second, openid)
				}
				events := r.Wait(2)
				if len(events) != 2 {
					t.Fatalf("%d events, want 2: %v", len(events), events)
				}
				now := strconv.FormatInt(k.Now().Unix(), 10)
				for i, want := range []map[string]string{
					{"Event": "subscribe", "EventKey": "qrscene_123"},
					{"Event": "SCAN", "EventKey": "123"},
				} {
					ev := events[i]
					want["ToUserName"], want["FromUserName"], want["CreateTime"], want["MsgType"], want["Ticket"] = oa.OriginalID, openid, now, "event", ticket
					for f, v := range want {
						if got := ev.Str(f); got != v {
							t.Errorf("event %d: %s = %q, want %q (%s)", i, f, got, v, ev.Plain)
						}
					}
					if len(ev.Fields) != len(want) {
						t.Errorf("event %d has fields %v, want exactly %d", i, ev.Fields.Keys(), len(want))
					}
				}
				followers, err := k.Srv.WeChat().Followers(oa.AppID)
				if err != nil || len(followers) != 1 || followers[0].OpenID != openid || followers[0].User != "alice" || followers[0].QRScene != "123" {
					t.Errorf("followers = %+v, %v; want alice by scene 123", followers, err)
				}
				ds, err := k.Srv.WeChat().Deliveries(oa.AppID)
				if err != nil || len(ds) != 2 || ds[0].Event != "subscribe" || ds[1].Event != "SCAN" || ds[0].Status != "delivered" || ds[0].Format != format || ds[0].Mode != mode {
					t.Errorf("deliveries = %+v, %v", ds, err)
				}
			})
		}
	}
}

// TestScanEventKeys: a string scene is given as it is, a temporary code's as well, and an
// openid given in the request is the follower's.
func TestScanEventKeys(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	oa := serviceAccount(k)
	tok := k.AppToken(oa)
	r := receiverFor(k, oa, "xml", "safe")
	str := k.Post(qrCreate, tok, map[string]any{"action_name": "QR_STR_SCENE", "expire_seconds": 600, "action_info": map[string]any{"scene": map[string]any{"scene_str": "table 7/窗口"}}})
	got := scanAs(k, str.Str("url"), map[string]any{"openid": "oGivenOpenID_1"})
	if got["openid"] != "oGivenOpenID_1" || got["event"] != "subscribe" {
		t.Fatalf("scan = %v", got)
	}
	ev := r.Wait(1)[0]
	if ev.Str("EventKey") != "qrscene_table 7/窗口" || ev.Str("FromUserName") != "oGivenOpenID_1" || ev.Str("Ticket") != str.Str("ticket") {
		t.Errorf("event = %s", ev.Plain)
	}
	// A stranger (no user, no openid) is a new user each time: each scan follows.
	code := k.Post(qrCreate, tok, map[string]any{"action_name": "QR_SCENE", "action_info": map[string]any{"scene": map[string]any{"scene_id": 9}}})
	a, b := scanAs(k, code.Str("url"), map[string]any{}), scanAs(k, code.Str("url"), map[string]any{})
	if a["event"] != "subscribe" || b["event"] != "subscribe" || a["openid"] == b["openid"] {
		t.Errorf("two strangers' scans = %v, %v", a, b)
	}
	r.Wait(3)
}

// TestFollowVerbs: following pushes subscribe without EventKey, unfollowing unsubscribe; a named
// user keeps one openid per account, another account knows them by another; refusals change
// nothing.
func TestFollowVerbs(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	oa, other, mp := serviceAccount(k), serviceAccount(k), miniProgram(k)
	r := receiverFor(k, oa, "json", "compatible")
	base := "/_sandbox/wechat/apps/" + oa.AppID + "/followers"
	f := k.Control(http.MethodPost, base, map[string]any{"user": "bob"})
	if f.Status != http.StatusCreated || f.Str("event") != "subscribe" {
		t.Fatalf("follow: %s", f)
	}
	openid, _ := f.JSON.Get("follower", "openid").(string)
	ev := r.Wait(1)[0]
	if ev.Str("Event") != "subscribe" || ev.Has("EventKey") || ev.Has("Ticket") || ev.Str("FromUserName") != openid || ev.Str("ToUserName") != oa.OriginalID || ev.Str("MsgType") != "event" {
		t.Errorf("follow event = %s", ev.Plain)
	}
	list := k.Control(http.MethodGet, base, nil)
	if fs, _ := list.JSON["followers"].([]any); list.JSON.Num("total") != 1 || len(fs) != 1 || fs[0].(map[string]any)["openid"] != openid {
		t.Errorf("followers = %s", list)
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"following twice", http.MethodPost, base, map[string]any{"user": "bob"}, 409, "already_following"},
		{"a mini program", http.MethodPost, "/_sandbox/wechat/apps/" + mp.AppID + "/followers", map[string]any{"user": "bob"}, 400, "not_official_account"},
		{"no such app", http.MethodPost, "/_sandbox/wechat/apps/wx0000000000000000/followers", map[string]any{"user": "bob"}, 404, "app_not_found"},
		{"user and openid", http.MethodPost, base, map[string]any{"user": "bob", "openid": "o1"}, 400, "invalid_user"},
		{"a bad user", http.MethodPost, base, map[string]any{"user": "bob smith"}, 400, "invalid"},
		{"an unknown field", http.MethodPost, base, map[string]any{"name": "bob"}, 400, "invalid"},
		{"not a follower", http.MethodDelete, base + "/oNotAFollower", nil, 404, "follower_not_found"},
	} {
		k.RefusedCode(tc.name, tc.status, tc.code, func() testkit.Answer { return k.Control(tc.method, tc.path, tc.body) })
	}
	u := k.Control(http.MethodDelete, base+"/"+openid, nil)
	if u.Status != http.StatusOK || u.Str("event") != "unsubscribe" {
		t.Fatalf("unfollow: %s", u)
	}
	if ev := r.Wait(2)[1]; ev.Str("Event") != "unsubscribe" || ev.Str("FromUserName") != openid || ev.Has("EventKey") {
		t.Errorf("unfollow event = %s", ev.Plain)
	}
	if fs, _ := k.Srv.WeChat().Followers(oa.AppID); len(fs) != 0 {
		t.Errorf("followers after unfollow = %+v", fs)
	}
	again, err := k.Srv.WeChat().Follow(context.Background(), oa.AppID, sandbox.WeChatUser{User: "bob"})
	if err != nil || again.Follower.OpenID != openid {
		t.Errorf("bob follows again: %+v, %v; want the same openid %s", again, err, openid)
	}
	elsewhere, err := k.Srv.WeChat().Follow(context.Background(), other.AppID, sandbox.WeChatUser{User: "bob"})
	if err != nil || elsewhere.Follower.OpenID == openid {
		t.Errorf("bob follows another account: %+v, %v; want another openid", elsewhere, err)
	}
}

// TestScanThatOpensAMiniProgramPushesNothing: once a published rule sends the code to a Mini
// Program, the account's server receives no event, and the result names the account the Mini
// Program's scan-to-follow component shows.
func TestScanThatOpensAMiniProgramPushesNothing(t *testing.T) {
	t.Parallel()
	w := newJumpWorld(t)
	r := receiverFor(w.Kit, w.oa, "xml", "plaintext")
	u := w.code("desk-3")
	w.OK(jumpAdd, w.oaTok, w.serviceRule(u, "pages/desk/index"))
	w.OK(jumpPublish, w.oaTok, map[string]any{"prefix": u})
	w.OK("/wxa/updateshowwxaitem", w.mpTok, map[string]any{"wxa_subscribe_biz_flag": 1, "appid": w.oa.AppID})
	got := scanAs(w.Kit, u, map[string]any{"user": "carol"})
	if got["action"] != "open_mini_program" || got["follow_component"] != w.oa.AppID || got["event"] != nil {
		t.Errorf("scan = %v", got)
	}
	if ev := r.Events(); len(ev) != 0 {
		t.Errorf("the account received %d events: %v", len(ev), ev)
	}
	if fs, _ := w.Srv.WeChat().Followers(w.oa.AppID); len(fs) != 0 {
		t.Errorf("followers = %+v, want none", fs)
	}
}
