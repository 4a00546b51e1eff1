package cityservice

import (
	"slices"
	"strings"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// Brief is a service as lists show it.
type Brief struct {
	ServiceID   int64  `json:"service_id"`
	Name        string `json:"name"`
	HasHomepage bool   `json:"has_homepage"`
}

func briefOf(s *Service) Brief {
	return Brief{ServiceID: s.ServiceID, Name: s.Name, HasHomepage: s.Homepage != nil}
}

func briefs(list []Service) []Brief {
	out := make([]Brief, 0, len(list))
	for i := range list {
		out = append(out, briefOf(&list[i]))
	}
	return out
}

type csCatalogCity struct {
	City
	HealthCodes []Brief `json:"health_codes"`
}

type csCatalog struct {
	MiniProgram csMiniProgram   `json:"mini_program"`
	Topics      []string        `json:"topics"`
	Categories  []Category      `json:"categories"`
	Cities      []csCatalogCity `json:"cities"`
	Services    []Service       `json:"services"`
	Count       int             `json:"count"`
}

// handleCityServiceCatalog lists the world: GET /_sandbox/wechat/cityservice/catalog[?city=].
func (e *Emulator) handleCityServiceCatalog(c *endpoint.Call) (any, error) {
	var out csCatalog
	err := e.deps.Store.View(func(tx *store.Tx) error {
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
		var only *City
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
			out.Cities = append(out.Cities, csCatalogCity{City: city, HealthCodes: briefs(codes)})
		}
		in := ""
		if only != nil {
			in = only.Name
		}
		out.Services, err = csServicesIn(tx, in, nil)
		out.Count = len(out.Services)
		return err
	})
	return out, err
}

// ServiceSpec is the body of POST /_sandbox/wechat/cityservice/services.
type ServiceSpec struct {
	OwnerAppID string    `json:"owner_appid"`
	Name       string    `json:"name"`
	Cities     []string  `json:"cities"`
	Categories []string  `json:"categories"`
	Topics     []string  `json:"topics"`
	HealthCode bool      `json:"health_code"`
	Homepage   *Homepage `json:"homepage"`
}

// handleSettleCityService settles a service into City Service for an app:
// POST /_sandbox/wechat/cityservice/services. The new service gets the next free service_id.
func (e *Emulator) handleSettleCityService(c *endpoint.Call) (any, error) {
	var req ServiceSpec
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	svc, err := e.Settle(req)
	if err != nil {
		return nil, err
	}
	return endpoint.Created(svc), nil
}

// Settle settles a service into City Service for an app (the Go twin of
// POST /_sandbox/wechat/cityservice/services). The service gets the next free service_id.
func (e *Emulator) Settle(req ServiceSpec) (*Service, error) {
	var svc Service
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		meta, err := csLoadMeta(tx)
		if err != nil {
			return err
		}
		if meta == nil {
			return csCtlErr(apierr.NotFound, "no_world", "no City Service world is loaded")
		}
		app, err := wechat.GetApp(tx, req.OwnerAppID)
		if err != nil {
			return err
		}
		if app == nil {
			return csCtlErr(apierr.NotFound, "app_not_found", "no app %s", req.OwnerAppID)
		}
		svc = Service{ServiceID: meta.NextServiceID, Name: strings.TrimSpace(req.Name), Categories: req.Categories,
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
