package jincheng

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerSSORoutes lists single sign-on: the launch verb and the two signed exchanges.
func (p *Platform) registerSSORoutes(r endpoint.Routes) {
	r.Handle("jlbLaunch", p.handleLaunch)                     // POST /_sandbox/jincheng/launch
	r.Handle("jlbTicketValidation", p.handleTicketValidation) // POST /jincheng/{env}/sso/v1/ticketValidation
	r.Handle("jlbGetUserInfo", p.handleGetUserInfo)           // POST /jincheng/{env}/sso/v1/getUserInfo
	r.Handle("jlbTokenAudit", p.handleTokenAudit)             // GET /_sandbox/jincheng/audit/tokens
}

// TokenAudit is one token as the audit shows it.
type TokenAudit struct {
	Token       string    `json:"token"`
	AppCode     string    `json:"appCode"`
	ServiceCode string    `json:"serviceCode"`
	Env         string    `json:"env"`
	UserID      string    `json:"userid"`
	IssuedAt    time.Time `json:"issuedAt"`
	Uses        int       `json:"uses"`
	LateUses    int       `json:"lateUses"`
	Flagged     bool      `json:"flagged"`
}

// handleTokenAudit lists the tokens issued, flagging those used more than 60 s after issue.
func (p *Platform) handleTokenAudit(c *endpoint.Call) (any, error) {
	app, flaggedOnly := c.Query("appCode"), c.Query("flagged") == "true"
	items := []TokenAudit{}
	err := p.deps.Store.View(func(tx *store.Tx) error {
		return store.Each(tx, keyToken, func(_ string, t *Token) error {
			a := TokenAudit{t.Token, t.AppCode, t.ServiceCode, t.Env, t.UserID, t.IssuedAt, t.Uses, t.LateUses, t.LateUses > 0}
			if (app == "" || app == t.AppCode) && (!flaggedOnly || a.Flagged) {
				items = append(items, a)
			}
			return nil
		})
	})
	slices.SortFunc(items, func(a, b TokenAudit) int { return a.IssuedAt.Compare(b.IssuedAt) })
	return map[string]any{"items": items}, err
}

// Lifetimes of SSO artefacts.
const (
	TicketTTL = 60 * time.Second
	TokenTTL  = 300 * time.Second
	// LateUse is how long after issue a token use is flagged by the token audit (invented).
	LateUse = 60 * time.Second
)

var (
	ticketPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	tokenPattern  = regexp.MustCompile(`^jlbt_[0-9A-Za-z]{40}$`)
)

// Launch is a minted ticket and where the app sends the citizen with it.
type Launch struct {
	Ticket      string    `json:"ticket"`
	Location    string    `json:"location"`
	ExpiresAt   time.Time `json:"expiresAt"`
	UserID      string    `json:"userid"`
	ServiceCode string    `json:"serviceCode"`
	Env         string    `json:"env"`
	// ServiceName is the listed name (the page's title should match it).
	ServiceName string `json:"-"`
}

