package cityservice

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// The City Service world: cities, topics, categories and settled services. The hand-picked core
// comes from fixtures/cityservice.yaml; generated services fill every city's categories (seeded
// gofakeit, forked from the sandbox's seed so that the world does not depend on what ran
// before). Everything is stored under wechat:cityservice:, so reset and snapshots treat it like
// any other state, and settling a service for an app (a control verb) simply adds one.

// csWorldFile is fixtures/cityservice.yaml.
type csWorldFile struct {
	MiniProgram csMiniProgram `yaml:"mini_program"`
	Topics      []string      `yaml:"topics"`
	Categories  []Category    `yaml:"categories"`
	Cities      []City        `yaml:"cities"`
	Services    []Service     `yaml:"services"`
	Fill        struct {
		MinPerCategory int   `yaml:"min_per_category"`
		MaxPerCategory int   `yaml:"max_per_category"`
		FirstServiceID int64 `yaml:"first_service_id"`
	} `yaml:"fill"`
}

// csMiniProgram is the City Service Mini Program that paths point into.
type csMiniProgram struct {
	AppID    string `json:"appid" yaml:"appid"`
	Username string `json:"username" yaml:"username"`
	H5Base   string `json:"h5_base" yaml:"h5_base"`
}

// Category is a service-list category (the keyword of a service-list page).
type Category struct {
	Name   string   `json:"name" yaml:"name"`
	Topics []string `json:"topics" yaml:"topics"`
}

// City is a prefecture-level city of City Service.
type City struct {
	Name     string   `json:"name" yaml:"name"`
	Province string   `json:"province" yaml:"province"`
	CityID   string   `json:"city_id" yaml:"city_id"`
	AreaCode string   `json:"area_code" yaml:"area_code"`
	Topics   []string `json:"topics" yaml:"topics"`
}

// Service is a service settled into City Service.
type Service struct {
	ServiceID int64  `json:"service_id" yaml:"service_id"`
	Name      string `json:"name" yaml:"name"`
	// Cities is where the service is offered; empty means nationwide.
	Cities     []string `json:"cities" yaml:"cities"`
	Categories []string `json:"categories" yaml:"categories"`
	Topics     []string `json:"topics" yaml:"topics"`
	HealthCode bool     `json:"health_code,omitempty" yaml:"health_code"`
	// OwnerAppID is the WeChat account that settled the service, when it is one of the sandbox's.
	OwnerAppID string    `json:"owner_appid,omitempty" yaml:"owner_appid"`
	Homepage   *Homepage `json:"homepage,omitempty" yaml:"homepage"`
	Generated  bool      `json:"generated,omitempty" yaml:"-"`
}

