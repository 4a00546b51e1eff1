package jincheng

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/journal"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// Signing headers (reference §2.4).
const (
	HeaderAppCode   = "X-JLB-AppCode"
	HeaderTimestamp = "X-JLB-Timestamp"
	HeaderNonce     = "X-JLB-Nonce"
	HeaderMethod    = "X-JLB-Signature-Method"
	HeaderSignature = "X-JLB-Signature"
	// SignatureMethod is the only accepted value of X-JLB-Signature-Method.
	SignatureMethod = "HmacSHA256"
	// SignatureWindow is how far a request's timestamp may be from the sandbox clock.
	SignatureWindow = 300 * time.Second
)

var noncePattern = regexp.MustCompile(`^[A-Za-z0-9-]{16,64}$`)

// SignedRequest is what a signature covers.
type SignedRequest struct {
	Method    string
	Path      string
	Query     url.Values
	AppCode   string
	Timestamp string // Unix milliseconds, as sent
	Nonce     string
	Body      []byte
}

// rfc3986 escapes s keeping only the unreserved characters A-Z a-z 0-9 - . _ ~.
func rfc3986(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// CanonicalQuery sorts the parameters by key, then value, RFC 3986-encodes both and joins them
// as k=v with "&" ("" when there are none).
func CanonicalQuery(q url.Values) string {
	type kv struct{ k, v string }
	var pairs []kv
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, kv{k, v})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = rfc3986(p.k) + "=" + rfc3986(p.v)
	}
	return strings.Join(parts, "&")
}

// StringToSign is METHOD\nPATH\nCANONICAL_QUERY\nappCode\ntimestamp\nnonce\nhex(sha256(body))\n.
func StringToSign(r SignedRequest) string {
	sum := sha256.Sum256(r.Body)
	return strings.ToUpper(r.Method) + "\n" + r.Path + "\n" + CanonicalQuery(r.Query) + "\n" + r.AppCode + "\n" +
		r.Timestamp + "\n" + r.Nonce + "\n" + hex.EncodeToString(sum[:]) + "\n"
}

// Sign returns Base64(HMAC-SHA256(secret, StringToSign(r))), the X-JLB-Signature value.
func Sign(secret string, r SignedRequest) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(StringToSign(r)))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a signed request against the app's secret at now: the signature method, the
// nonce's form, the timestamp's freshness and the signature. It returns nil or a GW-* error; the
// caller checks the appCode and nonce replay, which need state.
func Verify(secret string, r SignedRequest, method, signature string, now time.Time) *apierr.Error {
	if method != SignatureMethod {
		return named(codeMissingHeader, HeaderMethod+" must be "+SignatureMethod)
	}
	if !noncePattern.MatchString(r.Nonce) {
		return named(codeMissingHeader, HeaderNonce+" must be 16 to 64 characters of [A-Za-z0-9-]")
	}
	ms, err := strconv.ParseInt(r.Timestamp, 10, 64)
	if err != nil || ms <= 0 || strings.TrimLeft(r.Timestamp, "0123456789") != "" {
		return named(codeMissingHeader, HeaderTimestamp+" must be Unix time in milliseconds")
	}
	skew := now.Sub(time.UnixMilli(ms))
	if skew > SignatureWindow || skew < -SignatureWindow {
		return named(codeClockSkew, "timestamp "+r.Timestamp+" is "+skew.Round(time.Millisecond).String()+" away from the sandbox clock "+strconv.FormatInt(now.UnixMilli(), 10)+"; the window is 300s")
	}
	// Compare the canonical Base64 text in constant time: a non-canonical spelling of the same
	// bytes (stray padding bits, line breaks) is as wrong as another signature.
	if !hmac.Equal([]byte(signature), []byte(Sign(secret, r))) {
		return named(codeInvalidSignature, "signature mismatch; the string to sign was "+strconv.Quote(StringToSign(r)))
	}
	return nil
}

// Caller is an app whose server-to-server call was signed correctly.
type Caller struct {
	App   *App
	Nonce string
}

// nonceRecord remembers a served nonce.
type nonceRecord struct {
	At int64 `json:"at"` // sandbox Unix ms when the call was served
}

