package wechat_test

import (
	"net/http"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// TestCustomMessageRefusalsChangeNothing sends customer-service messages to the users the review
// family knows (the authors of reviews): a window opens only through apikfquota/reset.
func TestCustomMessageRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	mp := k.App(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "unlimited"})
	other := k.App(sandbox.WeChatAppSpec{Type: "mini_program", Tier: "unlimited"})
	tok := k.AppToken(mp)
	review := func(appid string) (commentID, openid string) {
		t.Helper()
		a := k.Control(http.MethodPost, "/_sandbox/wechat/reviews", map[string]any{"appid": appid, "score": 1})
		r, _ := a.JSON["reviews"].([]any)
		if a.Status != http.StatusCreated || len(r) != 1 {
			t.Fatalf("%s, want one review", a)
		}
		return testkit.Dig(r[0], "comment_id").(string), testkit.Dig(r[0], "openid").(string)
	}
	_, neg := review(mp.AppID)
	opened, windowed := review(mp.AppID)
	_, theirs := review(other.AppID)
	if a := k.Post("/wxaapi/comment/apikfquota/reset", tok, map[string]any{"commentId": opened}); a.Errcode() != 0 {
		t.Fatalf("apikfquota/reset: %s", a)
	}
	text := func(to string) map[string]any {
		return map[string]any{"touser": to, "msgtype": "text", "text": map[string]any{"content": "hi"}}
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"to a stranger", text("oStranger000000000000000000"), 40003},
		{"an image", map[string]any{"touser": windowed, "msgtype": "image", "image": map[string]any{"media_id": "x"}}, 40008},
		{"without reset", text(neg), 45015},
		{"to another's reviewer", text(theirs), 40003},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			k.Unchanged(func() { k.WantErrcode(k.Post("/cgi-bin/message/custom/send", tok, tc.body), tc.want) })
		})
	}
	// The window is still open after the refusals: it takes exactly one message.
	k.WantErrcode(k.Post("/cgi-bin/message/custom/send", tok, text(windowed)), 0)
	k.WantErrcode(k.Post("/cgi-bin/message/custom/send", tok, text(windowed)), 45015)
}
