package cityservice

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// OpenSpec is a simulated user opening a City Service page: a path or H5 URL as
// getservicepath returned it (QueryString joins page type 0's query), or a menu entry.
type OpenSpec struct {
	OpenID      string   `json:"openid"`
	Path        string   `json:"path"`
	QueryString string   `json:"query_string"`
	Menu        *MenuRef `json:"menu"`
}

// MenuRef names an MP-console menu entry: the account and the entry's key.
type MenuRef struct {
	AppID string `json:"appid"`
	Key   string `json:"key"`
}

// Entry says how the user arrived.
type Entry struct {
	AppID        string `json:"appid"`
	SrcChannel   int    `json:"src_channel"`
	BusinessType string `json:"business_type"`
	H5           bool   `json:"h5"`
	MenuKey      string `json:"menu_key,omitempty"`
}

// CategoryCount is a category on a city's home page with its number of services.
type CategoryCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Home is what a city's City Service home page shows.
type Home struct {
	Topics      []string        `json:"topics"`
	Categories  []CategoryCount `json:"categories"`
	HealthCodes []Brief         `json:"health_codes"`
	HotServices []Brief         `json:"hot_services"`
}

// List is a topic page or a service-list page: its name and services.
type List struct {
	Name     string  `json:"name"`
	Services []Brief `json:"services"`
}

// HomepageView is a service homepage as a user sees it: the service, the params the
// path carried and the user's city.
type HomepageView struct {
	Service
	Params      []KV   `json:"params"`
	UserCity    string `json:"user_city,omitempty"`
	OfferedHere bool   `json:"offered_in_user_city"`
}

// HealthCodePopup is the health-code entry's popup: the city's codes, the one shown
// (the only one, or the user's remembered choice), or a request to choose.
type HealthCodePopup struct {
	Popup          bool    `json:"popup"`
	Codes          []Brief `json:"codes"`
	Selected       *Brief  `json:"selected,omitempty"`
	Remembered     bool    `json:"remembered"`
	ChoiceRequired bool    `json:"choice_required"`
}

// Page is the page a simulated open lands on, and what is on it.
type Page struct {
	Page        string           `json:"page"`
	PageType    int              `json:"page_type"`
	OpenID      string           `json:"openid"`
	Entry       Entry            `json:"entry"`
	City        *City            `json:"city,omitempty"`
	Home        *Home            `json:"home,omitempty"`
	Topic       *List            `json:"topic,omitempty"`
	ServiceList *List            `json:"service_list,omitempty"`
	Service     *HomepageView    `json:"service,omitempty"`
	HealthCode  *HealthCodePopup `json:"health_code,omitempty"`
}

// csHotServices is how many services the home page shows first.
const csHotServices = 8

type csChoice struct {
	ServiceID int64     `json:"service_id"`
	ChosenAt  time.Time `json:"chosen_at"`
}

func csChoiceKey(city, openid string) string {
	return csPrefix + "healthcode_choice:" + city + ":" + openid
}

// handleOpenCityServicePage simulates a user opening a returned path, H5 URL or menu entry:
// POST /_sandbox/wechat/cityservice/open. It reads only.
func (e *Emulator) handleOpenCityServicePage(c *endpoint.Call) (any, error) {
	var req OpenSpec
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return e.open(c.Now, req)
}

// Open simulates a user opening a path, H5 URL or menu entry (the Go twin of
// POST /_sandbox/wechat/cityservice/open). It changes no state; the journal records the open as
// event "cityservice_open".
func (e *Emulator) Open(req OpenSpec) (*Page, error) {
	return e.open(e.deps.Clock.Now(), req)
}

