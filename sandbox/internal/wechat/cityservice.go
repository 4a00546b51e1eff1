package wechat

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerCityServiceRoutes lists WeChat City Service interconnection (城市服务开放互联能力): the
// path API and the control-plane verbs that simulate the rest of the flow.
func (p *Platform) registerCityServiceRoutes(r endpoint.Routes) {
	r.Handle("getCityServicePath", p.handleGetServicePath)                           // POST /cityservice/getservicepath
	r.Handle("getCityServiceCatalog", p.handleCityServiceCatalog)                    // GET /_sandbox/wechat/cityservice/catalog
	r.Handle("settleCityService", p.handleSettleCityService)                         // POST /_sandbox/wechat/cityservice/services
	r.Handle("applyCityService", p.handleApplyCityService)                           // POST /_sandbox/wechat/cityservice/applications
	r.Handle("listCityServiceApplications", p.handleListCityServiceApplications)     // GET /_sandbox/wechat/cityservice/applications
	r.Handle("approveCityServiceApplication", p.handleApproveCityServiceApplication) // POST …/applications/{id}/approve
	r.Handle("rejectCityServiceApplication", p.handleRejectCityServiceApplication)   // POST …/applications/{id}/reject
	r.Handle("putCityServiceMenu", p.handlePutCityServiceMenu)                       // PUT /_sandbox/wechat/cityservice/menus/{appid}
	r.Handle("getCityServiceMenu", p.handleGetCityServiceMenu)                       // GET /_sandbox/wechat/cityservice/menus/{appid}
	r.Handle("openCityServicePage", p.handleOpenCityServicePage)                     // POST /_sandbox/wechat/cityservice/open
	r.Handle("chooseCityServiceHealthCode", p.handleChooseHealthCode)                // POST /_sandbox/wechat/cityservice/healthcode-choice
}

// City Service: what is emulated, and what is invented.
//
// Upstream: developers.weixin.qq.com …/cityservice/basic/api_cityserviceservicehomepath (the API)
// and …/platform-capabilities/cityservice/ (the capability, its pages and the application by
// e-mail to wx_city@tencent.com). Emulated as documented:
//   - POST /cityservice/getservicepath with page_type 0 (service homepage), 1 (home page),
//     2 (health-code entry), 3 (topic page), 5 (service-list page) and each one's conditional
//     fields; src_channel 0, 1, 2, 3, 5; need_path_type=1 or device_type=2 for an H5 URL; params
//     as a JSON array encoded in a string, at most 10 pairs, string keys and values, unique keys,
//     key "city" the user's city; permission sets 22 and 105 for third-party platforms;
//   - only accounts that settled a service with a homepage may apply; calls answer 48001 until an
//     application is approved;
//   - the health-code entry pops up the city's code; with two or more it lets the user choose and
//     remembers the choice.
//
// Invented (no public source says otherwise):
//   - errcodes: no table is published. Missing or out-of-enum page_type/src_channel, a missing
//     conditional field, an unknown city, topic, category or service, a city without health codes
//     and a malformed params string all answer 40097 "invalid args" (not -1, which clients treat
//     as "retry"); a wrongly typed field answers 47001; no approved application, or a page type or
//     src_channel outside the grant, answers 48001 "api unauthorized,". Permission is checked
//     before the conditional fields.
//   - the City Service Mini Program's appid and username (fixtures/cityservice.yaml:
//     wxc175e7f1ce5e7f00, gh_c175e7f1ce5e), its page paths (pages/index/index, pages/service/index,
//     pages/healthcode/index, pages/topic/index, pages/servicelist/index) and the H5 base
//     https://city.weixin.qq.com/h5/<page>;
//   - the query: city_id (the city's administrative code), topic, keyword, service_id, params,
//     src (src_channel) and bt (the business_type, "open_" and 10 hex digits of SHA-256(appid)).
//     The open verb refuses a path whose bt no approved account holds, as City Service limits
//     its pages to issued paths;
//   - answer fields follow the official examples: page type 0 splits path and query_string; the
//     other types carry the query in path; business_type comes with types 0, 1 and 2; app_id and
//     username come with every answer (a jump from another Mini Program needs them; the examples
//     show them for type 5). An H5 answer's path is the complete URL, without query_string;
//   - city names are accepted with or without the trailing 市; params key "city" and city_id
//     accept a city's name or code; fields that do not apply to the page type are ignored;
//   - the application's jump_scenes are src_channel values; an approval grants a subset of what
//     was applied for (all of it by default); one pending or approved application per account;
//   - an MP-console menu entry (PUT …/menus/{appid}) has the src_channel of its account: 0 for an
//     official account, 1 for a Mini Program, 3 for an open-platform account.

// Page types and channels of getservicepath.
var (
	csPageTypes   = []int{0, 1, 2, 3, 5}
	csSrcChannels = []int{0, 1, 2, 3, 5}
	csPages       = map[int]string{0: "pages/service/index", 1: "pages/index/index", 2: "pages/healthcode/index", 3: "pages/topic/index", 5: "pages/servicelist/index"}
	csH5Pages     = map[int]string{0: "service", 1: "index", 2: "healthcode", 3: "topic", 5: "servicelist"}
	csPageNames   = map[int]string{0: "service_homepage", 1: "home", 2: "health_code", 3: "topic", 5: "service_list"}
)

// CityServiceMaxParams is the most key/value pairs params may hold.
const CityServiceMaxParams = 10

// CityServiceKV is one key/value pair of ext_params or params.
type CityServiceKV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// csPathRequest is getservicepath's body (and, without the channel fields, a menu entry).
type csPathRequest struct {
	PageType     int             `json:"page_type"`
	SrcChannel   int             `json:"src_channel"`
	NeedPathType int             `json:"need_path_type"`
	DeviceType   int             `json:"device_type"`
	CityName     string          `json:"city_name"`
	ContentName  string          `json:"content_name"`
	ExtParams    []CityServiceKV `json:"ext_params"`
	ServiceID    *int64          `json:"service_id"`
	Params       string          `json:"params"`
	CityID       string          `json:"city_id"`
}

