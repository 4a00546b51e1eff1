package jincheng_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

const base = "/jincheng/test/openapi/v1"

func (e *tenv) outbox(userid string) testkit.Answer {
	e.T().Helper()
	r := e.Control("GET", "/_sandbox/jincheng/outbox/"+userid, nil)
	if r.Status != 200 {
		e.T().Fatalf("outbox: %d %s", r.Status, r.Raw)
	}
	return r
}

func count(r testkit.Answer, kind string) int { return len(r.JSON[kind].([]any)) }

func TestSMS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	userid, _ := e.signIn(demoApp, testkit.JinchengTesting, testkit.JinchengTester, "test")
	stranger := e.citizen(testkit.JinchengTester2)["userid"].(string) // never signed in to the app
	send := func(s testkit.JinchengApp, body map[string]any) func() testkit.Answer {
		return func() testkit.Answer { return e.Signed(s, "POST", base+"/sms/send", nil, body) }
	}
	msg := map[string]any{"modulecode": testkit.JinchengOnlineModule, "userid": userid, "templateCode": testkit.JinchengSMSTemplate, "params": map[string]string{"business": "提取", "no": "GJJ2026001"}, "bizMsgId": "biz-1"}
	r := send(demoApp, msg)()
	if r.Status != 200 || r.JSON["success"] != true || r.Data().Str("msgId") == "" {
		t.Fatalf("send: %d %s", r.Status, r.Raw)
	}
	box := e.outbox(userid)
	sms := box.JSON["sms"].([]any)
	if len(sms) != 1 || sms[0].(map[string]any)["text"] != "您的公积金提取已办理完成，办理编号GJJ2026001。" || sms[0].(map[string]any)["mobile"] != testkit.JinchengTester {
		t.Errorf("outbox sms = %v", sms)
	}
	// A repeated bizMsgId answers the original with a warning and sends nothing.
	again := send(demoApp, msg)()
	if again.JSON["success"] != true || again.Code() != "OPEN-DUPLICATE-BIZ-ID" || again.Data().Str("msgId") != r.Data().Str("msgId") {
		t.Errorf("duplicate: %s", again.Raw)
	}
	if n := count(e.outbox(userid), "sms"); n != 1 {
		t.Errorf("%d SMS after a duplicate, want 1", n)
	}
	with := func(over map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range msg {
			m[k] = v
		}
		m["bizMsgId"] = "biz-new"
		for k, v := range over {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	e.RefusedCode("another app's modulecode", 403, "OPEN-MODULE-NOT-YOURS", send(demoApp, with(map[string]any{"modulecode": testkit.JinchengOtherModule})))
	e.RefusedCode("SMS not granted", 403, "OPEN-SMS-NOT-GRANTED", send(otherApp, with(map[string]any{"modulecode": testkit.JinchengOtherModule})))
	e.RefusedCode("unknown template", 403, "OPEN-TEMPLATE-NOT-APPROVED", send(demoApp, with(map[string]any{"templateCode": "SMS_000000"})))
	e.RefusedCode("missing parameter", 400, "OPEN-TEMPLATE-PARAMS", send(demoApp, with(map[string]any{"params": map[string]string{"business": "提取"}})))
	e.RefusedCode("extra parameter", 400, "OPEN-TEMPLATE-PARAMS", send(demoApp, with(map[string]any{"params": map[string]string{"business": "提取", "no": "1", "x": "y"}})))
	e.RefusedCode("user never signed in", 200, "OPEN-USER-UNKNOWN", send(demoApp, with(map[string]any{"userid": stranger})))
	e.RefusedCode("both userid and mobile", 400, "INVALID-PARAMETER", send(demoApp, with(map[string]any{"mobile": testkit.JinchengTester})))
	e.RefusedCode("neither userid nor mobile", 400, "INVALID-PARAMETER", send(demoApp, with(map[string]any{"userid": nil})))
	if r := send(demoApp, with(map[string]any{"userid": nil, "mobile": testkit.JinchengTester, "bizMsgId": "biz-m"}))(); r.JSON["success"] != true {
		t.Errorf("send by mobile: %s", r.Raw)
	}
	// Ten SMS per user and app per Beijing day: two sent, eight more, then the limit.
	for i := range 8 {
		if r := send(demoApp, with(map[string]any{"bizMsgId": "day-" + string(rune('a'+i))}))(); r.JSON["success"] != true {
			t.Fatalf("send %d: %s", i+3, r.Raw)
		}
	}
	e.RefusedCode("eleventh SMS today", 429, "OPEN-RATE-LIMITED", send(demoApp, with(map[string]any{"bizMsgId": "day-k"})))
	e.Advance(14 * time.Hour) // 10:00 → 00:00 Beijing time the next day
	if r := send(demoApp, with(map[string]any{"bizMsgId": "day-k"}))(); r.JSON["success"] != true {
		t.Errorf("first SMS of the next day: %s", r.Raw)
	}
}

func TestSMSNeedsTheOperatorsGrant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	o := e.onboard("BASIC", "18635600010")
	s := testkit.JinchengApp{AppCode: o.appCode, Secret: o.secret}
	userid, _ := e.signIn(s, o.service, "18635600010", "test")
	svc := e.vendor(o.session, "GET", "/jincheng/admin/v1/services/"+o.service, nil)
	send := func(tpl string) func() testkit.Answer {
		return func() testkit.Answer {
			return e.Signed(s, "POST", base+"/sms/send", nil, map[string]any{"modulecode": svc.Data().Str("modulecode"), "userid": userid, "templateCode": tpl, "params": map[string]string{"code": "1234"}, "bizMsgId": "v1"})
		}
	}
	e.RefusedCode("before applying", 403, "OPEN-SMS-NOT-GRANTED", send("SMS_000001"))
	apply := func() testkit.Answer {
		return e.vendor(o.session, "POST", "/jincheng/admin/v1/apps/"+o.appID+"/capabilities/sms", map[string]any{"purpose": "登记结果通知", "templates": []map[string]string{{"content": "验证码${code}，5分钟内有效。"}}})
	}
	if r := apply(); r.Status != 200 || r.Data()["sms"].(map[string]any)["status"] != "PENDING" {
		t.Fatalf("apply: %d %s", r.Status, r.Raw)
	}
	e.RefusedCode("apply twice", 409, "ADMIN-STATE", apply)
	e.RefusedCode("while pending", 403, "OPEN-SMS-NOT-GRANTED", send("SMS_000001"))
	if r := e.Control("POST", "/_sandbox/jincheng/apps/"+o.appID+"/sms/reject", map[string]string{"reason": "用途不明确"}); r.Status != 200 {
		t.Fatalf("reject: %d %s", r.Status, r.Raw)
	}
	e.RefusedCode("after refusal", 403, "OPEN-SMS-NOT-GRANTED", send("SMS_000001"))
	e.RefusedCode("approve a refused application", 409, "ADMIN-STATE", func() testkit.Answer {
		return e.Control("POST", "/_sandbox/jincheng/apps/"+o.appID+"/sms/approve", nil)
	})
	if r := apply(); r.Status != 200 {
		t.Fatalf("apply again: %d %s", r.Status, r.Raw)
	}
	r := e.Control("POST", "/_sandbox/jincheng/apps/"+o.appID+"/sms/approve", nil)
	tpl, _ := r.Data()["sms"].(map[string]any)["templates"].([]any)[0].(map[string]any)["templateCode"].(string)
	if r.Status != 200 || tpl == "" {
		t.Fatalf("approve: %d %s", r.Status, r.Raw)
	}
	if r := send(tpl)(); r.JSON["success"] != true {
		t.Fatalf("send after the grant: %s", r.Raw)
	}
	if sms := e.outbox(userid).JSON["sms"].([]any); len(sms) != 1 || sms[0].(map[string]any)["text"] != "验证码1234，5分钟内有效。" {
		t.Errorf("outbox = %v", sms)
	}
}

func TestMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u1, _ := e.signIn(demoApp, testkit.JinchengTesting, testkit.JinchengTester, "test")
	u2, _ := e.signIn(demoApp, testkit.JinchengTesting, testkit.JinchengTester2, "test")
	send := func(s testkit.JinchengApp, body map[string]any) func() testkit.Answer {
		return func() testkit.Answer { return e.Signed(s, "POST", base+"/messages", nil, body) }
	}
	msg := map[string]any{"modulecode": testkit.JinchengOnlineModule, "userids": []string{u1, u2}, "title": "提取申请已受理", "content": "您的公积金提取申请已受理。", "url": "http://127.0.0.1:8080/gjj/#/progress", "bizMsgId": "m-1"}
	r := send(demoApp, msg)()
	if r.JSON["success"] != true {
		t.Fatalf("send: %s", r.Raw)
	}
	id := r.Data().Str("msgId")
	if d := send(demoApp, msg)(); d.Code() != "OPEN-DUPLICATE-BIZ-ID" || d.Data().Str("msgId") != id {
		t.Errorf("duplicate: %s", d.Raw)
	}
	other := map[string]any{}
	for k, v := range msg {
		other[k] = v
	}
	other["bizMsgId"] = "m-2"
	other["url"] = "https://phishing.example.com/"
	e.RefusedCode("url off the channel host", 400, "OPEN-URL-NOT-ALLOWED", send(demoApp, other))
	other["url"] = ""
	other["userids"] = []string{u1, "ffffffffffffffffffffffffffffffff"}
	e.RefusedCode("unknown user", 200, "OPEN-USER-UNKNOWN", send(demoApp, other))
	other["userids"] = []string{u1, u1}
	e.RefusedCode("repeated user", 400, "INVALID-PARAMETER", send(demoApp, other))
	other["userids"] = []string{}
	e.RefusedCode("no users", 400, "INVALID-PARAMETER", send(demoApp, other))
	revoke := func(s testkit.JinchengApp, id string) func() testkit.Answer {
		return func() testkit.Answer { return e.Signed(s, "POST", base+"/messages/"+id+"/revoke", nil, nil) }
	}
	e.RefusedCode("revoke another app's message", 404, "OPEN-MESSAGE-NOT-FOUND", revoke(otherApp, id))
	e.RefusedCode("revoke an unknown message", 404, "OPEN-MESSAGE-NOT-FOUND", revoke(demoApp, "msg0"))
	for range 2 { // revoking twice answers the state
		if r := revoke(demoApp, id)(); r.Data().Str("status") != "REVOKED" {
			t.Errorf("revoke: %s", r.Raw)
		}
	}
	for _, u := range []string{u1, u2} {
		ms := e.outbox(u).JSON["messages"].([]any)
		if len(ms) != 1 || ms[0].(map[string]any)["status"] != "REVOKED" || ms[0].(map[string]any)["title"] != "提取申请已受理" {
			t.Errorf("outbox of %s: %v", u, ms)
		}
	}
}