func (e *Emulator) open(now time.Time, req OpenSpec) (*Page, error) {
	if req.OpenID == "" {
		return nil, csCtlErr(apierr.Invalid, "invalid_open", "openid is required")
	}
	if (req.Path == "") == (req.Menu == nil) {
		return nil, csCtlErr(apierr.Invalid, "invalid_open", "give either path (a Mini Program path or H5 URL) or menu {appid, key}")
	}
	var out Page
	var opened string
	err := e.deps.Store.View(func(tx *store.Tx) error {
		meta, err := csLoadMeta(tx)
		if err != nil {
			return err
		}
		if meta == nil {
			return csCtlErr(apierr.NotFound, "no_world", "no City Service world is loaded")
		}
		path, query, menuKey := req.Path, req.QueryString, ""
		if req.Menu != nil {
			var menu csMenu
			if ok, err := tx.Get(csMenuKey(req.Menu.AppID), &menu); err != nil {
				return err
			} else if !ok {
				return csCtlErr(apierr.NotFound, "menu_not_found", "no City Service menu for %s", req.Menu.AppID)
			}
			i := slices.IndexFunc(menu.Entries, func(m csMenuEntry) bool { return m.Key == req.Menu.Key })
			if i < 0 {
				return csCtlErr(apierr.NotFound, "menu_entry_not_found", "the menu of %s has no key %q", req.Menu.AppID, req.Menu.Key)
			}
			path, query, menuKey = menu.Entries[i].Path, menu.Entries[i].QueryString, req.Menu.Key
		}
		out, err = e.csOpen(tx, meta, path, query, req.OpenID)
		out.Entry.MenuKey = menuKey
		opened = path
		return err
	})
	if err != nil {
		return nil, err
	}
	if e.deps.Journal != nil {
		e.deps.Journal.Add(journal.Entry{Time: now, Platform: "wechat", Event: "cityservice_open", Method: "OPEN", Path: opened,
			AppID: out.Entry.AppID, Status: 200, Reason: fmt.Sprintf("%s opened the %s page", req.OpenID, out.Page)})
	}
	return &out, nil
}

// csParseOpenPath splits a Mini Program path or H5 URL into its page type and query.
func csParseOpenPath(meta *csMeta, path, extra string) (int, url.Values, bool, error) {
	bad := func(format string, args ...any) (int, url.Values, bool, error) {
		return 0, nil, false, csCtlErr(apierr.Invalid, "invalid_path", format, args...)
	}
	h5 := strings.HasPrefix(path, "https://") || strings.HasPrefix(path, "http://")
	var page, rawQuery string
	pages := csPages
	if h5 {
		u, err := url.Parse(path)
		if err != nil {
			return bad("not a URL: %v", err)
		}
		base, err := url.Parse(meta.MiniProgram.H5Base)
		if err != nil {
			return 0, nil, false, fmt.Errorf("cityservice: h5_base: %w", err)
		}
		rest, ok := strings.CutPrefix(u.Path, strings.TrimSuffix(base.Path, "/")+"/")
		if u.Host != base.Host || !ok {
			return bad("%s is not a City Service H5 page (%s/…)", path, meta.MiniProgram.H5Base)
		}
		page, rawQuery, pages = rest, u.RawQuery, csH5Pages
	} else {
		page, rawQuery, _ = strings.Cut(strings.TrimPrefix(path, "/"), "?")
	}
	if extra != "" {
		rawQuery = strings.Trim(rawQuery+"&"+strings.TrimPrefix(extra, "?"), "&")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return bad("query %q: %v", rawQuery, err)
	}
	for pt, name := range pages {
		if name == page {
			return pt, q, h5, nil
		}
	}
	return 0, nil, false, csCtlErr(apierr.NotFound, "page_not_found", "City Service has no page %q", page)
}

// csOpen resolves what a user sees on opening path.
func (e *Emulator) csOpen(tx *store.Tx, meta *csMeta, path, query, openid string) (Page, error) {
	pt, q, h5, err := csParseOpenPath(meta, path, query)
	if err != nil {
		return Page{}, err
	}
	out := Page{Page: csPageNames[pt], PageType: pt, OpenID: openid}
	if out.Entry, err = csIssuedEntry(tx, q, h5); err != nil {
		return out, err
	}
	if out.City, err = csPathCity(tx, q, pt, out.Page); err != nil {
		return out, err
	}
	switch pt {
	case 0:
		out.Service, err = csServicePage(tx, q, out.City)
	case 1:
		out.Home, err = csHomePage(tx, meta, out.City)
	case 2:
		out.HealthCode, err = e.csHealthCodePopup(tx, out.City.Name, openid)
	case 3:
		out.Topic, err = csTopicPage(tx, out.City, q.Get("topic"))
	case 5:
		out.ServiceList, err = csServiceListPage(tx, meta, out.City, q.Get("keyword"))
	}
	return out, err
}