// csTarget is what a path request resolves to.
type csTarget struct {
	PageType int
	City     *CityServiceCity // the page's city; for type 0 the user's city, if known
	Topic    string
	Keyword  string
	Service  *CityService
	Params   []CityServiceKV
}

// csPathAnswer is getservicepath's success body.
type csPathAnswer struct {
	Envelope
	Path         string `json:"path"`
	QueryString  string `json:"query_string,omitempty"`
	BusinessType string `json:"business_type,omitempty"`
	AppID        string `json:"app_id"`
	Username     string `json:"username"`
}

// csGrant is an approved application: what an account may ask paths for.
type csGrant struct {
	AppID         string    `json:"appid"`
	ApplicationID string    `json:"application_id"`
	PageTypes     []int     `json:"page_types"`
	SrcChannels   []int     `json:"src_channels"`
	BusinessType  string    `json:"business_type"`
	GrantedAt     time.Time `json:"granted_at"`
}

func csGrantKey(appid string) string { return csPrefix + "grant:" + appid }
func csGrantPrefix() string          { return csPrefix + "grant:" }

// csBusinessType is the opaque business_type of an account's paths.
func csBusinessType(appid string) string {
	sum := sha256.Sum256([]byte(appid))
	return "open_" + hex.EncodeToString(sum[:])[:10]
}

func csInvalid(format string, args ...any) error {
	return apierr.Newf(apierr.Invalid, 40097, format, args...)
}

func csCtlErr(kind apierr.Kind, name, format string, args ...any) error {
	return &apierr.Error{Kind: kind, Name: name, Reason: fmt.Sprintf(format, args...)}
}

// csCityNamed finds a city by name (with or without 市) or by city_id.
func csCityNamed(tx *store.Tx, name string) (*CityServiceCity, error) {
	name = strings.TrimSpace(name)
	if c, err := csLoadCity(tx, strings.TrimSuffix(name, "市")); c != nil || err != nil {
		return c, err
	}
	if name == "" {
		return nil, nil
	}
	cities, err := csCities(tx)
	if err != nil {
		return nil, err
	}
	for i := range cities {
		if cities[i].CityID == name {
			return &cities[i], nil
		}
	}
	return nil, nil
}

// csRequiredCity resolves the city_name a page type needs.
func csRequiredCity(tx *store.Tx, req *csPathRequest) (*CityServiceCity, error) {
	if strings.TrimSpace(req.CityName) == "" {
		return nil, csInvalid("page_type %d needs city_name", req.PageType)
	}
	c, err := csCityNamed(tx, req.CityName)
	if err == nil && c == nil {
		err = csInvalid("city_name %q is not a City Service city", req.CityName)
	}
	return c, err
}

