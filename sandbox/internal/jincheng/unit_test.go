package jincheng

import (
	"bytes"
	"image/jpeg"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
)

func TestIDCheckDigit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		first17 string
		want    byte
	}{
		{"11010519491231002", 'X'}, // GB 11643-1999's own example
		{"44052418800101001", '4'},
		{"14050219900307001", '5'},
		{"14058120051231998", '3'},
	}
	for _, tt := range tests {
		got, ok := IDCheckDigit(tt.first17)
		if got != tt.want || !ok {
			t.Errorf("IDCheckDigit(%q) = %q, %v; want %q, true", tt.first17, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"1405021990030700", "14050219900307A01", "140502199003070011"} {
		if _, ok := IDCheckDigit(bad); ok {
			t.Errorf("IDCheckDigit(%q) accepted a malformed prefix", bad)
		}
	}
	// Recompute the rule independently: sum(a_i * 2^(17-i) mod 11) + check ≡ 1 (mod 11).
	for _, id := range []string{"11010519491231002X", "440524188001010014", "140502199003070015"} {
		if !ValidID(id) {
			t.Errorf("ValidID(%q) = false", id)
		}
		sum := 0
		for i := range 17 {
			w := 1
			for range 17 - i {
				w = w * 2 % 11
			}
			sum += int(id[i]-'0') * w
		}
		c := 10
		if id[17] != 'X' {
			c = int(id[17] - '0')
		}
		if (sum+c)%11 != 1 {
			t.Errorf("%s does not satisfy MOD 11-2", id)
		}
	}
	if ValidID("110105194912310021") {
		t.Error("ValidID accepted a wrong check digit")
	}
}

func TestCitizensAreSeededAndValid(t *testing.T) {
	t.Parallel()
	gen := func() []*Citizen {
		p := &Platform{deps: Deps{Faker: newTestFaker(7)}}
		var out []*Citizen
		for range 50 {
			out = append(out, p.newCitizen("", ""))
		}
		return out
	}
	a, b := gen(), gen()
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("citizen %d differs between two runs with one seed: %+v vs %+v", i, a[i], b[i])
		}
		c := a[i]
		if !ValidID(c.IDNum) {
			t.Errorf("%s: idnum %s fails GB 11643", c.Name, c.IDNum)
		}
		if c.IDNum[:4] != "1405" {
			t.Errorf("idnum %s is not issued in Jincheng (1405xx)", c.IDNum)
		}
		if bd := c.IDNum[6:14]; bd != c.Birthday[:4]+c.Birthday[5:7]+c.Birthday[8:] {
			t.Errorf("idnum %s does not carry birthday %s", c.IDNum, c.Birthday)
		}
		if odd := (c.IDNum[16]-'0')%2 == 1; odd != (c.Gender == "male") {
			t.Errorf("idnum %s sequence parity disagrees with gender %s", c.IDNum, c.Gender)
		}
		if len(c.Mobile) != 11 || !mobilePattern(c.Mobile) {
			t.Errorf("mobile %q is not a mainland mobile number", c.Mobile)
		}
		if len(c.UserID) != 32 {
			t.Errorf("userid %q is not 32 hex", c.UserID)
		}
	}
}

func mobilePattern(m string) bool {
	for _, p := range fixture.MobilePrefixes {
		if m[:3] == p {
			_, err := strconv.Atoi(m)
			return err == nil
		}
	}
	return false
}

func TestFaceJPEG(t *testing.T) {
	t.Parallel()
	a, err := FaceJPEG("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := FaceJPEG("0123456789abcdef0123456789abcdef")
	c, _ := FaceJPEG("fedcba9876543210fedcba9876543210")
	if !bytes.Equal(a, b) {
		t.Error("the same userid gave two different faces")
	}
	if bytes.Equal(a, c) {
		t.Error("two userids gave the same face")
	}
	if len(a) > 64<<10 {
		t.Errorf("face is %d bytes, want ≤ 64 KB", len(a))
	}
	img, err := jpeg.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatalf("not a JPEG: %v", err)
	}
	if got := img.Bounds().Dx(); got != 180 {
		t.Errorf("width %d, want 180", got)
	}
}

func TestCanonicalQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q    url.Values
		want string
	}{
		{nil, ""},
		{url.Values{"b": {"2"}, "a": {"1"}}, "a=1&b=2"},
		{url.Values{"a": {"z", "y"}}, "a=y&a=z"},
		{url.Values{"userid": {"a b+c~d"}, "状态": {"待办"}}, "userid=a%20b%2Bc~d&%E7%8A%B6%E6%80%81=%E5%BE%85%E5%8A%9E"},
	}
	for _, tt := range tests {
		if got := CanonicalQuery(tt.q); got != tt.want {
			t.Errorf("CanonicalQuery(%v) = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestStringToSignAndSign(t *testing.T) {
	t.Parallel()
	r := SignedRequest{Method: "post", Path: "/jincheng/test/sso/v1/ticketValidation", Query: url.Values{"x": {"1"}},
		AppCode: "JLB0000000001", Timestamp: "1772416800000", Nonce: "0123456789abcdef", Body: []byte(`{"ticket":"t"}`)}
	want := "POST\n/jincheng/test/sso/v1/ticketValidation\nx=1\nJLB0000000001\n1772416800000\n0123456789abcdef\n" +
		"c43516e1873fdf9fd835cd653b18341f85b95c9713aef520a82d9ab27e5caeba\n"
	if got := StringToSign(r); got != want {
		t.Errorf("StringToSign = %q, want %q", got, want)
	}
	// Known answer, computed independently (Python hmac/hashlib/base64).
	sig := Sign("secret", r)
	if want := "cbwIKLQdW0fFmHzcy2mXmEiLdqBRrkNwsckKK9w9KUk="; sig != want {
		t.Errorf("Sign = %q, want %q", sig, want)
	}
	now := time.UnixMilli(1772416800000)
	if err := Verify("secret", r, SignatureMethod, sig, now); err != nil {
		t.Errorf("Verify of a fresh signature: %v", err)
	}
	if err := Verify("secret", r, SignatureMethod, sig, now.Add(SignatureWindow)); err != nil {
		t.Errorf("Verify at the window's edge: %v", err)
	}
	for name, c := range map[string]struct {
		mutate func(*SignedRequest)
		secret string
		at     time.Time
		code   string
	}{
		"other secret": {func(*SignedRequest) {}, "secret2", now, codeInvalidSignature},
		"body changed": {func(r *SignedRequest) { r.Body = []byte(`{"ticket":"u"}`) }, "secret", now, codeInvalidSignature},
		"query added":  {func(r *SignedRequest) { r.Query = url.Values{"x": {"1"}, "y": {"2"}} }, "secret", now, codeInvalidSignature},
		"path changed": {func(r *SignedRequest) { r.Path = "/jincheng/prod/sso/v1/ticketValidation" }, "secret", now, codeInvalidSignature},
		"stale":        {func(*SignedRequest) {}, "secret", now.Add(SignatureWindow + time.Millisecond), codeClockSkew},
		"future":       {func(*SignedRequest) {}, "secret", now.Add(-SignatureWindow - time.Millisecond), codeClockSkew},
		"short nonce":  {func(r *SignedRequest) { r.Nonce = "abc" }, "secret", now, codeMissingHeader},
		"bad time":     {func(r *SignedRequest) { r.Timestamp = "17724168e5" }, "secret", now, codeMissingHeader},
	} {
		r2 := r
		c.mutate(&r2)
		err := Verify(c.secret, r2, SignatureMethod, sig, c.at)
		if err == nil || err.Name != c.code {
			t.Errorf("%s: Verify = %v, want %s", name, err, c.code)
		}
	}
	if err := Verify("secret", r, "HmacSHA1", sig, now); err == nil || err.Name != codeMissingHeader {
		t.Errorf("HmacSHA1: Verify = %v, want %s", err, codeMissingHeader)
	}
}

// FuzzVerifySignature: the verifier never panics, accepts what Sign produced for any request, and
// refuses any other signature.
func FuzzVerifySignature(f *testing.F) {
	f.Add("POST", "/jincheng/test/sso/v1/ticketValidation", "a=1&b=2", "JLB9000000001", int64(1772416800000), "0123456789abcdef", []byte(`{"ticket":"x"}`), "secret", "AAAA")
	f.Add("GET", "/jincheng/prod/openapi/v1/todos", "userid=%E4%B8%AD&status=TODO", "", int64(0), "", []byte{}, "", "")
	f.Add("", "", "%zz", "\n", int64(-1), "\x00", []byte{0xff}, "\xff", "====")
	f.Fuzz(func(t *testing.T, method, path, rawQuery, appCode string, ts int64, nonce string, body []byte, secret, sig string) {
		q, _ := url.ParseQuery(rawQuery)
		r := SignedRequest{Method: method, Path: path, Query: q, AppCode: appCode, Timestamp: strconv.FormatInt(ts, 10), Nonce: nonce, Body: body}
		now := time.UnixMilli(ts)
		_ = Verify(secret, r, SignatureMethod, sig, now) // must not panic
		good := Sign(secret, r)
		err := Verify(secret, r, SignatureMethod, good, now)
		valid := ts > 0 && noncePattern.MatchString(nonce)
		if valid && err != nil {
			t.Fatalf("Verify refused Sign's own signature: %v", err)
		}
		if !valid && err == nil {
			t.Fatalf("Verify accepted a malformed nonce %q or timestamp %d", nonce, ts)
		}
		if valid && sig != good {
			if err := Verify(secret, r, SignatureMethod, sig, now); err == nil {
				t.Fatalf("Verify accepted a signature %q that is not Sign's %q", sig, good)
			}
		}
	})
}

func newTestFaker(seed uint64) *fixture.Faker { return fixture.NewFaker(seed) }

// FuzzListingForm: the multipart decoder of a listing application never panics, and what it
// accepts names only the two reports (with their true sizes) and prodUrl.
func FuzzListingForm(f *testing.F) {
	const boundary = "b0undary"
	f.Add("multipart/form-data; boundary="+boundary, []byte("--"+boundary+"\r\nContent-Disposition: form-data; name=\"functionalTestReport\"; filename=\"f.pdf\"\r\n\r\nabc\r\n--"+boundary+"\r\nContent-Disposition: form-data; name=\"prodUrl\"\r\n\r\nhttps://x.example/\r\n--"+boundary+"--\r\n"))
	f.Add("multipart/form-data", []byte{})
	f.Add("text/plain", []byte("x"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		reports, _, err := parseListingForm(contentType, body)
		if err != nil {
			if e := apierr.As(err); e == nil || e.Name != codeInvalidParameter || e.Status != 400 {
				t.Fatalf("refusal %v, want INVALID-PARAMETER (400)", err)
			}
			return
		}
		for name, r := range reports {
			if name != partFunctional && name != partSecurity {
				t.Fatalf("accepted part %q", name)
			}
			if r.Size < 0 || r.Size > int64(len(body)) || len(r.SHA256) != 64 {
				t.Fatalf("report %+v from a %d-byte body", r, len(body))
			}
		}
	})
}