// csIssuedEntry returns how the path was entered: only issued paths open, so its bt must be an
// approved account's, and its src a src_channel.
func csIssuedEntry(tx *store.Tx, q url.Values, h5 bool) (Entry, error) {
	bt := q.Get("bt")
	var grant *csGrant
	if err := store.Each(tx, csGrantPrefix(), func(_ string, g *csGrant) error {
		if g.BusinessType == bt {
			grant = g
			return store.Stop
		}
		return nil
	}); err != nil {
		return Entry{}, err
	}
	if grant == nil {
		return Entry{}, csCtlErr(apierr.Forbidden, "path_not_issued", "the path's bt %q is no approved account's business_type: City Service opens only paths from getservicepath or the MP console", bt)
	}
	src, err := strconv.Atoi(q.Get("src"))
	if err != nil || !slices.Contains(csSrcChannels, src) {
		return Entry{}, csCtlErr(apierr.Invalid, "invalid_path", "src %q is not a src_channel", q.Get("src"))
	}
	return Entry{AppID: grant.AppID, SrcChannel: src, BusinessType: bt, H5: h5}, nil
}

// csPathCity returns the city of the path's city_id, which every page but a service homepage
// needs.
func csPathCity(tx *store.Tx, q url.Values, pt int, page string) (*City, error) {
	id := q.Get("city_id")
	if id == "" {
		if pt != 0 {
			return nil, csCtlErr(apierr.Invalid, "invalid_path", "the %s page needs city_id", page)
		}
		return nil, nil
	}
	c, err := csCityNamed(tx, id)
	if err != nil {
		return nil, err
	}
	if c == nil || c.CityID != id {
		return nil, csCtlErr(apierr.NotFound, "city_not_found", "no City Service city with city_id %q", id)
	}
	return c, nil
}

// csHomePage is a city's home page: its topics, the count of its services per category, its
// health codes and its first hot services (hand-picked ones before generated ones).
func csHomePage(tx *store.Tx, meta *csMeta, city *City) (*Home, error) {
	home := &Home{Topics: city.Topics, Categories: []CategoryCount{}}
	all, err := csServicesIn(tx, city.Name, nil)
	if err != nil {
		return nil, err
	}
	for _, cat := range meta.Categories {
		n := 0
		for i := range all {
			if slices.Contains(all[i].Categories, cat.Name) {
				n++
			}
		}
		home.Categories = append(home.Categories, CategoryCount{Name: cat.Name, Count: n})
	}
	var codes, hot []Service
	for _, s := range all {
		switch {
		case s.HealthCode:
			codes = append(codes, s)
		case len(hot) < csHotServices && !s.Generated:
			hot = append(hot, s)
		}
	}
	for i := 0; len(hot) < csHotServices && i < len(all); i++ {
		if all[i].Generated {
			hot = append(hot, all[i])
		}
	}
	home.HealthCodes, home.HotServices = briefs(codes), briefs(hot)
	return home, nil
}

// csTopicPage lists a city's services on one of its topics.
func csTopicPage(tx *store.Tx, city *City, topic string) (*List, error) {
	if !slices.Contains(city.Topics, topic) {
		return nil, csCtlErr(apierr.NotFound, "topic_not_found", "city %s has no topic %q", city.Name, topic)
	}
	list, err := csServicesIn(tx, city.Name, func(s *Service) bool { return slices.Contains(s.Topics, topic) })
	if err != nil {
		return nil, err
	}
	return &List{Name: topic, Services: briefs(list)}, nil
}

// csServiceListPage lists a city's services in the category named by the path's keyword.
func csServiceListPage(tx *store.Tx, meta *csMeta, city *City, keyword string) (*List, error) {
	if !slices.ContainsFunc(meta.Categories, func(c Category) bool { return c.Name == keyword }) {
		return nil, csCtlErr(apierr.NotFound, "category_not_found", "no City Service category %q", keyword)
	}
	list, err := csServicesIn(tx, city.Name, func(s *Service) bool { return slices.Contains(s.Categories, keyword) })
	if err != nil {
		return nil, err
	}
	return &List{Name: keyword, Services: briefs(list)}, nil
}

