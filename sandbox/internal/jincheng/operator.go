package jincheng

import (
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// registerOperatorRoutes lists the control-plane verbs that play the platform's operators.
func (p *Platform) registerOperatorRoutes(r endpoint.Routes) {
	r.Handle("jlbCreateVendor", p.handleCreateVendor)                                          // POST /_sandbox/jincheng/vendors
	r.Handle("jlbListVendors", p.handleListVendors)                                            // GET /_sandbox/jincheng/vendors
	r.Handle("jlbOperatorListApps", p.handleOperatorListApps)                                  // GET /_sandbox/jincheng/apps
	r.Handle("jlbOperatorApproveApp", p.handleApproveApp)                                      // POST /_sandbox/jincheng/apps/{appId}/approve
	r.Handle("jlbOperatorRejectApp", p.handleRejectApp)                                        // POST /_sandbox/jincheng/apps/{appId}/reject
	r.Handle("jlbOperatorApproveSMS", p.handleApproveSMS)                                      // POST /_sandbox/jincheng/apps/{appId}/sms/approve
	r.Handle("jlbOperatorRejectSMS", p.handleRejectSMS)                                        // POST /_sandbox/jincheng/apps/{appId}/sms/reject
	r.Handle("jlbOperatorApproveListing", p.serviceVerb(StatusReviewing, StatusOnline, false)) // POST /_sandbox/jincheng/services/{serviceCode}/approve
	r.Handle("jlbOperatorRejectListing", p.serviceVerb(StatusReviewing, StatusRejected, true)) // POST /_sandbox/jincheng/services/{serviceCode}/reject
	r.Handle("jlbOperatorOffline", p.serviceVerb(StatusOnline, StatusOffline, false))          // POST /_sandbox/jincheng/services/{serviceCode}/offline
	r.Handle("jlbOperatorOnline", p.serviceVerb(StatusOffline, StatusOnline, false))           // POST /_sandbox/jincheng/services/{serviceCode}/online
}

// VendorSpec is what a caller may say about a new vendor account; the rest is generated.
type VendorSpec struct {
	Account  string `json:"account,omitempty"`
	Password string `json:"password,omitempty"`
	Name     string `json:"name,omitempty"`
}

// CreateVendor issues a portal account, as POST /_sandbox/jincheng/vendors does.
func (p *Platform) CreateVendor(spec VendorSpec) (*Vendor, error) {
	v := &Vendor{Account: spec.Account, Password: spec.Password, Name: spec.Name, Created: p.deps.Clock.Now()}
	if v.Name == "" {
		f := p.deps.Faker
		v.Name = f.Pick([]string{"晋城", "泽州", "高平", "阳城", "沁水", "陵川", "太行"}) +
			f.Pick([]string{"智慧", "数字", "云端", "信达", "恒通", "博远", "华晋"}) +
			f.Pick([]string{"信息科技", "网络科技", "软件", "数据服务"}) + "有限公司"
	}
	if v.Password == "" {
		v.Password = p.deps.Rand.Token(16, seeded.Alphanumeric)
	}
	err := p.deps.Store.Update(func(tx *store.Tx) error {
		if v.Account == "" {
			n, err := next(tx, "vendor")
			if err != nil {
				return err
			}
			v.Account = "vendor" + pad(n, 4)
		}
		if ok, err := tx.Has(keyVendor + v.Account); err != nil {
			return err
		} else if ok {
			return named(codeVendorExists, "vendor account "+v.Account+" exists")
		}
		return tx.Put(keyVendor+v.Account, v)
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (p *Platform) handleCreateVendor(c *endpoint.Call) (any, error) {
	var spec VendorSpec
	if err := c.Bind(&spec); err != nil {
		return nil, err
	}
	v, err := p.CreateVendor(spec)
	if err != nil {
		return nil, err
	}
	return endpoint.Created(map[string]any{"account": v.Account, "password": v.Password, "name": v.Name}), nil
}

func (p *Platform) handleListVendors(*endpoint.Call) (any, error) {
	items := []map[string]any{}
	err := p.deps.Store.View(func(tx *store.Tx) error {
		return store.Each(tx, keyVendor, func(_ string, v *Vendor) error {
			items = append(items, map[string]any{"account": v.Account, "name": v.Name, "createdAt": v.Created})
			return nil
		})
	})
	return map[string]any{"items": items}, err
}

func (p *Platform) handleOperatorListApps(c *endpoint.Call) (any, error) {
	status := c.Query("status")
	items := []map[string]any{}
	err := p.deps.Store.View(func(tx *store.Tx) error {
		return store.Each(tx, keyApp, func(_ string, a *App) error {
			if status == "" || a.Status == status {
				items = append(items, map[string]any{"vendor": a.Vendor, "app": a.View(), "testers": a.Testers})
			}
			return nil
		})
	})
	return map[string]any{"items": items}, err
}

// operatorApp loads any app for an operator verb.
func operatorApp(tx *store.Tx, appID string) (*App, error) {
	a, err := getApp(tx, appID)
	if err == nil && a == nil {
		err = errNotFound("no application " + appID)
	}
	return a, err
}

func (p *Platform) handleApproveApp(c *endpoint.Call) (any, error) {
	a, err := p.changeOperatorApp(c, func(tx *store.Tx, a *App) error {
		if a.Status != AppPending {
			return named(codeAdminState, "only a PENDING application can be approved; "+a.AppID+" is "+a.Status)
		}
		if a.AppCode == "" { // a resubmitted app keeps nothing: it was never approved
			for {
				a.AppCode = "JLB" + p.deps.Rand.Token(10, seeded.Digits)
				if taken, err := tx.Has(keyAppCode + a.AppCode); err != nil {
					return err
				} else if !taken {
					break
				}
			}
			a.AppSecret = p.deps.Rand.Token(43, seeded.Alphanumeric+"-_") // 32 bytes' worth of base64url
		}
		now := c.Now
		a.Status, a.ReviewedAt, a.RejectReason = AppApproved, &now, ""
		if err := tx.PutRaw(keyAppCode+a.AppCode, a.AppID); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"appId": a.AppID, "appCode": a.AppCode, "appSecret": a.AppSecret, "status": a.Status}, nil
}

type reasonBody struct {
	Reason string `json:"reason"`
}

func (p *Platform) handleRejectApp(c *endpoint.Call) (any, error) {
	var req reasonBody
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	a, err := p.changeOperatorApp(c, func(tx *store.Tx, a *App) error {
		if a.Status != AppPending {
			return named(codeAdminState, "only a PENDING application can be rejected; "+a.AppID+" is "+a.Status)
		}
		now := c.Now
		a.Status, a.ReviewedAt, a.RejectReason = AppRejected, &now, req.Reason
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a.View(), nil
}

func (p *Platform) handleApproveSMS(c *endpoint.Call) (any, error) {
	a, err := p.changeOperatorApp(c, func(tx *store.Tx, a *App) error {
		if a.SMS == nil || a.SMS.Status != AppPending {
			return named(codeAdminState, "application "+a.AppID+" has no PENDING SMS application")
		}
		for i := range a.SMS.Templates {
			n, err := next(tx, "smstemplate")
			if err != nil {
				return err
			}
			a.SMS.Templates[i].TemplateCode = "SMS_" + pad(n, 6)
		}
		a.SMS.Status, a.SMS.RejectReason = AppApproved, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a.View(), nil
}

func (p *Platform) handleRejectSMS(c *endpoint.Call) (any, error) {
	var req reasonBody
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	a, err := p.changeOperatorApp(c, func(tx *store.Tx, a *App) error {
		if a.SMS == nil || a.SMS.Status != AppPending {
			return named(codeAdminState, "application "+a.AppID+" has no PENDING SMS application")
		}
		a.SMS.Status, a.SMS.RejectReason = AppRejected, req.Reason
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a.View(), nil
}

// serviceVerb is an operator's decision on a service: one legal source state, one target.
func (p *Platform) serviceVerb(from, to string, withReason bool) endpoint.HandlerFunc {
	return func(c *endpoint.Call) (any, error) {
		var req reasonBody
		if withReason {
			if err := c.Bind(&req); err != nil {
				return nil, err
			}
		}
		var s *Service
		err := p.deps.Store.Update(func(tx *store.Tx) error {
			var err error
			if s, err = getService(tx, c.Param("serviceCode")); err != nil {
				return err
			}
			if s == nil {
				return errNotFound("no service " + c.Param("serviceCode"))
			}
			return transition(tx, s, from, to, req.Reason, c.Now)
		})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}
