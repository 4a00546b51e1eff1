package charge

// POST /wxa/business/getuserphonenumber: the back end exchanges a phone code for the number. It
// never spends a unit: the unit went when the front end received the code.

import (
	"strings"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

type phoneInfo struct {
	PhoneNumber     string    `json:"phoneNumber"`
	PurePhoneNumber string    `json:"purePhoneNumber"`
	CountryCode     string    `json:"countryCode"`
	Watermark       watermark `json:"watermark"`
}

type watermark struct {
	Timestamp int64  `json:"timestamp"`
	AppID     string `json:"appid"`
}

// handleGetPhoneNumber emulates POST /wxa/business/getuserphonenumber (getPhoneNumber).
func (e *Emulator) handleGetPhoneNumber(c *endpoint.Call) (any, error) {
	var req struct {
		Code   string `json:"code"`
		OpenID string `json:"openid"`
	}
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	code, openid := strings.TrimSpace(req.Code), strings.TrimSpace(req.OpenID)
	app := c.Principal.(*wechat.Principal).App
	now := c.Now.Unix()
	var pc *phoneCode
	err := e.deps.Store.Update(func(tx *store.Tx) error {
		var err error
		if code == "" {
			return apierr.New(apierr.Invalid, 40029, "code is empty")
		}
		if pc, err = store.Get[phoneCode](tx, codeKey(code)); err != nil {
			return err
		}
		switch {
		case pc == nil:
			return apierr.Newf(apierr.Invalid, 40029, "code %q was never issued by a phone-number button, or has expired", code)
		case pc.AppID != app.AppID:
			return apierr.Newf(apierr.Invalid, 40013, "code was issued to Mini Program %s, not to %s", pc.AppID, app.AppID)
		case pc.UsedAt != 0:
			return apierr.Newf(apierr.Invalid, 40029, "code was exchanged at %d: a code is single use", pc.UsedAt)
		case now >= pc.ExpiresAt:
			return apierr.Newf(apierr.Expired, 40029, "code expired at %d, 5 minutes after the tap", pc.ExpiresAt)
		case openid != "" && openid != pc.OpenID:
			return apierr.Newf(apierr.Invalid, 40029, "code was issued to another user than openid %s", openid)
		}
		pc.UsedAt = now
		return tx.Put(codeKey(code), pc)
	})
	if err != nil {
		return nil, err
	}
	return struct {
		wechat.Envelope
		PhoneInfo phoneInfo `json:"phone_info"`
	}{wechat.OK(), phoneInfo{
		PhoneNumber: pc.PhoneNumber, PurePhoneNumber: pc.PhoneNumber, CountryCode: pc.CountryCode,
		Watermark: watermark{Timestamp: now, AppID: app.AppID},
	}}, nil
}
