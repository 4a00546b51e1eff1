package cityservice

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Service writes its own JSON for the store; it must be encoding/json's, byte for byte, or the
// state hash of the same world would change with the code path that stored it.
func TestServiceJSONIsEncodingJSONs(t *testing.T) {
	t.Parallel()
	odd := []string{"plain", `quote " and \ backslash`, "<tag> & amp", "晋城", "tab\tnew\nline", "\x00\x1f", "\u2028\u2029", "bad \xff utf-8"}
	// Every field set, found by reflection, so that a field added to Service (or to what it
	// holds) and not to AppendJSON fails here.
	var fill func(v reflect.Value, text string)
	fill = func(v reflect.Value, text string) {
		switch v.Kind() {
		case reflect.String:
			v.SetString(text)
		case reflect.Int64:
			v.SetInt(-9007199254740993)
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i), text+" "+v.Type().Field(i).Name)
			}
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
			fill(v.Elem(), text)
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
			fill(v.Index(0), text)
			fill(v.Index(1), odd[1])
		default:
			t.Fatalf("a %s in Service: teach this test and AppendJSON about it", v.Type())
		}
	}
	var services []Service
	for _, text := range odd {
		var s Service
		fill(reflect.ValueOf(&s).Elem(), text)
		services = append(services, s)
	}
	services = append(services,
		Service{},
		Service{ServiceID: 1, Cities: []string{}, Categories: []string{}, Topics: []string{}, Homepage: &Homepage{}},
		Service{ServiceID: 2, Homepage: &Homepage{Links: []Link{}, RelatedAccounts: []Account{}}},
	)
	for _, s := range services {
		want, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("AppendJSON writes\n%s\nencoding/json writes\n%s", got, want)
		}
	}
}
