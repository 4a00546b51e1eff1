package qr_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/wechat/qr"
)

// QRCode writes its own JSON for the store; it must be encoding/json's, byte for byte, or the
// state hash of the same state would change with the code path that stored it.
func TestQRCodeJSONIsEncodingJSONs(t *testing.T) {
	beijing := time.FixedZone("CST", 8*60*60)
	created := time.Date(2026, 12, 3, 8, 0, 0, 123456789, beijing)
	expires := created.Add(30 * time.Second)
	var codes []qr.QRCode
	// Every field set, found by reflection, so that a field added to QRCode and not to
	// AppendJSON fails here.
	var full qr.QRCode
	v := reflect.ValueOf(&full).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("value of " + v.Type().Field(i).Name)
		case reflect.Uint32:
			f.SetUint(4294967295)
		case reflect.Struct:
			f.Set(reflect.ValueOf(created))
		case reflect.Pointer:
			f.Set(reflect.ValueOf(&expires))
		default:
			t.Fatalf("QRCode.%s is a %s: teach this test and AppendJSON about it", v.Type().Field(i).Name, f.Kind())
		}
	}
	codes = append(codes, full, qr.QRCode{})
	for _, scene := range []string{
		"plain", `quote " and \ backslash`, "<tag> & amp", "晋城", "tab\tnew\nline", "\x00\x1f",
		"\u2028\u2029", "bad \xff utf-8", "emoji 😀", "/slash",
	} {
		codes = append(codes,
			qr.QRCode{Ticket: "gQE+/=", URL: "http://weixin.qq.com/q/" + scene, AppID: "wx1", ActionName: qr.QRLimitStrScene, SceneStr: scene, CreatedAt: created},
			qr.QRCode{Ticket: scene, URL: "u", AppID: scene, ActionName: qr.QRScene, SceneID: 7, CreatedAt: created.UTC(), ExpiresAt: &expires})
	}
	for _, at := range []time.Time{time.Unix(0, 0), time.Unix(1, 5).In(time.FixedZone("odd", -(3*60*60 + 30*60 + 7)))} {
		codes = append(codes, qr.QRCode{CreatedAt: at})
	}
	for _, q := range codes {
		want, wantErr := json.Marshal(q)
		got, err := q.AppendJSON(nil)
		if err != nil || wantErr != nil || string(got) != string(want) {
			t.Errorf("AppendJSON(%+v) =\n%s, %v\nencoding/json writes\n%s, %v", q, got, err, want, wantErr)
		}
	}
	// A time encoding/json cannot write is refused as encoding/json refuses it.
	far := qr.QRCode{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := far.AppendJSON(nil); err == nil {
		t.Error("AppendJSON wrote the year 10000; encoding/json refuses it")
	}
	if _, err := json.Marshal(far); err == nil {
		t.Error("encoding/json wrote the year 10000 (the test's premise)")
	}
}
