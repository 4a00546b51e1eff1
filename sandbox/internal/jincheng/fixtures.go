package jincheng

import (
	"fmt"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// Fixtures is the shape of fixtures/jincheng.yaml: the vendors, applications, services and
// citizens every sandbox starts with. Credentials are fixed so READMEs and tests can name them;
// what a citizen leaves out is generated from the seed.
type Fixtures struct {
	Vendors  []Vendor         `yaml:"vendors"`
	Citizens []FixtureCitizen `yaml:"citizens"`
	// GeneratedCitizens is how many more citizens to draw from the seed.
	GeneratedCitizens int          `yaml:"generated_citizens"`
	Apps              []FixtureApp `yaml:"apps"`
}

// FixtureCitizen is a citizen with a known mobile (and optionally name); the rest is generated.
type FixtureCitizen struct {
	Mobile string `yaml:"mobile"`
	Name   string `yaml:"name"`
}

// FixtureApp is an application in the fixtures.
type FixtureApp struct {
	AppID        string           `yaml:"appId"`
	Vendor       string           `yaml:"vendor"`
	AppName      string           `yaml:"appName"`
	ContactName  string           `yaml:"contactName"`
	ContactPhone string           `yaml:"contactPhone"`
	NeedUserInfo bool             `yaml:"needUserInfo"`
	UserInfoType string           `yaml:"userInfoType"`
	Status       string           `yaml:"status"`
	AppCode      string           `yaml:"appCode"`
	AppSecret    string           `yaml:"appSecret"`
	Testers      []string         `yaml:"testers"`
	SMS          *SMSCapability   `yaml:"sms"`
	Services     []FixtureService `yaml:"services"`
}

// FixtureService is a service in the fixtures.
type FixtureService struct {
	ServiceCode        string   `yaml:"serviceCode"`
	Modulecode         string   `yaml:"modulecode"`
	ServiceName        string   `yaml:"serviceName"`
	ServiceType        string   `yaml:"serviceType"`
	ModuleCallbackCode string   `yaml:"module_callback_code"`
	TestURL            string   `yaml:"testUrl"`
	ProdURL            string   `yaml:"prodUrl"`
	Description        string   `yaml:"description"`
	Tags               []string `yaml:"tags"`
	Status             string   `yaml:"status"`
}

// LoadFixtures writes fixtures/jincheng.yaml into the store. Its citizens are drawn, in file
// order, from a faker seeded with the sandbox's seed alone, so the same seed gives the same
// people after a full reset, a Jincheng-only reset or a restart.
func (p *Platform) LoadFixtures() error {
	var f Fixtures
	if err := p.deps.Fixtures.Decode("jincheng", &f); err != nil {
		return err
	}
	now := p.deps.Clock.Now()
	seed := p.deps.Seed
	if p.deps.CurrentSeed != nil {
		seed = p.deps.CurrentSeed()
	}
	faker := fixture.NewFaker(seed)
	var citizens []*Citizen
	for _, fc := range f.Citizens {
		citizens = append(citizens, drawCitizen(faker, fc.Mobile, fc.Name))
	}
	for range f.GeneratedCitizens {
		citizens = append(citizens, drawCitizen(faker, "", ""))
	}
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		for i := range f.Vendors {
			v := f.Vendors[i]
			v.Created = now
			if err := tx.Put(keyVendor+v.Account, v); err != nil {
				return err
			}
		}
		for _, c := range citizens {
			if err := p.addCitizen(tx, c); err != nil {
				return fmt.Errorf("citizen %s: %w", c.Mobile, err)
			}
		}
		for _, fa := range f.Apps {
			if err := p.loadFixtureApp(tx, fa, now); err != nil {
				return fmt.Errorf("app %s: %w", fa.AppID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("jincheng: fixtures: %w", err)
	}
	return nil
}

func (p *Platform) loadFixtureApp(tx *store.Tx, fa FixtureApp, now time.Time) error {
	a := &App{
		AppID: fa.AppID, Vendor: fa.Vendor, AppName: fa.AppName, ContactName: fa.ContactName, ContactPhone: fa.ContactPhone,
		NeedUserInfo: fa.NeedUserInfo, UserInfoType: fa.UserInfoType, Status: fa.Status, DeclaredAt: now,
		AppCode: fa.AppCode, AppSecret: fa.AppSecret, SMS: fa.SMS,
	}
	if a.Status == "" {
		a.Status = AppApproved
	}
	if a.Status == AppApproved {
		a.ReviewedAt = &now
		if err := tx.PutRaw(keyAppCode+a.AppCode, a.AppID); err != nil {
			return err
		}
	}
	for _, m := range fa.Testers {
		if err := p.addTester(tx, a, m, nil); err != nil {
			return err
		}
	}
	if err := putApp(tx, a); err != nil {
		return err
	}
	for _, fs := range fa.Services {
		s := &Service{
			ServiceCode: fs.ServiceCode, Modulecode: fs.Modulecode, AppID: a.AppID, ServiceName: fs.ServiceName,
			AccessMode: "APP", ServiceType: fs.ServiceType, ServiceTypeLabel: typeLabels[fs.ServiceType],
			ModuleCallbackCode: fs.ModuleCallbackCode, TestURL: fs.TestURL, ProdURL: fs.ProdURL,
			Description: fs.Description, Tags: fs.Tags, CreatedAt: now,
		}
		s.setStatus(fs.Status, now)
		s.UpdatedAt = nil
		if err := tx.PutRaw(keyModule+s.Modulecode, s.ServiceCode); err != nil {
			return err
		}
		if err := putService(tx, s); err != nil {
			return err
		}
	}
	return nil
}

// FixtureCredentials returns the vendors and approved applications of fixtures/jincheng.yaml, for
// the server's banner.
func (p *Platform) FixtureCredentials() ([]Vendor, []FixtureApp, error) {
	var f Fixtures
	if err := p.deps.Fixtures.Decode("jincheng", &f); err != nil {
		return nil, nil, err
	}
	var apps []FixtureApp
	for _, a := range f.Apps {
		if a.Status == "" || a.Status == AppApproved {
			apps = append(apps, a)
		}
	}
	return f.Vendors, apps, nil
}