// ForgetAt implements store.Forgettable: a nonce is forgotten once a call carrying it can no
// longer be fresh (twice the signature window after it was served, either way of the clock).
func (n nonceRecord) ForgetAt() time.Time {
	return time.UnixMilli(n.At).Add(2*SignatureWindow + time.Second)
}

// checkSignature authenticates a signed call. It reads state only: the nonce is remembered by
// useNonce in the handler's own transaction, with the call's effect.
func (p *Platform) checkSignature(c *endpoint.Call) (*Caller, error) {
	h := c.Request().Header
	for _, name := range []string{HeaderAppCode, HeaderTimestamp, HeaderNonce, HeaderMethod, HeaderSignature} {
		if strings.TrimSpace(h.Get(name)) == "" {
			return nil, named(codeMissingHeader, "header "+name+" is missing")
		}
	}
	r := SignedRequest{
		Method: c.Request().Method, Path: c.Request().URL.EscapedPath(), Query: c.Request().URL.Query(),
		AppCode: h.Get(HeaderAppCode), Timestamp: h.Get(HeaderTimestamp), Nonce: h.Get(HeaderNonce), Body: c.Body,
	}
	var app *App
	var seen bool
	err := p.deps.Store.View(func(tx *store.Tx) error {
		var err error
		if app, err = appByCode(tx, r.AppCode); err != nil {
			return err
		}
		seen, err = tx.Has(keyNonce + r.AppCode + ":" + r.Nonce)
		return err
	})
	if err != nil {
		return nil, err
	}
	if app == nil {
		// appCodes are issued on approval: one that no sandbox app has came from elsewhere.
		c.MarkLeak(journal.LeakUnknownAppCode, r.AppCode)
	}
	if app == nil || app.Status != AppApproved || app.AppSecret == "" {
		return nil, named(codeInvalidAppCode, "no approved app has appCode "+strconvQuote(r.AppCode))
	}
	e := p.verifyApp(app, r, h, c.Now)
	if outer := endpoint.OuterPath(c.Request()); e != nil && e.Name == codeInvalidSignature && outer != "" {
		// In a namespace reached by its path prefix, a client may have signed the path it sent
		// (/ns/<name>/jincheng/…) rather than the platform's path: either is the request's.
		sent := r
		sent.Path = outer
		if p.verifyApp(app, sent, h, c.Now) == nil {
			e = nil
		}
	}
	if e != nil {
		return nil, e
	}
	if seen {
		return nil, named(codeNonceReplayed, "nonce "+r.Nonce+" was already used by "+r.AppCode)
	}
	return &Caller{App: app, Nonce: r.Nonce}, nil
}

// verifyApp checks r's signature with the app's secret, or with the secret before a rotation
// within its grace period.
func (p *Platform) verifyApp(app *App, r SignedRequest, h http.Header, now time.Time) *apierr.Error {
	e := Verify(app.AppSecret, r, h.Get(HeaderMethod), h.Get(HeaderSignature), now)
	if e != nil && e.Name == codeInvalidSignature && app.PreviousSecret != "" && now.Before(*app.PreviousUntil) {
		if Verify(app.PreviousSecret, r, h.Get(HeaderMethod), h.Get(HeaderSignature), now) == nil {
			e = nil // the secret before a rotation, within its grace period
		}
	}
	return e
}

func strconvQuote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
}

// useNonce remembers the caller's nonce inside the transaction that serves its call, refusing a
// nonce another call used meanwhile (two concurrent calls with one nonce: one is served).
func (p *Platform) useNonce(tx *store.Tx, c *endpoint.Call) error {
	pr, ok := c.Principal.(*Caller)
	if !ok {
		return nil
	}
	key := keyNonce + pr.App.AppCode + ":" + pr.Nonce
	if seen, err := tx.Has(key); err != nil {
		return err
	} else if seen {
		return named(codeNonceReplayed, "nonce "+pr.Nonce+" was used by a concurrent call")
	}
	return tx.Put(key, nonceRecord{At: c.Now.UnixMilli()})
}