func TestTodos(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	userid, _ := e.signIn(demoApp, testkit.JinchengTesting, testkit.JinchengTester, "test")
	create := func(s testkit.JinchengApp, body map[string]any) func() testkit.Answer {
		return func() testkit.Answer { return e.Signed(s, "POST", base+"/todos", nil, body) }
	}
	todo := map[string]any{"modulecode": testkit.JinchengOnlineModule, "userid": userid, "bizTaskId": "task-1", "subject": "补充提取材料", "url": "http://127.0.0.1:8080/gjj/#/upload", "priority": "HIGH", "dueTime": "2026-03-09T10:00:00+08:00"}
	r := create(demoApp, todo)()
	task := r.Data().Str("taskUuid")
	if r.JSON["success"] != true || r.Data().Str("status") != "TODO" || len(task) != 36 {
		t.Fatalf("create: %s", r.Raw)
	}
	if d := create(demoApp, todo)(); d.Code() != "OPEN-DUPLICATE-BIZ-ID" || d.Data().Str("taskUuid") != task {
		t.Errorf("duplicate create: %s", d.Raw)
	}
	second := map[string]any{}
	for k, v := range todo {
		second[k] = v
	}
	second["bizTaskId"] = "task-2"
	r2 := create(demoApp, second)()
	task2 := r2.Data().Str("taskUuid")
	verb := func(s testkit.JinchengApp, task, verb, user string) func() testkit.Answer {
		return func() testkit.Answer {
			return e.Signed(s, "POST", base+"/todos/"+task+"/"+verb, nil, map[string]string{"userid": user})
		}
	}
	list := func(status string) int {
		q := url.Values{"userid": {userid}}
		if status != "" {
			q.Set("status", status)
		}
		return len(e.Signed(demoApp, "GET", base+"/todos", q, nil).Data()["items"].([]any))
	}
	if n := list(""); n != 2 {
		t.Errorf("list: %d to-dos, want 2", n)
	}
	for range 2 { // finishing a DONE to-do answers its state
		if r := verb(demoApp, task, "finish", userid)(); r.Data().Str("status") != "DONE" {
			t.Errorf("finish: %s", r.Raw)
		}
	}
	if r := verb(demoApp, task2, "cancel", userid)(); r.Data().Str("status") != "CANCELED" {
		t.Errorf("cancel: %s", r.Raw)
	}
	e.RefusedCode("cancel a DONE to-do", 409, "OPEN-TODO-STATE", verb(demoApp, task, "cancel", userid))
	e.RefusedCode("finish a CANCELED to-do", 409, "OPEN-TODO-STATE", verb(demoApp, task2, "finish", userid))
	e.RefusedCode("another user's to-do", 404, "OPEN-TODO-NOT-FOUND", verb(demoApp, task, "finish", "ffffffffffffffffffffffffffffffff"))
	e.RefusedCode("another app's to-do", 404, "OPEN-TODO-NOT-FOUND", verb(otherApp, task, "finish", userid))
	e.RefusedCode("to-do in the other environment", 404, "OPEN-TODO-NOT-FOUND", func() testkit.Answer {
		return e.Signed(demoApp, "POST", "/jincheng/prod/openapi/v1/todos/"+task+"/finish", nil, map[string]string{"userid": userid})
	})
	third := map[string]any{}
	for k, v := range todo {
		third[k] = v
	}
	third["bizTaskId"] = "task-3"
	third["url"] = "https://elsewhere.example.com/"
	e.RefusedCode("url off the channel host", 400, "OPEN-URL-NOT-ALLOWED", create(demoApp, third))
	third["url"] = todo["url"]
	third["priority"] = "URGENT"
	e.RefusedCode("unknown priority", 400, "INVALID-PARAMETER", create(demoApp, third))
	third["priority"] = "LOW"
	third["userid"] = e.citizen(testkit.JinchengTester2)["userid"]
	e.RefusedCode("user never signed in", 200, "OPEN-USER-UNKNOWN", create(demoApp, third))
	third["userid"] = userid
	third["modulecode"] = testkit.JinchengOtherModule
	e.RefusedCode("another app's modulecode", 403, "OPEN-MODULE-NOT-YOURS", create(demoApp, third))
	if a, b := list("DONE"), list("CANCELED"); a != 1 || b != 1 {
		t.Errorf("list by status: DONE %d, CANCELED %d; want 1, 1", a, b)
	}
	todos := e.outbox(userid).JSON["todos"].([]any)
	if len(todos) != 2 || todos[0].(map[string]any)["status"] != "DONE" || todos[1].(map[string]any)["status"] != "CANCELED" {
		t.Errorf("outbox to-dos = %v", todos)
	}
	e.RefusedCode("outbox of nobody", 404, "APP-CITIZEN-NOT-FOUND", func() testkit.Answer { return e.Control("GET", "/_sandbox/jincheng/outbox/nobody", nil) })
}
