package jincheng

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerAppRoutes lists the simulated 晋来办 app: its page, the tap that opens a service, the
// container side of the JS bridge, the bridge script, and the title checks it records.
func (p *Platform) registerAppRoutes(r endpoint.Routes) {
	r.Handle("jlbAppPage", p.handleAppPage)             // GET /jincheng/app/
	r.Handle("jlbAppOpen", p.handleAppOpen)             // GET /jincheng/app/open
	r.Handle("jlbAppTicket", p.handleAppTicket)         // POST /jincheng/app/api/ticket
	r.Handle("jlbAppTitleCheck", p.handleAppTitleCheck) // POST /jincheng/app/api/titleCheck
	r.Handle("jlbBridgeScript", p.handleBridgeScript)   // GET /jincheng/sdk/jlb-bridge.js
	r.Handle("jlbTitleChecks", p.handleTitleChecks)     // GET /_sandbox/jincheng/title-checks
}

//go:embed appsim/app.html.tmpl
var appPageSource string

//go:embed appsim/jlb-bridge.js
var bridgeScript []byte

// appPage is the app's page template, parsed the first time a page is shown rather than at
// every start of the binary.
var appPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("app").Funcs(template.FuncMap{
		// initial is a tile's logo: the first character of the service name.
		"initial": func(s string) string {
			for _, r := range s {
				return string(r)
			}
			return ""
		},
	}).Parse(appPageSource))
})

type appTile struct {
	ServiceCode, ServiceName, TypeLabel, AppName, Status string
}

type appPageData struct {
	Env, EnvLabel string
	Persona       *Citizen
	Personas      []Citizen
	Tiles         []appTile
}

// handleAppPage renders the phone-shaped page: persona chooser, environment switch, and the
// services the persona may open there (test: the apps they test, any state but OFFLINE; prod:
// every ONLINE service).
func (p *Platform) handleAppPage(c *endpoint.Call) (any, error) {
	env := c.Query("env")
	if env == "" {
		env = EnvTest
	}
	d := appPageData{Env: env, EnvLabel: map[string]string{EnvTest: "测试环境", EnvProd: "正式环境"}[env]}
	err := p.deps.Store.View(func(tx *store.Tx) error {
		err := store.Each(tx, keyCitizen, func(_ string, cz *Citizen) error {
			d.Personas = append(d.Personas, *cz)
			return nil
		})
		if err != nil {
			return err
		}
		// Testers first (they can use the test environment), then by mobile.
		slices.SortFunc(d.Personas, func(a, b Citizen) int {
			if (len(a.TesterOf) > 0) != (len(b.TesterOf) > 0) {
				if len(a.TesterOf) > 0 {
					return -1
				}
				return 1
			}
			return compareStrings(a.Mobile, b.Mobile)
		})
		if persona := c.Query("persona"); persona != "" {
			if d.Persona, err = findCitizen(tx, persona); err != nil {
				return err
			}
			if d.Persona == nil {
				return named(codeCitizenNotFound, "no citizen with userid or mobile "+strconvQuote(persona))
			}
		} else if len(d.Personas) > 0 {
			d.Persona = &d.Personas[0]
		}
		if d.Persona == nil {
			return nil
		}
		return store.Each(tx, keyService, func(_ string, s *Service) error {
			a, err := getApp(tx, s.AppID)
			if err != nil || a == nil || a.Status != AppApproved {
				return err
			}
			visible := s.Status == StatusOnline
			if env == EnvTest {
				visible = s.Status != StatusOffline && slices.Contains(a.Testers, d.Persona.Mobile)
			}
			if visible {
				d.Tiles = append(d.Tiles, appTile{s.ServiceCode, s.ServiceName, typeLabels[s.ServiceType], a.AppName, statusLabels[s.Status]})
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := appPage().Execute(&buf, d); err != nil {
		return nil, err
	}
	return endpoint.Raw{ContentType: "text/html; charset=utf-8", Body: buf.Bytes()}, nil
}

// handleAppOpen is a tap on a tile: a fresh ticket, then a redirect to the channel URL.
func (p *Platform) handleAppOpen(c *endpoint.Call) (any, error) {
	l, err := p.Launch(c.Query("service"), c.Query("persona"), c.Query("env"), c.Now)
	if err != nil {
		return nil, err
	}
	return endpoint.Redirect{URL: l.Location}, nil
}

type appContext struct {
	Service string `json:"service"`
	Persona string `json:"persona"`
	Env     string `json:"env"`
}

// handleAppTicket serves JLBBridge.ssoTicket() for the page the app has open.
func (p *Platform) handleAppTicket(c *endpoint.Call) (any, error) {
	var req appContext
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	l, err := p.Launch(req.Service, req.Persona, req.Env, c.Now)
	if err != nil {
		return nil, err
	}
	return map[string]any{"ticket": l.Ticket, "expiresAt": l.ExpiresAt}, nil
}

// handleAppTitleCheck records whether the opened page's <title> is the listed service name
// (manual §7.4: 服务标题与服务清单一致).
func (p *Platform) handleAppTitleCheck(c *endpoint.Call) (any, error) {
	var req struct {
		appContext
		Title   string `json:"title"`
		PageURL string `json:"pageUrl"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	var tc TitleCheck
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		s, err := getService(tx, req.Service)
		if err != nil {
			return err
		}
		if s == nil {
			return named(codeAdminNotFound, "no service "+strconvQuote(req.Service))
		}
		cz, err := findCitizen(tx, req.Persona)
		if err != nil {
			return err
		}
		if cz == nil {
			return named(codeCitizenNotFound, "no citizen "+strconvQuote(req.Persona))
		}
		tc = TitleCheck{ServiceCode: s.ServiceCode, ServiceName: s.ServiceName, Title: req.Title, Match: strings.TrimSpace(req.Title) == s.ServiceName, Env: req.Env, Persona: cz.UserID, PageURL: req.PageURL, At: c.Now}
		n, err := next(tx, "titlecheck")
		if err != nil {
			return err
		}
		return tx.Put(keyTitle+pad(n, 10), tc)
	})
	if err != nil {
		return nil, err
	}
	reason := "page title " + strconvQuote(tc.Title) + " matches the listed name"
	if !tc.Match {
		reason = "page title " + strconvQuote(tc.Title) + " differs from the listed name " + strconvQuote(tc.ServiceName)
	}
	p.deps.Journal.Add(journal.Entry{Time: c.Now, Platform: "jincheng", Event: "title_check", Method: "CHECK", Path: tc.PageURL, AppID: tc.ServiceCode, Status: http.StatusOK, Reason: reason})
	return tc, nil
}

func (p *Platform) handleBridgeScript(*endpoint.Call) (any, error) {
	return endpoint.Raw{ContentType: "application/javascript; charset=utf-8", Body: bridgeScript, Header: http.Header{"Cache-Control": {"no-cache"}}}, nil
}

// TitleChecks returns the recorded title checks, oldest first, optionally for one service.
func (p *Platform) TitleChecks(service string) ([]TitleCheck, error) {
	items := []TitleCheck{}
	err := p.deps.Store.View(func(tx *store.Tx) error {
		return store.Each(tx, keyTitle, func(_ string, tc *TitleCheck) error {
			if service == "" || tc.ServiceCode == service {
				items = append(items, *tc)
			}
			return nil
		})
	})
	return items, err
}

func (p *Platform) handleTitleChecks(c *endpoint.Call) (any, error) {
	items, err := p.TitleChecks(c.Query("service"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"items": items}, nil
}
