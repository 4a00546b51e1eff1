// Package cityservice emulates WeChat City Service interconnection (城市服务开放互联能力):
// the City Service world, applying for the capability, POST /cityservice/getservicepath, the
// MP-console menu configuration and what a user sees on opening a returned path.
//
// The family is one package because the capability is one flow — settle a service, apply,
// be approved, ask for a path, open it — over one world of cities, topics and services. It
// depends on the WeChat core (package wechat) for accounts, the admission of calls and the
// envelope, through Deps and the core's lookups.
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
//   - params is required for page type 0 (the reference lists it with service_id), "[]" being
//     enough; a key or value that is not a JSON string (null included) is malformed;
//   - the world: ten cities (广州, 深圳, 北京, 上海, 杭州, 成都, 武汉, 西安, 太原, 晋城), their
//     topics and 16 categories, hand-picked services and health codes (广州, 深圳, 杭州 and 晋城
//     have two), and 2 to 3 services per city and category generated from the sandbox's seed;
//   - the callers: official accounts (service and subscription) and Mini Programs with their own
//     tokens; third-party platforms call with an authorizer token of such an account (permission
//     set 22 or 105, else 61007), the approval being the authorizer's;
//   - city names are accepted with or without the trailing 市; params key "city" and city_id
//     accept a city's name or code; fields that do not apply to the page type are ignored;
//   - the application's jump_scenes are src_channel values; an approval grants a subset of what
//     was applied for (all of it by default); one pending or approved application per account;
//   - an MP-console menu entry (PUT …/menus/{appid}) has the src_channel of its account: 0 for an
//     official account, 1 for a Mini Program, 3 for an open-platform account.
//
// What is kept: everything, for good — services, applications, grants, menus and users' city
// choices are configuration and records, none with a lifetime.
package cityservice

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// Deps are what the emulation needs.
type Deps struct {
	Store    *store.Store
	Clock    clock.Clock
	Faker    *fixture.Faker
	Fixtures *fixture.Set
	// Journal, when set, records each simulated open as event "cityservice_open".
	Journal *journal.Journal
	// WeChat knows the accounts that settle services, apply and call the API.
	WeChat *wechat.Platform
	// World, when set, is the world PrepareWorld is building for the first LoadFixtures.
	World *World
}

// Emulator is the City Service emulation: its API handler, control verbs and world.
type Emulator struct {
	deps Deps
	mu   sync.Mutex
	// prepared is Deps.World until the first LoadFixtures takes it.
	prepared *World
}

// New returns the emulation.
func New(d Deps) *Emulator { return &Emulator{deps: d, prepared: d.World} }

// Routes registers WeChat City Service interconnection (城市服务开放互联能力): the
// path API and the control-plane verbs that simulate the rest of the flow.
func (e *Emulator) Routes(r endpoint.Routes) {
	r.Handle("getCityServicePath", e.handleGetServicePath)                           // POST /cityservice/getservicepath
	r.Handle("getCityServiceCatalog", e.handleCityServiceCatalog)                    // GET /_sandbox/wechat/cityservice/catalog
	r.Handle("settleCityService", e.handleSettleCityService)                         // POST /_sandbox/wechat/cityservice/services
	r.Handle("applyCityService", e.handleApplyCityService)                           // POST /_sandbox/wechat/cityservice/applications
	r.Handle("listCityServiceApplications", e.handleListCityServiceApplications)     // GET /_sandbox/wechat/cityservice/applications
	r.Handle("approveCityServiceApplication", e.handleApproveCityServiceApplication) // POST …/applications/{id}/approve
	r.Handle("rejectCityServiceApplication", e.handleRejectCityServiceApplication)   // POST …/applications/{id}/reject
	r.Handle("putCityServiceMenu", e.handlePutCityServiceMenu)                       // PUT /_sandbox/wechat/cityservice/menus/{appid}
	r.Handle("getCityServiceMenu", e.handleGetCityServiceMenu)                       // GET /_sandbox/wechat/cityservice/menus/{appid}
	r.Handle("openCityServicePage", e.handleOpenCityServicePage)                     // POST /_sandbox/wechat/cityservice/open
	r.Handle("chooseCityServiceHealthCode", e.handleChooseHealthCode)                // POST /_sandbox/wechat/cityservice/healthcode-choice
}

// Page types and channels of getservicepath.
var (
	csPageTypes   = []int{0, 1, 2, 3, 5}
	csSrcChannels = []int{0, 1, 2, 3, 5}
	csPages       = map[int]string{0: "pages/service/index", 1: "pages/index/index", 2: "pages/healthcode/index", 3: "pages/topic/index", 5: "pages/servicelist/index"}
	csH5Pages     = map[int]string{0: "service", 1: "index", 2: "healthcode", 3: "topic", 5: "servicelist"}
	csPageNames   = map[int]string{0: "service_homepage", 1: "home", 2: "health_code", 3: "topic", 5: "service_list"}
)

// MaxParams is the most key/value pairs params may hold.
const MaxParams = 10

