package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// TestMirrorsMatch checks every public type that mirrors an internal one, through the
// conversion the Go twins use: the two types have the same fields in the same order, with the
// same names and JSON tags; the conversion carries every value (a field it forgets reads zero on
// the other side); and the two values encode to the same JSON. Each is checked with every field
// zero, with every slice, map and pointer empty but present, and with every field set.
func TestMirrorsMatch(t *testing.T) {
	t.Parallel()
	mirrors := map[string]func(t *testing.T){
		"WeChatApp":                   mirror(weChatAppFrom),
		"WeChatAppSpec":               mirror(WeChatAppSpec.internal),
		"WeChatPushConfig":            mirror(weChatPushConfigFrom),
		"WeChatPushConfig.internal":   mirror(WeChatPushConfig.internal),
		"WeChatPushDelivery":          mirror(weChatPushDeliveryFrom),
		"WeChatReview":                mirror(weChatReviewFrom),
		"WeChatReviewSpec":            mirror(WeChatReviewSpec.internal),
		"WeChatPostedReviews":         mirror(weChatPostedReviewsFrom),
		"WeChatAuthorizeRequest":      mirror(WeChatAuthorizeRequest.internal),
		"WeChatAuthorizeResult":       mirror(weChatAuthorizeResultFrom),
		"WeChatRevokeResult":          mirror(weChatRevokeResultFrom),
		"WeChatTicketResult":          mirror(weChatTicketResultFrom),
		"WeChatScan":                  mirror(WeChatScan.internal),
		"WeChatScanResult":            mirror(weChatScanResultFrom),
		"WeChatUser":                  mirror(WeChatUser.internal),
		"WeChatFollower":              mirror(weChatFollowerFrom),
		"WeChatFollowResult":          mirror(weChatFollowResultFrom),
		"CityServiceSettledService":   mirror(cityServiceSettledServiceFrom),
		"CityServiceHomepage":         mirror(CityServiceHomepage.internal),
		"CityServiceSettleSpec":       mirror(CityServiceSettleSpec.internal),
		"CityServiceApplicationSpec":  mirror(CityServiceApplicationSpec.internal),
		"CityServiceApplication":      mirror(cityServiceApplicationFrom),
		"CityServiceOpenSpec":         mirror(CityServiceOpenSpec.internal),
		"CityServicePage":             mirror(cityServicePageFrom),
		"CityServiceHealthCodeChoice": mirror(CityServiceHealthCodeChoice.internal),
		"CityServiceHealthCodePopup":  mirror(cityServiceHealthCodePopupFrom),
		"ChargeProduct":               mirror(chargeProductFrom),
		"ChargeBuySpec":               mirror(ChargeBuySpec.internal),
		"ChargeOrder":                 mirror(chargeOrderFrom),
		"ChargeAccount":               mirror(chargeAccountFrom),
		"ChargeAccountUpdate":         mirror(ChargeAccountUpdate.internal),
		"ChargePhoneTap":              mirror(ChargePhoneTap.internal),
		"ChargePhoneTapResult":        mirror(chargePhoneTapResultFrom),
		"ChargeConsumeSpec":           mirror(ChargeConsumeSpec.internal),
		"ChargeConsumeResult":         mirror(chargeConsumeResultFrom),
		"JinchengVendorSpec":          mirror(JinchengVendorSpec.internal),
		"JinchengVendor":              mirror(jinchengVendorFrom),
		"JinchengLaunch":              mirror(jinchengLaunchFrom),
		"JinchengTitleCheck":          mirror(jinchengTitleCheckFrom),
		"ScenarioStep":                mirror(scenarioStepFrom),
		"ScenarioStep.internal":       mirror(ScenarioStep.internal),
		"ScenarioFailure":             mirror(scenarioFailureFrom),
		"ScenarioFailure.internal":    mirror(ScenarioFailure.internal),
		"ScenarioDivergence":          mirror(scenarioDivergenceFrom),
		"ContractReport":              mirror(contractReportFrom),
		"ContractReport.internal":     mirror(ContractReport.internal),
		// Projections: a public type that keeps some of an internal type's fields, by name.
		"CityServiceGrant":   projection(CityServiceGrant.decision),
		"JinchengFixtureApp": projection(jinchengFixtureAppFrom),
	}
	for name, check := range mirrors {
		t.Run(name, check)
	}
}

// fillMode says how fill sets a value.
type fillMode int

const (
	zeroFill  fillMode = iota // every field zero, every slice, map and pointer nil
	emptyFill                 // slices and maps empty but not nil, pointers to empty values
	fullFill                  // every field a value of its own, slices and maps of one element
)

var fillModes = map[string]fillMode{"zero": zeroFill, "empty": emptyFill, "full": fullFill}

// mirror checks that convert carries an In into an Out field for field.
func mirror[In, Out any](convert func(In) Out) func(t *testing.T) {
	return func(t *testing.T) {
		for name, mode := range fillModes {
			var in In
			n := 0
			fill(reflect.ValueOf(&in).Elem(), mode, &n)
			out := convert(in)
			sameFields(t, name+": "+reflect.TypeOf(in).String(), reflect.ValueOf(in), reflect.ValueOf(out))
			a, errA := json.Marshal(in)
			b, errB := json.Marshal(out)
			if errA != nil || errB != nil || !bytes.Equal(a, b) {
				t.Errorf("%s: JSON differs:\n internal %s (%v)\n public   %s (%v)", name, a, errA, b, errB)
			}
		}
	}
}