// Launch mints a single-use ticket for a citizen opening a service in env, as a tap in the app
// does: in test any service but an OFFLINE one, for the app's testers only, at its testUrl; in
// prod only ONLINE services, for every citizen, at the prodUrl.
func (p *Platform) Launch(serviceCode, persona, env string, now time.Time) (*Launch, error) {
	ticket := p.deps.Rand.Token(32, seeded.Hex)
	var l *Launch
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		s, err := getService(tx, serviceCode)
		if err != nil {
			return err
		}
		if s == nil {
			return named(codeAdminNotFound, "no service "+strconvQuote(serviceCode))
		}
		cz, err := findCitizen(tx, persona)
		if err != nil {
			return err
		}
		if cz == nil {
			return named(codeCitizenNotFound, "no citizen with userid or mobile "+strconvQuote(persona))
		}
		a, err := getApp(tx, s.AppID)
		if err != nil {
			return err
		}
		if a == nil || a.Status != AppApproved {
			return named(codeServiceUnavailable, "the service's application is not approved")
		}
		target := s.TestURL
		switch env {
		case EnvTest:
			if s.Status == StatusOffline {
				return named(codeServiceUnavailable, "service "+s.ServiceCode+" is OFFLINE (已下架)")
			}
			if !slices.Contains(a.Testers, cz.Mobile) {
				return named(codeNotTester, cz.Mobile+" is not a tester of "+a.AppCode+"; register it with POST /jincheng/admin/v1/apps/"+a.AppID+"/testers")
			}
		case EnvProd:
			if s.Status != StatusOnline {
				return named(codeServiceUnavailable, "service "+s.ServiceCode+" is "+s.Status+"; production serves ONLINE (已上架) services only")
			}
			target = s.ProdURL
		default:
			return named(codeInvalidParameter, "env must be test or prod")
		}
		loc, err := withTicket(target, ticket, s.ModuleCallbackCode)
		if err != nil {
			return err
		}
		t := Ticket{Ticket: ticket, AppCode: a.AppCode, ServiceCode: s.ServiceCode, Env: env, UserID: cz.UserID, IssuedAt: now, ExpiresAt: now.Add(TicketTTL)}
		l = &Launch{Ticket: ticket, Location: loc, ExpiresAt: t.ExpiresAt, UserID: cz.UserID, ServiceCode: s.ServiceCode, Env: env, ServiceName: s.ServiceName}
		return tx.Put(keyTicket+ticket, t)
	})
	if err != nil {
		return nil, err
	}
	p.deps.Journal.Add(journal.Entry{Time: now, Platform: "jincheng", Event: "launch", Method: "LAUNCH", Path: l.Location, AppID: l.ServiceCode, Status: 302})
	return l, nil
}

// withTicket adds ticket and module_callback_code to the query of a channel URL, before any
// #fragment, so a hash-routed page still finds them in location.search.
func withTicket(channel, ticket, callback string) (string, error) {
	u, err := url.Parse(channel)
	if err != nil {
		return "", named(codeServiceUnavailable, "channel URL "+strconvQuote(channel)+" does not parse")
	}
	q := "ticket=" + url.QueryEscape(ticket) + "&module_callback_code=" + url.QueryEscape(callback)
	if u.RawQuery == "" {
		u.RawQuery = q
	} else {
		u.RawQuery += "&" + q
	}
	return u.String(), nil
}