// AppendJSON implements store.Encoder: what encoding/json writes for s, byte for byte (a test
// holds it to that), without the reflection. A fresh world stores some 360 services, which is a
// good part of a sandbox's start.
func (s *Service) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"service_id":`...)
	b = strconv.AppendInt(b, s.ServiceID, 10)
	b = append(b, `,"name":`...)
	b = jsonenc.AppendQuoted(b, s.Name)
	b = append(b, `,"cities":`...)
	b = appendList(b, s.Cities, jsonenc.AppendQuoted)
	b = append(b, `,"categories":`...)
	b = appendList(b, s.Categories, jsonenc.AppendQuoted)
	b = append(b, `,"topics":`...)
	b = appendList(b, s.Topics, jsonenc.AppendQuoted)
	if s.HealthCode {
		b = append(b, `,"health_code":true`...)
	}
	if s.OwnerAppID != "" {
		b = append(b, `,"owner_appid":`...)
		b = jsonenc.AppendQuoted(b, s.OwnerAppID)
	}
	if h := s.Homepage; h != nil {
		b = append(b, `,"homepage":{"introduction":`...)
		b = jsonenc.AppendQuoted(b, h.Introduction)
		b = append(b, `,"links":`...)
		b = appendList(b, h.Links, func(b []byte, l Link) []byte {
			b = append(b, `{"title":`...)
			b = jsonenc.AppendQuoted(b, l.Title)
			b = append(b, `,"url":`...)
			b = jsonenc.AppendQuoted(b, l.URL)
			return append(b, '}')
		})
		b = append(b, `,"related_accounts":`...)
		b = appendList(b, h.RelatedAccounts, func(b []byte, a Account) []byte {
			b = append(b, `{"type":`...)
			b = jsonenc.AppendQuoted(b, a.Type)
			b = append(b, `,"name":`...)
			b = jsonenc.AppendQuoted(b, a.Name)
			b = append(b, `,"appid":`...)
			b = jsonenc.AppendQuoted(b, a.AppID)
			return append(b, '}')
		})
		b = append(b, `,"contact":{"phone":`...)
		b = jsonenc.AppendQuoted(b, h.Contact.Phone)
		b = append(b, `,"address":`...)
		b = jsonenc.AppendQuoted(b, h.Contact.Address)
		b = append(b, `,"hours":`...)
		b = jsonenc.AppendQuoted(b, h.Contact.Hours)
		b = append(b, "}}"...)
	}
	if s.Generated {
		b = append(b, `,"generated":true`...)
	}
	return append(b, '}'), nil
}

// appendList appends list as encoding/json writes a slice (null when nil), each element with
// item.
func appendList[T any](b []byte, list []T, item func([]byte, T) []byte) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = item(b, v)
	}
	return append(b, ']')
}

// Homepage is a service homepage's structured content.
type Homepage struct {
	Introduction    string    `json:"introduction" yaml:"introduction"`
	Links           []Link    `json:"links" yaml:"links"`
	RelatedAccounts []Account `json:"related_accounts" yaml:"related_accounts"`
	Contact         Contact   `json:"contact" yaml:"contact"`
}

// Link is a service link on a homepage.
type Link struct {
	Title string `json:"title" yaml:"title"`
	URL   string `json:"url" yaml:"url"`
}

// Account is a related official account or mini program on a homepage.
type Account struct {
	Type  string `json:"type" yaml:"type"`
	Name  string `json:"name" yaml:"name"`
	AppID string `json:"appid" yaml:"appid"`
}

// Contact is a homepage's contact information.
type Contact struct {
	Phone   string `json:"phone" yaml:"phone"`
	Address string `json:"address" yaml:"address"`
	Hours   string `json:"hours" yaml:"hours"`
}

// csMeta is the world's fixed part: the Mini Program, topics and categories, and the next id a
// newly settled service gets.
type csMeta struct {
	MiniProgram   csMiniProgram `json:"mini_program"`
	Topics        []string      `json:"topics"`
	Categories    []Category    `json:"categories"`
	NextServiceID int64         `json:"next_service_id"`
	// NextApplication numbers capability applications.
	NextApplication int `json:"next_application"`
}

const csPrefix = "wechat:cityservice:"

func csMetaKey() string            { return csPrefix + "meta" }
func csCityKey(name string) string { return csPrefix + "city:" + name }
func csServiceKey(id int64) string {
	// fmt.Sprintf("%sservice:%012d", csPrefix, id), without fmt for the ids a world has.
	if id < 0 {
		return fmt.Sprintf("%sservice:%012d", csPrefix, id)
	}
	digits := strconv.FormatInt(id, 10)
	if len(digits) < 12 {
		digits = strings.Repeat("0", 12-len(digits)) + digits
	}
	return csPrefix + "service:" + digits
}
func csServicePrefix() string { return csPrefix + "service:" }
func csCityPrefix() string    { return csPrefix + "city:" }
func (s *Service) offeredIn(city string) bool {
	return len(s.Cities) == 0 || slices.Contains(s.Cities, city)
}

// LoadFixtures builds the City Service world from fixtures/cityservice.yaml plus the
// generated fill, and stores it. It runs on a fresh store and after every reset.
func (e *Emulator) LoadFixtures() error {
	keys, values, err := e.world()
	if err != nil {
		return err
	}
	return e.deps.Store.Update(func(tx *store.Tx) error {
		for i, key := range keys {
			if err := tx.PutRaw(key, values[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// A World is the City Service world that LoadFixtures stores, built from the fixtures for one
// seed: its keys and their stored values, in the order they are stored. Building it is most of a
// sandbox's start (reading the YAML, generating some 360 services, encoding them) and needs
// nothing but the fixtures and the seed, so PrepareWorld builds it on another core while the
// sandbox wires itself and loads the other platforms' fixtures.
type World struct {
	seed   uint64
	done   chan struct{} // closed once keys, values and err are set
	keys   []string
	values []string
	err    error
}

// worldLabel names the forked generator of the world (fixture.Faker.Fork).
const worldLabel = "wechat/cityservice"

// PrepareWorld starts building, in the background, the world of fixtures for a Faker seeded with
// seed; hand it to New in Deps.World. The first LoadFixtures stores it once it is built, if the
// emulator's Faker has that seed then (it builds the world afresh otherwise, as every later
// LoadFixtures does).
func PrepareWorld(fixtures *fixture.Set, seed uint64) *World {
	w := &World{seed: seed, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		w.keys, w.values, w.err = buildWorld(fixtures, fixture.NewFaker(seed).Fork(worldLabel))
	}()
	return w
}

// world returns the records of the world for the Faker's seed: the prepared world the first
// time, when it was built for that seed, and a world built now otherwise.
func (e *Emulator) world() (keys, values []string, err error) {
	e.mu.Lock()
	w := e.prepared
	e.prepared = nil
	e.mu.Unlock()
	if w != nil {
		<-w.done
		if w.seed == e.deps.Faker.Seed() {
			return w.keys, w.values, w.err
		}
	}
	return buildWorld(e.deps.Fixtures, e.deps.Faker.Fork(worldLabel))
}

// buildWorld reads fixtures/cityservice.yaml, generates the fill with fk and returns every record
// of the world and its stored value: the meta record, the cities, then the services. No file, no
// world: no records.
func buildWorld(fixtures *fixture.Set, fk *fixture.Faker) (keys, values []string, err error) {
	var f csWorldFile
	if err := fixtures.Decode("cityservice", &f); err != nil {
		return nil, nil, err
	}
	if f.MiniProgram.AppID == "" && len(f.Cities) == 0 {
		return nil, nil, nil // no cityservice.yaml: no world
	}
	if err := f.check(); err != nil {
		return nil, nil, fmt.Errorf("cityservice: fixtures/cityservice.yaml: %w", err)
	}
	services := f.generate(fk)
	next := f.Fill.FirstServiceID
	for _, s := range services {
		next = max(next, s.ServiceID+1)
	}
	n := 1 + len(f.Cities) + len(services)
	keys, values = make([]string, 0, n), make([]string, 0, n)
	add := func(key string, v any) {
		value, encErr := store.Encode(v)
		if encErr != nil && err == nil {
			err = fmt.Errorf("cityservice: %s: %w", key, encErr)
		}
		keys, values = append(keys, key), append(values, value)
	}
	add(csMetaKey(), csMeta{MiniProgram: f.MiniProgram, Topics: f.Topics, Categories: f.Categories, NextServiceID: next, NextApplication: 1})
	for _, c := range f.Cities {
		add(csCityKey(c.Name), c)
	}
	for i := range services {
		add(csServiceKey(services[i].ServiceID), &services[i])
	}
	if err != nil {
		return nil, nil, err
	}
	return keys, values, nil
}

// check validates the fixture file and completes defaults (city topics, service topics).
func (f *csWorldFile) check() error {
	if !wechat.ValidAppID(f.MiniProgram.AppID) || !strings.HasPrefix(f.MiniProgram.Username, "gh_") || f.MiniProgram.H5Base == "" {
		return fmt.Errorf("mini_program needs an appid (wx + 16 hex), a username (gh_...) and an h5_base")
	}
	if f.Fill.MinPerCategory < 0 || f.Fill.MaxPerCategory < f.Fill.MinPerCategory || f.Fill.FirstServiceID <= 0 {
		return fmt.Errorf("fill needs 0 <= min_per_category <= max_per_category and first_service_id > 0")
	}
	cats := map[string]bool{}
	for _, c := range f.Categories {
		if cats[c.Name] || c.Name == "" {
			return fmt.Errorf("category %q is empty or repeated", c.Name)
		}
		cats[c.Name] = true
		for _, t := range c.Topics {
			if !slices.Contains(f.Topics, t) {
				return fmt.Errorf("category %s: unknown topic %q", c.Name, t)
			}
		}
	}
	cities := map[string]bool{}
	for i := range f.Cities {
		c := &f.Cities[i]
		if cities[c.Name] || c.Name == "" || c.CityID == "" {
			return fmt.Errorf("city %q is repeated or lacks a name or city_id", c.Name)
		}
		cities[c.Name] = true
		if len(c.Topics) == 0 {
			c.Topics = slices.Clone(f.Topics)
		}
		for _, t := range c.Topics {
			if !slices.Contains(f.Topics, t) {
				return fmt.Errorf("city %s: unknown topic %q", c.Name, t)
			}
		}
	}
	ids := map[int64]bool{}
	for i := range f.Services {
		s := &f.Services[i]
		if s.ServiceID <= 0 || ids[s.ServiceID] || s.Name == "" {
			return fmt.Errorf("service %d (%s): service_id must be positive and unique, name set", s.ServiceID, s.Name)
		}
		ids[s.ServiceID] = true
		for _, c := range s.Cities {
			if !cities[c] {
				return fmt.Errorf("service %d: unknown city %q", s.ServiceID, c)
			}
		}
		if s.OwnerAppID != "" && !wechat.ValidAppID(s.OwnerAppID) {
			return fmt.Errorf("service %d: owner_appid %q is not an appid", s.ServiceID, s.OwnerAppID)
		}
		if err := f.completeService(s); err != nil {
			return fmt.Errorf("service %d: %w", s.ServiceID, err)
		}
	}
	return nil
}

// completeService checks a service's categories and topics against the world and derives the
// topics from the categories when the service names none.
func (f *csWorldFile) completeService(s *Service) error {
	return completeService(s, f.Topics, f.Categories)
}

func completeService(s *Service, topics []string, categories []Category) error {
	if s.Cities == nil {
		s.Cities = []string{}
	}
	if len(s.Categories) == 0 {
		return fmt.Errorf("a service needs at least one category")
	}
	derived := len(s.Topics) == 0
	for _, name := range s.Categories {
		i := slices.IndexFunc(categories, func(c Category) bool { return c.Name == name })
		if i < 0 {
			return fmt.Errorf("unknown category %q", name)
		}
		if derived {
			for _, t := range categories[i].Topics {
				if !slices.Contains(s.Topics, t) {
					s.Topics = append(s.Topics, t)
				}
			}
		}
	}
	for _, t := range s.Topics {
		if !slices.Contains(topics, t) {
			return fmt.Errorf("unknown topic %q", t)
		}
	}
	if s.Topics == nil {
		s.Topics = []string{}
	}
	if h := s.Homepage; h != nil {
		if h.Links == nil {
			h.Links = []Link{}
		}
		if h.RelatedAccounts == nil {
			h.RelatedAccounts = []Account{}
		}
	}
	return nil
}

type csLinkWord struct{ title, slug string }

// Words the generator draws from; gofakeit has no Chinese vocabulary of public services.
var (
	csNameSuffixes = []string{"服务中心", "在线办理", "查询平台", "便民服务", "网上办事大厅", "自助服务", "服务专区", "一网通办"}
	csOrgs         = []string{"市政务服务管理局", "市人力资源和社会保障局", "市卫生健康委员会", "市公安局", "市交通运输局", "市税务局", "市市场监督管理局", "市住房公积金管理中心", "市教育局", "市民政局"}
	csOffers       = []string{"提供在线申请与进度查询", "支持预约办理和材料预审", "实现全程网办、结果快递到家", "提供办事指南和常见问题解答", "支持电子证照调用，免交纸质材料", "提供缴费记录查询和电子票据下载"}
	csLinkTitles   = []csLinkWord{{"在线办理", "apply"}, {"进度查询", "progress"}, {"办事指南", "guide"}, {"预约服务", "booking"}, {"常见问题", "faq"}}
	csRoads        = []string{"人民路", "解放路", "建设路", "中山路", "文化路", "新华街", "迎宾大道", "府前街"}
	csHalls        = []string{"政务服务中心", "市民之家", "办事大厅", "便民服务中心"}
	csHours        = []string{"工作日 9:00-17:00", "工作日 8:30-17:30", "每日 8:00-20:00", "全天24小时"}
)

// generate returns the fixture's services plus generated ones, so that every city has between
// fill.min and fill.max services in every category. The order of draws is fixed (cities, then
// categories, in file order), so the same seed always gives the same services.
func (f *csWorldFile) generate(fk *fixture.Faker) []Service {
	out := slices.Clone(f.Services)
	id := f.Fill.FirstServiceID
	for _, city := range f.Cities {
		for _, cat := range f.Categories {
			have := 0
			for _, s := range f.Services {
				if s.offeredIn(city.Name) && slices.Contains(s.Categories, cat.Name) {
					have++
				}
			}
			want := fk.IntRange(f.Fill.MinPerCategory, f.Fill.MaxPerCategory)
			suffixes := shuffled(fk, csNameSuffixes)
			for i := 0; have < want && i < len(suffixes); i++ {
				for slices.ContainsFunc(out, func(s Service) bool { return s.ServiceID == id }) {
					id++
				}
				out = append(out, generatedService(fk, id, city, cat, suffixes[i]))
				id++
				have++
			}
		}
	}
	return out
}

// shuffled returns a copy of list in an order drawn from fk (Fisher-Yates).
func shuffled[T any](fk *fixture.Faker, list []T) []T {
	out := slices.Clone(list)
	for i := len(out) - 1; i > 0; i-- {
		j := fk.IntRange(0, i)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func generatedService(fk *fixture.Faker, id int64, city City, cat Category, suffix string) Service {
	name := city.Name + cat.Name + suffix
	org := city.Name + fk.Pick(csOrgs)
	links := []Link{}
	for _, l := range shuffled(fk, csLinkTitles)[:fk.IntRange(1, 3)] {
		links = append(links, Link{Title: l.title, URL: "https://svc" + strconv.FormatInt(id, 10) + ".example.cn/" + l.slug})
	}
	accounts := []Account{}
	for range fk.IntRange(0, 2) {
		typ := fk.Pick([]string{"official_account", "mini_program"})
		label := map[string]string{"official_account": "服务号", "mini_program": "小程序"}[typ]
		var hex strings.Builder
		for range 16 {
			hex.WriteByte("0123456789abcdef"[fk.IntRange(0, 15)])
		}
		accounts = append(accounts, Account{Type: typ, Name: city.Name + cat.Name + label, AppID: "wx" + hex.String()})
	}
	return Service{
		ServiceID:  id,
		Name:       name,
		Cities:     []string{city.Name},
		Categories: []string{cat.Name},
		Topics:     slices.DeleteFunc(slices.Clone(cat.Topics), func(t string) bool { return !slices.Contains(city.Topics, t) }),
		Generated:  true,
		Homepage: &Homepage{
			Introduction:    name + "由" + org + "提供，" + fk.Pick(csOffers) + "。",
			Links:           links,
			RelatedAccounts: accounts,
			Contact: Contact{
				Phone:   city.AreaCode + "-" + strconv.Itoa(fk.IntRange(20000000, 89999999)),
				Address: city.Name + "市" + fk.Pick(csRoads) + strconv.Itoa(fk.IntRange(1, 999)) + "号" + fk.Pick(csHalls),
				Hours:   fk.Pick(csHours),
			},
		},
	}
}

// csLoadMeta reads the stored world's fixed part; nil when no world is loaded.
func csLoadMeta(tx *store.Tx) (*csMeta, error) {
	return store.Get[csMeta](tx, csMetaKey())
}

// csLoadCity returns the city named name, or nil.
func csLoadCity(tx *store.Tx, name string) (*City, error) {
	if name == "" {
		return nil, nil
	}
	return store.Get[City](tx, csCityKey(name))
}

// csCities returns every city, in key order.
func csCities(tx *store.Tx) ([]City, error) {
	var out []City
	err := store.Each(tx, csCityPrefix(), func(_ string, c *City) error {
		out = append(out, *c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// csLoadService returns the service with id, or nil.
func csLoadService(tx *store.Tx, id int64) (*Service, error) {
	return store.Get[Service](tx, csServiceKey(id))
}

// csServices returns the services keep accepts, in service_id order.
func csServices(tx *store.Tx, keep func(*Service) bool) ([]Service, error) {
	return csServicesIn(tx, "", keep)
}

// csServicesIn is csServices for the services offered in city. It skips, before decoding, every
// stored service whose JSON names neither the city nor an empty city list: a city page then
// decodes a few dozen services, not the whole world.
func csServicesIn(tx *store.Tx, city string, keep func(*Service) bool) ([]Service, error) {
	out := []Service{}
	quoted := strconv.Quote(city)
	mayBeOffered := func(raw string) bool {
		return city == "" || strings.Contains(raw, quoted) || strings.Contains(raw, `"cities":[]`)
	}
	err := store.EachMatching(tx, csServicePrefix(), mayBeOffered, func(_ string, s *Service) error {
		if (city == "" || s.offeredIn(city)) && (keep == nil || keep(s)) {
			out = append(out, *s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// csHealthCodes returns a city's health-code services, in service_id order.
func csHealthCodes(tx *store.Tx, city string) ([]Service, error) {
	return csServicesIn(tx, city, func(s *Service) bool { return s.HealthCode })
}