// KV is one key/value pair of ext_params or params.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// csPathRequest is getservicepath's body (and, without the channel fields, a menu entry).
type csPathRequest struct {
	PageType     int    `json:"page_type"`
	SrcChannel   int    `json:"src_channel"`
	NeedPathType int    `json:"need_path_type"`
	DeviceType   int    `json:"device_type"`
	CityName     string `json:"city_name"`
	ContentName  string `json:"content_name"`
	ExtParams    []KV   `json:"ext_params"`
	ServiceID    *int64 `json:"service_id"`
	Params       string `json:"params"`
	CityID       string `json:"city_id"`
}

// csTarget is what a path request resolves to.
type csTarget struct {
	PageType int
	City     *City // the page's city; for type 0 the user's city, if known
	Topic    string
	Keyword  string
	Service  *Service
	Params   []KV
}

// csPathAnswer is getservicepath's success body.
type csPathAnswer struct {
	wechat.Envelope
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
func csCityNamed(tx *store.Tx, name string) (*City, error) {
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
func csRequiredCity(tx *store.Tx, req *csPathRequest) (*City, error) {
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
	if req.PageType == 0 {
		return csResolveService(tx, req)
	}
	if !slices.Contains([]int{1, 2, 3, 5}, req.PageType) {
		return nil, csInvalid("page_type %d is not one of 0, 1, 2, 3, 5", req.PageType)
	}
	city, err := csRequiredCity(tx, req)
	if err != nil {
		return nil, err
	}
	t := &csTarget{PageType: req.PageType, City: city}
	switch req.PageType {
	case 2:
		codes, err := csHealthCodes(tx, city.Name)
		if err != nil {
			return nil, err
		}
		if len(codes) == 0 {
			return nil, csInvalid("city %s has no health-code service", city.Name)
		}
	case 3:
		t.Topic = strings.TrimSpace(req.ContentName)
		if t.Topic == "" {
			return nil, csInvalid("page_type 3 needs content_name (the topic)")
		}
		if !slices.Contains(city.Topics, t.Topic) {
			return nil, csInvalid("city %s has no topic %q (it has %s)", city.Name, t.Topic, strings.Join(city.Topics, ", "))
		}
	case 5:
		if t.Keyword, err = csKeyword(meta, req.ExtParams); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// csResolveService checks page type 0's fields: a settled service with a homepage, its params,
// and the user's city from params "city" (which wins) or city_id.
func csResolveService(tx *store.Tx, req *csPathRequest) (*csTarget, error) {
	t := &csTarget{PageType: 0}
	if req.ServiceID == nil {
		return nil, csInvalid("page_type 0 needs service_id")
	}
	var err error
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
	return t, nil
}

// csKeyword returns page type 5's category: the one "keyword" of ext_params, a category's name.
func csKeyword(meta *csMeta, ext []KV) (string, error) {
	keyword := ""
	for _, kv := range ext {
		if kv.Key != "keyword" {
			continue
		}
		if keyword != "" {
			return "", csInvalid("ext_params has more than one keyword")
		}
		if keyword = strings.TrimSpace(kv.Value); keyword == "" {
			return "", csInvalid("ext_params keyword is empty")
		}
	}
	if keyword == "" {
		return "", csInvalid(`page_type 5 needs ext_params [{"key":"keyword","value":"<category>"}]`)
	}
	if !slices.ContainsFunc(meta.Categories, func(c Category) bool { return c.Name == keyword }) {
		return "", csInvalid("ext_params keyword %q is not a City Service category", keyword)
	}
	return keyword, nil
}

// csParseParams decodes page type 0's params: a JSON array, encoded as a string, of at most 10
// {"key","value"} objects whose keys and values are strings and whose keys are unique. An absent
// params string is a missing conditional field.
func csParseParams(s string) ([]KV, error) {
	if strings.TrimSpace(s) == "" {
		return nil, csInvalid(`page_type 0 needs params, a JSON array in a string such as "[{\"key\":\"city\",\"value\":\"广州\"}]"`)
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil || raw == nil {
		return nil, csInvalid("params is not a JSON array of objects: %q", s)
	}
	if len(raw) > MaxParams {
		return nil, csInvalid("params has %d pairs, at most %d are allowed", len(raw), MaxParams)
	}
	out := make([]KV, 0, len(raw))
	seen := map[string]bool{}
	for i, obj := range raw {
		var kv KV
		kr, okK := obj["key"]
		vr, okV := obj["value"]
		if len(obj) != 2 || !okK || !okV || !jsonString(kr, &kv.Key) || !jsonString(vr, &kv.Value) {
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

// jsonString decodes raw into s if raw is a JSON string (json.Unmarshal would also take null).
func jsonString(raw json.RawMessage, s *string) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, s) == nil
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
		params, _ := jsonenc.Marshal(t.Params) // string pairs always encode
		q.Set("params", string(params))
	case 3:
		q.Set("topic", t.Topic)
	case 5:
		q.Set("keyword", t.Keyword)
	}
	a := csPathAnswer{Envelope: wechat.OK(), AppID: meta.MiniProgram.AppID, Username: meta.MiniProgram.Username}
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
func (e *Emulator) handleGetServicePath(c *endpoint.Call) (any, error) {
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
	app := c.Principal.(*wechat.Principal).App
	var answer csPathAnswer
	err := e.deps.Store.View(func(tx *store.Tx) error {
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