func (p *Platform) handleLaunch(c *endpoint.Call) (any, error) {
	var req struct {
		ServiceCode string `json:"serviceCode"`
		Persona     string `json:"persona"`
		Env         string `json:"env"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return p.Launch(req.ServiceCode, req.Persona, req.Env, c.Now)
}

// handleTicketValidation exchanges a ticket for a token. Every check runs in one transaction, so
// of two concurrent exchanges of one ticket exactly one succeeds; a refusal changes nothing.
func (p *Platform) handleTicketValidation(c *endpoint.Call) (any, error) {
	var req struct {
		Ticket string `json:"ticket"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	caller := c.Principal.(*Caller)
	env := c.Param("env")
	var out map[string]any
	tokenValue := "jlbt_" + p.deps.Rand.Token(40, seeded.Alphanumeric)
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		if err := p.useNonce(tx, c); err != nil {
			return err
		}
		if !ticketPattern.MatchString(req.Ticket) {
			return named(codeTicketFormat, "a ticket is 32 lower-case hex characters")
		}
		var t Ticket
		ok, err := tx.Get(keyTicket+req.Ticket, &t)
		if err != nil {
			return err
		}
		if !ok || t.Env != env {
			reason := "no ticket " + req.Ticket
			if ok {
				reason += " in the " + env + " environment (it was issued in " + t.Env + ")"
			}
			return named(codeTicketNotFound, reason)
		}
		if t.AppCode != caller.App.AppCode {
			return named(codeTicketNotYours, "ticket was issued for app "+t.AppCode+", not "+caller.App.AppCode)
		}
		if !t.UsedAt.IsZero() {
			return named(codeTicketUsed, "ticket was exchanged at "+t.UsedAt.Format(time.RFC3339))
		}
		if !c.Now.Before(t.ExpiresAt) {
			return named(codeTicketExpired, "ticket expired at "+t.ExpiresAt.Format(time.RFC3339)+" (60 s after issue)")
		}
		s, err := getService(tx, t.ServiceCode)
		if err != nil {
			return err
		}
		if s == nil || s.Status == StatusOffline {
			return named(codeServiceOffline, "service "+t.ServiceCode+" was taken offline after the launch")
		}
		t.UsedAt = c.Now
		if err := tx.Put(keyTicket+t.Ticket, t); err != nil {
			return err
		}
		tok := Token{Token: tokenValue, AppCode: t.AppCode, ServiceCode: t.ServiceCode, Env: env, UserID: t.UserID, IssuedAt: c.Now, ExpiresAt: c.Now.Add(TokenTTL)}
		if err := tx.Put(keyToken+tok.Token, tok); err != nil {
			return err
		}
		bk := keyBinding + t.AppCode + ":" + t.UserID
		if has, err := tx.Has(bk); err != nil {
			return err
		} else if !has {
			if err := tx.PutRaw(bk, c.Now.Format(time.RFC3339)); err != nil {
				return err
			}
		}
		out = map[string]any{"token": tok.Token, "expiresIn": int(TokenTTL.Seconds()), "userid": t.UserID, "serviceCode": t.ServiceCode, "module_callback_code": s.ModuleCallbackCode}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (p *Platform) handleGetUserInfo(c *endpoint.Call) (any, error) {
	var req struct {
		Token string `json:"token"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	caller := c.Principal.(*Caller)
	env := c.Param("env")
	var cz *Citizen
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		if err := p.useNonce(tx, c); err != nil {
			return err
		}
		if !tokenPattern.MatchString(req.Token) {
			return named(codeTokenFormat, "a token is jlbt_ followed by 40 letters and digits")
		}
		var t Token
		ok, err := tx.Get(keyToken+req.Token, &t)
		if err != nil {
			return err
		}
		if !ok || t.Env != env {
			return named(codeTokenNotFound, "no token "+req.Token+" in the "+env+" environment")
		}
		if t.AppCode != caller.App.AppCode {
			return named(codeTokenNotYours, "token belongs to app "+t.AppCode+", not "+caller.App.AppCode)
		}
		if !c.Now.Before(t.ExpiresAt) {
			return named(codeTokenExpired, "token expired at "+t.ExpiresAt.Format(time.RFC3339)+" (300 s after issue)")
		}
		cz, err = getCitizen(tx, t.UserID)
		if err == nil && cz == nil {
			err = named(codeTokenNotFound, "the token's citizen no longer exists")
		}
		if err != nil {
			return err
		}
		t.Uses++
		t.LastUsedAt = c.Now
		if c.Now.Sub(t.IssuedAt) > LateUse {
			t.LateUses++
			c.Reason = "token used " + c.Now.Sub(t.IssuedAt).String() + " after issue: fetch user info at once and do not keep tokens (manual §7.3)"
		}
		return tx.Put(keyToken+t.Token, t)
	})
	if err != nil {
		return nil, err
	}
	return p.userInfo(caller.App, cz)
}

// userInfo returns exactly the fields the app's declared type allows (manual §3.3).
func (p *Platform) userInfo(a *App, cz *Citizen) (map[string]any, error) {
	out := map[string]any{"userid": cz.UserID}
	if !a.NeedUserInfo {
		return out, nil
	}
	switch a.UserInfoType {
	case InfoRealName:
		face, err := FaceJPEG(cz.UserID)
		if err != nil {
			return nil, err
		}
		out["faceimage"] = base64.StdEncoding.EncodeToString(face)
		fallthrough
	case InfoIdentity:
		out["idnum"] = cz.IDNum
		fallthrough
	case InfoBasic:
		out["mobile"] = cz.Mobile
	}
	return out, nil
}

// hostOf returns the host of a URL, lower-cased, or "".
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}
