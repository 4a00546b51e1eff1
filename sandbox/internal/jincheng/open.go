package jincheng

import (
	"errors"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerOpenRoutes lists the open capabilities (开放能力) and the outbox that shows what citizens
// received.
func (p *Platform) registerOpenRoutes(r endpoint.Routes) {
	r.Handle("jlbSendSMS", p.handleSendSMS)             // POST /jincheng/{env}/openapi/v1/sms/send
	r.Handle("jlbSendMessage", p.handleSendMessage)     // POST /jincheng/{env}/openapi/v1/messages
	r.Handle("jlbRevokeMessage", p.handleRevokeMessage) // POST /jincheng/{env}/openapi/v1/messages/{msgId}/revoke
	r.Handle("jlbCreateTodo", p.handleCreateTodo)       // POST /jincheng/{env}/openapi/v1/todos
	r.Handle("jlbListTodos", p.handleListTodos)         // GET /jincheng/{env}/openapi/v1/todos
	r.Handle("jlbFinishTodo", p.todoVerb(TodoDone))     // POST /jincheng/{env}/openapi/v1/todos/{taskUuid}/finish
	r.Handle("jlbCancelTodo", p.todoVerb(TodoCanceled)) // POST /jincheng/{env}/openapi/v1/todos/{taskUuid}/cancel
	r.Handle("jlbOutbox", p.handleOutbox)               // GET /_sandbox/jincheng/outbox/{userid}
}

// To-do states.
const (
	TodoOpen     = "TODO"
	TodoDone     = "DONE"
	TodoCanceled = "CANCELED"
)

// SMS is a text message the platform delivered.
type SMS struct {
	MsgID        string    `json:"msgId"`
	AppCode      string    `json:"appCode"`
	Modulecode   string    `json:"modulecode"`
	Env          string    `json:"env"`
	UserID       string    `json:"userid"`
	Mobile       string    `json:"mobile"`
	TemplateCode string    `json:"templateCode"`
	Text         string    `json:"text"`
	BizMsgID     string    `json:"bizMsgId"`
	SentAt       time.Time `json:"sentAt"`
}

// Message is an in-app message (应用消息).
type Message struct {
	MsgID      string     `json:"msgId"`
	AppCode    string     `json:"appCode"`
	Modulecode string     `json:"modulecode"`
	Env        string     `json:"env"`
	UserIDs    []string   `json:"userids"`
	Title      string     `json:"title"`
	Content    string     `json:"content"`
	URL        string     `json:"url,omitempty"`
	BizMsgID   string     `json:"bizMsgId"`
	Status     string     `json:"status"`
	SentAt     time.Time  `json:"sentAt"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
}

// Todo is a to-do (待办) in a citizen's list.
type Todo struct {
	TaskUUID   string     `json:"taskUuid"`
	AppCode    string     `json:"appCode"`
	BizTaskID  string     `json:"bizTaskId"`
	Modulecode string     `json:"modulecode"`
	UserID     string     `json:"userid"`
	Subject    string     `json:"subject"`
	URL        string     `json:"url"`
	DueTime    *time.Time `json:"dueTime,omitempty"`
	Priority   string     `json:"priority,omitempty"`
	Remarks    string     `json:"remarks,omitempty"`
	Status     string     `json:"status"`
	Env        string     `json:"env"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  *time.Time `json:"updatedAt,omitempty"`
}

// actingService checks that modulecode is a service of the caller's app.
func actingService(tx *store.Tx, caller *Caller, modulecode string) (*Service, error) {
	s, err := serviceByModule(tx, modulecode)
	if err != nil {
		return nil, err
	}
	if s == nil || s.AppID != caller.App.AppID {
		return nil, named(codeModuleNotYours, "modulecode "+strconvQuote(modulecode)+" is not a service of app "+caller.App.AppCode)
	}
	return s, nil
}

// knownUser checks that the citizen has signed in to the caller's app at least once.
func knownUser(tx *store.Tx, caller *Caller, userid string) error {
	ok, err := tx.Has(keyBinding + caller.App.AppCode + ":" + userid)
	if err != nil {
		return err
	}
	if !ok {
		return named(codeUserUnknown, "user "+strconvQuote(userid)+" has never signed in to app "+caller.App.AppCode)
	}
	return nil
}

// bizKey is where a business id's first result is remembered.
func bizKey(appCode, kind, bizID string) string { return keyBizID + appCode + ":" + kind + ":" + bizID }

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// fillTemplate replaces ${name} placeholders; every placeholder needs a parameter and every
// parameter a placeholder.
func fillTemplate(content string, params map[string]string) (string, error) {
	used := map[string]bool{}
	var missing []string
	text := placeholder.ReplaceAllStringFunc(content, func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		v, ok := params[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		used[name] = true
		return v
	})
	if len(missing) > 0 {
		return "", named(codeTemplateParams, "template parameters missing: "+strings.Join(missing, ", "))
	}
	for k := range params {
		if !used[k] {
			return "", named(codeTemplateParams, "parameter "+strconvQuote(k)+" is not in the template")
		}
	}
	return text, nil
}

func (p *Platform) handleSendSMS(c *endpoint.Call) (any, error) {
	var req struct {
		Modulecode   string            `json:"modulecode"`
		UserID       string            `json:"userid"`
		Mobile       string            `json:"mobile"`
		TemplateCode string            `json:"templateCode"`
		Params       map[string]string `json:"params"`
		BizMsgID     string            `json:"bizMsgId"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	if (req.UserID == "") == (req.Mobile == "") {
		return nil, named(codeInvalidParameter, "give exactly one of userid and mobile")
	}
	caller := c.Principal.(*Caller)
	msgID := "sms" + p.deps.Rand.Token(20, seeded.Hex)
	var out any
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		if err := p.useNonce(tx, c); err != nil {
			return err
		}
		if _, err := actingService(tx, caller, req.Modulecode); err != nil {
			return err
		}
		a := caller.App
		if a.SMS == nil || a.SMS.Status != AppApproved {
			return named(codeSMSNotGranted, "app "+a.AppCode+" has no granted SMS capability (apply with 《晋城市短信平台使用申请单》)")
		}
		var tpl *SMSTemplate
		for i := range a.SMS.Templates {
			if a.SMS.Templates[i].TemplateCode == req.TemplateCode {
				tpl = &a.SMS.Templates[i]
			}
		}
		if tpl == nil {
			return named(codeTemplateNotApproved, "template "+strconvQuote(req.TemplateCode)+" is not approved for app "+a.AppCode)
		}
		if prev, dup, err := tx.GetRaw(bizKey(a.AppCode, "sms", req.BizMsgID)); err != nil {
			return err
		} else if dup {
			out = Warning{Code: codeDuplicateBizID, Data: map[string]any{"msgId": prev, "status": "SENT"}}
			return nil
		}
		var cz *Citizen
		var err error
		if req.UserID != "" {
			cz, err = getCitizen(tx, req.UserID)
		} else {
			cz, err = findCitizen(tx, req.Mobile)
		}
		if err != nil {
			return err
		}
		if cz == nil {
			return named(codeUserUnknown, "no citizen "+strconvQuote(req.UserID+req.Mobile))
		}
		if err := knownUser(tx, caller, cz.UserID); err != nil {
			return err
		}
		if n, err := smsToday(tx, a.AppCode, cz.UserID, c.Now); err != nil {
			return err
		} else if n >= SMSPerUserPerDay {
			return named(codeRateLimited, "app "+a.AppCode+" already sent "+strconv.Itoa(n)+" SMS to this user today (Beijing time); the limit is 10")
		}
		text, err := fillTemplate(tpl.Content, req.Params)
		if err != nil {
			return err
		}
		sms := SMS{MsgID: msgID, AppCode: a.AppCode, Modulecode: req.Modulecode, Env: c.Param("env"), UserID: cz.UserID, Mobile: cz.Mobile, TemplateCode: tpl.TemplateCode, Text: text, BizMsgID: req.BizMsgID, SentAt: c.Now}
		if err := tx.Put(keySMS+msgID, sms); err != nil {
			return err
		}
		out = map[string]any{"msgId": msgID, "status": "SENT"}
		return tx.PutRaw(bizKey(a.AppCode, "sms", req.BizMsgID), msgID)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SMSPerUserPerDay is how many SMS one app may send one citizen in a Beijing-time day (invented).
const SMSPerUserPerDay = 10

// smsToday counts the SMS app sent to userid on now's Beijing-time day.
func smsToday(tx *store.Tx, appCode, userid string, now time.Time) (int, error) {
	day := now.In(clock.Beijing).Format("2006-01-02")
	n := 0
	err := store.Each(tx, keySMS, func(_ string, s *SMS) error {
		if s.AppCode == appCode && s.UserID == userid && s.SentAt.In(clock.Beijing).Format("2006-01-02") == day {
			n++
		}
		return nil
	})
	return n, err
}

// channelHost is the host of the service's channel URL in env.
func channelHost(s *Service, env string) string {
	if env == EnvProd {
		return hostOf(s.ProdURL)
	}
	return hostOf(s.TestURL)
}

func (p *Platform) handleSendMessage(c *endpoint.Call) (any, error) {
	var req struct {
		Modulecode string   `json:"modulecode"`
		UserIDs    []string `json:"userids"`
		Title      string   `json:"title"`
		Content    string   `json:"content"`
		URL        string   `json:"url"`
		BizMsgID   string   `json:"bizMsgId"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	caller := c.Principal.(*Caller)
	env := c.Param("env")
	msgID := "msg" + p.deps.Rand.Token(20, seeded.Hex)
	var out any
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		if err := p.useNonce(tx, c); err != nil {
			return err
		}
		s, err := actingService(tx, caller, req.Modulecode)
		if err != nil {
			return err
		}
		if prev, dup, err := tx.GetRaw(bizKey(caller.App.AppCode, "msg", req.BizMsgID)); err != nil {
			return err
		} else if dup {
			var m Message
			if _, err := tx.Get(keyMessage+prev, &m); err != nil {
				return err
			}
			out = Warning{Code: codeDuplicateBizID, Data: map[string]any{"msgId": prev, "status": m.Status}}
			return nil
		}
		if req.URL != "" && hostOf(req.URL) != channelHost(s, env) {
			return named(codeURLNotAllowed, "url host "+strconvQuote(hostOf(req.URL))+" is not the service's channel host "+strconvQuote(channelHost(s, env)))
		}
		seen := map[string]bool{}
		for _, u := range req.UserIDs {
			if seen[u] {
				return named(codeInvalidParameter, "userid "+u+" is listed twice")
			}
			seen[u] = true
			if err := knownUser(tx, caller, u); err != nil {
				return err
			}
		}
		m := Message{MsgID: msgID, AppCode: caller.App.AppCode, Modulecode: req.Modulecode, Env: env, UserIDs: req.UserIDs, Title: req.Title, Content: req.Content, URL: req.URL, BizMsgID: req.BizMsgID, Status: "SENT", SentAt: c.Now}
		if err := tx.Put(keyMessage+msgID, m); err != nil {
			return err
		}
		out = map[string]any{"msgId": msgID, "status": m.Status}
		return tx.PutRaw(bizKey(caller.App.AppCode, "msg", req.BizMsgID), msgID)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (p *Platform) handleRevokeMessage(c *endpoint.Call) (any, error) {
	caller := c.Principal.(*Caller)
	var m Message
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		if err := p.useNonce(tx, c); err != nil {
			return err
		}
		ok, err := tx.Get(keyMessage+c.Param("msgId"), &m)
		if err != nil {
			return err
		}
		if !ok || m.AppCode != caller.App.AppCode || m.Env != c.Param("env") {
			return named(codeMessageNotFound, "no message "+strconvQuote(c.Param("msgId"))+" sent by "+caller.App.AppCode+" in "+c.Param("env"))
		}
		if m.Status == "REVOKED" {
			return nil // revoking twice answers the state, like finishing a done to-do
		}
		now := c.Now
		m.Status, m.RevokedAt = "REVOKED", &now
		return tx.Put(keyMessage+m.MsgID, m)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"msgId": m.MsgID, "status": m.Status}, nil
}

func (p *Platform) handleCreateTodo(c *endpoint.Call) (any, error) {
	var req struct {
		Modulecode string     `json:"modulecode"`
		UserID     string     `json:"userid"`
		BizTaskID  string     `json:"bizTaskId"`
		Subject    string     `json:"subject"`
		URL        string     `json:"url"`
		DueTime    *time.Time `json:"dueTime"`
		Priority   string     `json:"priority"`
		Remarks    string     `json:"remarks"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	caller := c.Principal.(*Caller)
	env := c.Param("env")
	uuid := p.RequestID(c.Now) // a fresh UUID-shaped id from the seeded source
	var out any
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		if err := p.useNonce(tx, c); err != nil {
			return err
		}
		s, err := actingService(tx, caller, req.Modulecode)
		if err != nil {
			return err
		}
		if prev, dup, err := tx.GetRaw(bizKey(caller.App.AppCode, "todo", req.BizTaskID)); err != nil {
			return err
		} else if dup {
			var t Todo
			if _, err := tx.Get(keyTodo+prev, &t); err != nil {
				return err
			}
			out = Warning{Code: codeDuplicateBizID, Data: t}
			return nil
		}
		if hostOf(req.URL) != channelHost(s, env) {
			return named(codeURLNotAllowed, "url host "+strconvQuote(hostOf(req.URL))+" is not the service's channel host "+strconvQuote(channelHost(s, env)))
		}
		if err := knownUser(tx, caller, req.UserID); err != nil {
			return err
		}
		priority := req.Priority
		if priority == "" {
			priority = "NORMAL"
		}
		t := Todo{TaskUUID: uuid, AppCode: caller.App.AppCode, BizTaskID: req.BizTaskID, Modulecode: req.Modulecode, UserID: req.UserID, Subject: req.Subject, URL: req.URL, DueTime: req.DueTime, Priority: priority, Remarks: req.Remarks, Status: TodoOpen, Env: env, CreatedAt: c.Now}
		if err := tx.Put(keyTodo+uuid, t); err != nil {
			return err
		}
		out = t
		return tx.PutRaw(bizKey(caller.App.AppCode, "todo", req.BizTaskID), uuid)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// todoVerb finishes or cancels a to-do: only from TODO; repeating the same verb answers the
// current state; the other terminal state is a conflict.
func (p *Platform) todoVerb(to string) endpoint.HandlerFunc {
	return func(c *endpoint.Call) (any, error) {
		var req struct {
			UserID string `json:"userid"`
		}
		if err := c.Bind(&req); err != nil {
			return nil, err
		}
		caller := c.Principal.(*Caller)
		var t Todo
		err := p.deps.Store.Update(func(tx *store.Tx) error {
			if err := p.useNonce(tx, c); err != nil {
				return err
			}
			ok, err := tx.Get(keyTodo+c.Param("taskUuid"), &t)
			if err != nil {
				return err
			}
			if !ok || t.AppCode != caller.App.AppCode || t.UserID != req.UserID || t.Env != c.Param("env") {
				return named(codeTodoNotFound, "no to-do "+strconvQuote(c.Param("taskUuid"))+" of app "+caller.App.AppCode+" for user "+strconvQuote(req.UserID)+" in "+c.Param("env"))
			}
			switch t.Status {
			case to:
				return nil
			case TodoOpen:
				now := c.Now
				t.Status, t.UpdatedAt = to, &now
				return tx.Put(keyTodo+t.TaskUUID, t)
			}
			return named(codeTodoState, "to-do "+t.TaskUUID+" is "+t.Status+"; it cannot become "+to)
		})
		if err != nil {
			return nil, err
		}
		return t, nil
	}
}

func (p *Platform) handleListTodos(c *endpoint.Call) (any, error) {
	caller := c.Principal.(*Caller)
	userid, status, env := c.Query("userid"), c.Query("status"), c.Param("env")
	items := []Todo{}
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		if err := p.useNonce(tx, c); err != nil {
			return err
		}
		return store.Each(tx, keyTodo, func(_ string, t *Todo) error {
			if t.AppCode == caller.App.AppCode && t.UserID == userid && t.Env == env && (status == "" || t.Status == status) {
				items = append(items, *t)
			}
			return nil
		})
	})
	sortTodos(items)
	return map[string]any{"items": items}, err
}

func sortTodos(items []Todo) {
	sort.SliceStable(items, func(i, j int) bool {
		if !items[i].CreatedAt.Equal(items[j].CreatedAt) {
			return items[i].CreatedAt.Before(items[j].CreatedAt)
		}
		return items[i].TaskUUID < items[j].TaskUUID
	})
}

// handleOutbox shows what one citizen received: SMS, in-app messages (revoked ones marked) and
// to-dos in their current state.
func (p *Platform) handleOutbox(c *endpoint.Call) (any, error) {
	userid := c.Param("userid")
	sms, msgs, todos := []SMS{}, []Message{}, []Todo{}
	err := p.deps.Store.View(func(tx *store.Tx) error {
		cz, err := getCitizen(tx, userid)
		if err != nil {
			return err
		}
		if cz == nil {
			return named(codeCitizenNotFound, "no citizen "+userid)
		}
		return errors.Join(
			store.Each(tx, keySMS, func(_ string, s *SMS) error {
				if s.UserID == userid {
					sms = append(sms, *s)
				}
				return nil
			}),
			store.Each(tx, keyMessage, func(_ string, m *Message) error {
				if contains(m.UserIDs, userid) {
					msgs = append(msgs, *m)
				}
				return nil
			}),
			store.Each(tx, keyTodo, func(_ string, t *Todo) error {
				if t.UserID == userid {
					todos = append(todos, *t)
				}
				return nil
			}),
		)
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(sms, func(i, j int) bool { return sms[i].SentAt.Before(sms[j].SentAt) })
	sort.SliceStable(msgs, func(i, j int) bool { return msgs[i].SentAt.Before(msgs[j].SentAt) })
	sortTodos(todos)
	return map[string]any{"userid": userid, "sms": sms, "messages": msgs, "todos": todos}, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