// projection checks a conversion between a public type that keeps some of an internal type's
// fields and that type: each field the narrower one has is carried, by name, and a field only the
// output has stays zero.
func projection[In, Out any](convert func(In) Out) func(t *testing.T) {
	return func(t *testing.T) {
		var in In
		n := 0
		fill(reflect.ValueOf(&in).Elem(), fullFill, &n)
		iv, ov := reflect.ValueOf(in), reflect.ValueOf(convert(in))
		narrow := iv
		if ov.NumField() < iv.NumField() {
			narrow = ov
		}
		for i := range narrow.NumField() {
			name := narrow.Type().Field(i).Name
			a, b := iv.FieldByName(name), ov.FieldByName(name)
			if !a.IsValid() || !b.IsValid() {
				t.Errorf("%s.%s has no counterpart in %s or %s", narrow.Type(), name, iv.Type(), ov.Type())
				continue
			}
			sameFields(t, narrow.Type().String()+"."+name, a, b)
		}
		for i := range ov.NumField() {
			f := ov.Type().Field(i)
			if !iv.FieldByName(f.Name).IsValid() && !ov.Field(i).IsZero() {
				t.Errorf("%s.%s = %v, want zero: %s has no such field", ov.Type(), f.Name, ov.Field(i), iv.Type())
			}
		}
	}
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// fill sets v as mode says; n numbers the values so that no two fields get the same one.
func fill(v reflect.Value, mode fillMode, n *int) {
	if mode == zeroFill || !v.CanSet() {
		return
	}
	*n++
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(time.Unix(int64(1_700_000_000+*n), 0).UTC()))
		return
	case v.Type() == rawType:
		if mode == fullFill {
			v.SetBytes([]byte(strconv.Itoa(*n)))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		if mode == fullFill {
			v.SetString(fmt.Sprintf("s%d", *n))
		}
	case reflect.Bool:
		v.SetBool(mode == fullFill)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if mode == fullFill {
			v.SetInt(int64(*n))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if mode == fullFill {
			v.SetUint(uint64(*n))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), mode, n)
	case reflect.Slice:
		if mode == emptyFill {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), mode, n)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), mode, n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		if mode == fullFill {
			key, elem := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(key, mode, n)
			fill(elem, mode, n)
			v.SetMapIndex(key, elem)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), mode, n)
		}
	default:
		panic("fill: no rule for " + v.Type().String())
	}
}

// sameFields reports where a (internal) and b (public) differ in shape or value.
func sameFields(t *testing.T, path string, a, b reflect.Value) {
	t.Helper()
	if a.Type() == b.Type() {
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			t.Errorf("%s: %v, converted to %v", path, a.Interface(), b.Interface())
		}
		return
	}
	if a.Kind() != b.Kind() {
		t.Errorf("%s: %s against %s", path, a.Type(), b.Type())
		return
	}
	switch a.Kind() {
	case reflect.Struct:
		if a.NumField() != b.NumField() {
			t.Errorf("%s: %s has %d fields, %s %d", path, a.Type(), a.NumField(), b.Type(), b.NumField())
			return
		}
		for i := range a.NumField() {
			fa, fb := a.Type().Field(i), b.Type().Field(i)
			if fa.Name != fb.Name && !(fa.Anonymous && fb.Anonymous) {
				t.Errorf("%s: field %d is %s in %s, %s in %s", path, i, fa.Name, a.Type(), fb.Name, b.Type())
				continue
			}
			if ja, jb := fa.Tag.Get("json"), fb.Tag.Get("json"); ja != jb {
				t.Errorf("%s.%s: json tag %q, public %q", path, fa.Name, ja, jb)
			}
			if fa.IsExported() {
				sameFields(t, path+"."+fa.Name, a.Field(i), b.Field(i))
			}
		}
	case reflect.Pointer:
		if a.IsNil() != b.IsNil() {
			t.Errorf("%s: nil %v, converted nil %v", path, a.IsNil(), b.IsNil())
		} else if !a.IsNil() {
			sameFields(t, path, a.Elem(), b.Elem())
		}
	case reflect.Slice, reflect.Array:
		if a.Kind() == reflect.Slice && a.IsNil() != b.IsNil() {
			t.Errorf("%s: nil %v, converted nil %v", path, a.IsNil(), b.IsNil())
		}
		if a.Len() != b.Len() {
			t.Errorf("%s: %d elements, converted %d", path, a.Len(), b.Len())
			return
		}
		for i := range a.Len() {
			sameFields(t, fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i))
		}
	case reflect.String:
		if a.String() != b.String() {
			t.Errorf("%s: %q, converted %q", path, a.String(), b.String())
		}
	case reflect.Bool:
		if a.Bool() != b.Bool() {
			t.Errorf("%s: %v, converted %v", path, a.Bool(), b.Bool())
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if a.Int() != b.Int() {
			t.Errorf("%s: %d, converted %d", path, a.Int(), b.Int())
		}
	default:
		t.Errorf("%s: no rule to compare %s with %s", path, a.Type(), b.Type())
	}
}