// csResolve checks a path request's conditional fields against the world (40097 on any fault).
func csResolve(tx *store.Tx, meta *csMeta, req *csPathRequest) (*csTarget, error) {
	t := &csTarget{PageType: req.PageType}
	var err error
	switch req.PageType {
	case 0:
		if req.ServiceID == nil {
			return nil, csInvalid("page_type 0 needs service_id")
		}
		if t.Service, err = csLoadService(tx, *req.ServiceID); err != nil {
			return nil, err
		}
		if t.Service == nil {
			return nil, csInvalid("service_id %d is not a settled City Service service", *req.ServiceID)
		}
		if t.Service.Homepage == nil {
			return nil, csInvalid("service %d has no service homepage", *req.ServiceID)
		}
		if t.Params, err = csParseParams(req.Params); err != nil {
			return nil, err
		}
		for _, kv := range t.Params {
			if kv.Key != "city" {
				continue
			}
			if t.City, err = csCityNamed(tx, kv.Value); err != nil {
				return nil, err
			}
			if t.City == nil {
				return nil, csInvalid("params city %q is not a City Service city", kv.Value)
			}
		}
		if req.CityID != "" {
			c, err := csCityNamed(tx, req.CityID)
			if err != nil {
				return nil, err
			}
			if c == nil || c.CityID != req.CityID {
				return nil, csInvalid("city_id %q is not a City Service city code", req.CityID)
			}
			if t.City == nil {
				t.City = c
			}
		}
	case 1:
		t.City, err = csRequiredCity(tx, req)
	case 2:
		if t.City, err = csRequiredCity(tx, req); err != nil {
			return nil, err
		}
		codes, err := csHealthCodes(tx, t.City.Name)
		if err != nil {
			return nil, err
		}
		if len(codes) == 0 {
			return nil, csInvalid("city %s has no health-code service", t.City.Name)
		}
	case 3:
		if t.City, err = csRequiredCity(tx, req); err != nil {
			return nil, err
		}
		t.Topic = strings.TrimSpace(req.ContentName)
		if t.Topic == "" {
			return nil, csInvalid("page_type 3 needs content_name (the topic)")
		}
		if !slices.Contains(t.City.Topics, t.Topic) {
			return nil, csInvalid("city %s has no topic %q (it has %s)", t.City.Name, t.Topic, strings.Join(t.City.Topics, ", "))
		}
	case 5:
		if t.City, err = csRequiredCity(tx, req); err != nil {
			return nil, err
		}
		for _, kv := range req.ExtParams {
			if kv.Key != "keyword" {
				continue
			}
			if t.Keyword != "" {
				return nil, csInvalid("ext_params has more than one keyword")
			}
			if t.Keyword = strings.TrimSpace(kv.Value); t.Keyword == "" {
				return nil, csInvalid("ext_params keyword is empty")
			}
		}
		if t.Keyword == "" {
			return nil, csInvalid(`page_type 5 needs ext_params [{"key":"keyword","value":"<category>"}]`)
		}
		if !slices.ContainsFunc(meta.Categories, func(c CityServiceCategory) bool { return c.Name == t.Keyword }) {
			return nil, csInvalid("ext_params keyword %q is not a City Service category", t.Keyword)
		}
	default:
		return nil, csInvalid("page_type %d is not one of 0, 1, 2, 3, 5", req.PageType)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// csParseParams decodes page type 0's params: a JSON array, encoded as a string, of at most 10
// {"key","value"} objects whose keys and values are strings and whose keys are unique. An absent
// params string is a missing conditional field.
func csParseParams(s string) ([]CityServiceKV, error) {
	if strings.TrimSpace(s) == "" {
		return nil, csInvalid(`page_type 0 needs params, a JSON array in a string such as "[{\"key\":\"city\",\"value\":\"广州\"}]"`)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil || raw == nil {
		return nil, csInvalid("params is not a JSON array of objects: %q", s)
	}
	if len(raw) > CityServiceMaxParams {
		return nil, csInvalid("params has %d pairs, at most %d are allowed", len(raw), CityServiceMaxParams)
	}
	out := make([]CityServiceKV, 0, len(raw))
	seen := map[string]bool{}
	for i, obj := range raw {
		var kv CityServiceKV
		kr, okK := obj["key"]
		vr, okV := obj["value"]
		if len(obj) != 2 || !okK || !okV || json.Unmarshal(kr, &kv.Key) != nil || json.Unmarshal(vr, &kv.Value) != nil {
			return nil, csInvalid(`params[%d] must be {"key":"<string>","value":"<string>"} and nothing else`, i)
		}
		if kv.Key == "" {
			return nil, csInvalid("params[%d] has an empty key", i)
		}
		if seen[kv.Key] {
			return nil, csInvalid("params key %q appears twice", kv.Key)
		}
		seen[kv.Key] = true
		out = append(out, kv)
	}
	return out, nil
}

// csBuildPath makes the path (and, for page type 0, the query) of a resolved target.
func csBuildPath(meta *csMeta, t *csTarget, srcChannel int, bt string, h5 bool) csPathAnswer {
	q := url.Values{"src": {strconv.Itoa(srcChannel)}, "bt": {bt}}
	if t.City != nil {
		q.Set("city_id", t.City.CityID)
	}
	switch t.PageType {
	case 0:
		q.Set("service_id", strconv.FormatInt(t.Service.ServiceID, 10))
		q.Set("params", string(marshal(t.Params)))
	case 3:
		q.Set("topic", t.Topic)
	case 5:
		q.Set("keyword", t.Keyword)
	}
	a := csPathAnswer{Envelope: OK(), AppID: meta.MiniProgram.AppID, Username: meta.MiniProgram.Username}
	if t.PageType <= 2 {
		a.BusinessType = bt
	}
	switch {
	case h5:
		a.Path = strings.TrimSuffix(meta.MiniProgram.H5Base, "/") + "/" + csH5Pages[t.PageType] + "?" + q.Encode()
	case t.PageType == 0:
		a.Path, a.QueryString = csPages[0], q.Encode()
	default:
		a.Path = csPages[t.PageType] + "?" + q.Encode()
	}
	return a
}

// handleGetServicePath emulates POST /cityservice/getservicepath (cityserviceservicehomepath).
func (p *Platform) handleGetServicePath(c *endpoint.Call) (any, error) {
	var req csPathRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	// The values are checked here rather than by a schema enum, which kin-openapi would test
	// before the type (a "1" string must answer 47001, a 4 40097).
	if !slices.Contains(csPageTypes, req.PageType) {
		return nil, csInvalid("page_type %d is not one of 0, 1, 2, 3, 5", req.PageType)
	}
	if !slices.Contains(csSrcChannels, req.SrcChannel) {
		return nil, csInvalid("src_channel %d is not one of 0, 1, 2, 3, 5", req.SrcChannel)
	}
	app := c.Principal.(*Principal).App
	var answer csPathAnswer
	err := p.deps.Store.View(func(tx *store.Tx) error {
		meta, err := csLoadMeta(tx)
		if err != nil {
			return err
		}
		if meta == nil {
			return apierr.New(apierr.Forbidden, 48001, "no City Service world is loaded (fixtures/cityservice.yaml)")
		}
		var g csGrant
		ok, err := tx.Get(csGrantKey(app.AppID), &g)
		switch {
		case err != nil:
			return err
		case !ok:
			return apierr.Newf(apierr.Forbidden, 48001, "%s has no approved City Service interconnection application", app.AppID)
		case !slices.Contains(g.PageTypes, req.PageType):
			return apierr.Newf(apierr.Forbidden, 48001, "page_type %d is not granted to %s (granted: %v)", req.PageType, app.AppID, g.PageTypes)
		case !slices.Contains(g.SrcChannels, req.SrcChannel):
			return apierr.Newf(apierr.Forbidden, 48001, "src_channel %d is not granted to %s (granted: %v)", req.SrcChannel, app.AppID, g.SrcChannels)
		}
		t, err := csResolve(tx, meta, &req)
		if err != nil {
			return err
		}
		answer = csBuildPath(meta, t, req.SrcChannel, g.BusinessType, req.NeedPathType == 1 || req.DeviceType == 2)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return answer, nil
}

// ---------------------------------------------------------------- catalogue and settling

// CityServiceBrief is a service as lists show it.
type CityServiceBrief struct {
	ServiceID   int64  `json:"service_id"`
	Name        string `json:"name"`
	HasHomepage bool   `json:"has_homepage"`
}

func briefOf(s *CityService) CityServiceBrief {
	return CityServiceBrief{ServiceID: s.ServiceID, Name: s.Name, HasHomepage: s.Homepage != nil}
}

func briefs(list []CityService) []CityServiceBrief {
	out := make([]CityServiceBrief, 0, len(list))
	for i := range list {
		out = append(out, briefOf(&list[i]))
	}
	return out
}

type csCatalogCity struct {
	CityServiceCity
	HealthCodes []CityServiceBrief `json:"health_codes"`
}

type csCatalog struct {
	MiniProgram csMiniProgram         `json:"mini_program"`
	Topics      []string              `json:"topics"`
	Categories  []CityServiceCategory `json:"categories"`
	Cities      []csCatalogCity       `json:"cities"`
	Services    []CityService         `json:"services"`
	Count       int                   `json:"count"`
}

// handleCityServiceCatalog lists the world: GET /_sandbox/wechat/cityservice/catalog[?city=].
func (p *Platform) handleCityServiceCatalog(c *endpoint.Call) (any, error) {
	var out csCatalog
	err := p.deps.Store.View(func(tx *store.Tx) error {
		meta, err := csLoadMeta(tx)
		if err != nil {
			return err
		}
		if meta == nil {
			return csCtlErr(apierr.NotFound, "no_world", "no City Service world is loaded (fixtures/cityservice.yaml)")
		}
		out = csCatalog{MiniProgram: meta.MiniProgram, Topics: meta.Topics, Categories: meta.Categories, Cities: []csCatalogCity{}}
		cities, err := csCities(tx)
		if err != nil {
			return err
		}
		want := c.Query("city")
		var only *CityServiceCity
		if want != "" {
			if only, err = csCityNamed(tx, want); err != nil {
				return err
			}
			if only == nil {
				return csCtlErr(apierr.NotFound, "city_not_found", "no City Service city %q", want)
			}
		}
		for _, city := range cities {
			if only != nil && city.Name != only.Name {
				continue
			}
			codes, err := csHealthCodes(tx, city.Name)
			if err != nil {
				return err
			}
			out.Cities = append(out.Cities, csCatalogCity{CityServiceCity: city, HealthCodes: briefs(codes)})
		}
		out.Services, err = csServices(tx, func(s *CityService) bool { return only == nil || s.offeredIn(only.Name) })
		out.Count = len(out.Services)
		return err
	})
	return out, err
}

// CityServiceSpec is the body of POST /_sandbox/wechat/cityservice/services.
type CityServiceSpec struct {
	OwnerAppID string               `json:"owner_appid"`
	Name       string               `json:"name"`
	Cities     []string             `json:"cities"`
	Categories []string             `json:"categories"`
	Topics     []string             `json:"topics"`
	HealthCode bool                 `json:"health_code"`
	Homepage   *CityServiceHomepage `json:"homepage"`
}

// handleSettleCityService settles a service into City Service for an app:
// POST /_sandbox/wechat/cityservice/services. The new service gets the next free service_id.
func (p *Platform) handleSettleCityService(c *endpoint.Call) (any, error) {
	var req CityServiceSpec
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	svc, err := p.SettleCityService(req)
	if err != nil {
		return nil, err
	}
	return endpoint.Created(svc), nil
}

// SettleCityService settles a service into City Service for an app (the Go twin of
// POST /_sandbox/wechat/cityservice/services). The service gets the next free service_id.
func (p *Platform) SettleCityService(req CityServiceSpec) (*CityService, error) {
	var svc CityService
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		meta, err := csLoadMeta(tx)
		if err != nil {
			return err
		}
		if meta == nil {
			return csCtlErr(apierr.NotFound, "no_world", "no City Service world is loaded")
		}
		app, err := p.GetApp(tx, req.OwnerAppID)
		if err != nil {
			return err
		}
		if app == nil {
			return csCtlErr(apierr.NotFound, "app_not_found", "no app %s", req.OwnerAppID)
		}
		svc = CityService{ServiceID: meta.NextServiceID, Name: strings.TrimSpace(req.Name), Categories: req.Categories,
			Topics: req.Topics, HealthCode: req.HealthCode, OwnerAppID: app.AppID, Homepage: req.Homepage}
		for _, name := range req.Cities {
			city, err := csCityNamed(tx, name)
			if err != nil {
				return err
			}
			if city == nil {
				return csCtlErr(apierr.Invalid, "city_not_found", "no City Service city %q", name)
			}
			if !slices.Contains(svc.Cities, city.Name) {
				svc.Cities = append(svc.Cities, city.Name)
			}
		}
		if svc.HealthCode && len(svc.Cities) == 0 {
			return csCtlErr(apierr.Invalid, "invalid_service", "a health-code service names its cities")
		}
		if err := completeService(&svc, meta.Topics, meta.Categories); err != nil {
			return csCtlErr(apierr.Invalid, "invalid_service", "%v", err)
		}
		meta.NextServiceID++
		if err := tx.Put(csMetaKey(), meta); err != nil {
			return err
		}
		return tx.Put(csServiceKey(svc.ServiceID), &svc)
	})
	if err != nil {
		return nil, err
	}
	return &svc, nil
}

// ---------------------------------------------------------------- applications

// Application states.
const (
	csPending  = "pending"
	csApproved = "approved"
	csRejected = "rejected"
)

// CityServiceApplication is an application for the interconnection capability: the e-mail of the
// upstream process, as data.
type CityServiceApplication struct {
	ID                 string     `json:"id"`
	AppID              string     `json:"appid"`
	SubjectName        string     `json:"subject_name"`
	JumpScenes         []int      `json:"jump_scenes"`
	PageTypes          []int      `json:"page_types"`
	ContactUnit        string     `json:"contact_unit"`
	ContactPerson      string     `json:"contact_person"`
	ContactPhone       string     `json:"contact_phone"`
	ContactWeChat      string     `json:"contact_wechat"`
	EmailTitle         string     `json:"email_title"`
	Status             string     `json:"status"`
	GrantedPageTypes   []int      `json:"granted_page_types,omitempty"`
	GrantedSrcChannels []int      `json:"granted_src_channels,omitempty"`
	BusinessType       string     `json:"business_type,omitempty"`
	RejectReason       string     `json:"reject_reason,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	DecidedAt          *time.Time `json:"decided_at,omitempty"`
}

func csApplicationKey(id string) string { return csPrefix + "application:" + id }
func csApplicationPrefix() string       { return csPrefix + "application:" }

// CityServiceApplicationSpec is what the upstream application e-mail lists: subject name,
// calling appid, jump scenes (as src_channel values), page types, contact unit, person, phone
// and WeChat id.
type CityServiceApplicationSpec struct {
	SubjectName   string `json:"subject_name"`
	AppID         string `json:"appid"`
	JumpScenes    []int  `json:"jump_scenes"`
	PageTypes     []int  `json:"page_types"`
	ContactUnit   string `json:"contact_unit"`
	ContactPerson string `json:"contact_person"`
	ContactPhone  string `json:"contact_phone"`
	ContactWeChat string `json:"contact_wechat"`
}

// handleApplyCityService files an application: POST /_sandbox/wechat/cityservice/applications.
func (p *Platform) handleApplyCityService(c *endpoint.Call) (any, error) {
	var req CityServiceApplicationSpec
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	a, err := p.applyCityService(c.Now, req)
	if err != nil {
		return nil, err
	}
	return endpoint.Created(a), nil
}

// ApplyCityService files an application for the interconnection capability (the Go twin of
// POST /_sandbox/wechat/cityservice/applications).
func (p *Platform) ApplyCityService(req CityServiceApplicationSpec) (*CityServiceApplication, error) {
	return p.applyCityService(p.deps.Clock.Now(), req)
}

func (p *Platform) applyCityService(now time.Time, req CityServiceApplicationSpec) (*CityServiceApplication, error) {
	var a CityServiceApplication
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		meta, err := csLoadMeta(tx)
		if err != nil {
			return err
		}
		if meta == nil {
			return csCtlErr(apierr.NotFound, "no_world", "no City Service world is loaded")
		}
		app, err := p.GetApp(tx, req.AppID)
		if err != nil {
			return err
		}
		if app == nil {
			return csCtlErr(apierr.NotFound, "app_not_found", "no app %s", req.AppID)
		}
		owned, err := csServices(tx, func(s *CityService) bool { return s.OwnerAppID == app.AppID && s.Homepage != nil })
		if err != nil {
			return err
		}
		if len(owned) == 0 {
			return csCtlErr(apierr.Forbidden, "not_eligible", "%s has not settled a City Service service with a homepage (settle one with POST /_sandbox/wechat/cityservice/services)", app.AppID)
		}
		var open *CityServiceApplication
		if open, err = p.csOpenApplication(tx, app.AppID); err != nil {
			return err
		}
		if open != nil {
			return csCtlErr(apierr.Conflict, "application_exists", "%s already has application %s (%s)", app.AppID, open.ID, open.Status)
		}
		a = CityServiceApplication{
			ID: fmt.Sprintf("csa%06d", meta.NextApplication), AppID: app.AppID, SubjectName: strings.TrimSpace(req.SubjectName),
			JumpScenes: sortedUnique(req.JumpScenes), PageTypes: sortedUnique(req.PageTypes),
			ContactUnit: req.ContactUnit, ContactPerson: req.ContactPerson, ContactPhone: req.ContactPhone, ContactWeChat: req.ContactWeChat,
			Status: csPending, CreatedAt: now,
		}
		a.EmailTitle = "【城市服务开放互联能力申请+" + a.SubjectName + "+" + a.AppID + "】"
		meta.NextApplication++
		if err := tx.Put(csMetaKey(), meta); err != nil {
			return err
		}
		return tx.Put(csApplicationKey(a.ID), &a)
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// csOpenApplication returns an account's pending or approved application, if any.
func (p *Platform) csOpenApplication(tx *store.Tx, appid string) (*CityServiceApplication, error) {
	list, err := csApplications(tx, appid)
	for i := range list {
		if list[i].Status != csRejected {
			return &list[i], err
		}
	}
	return nil, err
}

func csApplications(tx *store.Tx, appid string) ([]CityServiceApplication, error) {
	out := []CityServiceApplication{}
	var ferr error
	err := tx.AscendPrefix(csApplicationPrefix(), func(_, v string) bool {
		var a CityServiceApplication
		if ferr = jsonUnmarshal(v, &a); ferr != nil {
			return false
		}
		if appid == "" || a.AppID == appid {
			out = append(out, a)
		}
		return true
	})
	if ferr != nil {
		return nil, ferr
	}
	return out, err
}

func sortedUnique(in []int) []int {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// handleListCityServiceApplications lists applications: GET …/applications[?appid=&status=].
func (p *Platform) handleListCityServiceApplications(c *endpoint.Call) (any, error) {
	var list []CityServiceApplication
	err := p.deps.Store.View(func(tx *store.Tx) error {
		var err error
		list, err = csApplications(tx, c.Query("appid"))
		return err
	})
	if s := c.Query("status"); s != "" {
		list = slices.DeleteFunc(list, func(a CityServiceApplication) bool { return a.Status != s })
	}
	return map[string]any{"applications": list}, err
}

// CityServiceDecision is an operator's decision on an application. An approval grants
// PageTypes and SrcChannels (nil: everything applied for); a rejection gives a Reason.
type CityServiceDecision struct {
	PageTypes   []int  `json:"page_types"`
	SrcChannels []int  `json:"src_channels"`
	Reason      string `json:"reason"`
}

func (p *Platform) csDecide(c *endpoint.Call, approve bool) (any, error) {
	var d CityServiceDecision
	if err := c.Bind(&d); err != nil {
		return nil, err
	}
	return p.decideCityService(c.Now, c.Param("id"), approve, d)
}

// DecideCityServiceApplication approves or rejects a pending application (the Go twin of
// POST /_sandbox/wechat/cityservice/applications/{id}/approve and …/reject).
func (p *Platform) DecideCityServiceApplication(id string, approve bool, d CityServiceDecision) (*CityServiceApplication, error) {
	return p.decideCityService(p.deps.Clock.Now(), id, approve, d)
}

// decideCityService moves a pending application to approved or rejected.
func (p *Platform) decideCityService(now time.Time, id string, approve bool, d CityServiceDecision) (*CityServiceApplication, error) {
	var a CityServiceApplication
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		ok, err := tx.Get(csApplicationKey(id), &a)
		if err != nil {
			return err
		}
		if !ok {
			return csCtlErr(apierr.NotFound, "application_not_found", "no City Service application %s", id)
		}
		if a.Status != csPending {
			return csCtlErr(apierr.Conflict, "application_decided", "application %s is already %s", a.ID, a.Status)
		}
		a.DecidedAt = &now
		if !approve {
			a.Status, a.RejectReason = csRejected, d.Reason
			return tx.Put(csApplicationKey(a.ID), &a)
		}
		pages, chans := a.PageTypes, a.JumpScenes
		if d.PageTypes != nil {
			pages = sortedUnique(d.PageTypes)
		}
		if d.SrcChannels != nil {
			chans = sortedUnique(d.SrcChannels)
		}
		for _, v := range pages {
			if !slices.Contains(a.PageTypes, v) {
				return csCtlErr(apierr.Invalid, "invalid_grant", "page type %d was not applied for (%v)", v, a.PageTypes)
			}
		}
		for _, v := range chans {
			if !slices.Contains(a.JumpScenes, v) {
				return csCtlErr(apierr.Invalid, "invalid_grant", "src_channel %d was not applied for (%v)", v, a.JumpScenes)
			}
		}
		if len(pages) == 0 || len(chans) == 0 {
			return csCtlErr(apierr.Invalid, "invalid_grant", "an approval grants at least one page type and one src_channel")
		}
		a.Status, a.GrantedPageTypes, a.GrantedSrcChannels = csApproved, pages, chans
		a.BusinessType = csBusinessType(a.AppID)
		g := csGrant{AppID: a.AppID, ApplicationID: a.ID, PageTypes: pages, SrcChannels: chans, BusinessType: a.BusinessType, GrantedAt: now}
		if err := tx.Put(csGrantKey(a.AppID), &g); err != nil {
			return err
		}
		return tx.Put(csApplicationKey(a.ID), &a)
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// handleApproveCityServiceApplication is the operator's approval: POST …/applications/{id}/approve.
func (p *Platform) handleApproveCityServiceApplication(c *endpoint.Call) (any, error) {
	return p.csDecide(c, true)
}

// handleRejectCityServiceApplication is the operator's refusal: POST …/applications/{id}/reject.
func (p *Platform) handleRejectCityServiceApplication(c *endpoint.Call) (any, error) {
	return p.csDecide(c, false)
}

// ---------------------------------------------------------------- MP configuration (menus)

// csMenuEntry is one menu item configured in the MP console, pointing at a City Service page.
type csMenuEntry struct {
	Key         string          `json:"key"`
	Name        string          `json:"name"`
	PageType    int             `json:"page_type"`
	CityName    string          `json:"city_name,omitempty"`
	ContentName string          `json:"content_name,omitempty"`
	ExtParams   []CityServiceKV `json:"ext_params,omitempty"`
	ServiceID   *int64          `json:"service_id,omitempty"`
	Params      string          `json:"params,omitempty"`
	CityID      string          `json:"city_id,omitempty"`
	// Path and QueryString are what the entry opens, as getservicepath would return them.
	Path        string `json:"path"`
	QueryString string `json:"query_string,omitempty"`
}

type csMenu struct {
	AppID      string        `json:"appid"`
	SrcChannel int           `json:"src_channel"`
	Entries    []csMenuEntry `json:"entries"`
	UpdatedAt  time.Time     `json:"updated_at"`
}

func csMenuKey(appid string) string { return csPrefix + "menu:" + appid }

// csMenuChannel is the src_channel of a menu configured by an account of app's type.
func csMenuChannel(app *App) int {
	switch app.Type {
	case TypeOfficialAccount:
		return 0
	case TypeMiniProgram:
		return 1
	}
	return 3
}

// handlePutCityServiceMenu replaces an account's City Service menu: PUT …/menus/{appid}.
func (p *Platform) handlePutCityServiceMenu(c *endpoint.Call) (any, error) {
	var body struct {
		Entries []csMenuEntry `json:"entries"`
	}
	if err := c.Bind(&body); err != nil {
		return nil, err
	}
	var menu csMenu
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		meta, err := csLoadMeta(tx)
		if err != nil {
			return err
		}
		if meta == nil {
			return csCtlErr(apierr.NotFound, "no_world", "no City Service world is loaded")
		}
		app, err := p.GetApp(tx, c.Param("appid"))
		if err != nil {
			return err
		}
		if app == nil {
			return csCtlErr(apierr.NotFound, "app_not_found", "no app %s", c.Param("appid"))
		}
		var g csGrant
		if ok, err := tx.Get(csGrantKey(app.AppID), &g); err != nil {
			return err
		} else if !ok {
			return csCtlErr(apierr.Forbidden, "not_approved", "%s has no approved City Service interconnection application", app.AppID)
		}
		menu = csMenu{AppID: app.AppID, SrcChannel: csMenuChannel(app), Entries: []csMenuEntry{}, UpdatedAt: c.Now}
		if !slices.Contains(g.SrcChannels, menu.SrcChannel) {
			return csCtlErr(apierr.Forbidden, "not_granted", "src_channel %d (a %s menu) is not granted to %s (granted: %v)", menu.SrcChannel, app.Type, app.AppID, g.SrcChannels)
		}
		seen := map[string]bool{}
		for _, e := range body.Entries {
			if seen[e.Key] {
				return csCtlErr(apierr.Invalid, "invalid_entry", "menu key %q appears twice", e.Key)
			}
			seen[e.Key] = true
			if !slices.Contains(g.PageTypes, e.PageType) {
				return csCtlErr(apierr.Forbidden, "not_granted", "entry %q: page_type %d is not granted to %s (granted: %v)", e.Key, e.PageType, app.AppID, g.PageTypes)
			}
			req := csPathRequest{PageType: e.PageType, SrcChannel: menu.SrcChannel, CityName: e.CityName, ContentName: e.ContentName,
				ExtParams: e.ExtParams, ServiceID: e.ServiceID, Params: e.Params, CityID: e.CityID}
			t, err := csResolve(tx, meta, &req)
			if err != nil {
				if ae := apierr.As(err); ae != nil && ae.Code == 40097 {
					return csCtlErr(apierr.Invalid, "invalid_entry", "entry %q: %s (getservicepath would answer 40097)", e.Key, ae.Reason)
				}
				return err
			}
			a := csBuildPath(meta, t, menu.SrcChannel, g.BusinessType, false)
			e.Path, e.QueryString = a.Path, a.QueryString
			menu.Entries = append(menu.Entries, e)
		}
		return tx.Put(csMenuKey(app.AppID), &menu)
	})
	if err != nil {
		return nil, err
	}
	return menu, nil
}

// handleGetCityServiceMenu shows an account's City Service menu: GET …/menus/{appid}.
func (p *Platform) handleGetCityServiceMenu(c *endpoint.Call) (any, error) {
	var menu csMenu
	err := p.deps.Store.View(func(tx *store.Tx) error {
		ok, err := tx.Get(csMenuKey(c.Param("appid")), &menu)
		if err == nil && !ok {
			err = csCtlErr(apierr.NotFound, "menu_not_found", "no City Service menu for %s", c.Param("appid"))
		}
		return err
	})
	return menu, err
}

// ---------------------------------------------------------------- a user opening a page

// CityServiceOpenSpec is a simulated user opening a City Service page: a path or H5 URL as
// getservicepath returned it (QueryString joins page type 0's query), or a menu entry.
type CityServiceOpenSpec struct {
	OpenID      string              `json:"openid"`
	Path        string              `json:"path"`
	QueryString string              `json:"query_string"`
	Menu        *CityServiceMenuRef `json:"menu"`
}

// CityServiceMenuRef names an MP-console menu entry: the account and the entry's key.
type CityServiceMenuRef struct {
	AppID string `json:"appid"`
	Key   string `json:"key"`
}

// CityServiceEntry says how the user arrived.
type CityServiceEntry struct {
	AppID        string `json:"appid"`
	SrcChannel   int    `json:"src_channel"`
	BusinessType string `json:"business_type"`
	H5           bool   `json:"h5"`
	MenuKey      string `json:"menu_key,omitempty"`
}

// CityServiceCategoryCount is a category on a city's home page with its number of services.
type CityServiceCategoryCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// CityServiceHome is what a city's City Service home page shows.
type CityServiceHome struct {
	Topics      []string                   `json:"topics"`
	Categories  []CityServiceCategoryCount `json:"categories"`
	HealthCodes []CityServiceBrief         `json:"health_codes"`
	HotServices []CityServiceBrief         `json:"hot_services"`
}

// CityServiceList is a topic page or a service-list page: its name and services.
type CityServiceList struct {
	Name     string             `json:"name"`
	Services []CityServiceBrief `json:"services"`
}

// CityServiceHomepageView is a service homepage as a user sees it: the service, the params the
// path carried and the user's city.
type CityServiceHomepageView struct {
	CityService
	Params      []CityServiceKV `json:"params"`
	UserCity    string          `json:"user_city,omitempty"`
	OfferedHere bool            `json:"offered_in_user_city"`
}

// CityServiceHealthCodePopup is the health-code entry's popup: the city's codes, the one shown
// (the only one, or the user's remembered choice), or a request to choose.
type CityServiceHealthCodePopup struct {
	Popup          bool               `json:"popup"`
	Codes          []CityServiceBrief `json:"codes"`
	Selected       *CityServiceBrief  `json:"selected,omitempty"`
	Remembered     bool               `json:"remembered"`
	ChoiceRequired bool               `json:"choice_required"`
}

// CityServicePage is the page a simulated open lands on, and what is on it.
type CityServicePage struct {
	Page        string                      `json:"page"`
	PageType    int                         `json:"page_type"`
	OpenID      string                      `json:"openid"`
	Entry       CityServiceEntry            `json:"entry"`
	City        *CityServiceCity            `json:"city,omitempty"`
	Home        *CityServiceHome            `json:"home,omitempty"`
	Topic       *CityServiceList            `json:"topic,omitempty"`
	ServiceList *CityServiceList            `json:"service_list,omitempty"`
	Service     *CityServiceHomepageView    `json:"service,omitempty"`
	HealthCode  *CityServiceHealthCodePopup `json:"health_code,omitempty"`
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
func (p *Platform) handleOpenCityServicePage(c *endpoint.Call) (any, error) {
	var req CityServiceOpenSpec
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return p.OpenCityServicePage(req)
}

// OpenCityServicePage simulates a user opening a path, H5 URL or menu entry (the Go twin of
// POST /_sandbox/wechat/cityservice/open). It changes nothing.
func (p *Platform) OpenCityServicePage(req CityServiceOpenSpec) (*CityServicePage, error) {
	if req.OpenID == "" {
		return nil, csCtlErr(apierr.Invalid, "invalid_open", "openid is required")
	}
	if (req.Path == "") == (req.Menu == nil) {
		return nil, csCtlErr(apierr.Invalid, "invalid_open", "give either path (a Mini Program path or H5 URL) or menu {appid, key}")
	}
	var out CityServicePage
	err := p.deps.Store.View(func(tx *store.Tx) error {
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
			i := slices.IndexFunc(menu.Entries, func(e csMenuEntry) bool { return e.Key == req.Menu.Key })
			if i < 0 {
				return csCtlErr(apierr.NotFound, "menu_entry_not_found", "the menu of %s has no key %q", req.Menu.AppID, req.Menu.Key)
			}
			path, query, menuKey = menu.Entries[i].Path, menu.Entries[i].QueryString, req.Menu.Key
		}
		out, err = p.csOpen(tx, meta, path, query, req.OpenID)
		out.Entry.MenuKey = menuKey
		return err
	})
	if err != nil {
		return nil, err
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
			return 0, nil, false, fmt.Errorf("wechat: cityservice h5_base: %w", err)
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
func (p *Platform) csOpen(tx *store.Tx, meta *csMeta, path, query, openid string) (CityServicePage, error) {
	pt, q, h5, err := csParseOpenPath(meta, path, query)
	if err != nil {
		return CityServicePage{}, err
	}
	out := CityServicePage{Page: csPageNames[pt], PageType: pt, OpenID: openid}
	// Only issued paths open: the bt must be an approved account's.
	bt := q.Get("bt")
	var grant *csGrant
	var ferr error
	if err := tx.AscendPrefix(csGrantPrefix(), func(_, v string) bool {
		var g csGrant
		if ferr = jsonUnmarshal(v, &g); ferr != nil {
			return false
		}
		if g.BusinessType == bt {
			grant = &g
			return false
		}
		return true
	}); err != nil || ferr != nil {
		return out, cmpErr(err, ferr)
	}
	if grant == nil {
		return out, csCtlErr(apierr.Forbidden, "path_not_issued", "the path's bt %q is no approved account's business_type: City Service opens only paths from getservicepath or the MP console", bt)
	}
	src, err := strconv.Atoi(q.Get("src"))
	if err != nil || !slices.Contains(csSrcChannels, src) {
		return out, csCtlErr(apierr.Invalid, "invalid_path", "src %q is not a src_channel", q.Get("src"))
	}
	out.Entry = CityServiceEntry{AppID: grant.AppID, SrcChannel: src, BusinessType: bt, H5: h5}
	if id := q.Get("city_id"); id != "" {
		c, err := csCityNamed(tx, id)
		if err != nil {
			return out, err
		}
		if c == nil || c.CityID != id {
			return out, csCtlErr(apierr.NotFound, "city_not_found", "no City Service city with city_id %q", id)
		}
		out.City = c
	} else if pt != 0 {
		return out, csCtlErr(apierr.Invalid, "invalid_path", "the %s page needs city_id", out.Page)
	}
	inCity := func(s *CityService) bool { return s.offeredIn(out.City.Name) }
	switch pt {
	case 1:
		home := &CityServiceHome{Topics: out.City.Topics, Categories: []CityServiceCategoryCount{}}
		all, err := csServices(tx, inCity)
		if err != nil {
			return out, err
		}
		for _, cat := range meta.Categories {
			n := 0
			for i := range all {
				if slices.Contains(all[i].Categories, cat.Name) {
					n++
				}
			}
			home.Categories = append(home.Categories, CityServiceCategoryCount{Name: cat.Name, Count: n})
		}
		var codes, hot []CityService
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
		out.Home = home
	case 2:
		out.HealthCode, err = p.csHealthCodePopup(tx, out.City.Name, openid)
	case 3:
		topic := q.Get("topic")
		if !slices.Contains(out.City.Topics, topic) {
			return out, csCtlErr(apierr.NotFound, "topic_not_found", "city %s has no topic %q", out.City.Name, topic)
		}
		list, err := csServices(tx, func(s *CityService) bool { return inCity(s) && slices.Contains(s.Topics, topic) })
		if err != nil {
			return out, err
		}
		out.Topic = &CityServiceList{Name: topic, Services: briefs(list)}
	case 5:
		kw := q.Get("keyword")
		if !slices.ContainsFunc(meta.Categories, func(c CityServiceCategory) bool { return c.Name == kw }) {
			return out, csCtlErr(apierr.NotFound, "category_not_found", "no City Service category %q", kw)
		}
		list, err := csServices(tx, func(s *CityService) bool { return inCity(s) && slices.Contains(s.Categories, kw) })
		if err != nil {
			return out, err
		}
		out.ServiceList = &CityServiceList{Name: kw, Services: briefs(list)}
	case 0:
		id, perr := strconv.ParseInt(q.Get("service_id"), 10, 64)
		svc, err := csLoadService(tx, id)
		if err != nil {
			return out, err
		}
		if perr != nil || svc == nil || svc.Homepage == nil {
			return out, csCtlErr(apierr.NotFound, "service_not_found", "no service homepage %q", q.Get("service_id"))
		}
		params, err := csParseParams(q.Get("params"))
		if err != nil {
			return out, csCtlErr(apierr.Invalid, "invalid_path", "params: %s", apierr.From(err).Reason)
		}
		view := &CityServiceHomepageView{CityService: *svc, Params: params, OfferedHere: true}
		if out.City != nil {
			view.UserCity, view.OfferedHere = out.City.Name, svc.offeredIn(out.City.Name)
		}
		out.Service = view
	}
	return out, err
}

func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// csHealthCodePopup is the health-code entry's popup for a user in a city: the only code, or the
// list of codes with the user's remembered choice.
func (p *Platform) csHealthCodePopup(tx *store.Tx, city, openid string) (*CityServiceHealthCodePopup, error) {
	codes, err := csHealthCodes(tx, city)
	if err != nil {
		return nil, err
	}
	v := &CityServiceHealthCodePopup{Popup: true, Codes: briefs(codes)}
	if len(codes) == 1 {
		v.Selected = &v.Codes[0]
		return v, nil
	}
	var ch csChoice
	ok, err := tx.Get(csChoiceKey(city, openid), &ch)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(v.Codes, func(b CityServiceBrief) bool { return b.ServiceID == ch.ServiceID }); ok && i >= 0 {
		v.Selected, v.Remembered = &v.Codes[i], true
		return v, nil
	}
	v.ChoiceRequired = true
	return v, nil
}

// handleChooseHealthCode records a user's choice among a city's health codes:
// POST /_sandbox/wechat/cityservice/healthcode-choice.
func (p *Platform) handleChooseHealthCode(c *endpoint.Call) (any, error) {
	var req CityServiceHealthCodeChoice
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	return p.chooseHealthCode(c.Now, req)
}

// CityServiceHealthCodeChoice is a user's pick among a city's health codes.
type CityServiceHealthCodeChoice struct {
	OpenID    string `json:"openid"`
	CityName  string `json:"city_name"`
	ServiceID int64  `json:"service_id"`
}

// ChooseCityServiceHealthCode records a user's health-code choice (the Go twin of
// POST /_sandbox/wechat/cityservice/healthcode-choice) and returns the popup as it now shows.
func (p *Platform) ChooseCityServiceHealthCode(req CityServiceHealthCodeChoice) (*CityServiceHealthCodePopup, error) {
	return p.chooseHealthCode(p.deps.Clock.Now(), req)
}

func (p *Platform) chooseHealthCode(now time.Time, req CityServiceHealthCodeChoice) (*CityServiceHealthCodePopup, error) {
	if req.OpenID == "" {
		return nil, csCtlErr(apierr.Invalid, "invalid_choice", "openid is required")
	}
	var view *CityServiceHealthCodePopup
	err := p.deps.Store.Update(func(tx *store.Tx) error {
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
		if !slices.ContainsFunc(codes, func(s CityService) bool { return s.ServiceID == req.ServiceID }) {
			return csCtlErr(apierr.Invalid, "not_a_health_code", "service %d is not a health code of %s (%v)", req.ServiceID, city.Name, briefs(codes))
		}
		if err := tx.Put(csChoiceKey(city.Name, req.OpenID), csChoice{ServiceID: req.ServiceID, ChosenAt: now}); err != nil {
			return err
		}
		view, err = p.csHealthCodePopup(tx, city.Name, req.OpenID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return view, nil
}