// csServicePage is a service's homepage, with its params and whether the user's city (when the
// path names one) is offered the service.
func csServicePage(tx *store.Tx, q url.Values, city *City) (*HomepageView, error) {
	id, perr := strconv.ParseInt(q.Get("service_id"), 10, 64)
	svc, err := csLoadService(tx, id)
	if err != nil {
		return nil, err
	}
	if perr != nil || svc == nil || svc.Homepage == nil {
		return nil, csCtlErr(apierr.NotFound, "service_not_found", "no service homepage %q", q.Get("service_id"))
	}
	params, err := csParseParams(q.Get("params"))
	if err != nil {
		return nil, csCtlErr(apierr.Invalid, "invalid_path", "params: %s", apierr.From(err).Reason)
	}
	view := &HomepageView{Service: *svc, Params: params, OfferedHere: true}
	if city != nil {
		view.UserCity, view.OfferedHere = city.Name, svc.offeredIn(city.Name)
	}
	return view, nil
}

// csHealthCodePopup is the health-code entry's popup for a user in a city: the only code, or the
// list of codes with the user's remembered choice.
func (e *Emulator) csHealthCodePopup(tx *store.Tx, city, openid string) (*HealthCodePopup, error) {
	codes, err := csHealthCodes(tx, city)
	if err != nil {
		return nil, err
	}
	v := &HealthCodePopup{Popup: true, Codes: briefs(codes)}
	if len(codes) == 1 {
		v.Selected = &v.Codes[0]
		return v, nil
	}
	var ch csChoice
	ok, err := tx.Get(csChoiceKey(city, openid), &ch)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(v.Codes, func(b Brief) bool { return b.ServiceID == ch.ServiceID }); ok && i >= 0 {
		v.Selected, v.Remembered = &v.Codes[i], true
		return v, nil
	}
	v.ChoiceRequired = true
	return v, nil
}

// handleChooseHealthCode records a user's choice among a city's health codes:
// POST /_sandbox/wechat/cityservice/healthcode-choice.
func (e *Emulator) handleChooseHealthCode(c *endpoint.Call) (any, error) {
	var req HealthCodeChoice
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return e.chooseHealthCode(c.Now, req)
}

// HealthCodeChoice is a user's pick among a city's health codes.
type HealthCodeChoice struct {
	OpenID    string `json:"openid"`
	CityName  string `json:"city_name"`
	ServiceID int64  `json:"service_id"`
}

// ChooseHealthCode records a user's health-code choice (the Go twin of
// POST /_sandbox/wechat/cityservice/healthcode-choice) and returns the popup as it now shows.
func (e *Emulator) ChooseHealthCode(req HealthCodeChoice) (*HealthCodePopup, error) {
	return e.chooseHealthCode(e.deps.Clock.Now(), req)
}

func (e *Emulator) chooseHealthCode(now time.Time, req HealthCodeChoice) (*HealthCodePopup, error) {
	if req.OpenID == "" {
		return nil, csCtlErr(apierr.Invalid, "invalid_choice", "openid is required")
	}
	var view *HealthCodePopup
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		city, err := csCityNamed(tx, req.CityName)
		if err != nil {
			return err
		}
		if city == nil {
			return csCtlErr(apierr.NotFound, "city_not_found", "no City Service city %q", req.CityName)
		}
		codes, err := csHealthCodes(tx, city.Name)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(codes, func(s Service) bool { return s.ServiceID == req.ServiceID }) {
			return csCtlErr(apierr.Invalid, "not_a_health_code", "service %d is not a health code of %s (%v)", req.ServiceID, city.Name, briefs(codes))
		}
		if err := tx.Put(csChoiceKey(city.Name, req.OpenID), csChoice{ServiceID: req.ServiceID, ChosenAt: now}); err != nil {
			return err
		}
		view, err = e.csHealthCodePopup(tx, city.Name, req.OpenID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return view, nil
}
