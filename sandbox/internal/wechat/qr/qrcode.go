package qr

// Parametric QR codes of official accounts (reference: wechat-api.md §2).
//
// Emulated: the four action names; expire_seconds defaulting to 60 and capped at 2,592,000;
// scene_id (temporary: a non-zero 32-bit integer; permanent: 1–100,000) and scene_str (1–64
// characters); 100,000 permanent codes per account; a permanent scene always giving back the
// same ticket and url; the bare {"ticket","expire_seconds","url"} answer with no errcode or
// errmsg (permanent codes leave expire_seconds out); showqrcode's JPEG for a live ticket and its
// bare 404 for an unknown or expired one; the legacy 100,000 calls a day (a tenth for test-tier
// accounts).
//
// Invented where the sources are silent:
//   - the url token is 20 alphanumerics, as in WeChat's published example: the first 7 are the
//     code's creation time on the sandbox clock (milliseconds since 1970 in base 62, digits,
//     then capitals, then small letters, so that tokens sort in creation order and the store
//     adds each new code beside the last one instead of at a random place among all of them),
//     the other 13 are seeded (the last 13 of 20 drawn); the ticket
//     imitates the example's layout (base64 of a small binary record that holds the url and the
//     creation and expiry times), so it contains "+", "/" and "=" now and then, like real ones;
//   - a temporary scene_id must be 1–4,294,967,295 (WeChat says "32-bit non-zero" without a
//     sign); expire_seconds above the maximum is lowered to it rather than refused, and 0 or a
//     negative value means the default (the documentation gives only the maximum, "最大不超过
//     2592000", and public SDKs clamp on their side — one to 60–2,592,000, another with
//     min(expire, 30 days) — so no refusal of WeChat's own is on record);
//   - the 100,001st permanent code is refused with 45009 (WeChat has a dedicated message but no
//     published code);
//   - only verified accounts may create codes (48001 otherwise); a refused request gives its
//     call back to the daily quota, so it leaves every counter as it was;
//   - showqrcode answers image/jpg (the old documentation's header) with
//     "Cache-Control: max-age=604800", and an empty 404 without a Content-Type.

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/qrimage"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// registerQRCodeRoutes lists the parametric QR code APIs.
func (e *Emulator) registerQRCodeRoutes(r endpoint.Routes) {
	r.Handle("createQRCode", e.handleCreateQRCode) // POST /cgi-bin/qrcode/create
	r.Handle("showQRCode", e.handleShowQRCode)     // GET /cgi-bin/showqrcode (mp.weixin.qq.com)
}

// Parametric QR code limits.
const (
	QRDefaultExpire    = 60      // seconds, when expire_seconds is left out
	QRMaxExpire        = 2592000 // seconds (30 days)
	QRPermanentPerApp  = 100000  // permanent codes per account, both permanent kinds together
	QRPermanentMaxID   = 100000  // the largest permanent scene_id
	QRTempMaxID        = 1<<32 - 1
	QRSceneStrMax      = 64 // characters
	qrURLPrefix        = "http://weixin.qq.com/q/"
	qrTokenLength      = 20
	qrShowCacheControl = "max-age=604800"
	// QRImageContentType is what showqrcode answers with, as WeChat's documentation shows it
	// (the registered type is image/jpeg; clients accept either).
	QRImageContentType = "image/jpg"
)

// QR code action names.
const (
	QRScene         = "QR_SCENE"
	QRStrScene      = "QR_STR_SCENE"
	QRLimitScene    = "QR_LIMIT_SCENE"
	QRLimitStrScene = "QR_LIMIT_STR_SCENE"
	qrCreatePath    = "/cgi-bin/qrcode/create"
)

// QRCode is a parametric QR code as stored.
type QRCode struct {
	Ticket     string     `json:"ticket"`
	URL        string     `json:"url"`
	AppID      string     `json:"appid"`
	ActionName string     `json:"action_name"`
	SceneID    uint32     `json:"scene_id,omitempty"`
	SceneStr   string     `json:"scene_str,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"` // nil for a permanent code
}

// AppendJSON implements store.Encoder: the bytes encoding/json.Marshal writes for q.
func (q *QRCode) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"ticket":`...)
	b = jsonenc.AppendQuoted(b, q.Ticket)
	b = append(b, `,"url":`...)
	b = jsonenc.AppendQuoted(b, q.URL)
	b = append(b, `,"appid":`...)
	b = jsonenc.AppendQuoted(b, q.AppID)
	b = append(b, `,"action_name":`...)
	b = jsonenc.AppendQuoted(b, q.ActionName)
	if q.SceneID != 0 {
		b = append(b, `,"scene_id":`...)
		b = strconv.AppendUint(b, uint64(q.SceneID), 10)
	}
	if q.SceneStr != "" {
		b = append(b, `,"scene_str":`...)
		b = jsonenc.AppendQuoted(b, q.SceneStr)
	}
	b = append(b, `,"created_at":`...)
	b, err := jsonenc.AppendTime(b, q.CreatedAt)
	if err != nil {
		return nil, err
	}
	if q.ExpiresAt != nil {
		b = append(b, `,"expires_at":`...)
		if b, err = jsonenc.AppendTime(b, *q.ExpiresAt); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// Permanent reports whether the code never expires.
func (q *QRCode) Permanent() bool { return q.ExpiresAt == nil }

// Scene is the scene as WeChat reports it in scan events: the scene_str, or the scene_id in
// decimal.
func (q *QRCode) Scene() string {
	if q.SceneStr != "" {
		return q.SceneStr
	}
	return strconv.FormatUint(uint64(q.SceneID), 10)
}

// ExpiredCodeMemory is how long a temporary code is kept once it expired. WeChat answers an
// expired ticket as it answers an unknown one (showqrcode: a bare 404), so nothing on the
// platform's paths needs the record; for these few minutes the scan simulator still says
// "expired" rather than "unknown", and the journal names the expiry, so that a test which scans
// a code just too late learns why.
const ExpiredCodeMemory = 5 * time.Minute

// ForgetAt implements store.Forgettable: a temporary code is forgotten ExpiredCodeMemory after
// it expired; a permanent one is kept.
func (q QRCode) ForgetAt() time.Time {
	if q.ExpiresAt == nil {
		return time.Time{}
	}
	return q.ExpiresAt.Add(ExpiredCodeMemory)
}

// live reports whether the code can still be shown and scanned at now.
func (q *QRCode) live(now time.Time) bool { return q.ExpiresAt == nil || now.Before(*q.ExpiresAt) }

func qrCodeKey(token string) string { return "wechat:qrcode:code:" + token }
func qrPermKey(appid, action string, id uint32, str string) string {
	if action == QRLimitScene {
		return "wechat:qrcode:perm:" + appid + ":id:" + strconv.FormatUint(uint64(id), 10)
	}
	return "wechat:qrcode:perm:" + appid + ":str:" + str
}
func qrCountKey(appid string) string { return "wechat:qrcode:count:" + appid }

// qrCounts are an account's running totals.
type qrCounts struct {
	Permanent int `json:"permanent"`
}

// qrTokenOf returns the token of a http://weixin.qq.com/q/<token> url, or "".
func qrTokenOf(u string) string {
	t, ok := strings.CutPrefix(u, qrURLPrefix)
	if !ok || t == "" || strings.ContainsAny(t, "/?#") {
		return ""
	}
	return t
}

// LookupQRCode returns the code whose url is u, or nil when the sandbox never issued it.
func (e *Emulator) LookupQRCode(tx *store.Tx, u string) (*QRCode, error) {
	tok := qrTokenOf(u)
	if tok == "" {
		return nil, nil
	}
	return store.Get[QRCode](tx, qrCodeKey(tok))
}

type qrCreateRequest struct {
	ExpireSeconds *int64 `json:"expire_seconds"`
	ActionName    string `json:"action_name"`
	ActionInfo    *struct {
		Scene *struct {
			SceneID  *int64  `json:"scene_id"`
			SceneStr *string `json:"scene_str"`
		} `json:"scene"`
	} `json:"action_info"`
}

// qrCreateAnswer is the whole success body: WeChat sends no errcode or errmsg here, and some SDKs
// fail on a non-empty errmsg.
type qrCreateAnswer struct {
	Ticket        string `json:"ticket"`
	ExpireSeconds int64  `json:"expire_seconds,omitempty"`
	URL           string `json:"url"`
}

// AppendAnswer implements wechat.AnswerAppender: qrcode/create is the write integrators make
// most.
func (a qrCreateAnswer) AppendAnswer(b []byte) []byte {
	b = append(b, `{"ticket":`...)
	b = jsonenc.AppendString(b, a.Ticket)
	if a.ExpireSeconds != 0 {
		b = append(b, `,"expire_seconds":`...)
		b = strconv.AppendInt(b, a.ExpireSeconds, 10)
	}
	b = append(b, `,"url":`...)
	b = jsonenc.AppendString(b, a.URL)
	return append(b, '}')
}

// qrSpec is a validated create request.
type qrSpec struct {
	action   string
	sceneID  uint32
	sceneStr string
	expire   int64 // seconds; 0 for a permanent code
}

// parseQRCreate checks a create request beyond what the spec already checked.
func parseQRCreate(req qrCreateRequest) (qrSpec, error) {
	s := qrSpec{action: req.ActionName}
	permanent := s.action == QRLimitScene || s.action == QRLimitStrScene
	switch s.action {
	case QRScene, QRStrScene, QRLimitScene, QRLimitStrScene:
	default:
		return s, apierr.Newf(apierr.Invalid, 40052, "action_name %q is not one of QR_SCENE, QR_STR_SCENE, QR_LIMIT_SCENE, QR_LIMIT_STR_SCENE", s.action)
	}
	if req.ActionInfo == nil || req.ActionInfo.Scene == nil {
		return s, apierr.New(apierr.Invalid, 40053, "action_info.scene is missing")
	}
	sc := req.ActionInfo.Scene
	if s.action == QRScene || s.action == QRLimitScene {
		maxID := int64(QRTempMaxID)
		if permanent {
			maxID = QRPermanentMaxID
		}
		if sc.SceneID == nil {
			return s, apierr.Newf(apierr.Invalid, 40053, "%s needs action_info.scene.scene_id", s.action)
		}
		if *sc.SceneID < 1 || *sc.SceneID > maxID {
			return s, apierr.Newf(apierr.Invalid, 40053, "scene_id %d is outside 1–%d for %s", *sc.SceneID, maxID, s.action)
		}
		s.sceneID = uint32(*sc.SceneID)
	} else {
		if sc.SceneStr == nil {
			return s, apierr.Newf(apierr.Invalid, 40053, "%s needs action_info.scene.scene_str", s.action)
		}
		if n := utf8.RuneCountInString(*sc.SceneStr); n < 1 || n > QRSceneStrMax {
			return s, apierr.Newf(apierr.Invalid, 40053, "scene_str has %d characters; it must have 1–%d", n, QRSceneStrMax)
		}
		s.sceneStr = *sc.SceneStr
	}
	if !permanent {
		s.expire = QRDefaultExpire
		if req.ExpireSeconds != nil && *req.ExpireSeconds > 0 {
			s.expire = min(*req.ExpireSeconds, QRMaxExpire)
		}
	}
	return s, nil
}

// handleCreateQRCode emulates POST /cgi-bin/qrcode/create (createQRCode).
func (e *Emulator) handleCreateQRCode(c *endpoint.Call) (any, error) {
	var req qrCreateRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	app := c.Principal.(*wechat.Principal).App
	if !app.Verified {
		return nil, apierr.New(apierr.Forbidden, 48001, "only verified official accounts may create parametric QR codes")
	}
	s, err := parseQRCreate(req)
	if err != nil {
		return nil, err
	}
	var answer qrCreateAnswer
	if s.expire == 0 {
		// A permanent scene asked for again is answered from a read transaction, beside other
		// readers, without waiting for the writers.
		found := false
		err := e.deps.Store.View(func(tx *store.Tx) error {
			var err error
			answer, found, err = existingPermanentCode(tx, app.AppID, s)
			return err
		})
		if err != nil {
			return nil, err
		}
		if found {
			return answer, nil
		}
	}
	err = e.deps.Store.Update(func(tx *store.Tx) error {
		var counts qrCounts
		if s.expire == 0 {
			var found bool
			var err error
			// Again, in the write transaction: another call may have made the code since.
			if answer, found, counts, err = e.permanentCode(tx, app.AppID, s); err != nil || found {
				return err
			}
		}
		code, err := e.newQRCode(tx, app.AppID, s, c.Now, counts)
		if err != nil {
			return err
		}
		answer = qrCreateAnswer{Ticket: code.Ticket, ExpireSeconds: s.expire, URL: code.URL}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return answer, nil
}

// permanentCode returns the answer with the account's existing permanent code for the scene;
// when there is none, the account's counts, or 45009 when the account has all its permanent
// codes.
func (e *Emulator) permanentCode(tx *store.Tx, appid string, s qrSpec) (qrCreateAnswer, bool, qrCounts, error) {
	var n qrCounts
	if a, found, err := existingPermanentCode(tx, appid, s); err != nil || found {
		return a, found, n, err
	}
	if _, err := tx.Get(qrCountKey(appid), &n); err != nil {
		return qrCreateAnswer{}, false, n, err
	}
	if n.Permanent >= QRPermanentPerApp {
		return qrCreateAnswer{}, false, n, apierr.Newf(apierr.QuotaExceeded, 45009, "the account has all %d of its permanent QR codes", QRPermanentPerApp)
	}
	return qrCreateAnswer{}, false, n, nil
}

// existingPermanentCode returns the answer with the account's permanent code for the scene, if
// it has one.
func existingPermanentCode(tx *store.Tx, appid string, s qrSpec) (qrCreateAnswer, bool, error) {
	// Values are JSON, even a bare token, so that state snapshots round-trip.
	var tok string
	ok, err := tx.Get(qrPermKey(appid, s.action, s.sceneID, s.sceneStr), &tok)
	if err != nil || !ok {
		return qrCreateAnswer{}, false, err
	}
	// Only what the answer needs is decoded: the code's other fields stay as stored.
	var a qrCreateAnswer
	found, err := tx.Get(qrCodeKey(tok), &a)
	a.ExpireSeconds = 0
	return a, found, err
}

// newQRCode mints and stores a code; counts are the account's, as permanentCode read them in
// this transaction, for a permanent code.
func (e *Emulator) newQRCode(tx *store.Tx, appid string, s qrSpec, now time.Time, counts qrCounts) (*QRCode, error) {
	q := &QRCode{AppID: appid, ActionName: s.action, SceneID: s.sceneID, SceneStr: s.sceneStr, CreatedAt: now}
	if s.expire > 0 {
		exp := now.Add(time.Duration(s.expire) * time.Second)
		q.ExpiresAt = &exp
	}
	var tok string
	for {
		// All twenty are drawn and the first seven give way to the time, so that a code takes
		// as much of the random stream as any other 20-character token.
		tok = qrTokenTime(now) + e.deps.Rand.Token(qrTokenLength, seeded.Alphanumeric)[qrTokenTimeLength:]
		q.URL = qrURLPrefix + tok
		q.Ticket = e.ticketFor(q)
		// A token already given out (never seen yet: 62^20 of them) is drawn again.
		stored, err := tx.Insert(qrCodeKey(tok), q)
		if err != nil {
			return nil, err
		}
		if stored {
			break
		}
	}
	if q.Permanent() {
		if err := tx.Put(qrPermKey(appid, s.action, s.sceneID, s.sceneStr), tok); err != nil {
			return nil, err
		}
		counts.Permanent++
		if err := tx.Put(qrCountKey(appid), counts); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// qrTokenTimeLength is how many characters of a url token say its creation time.
const qrTokenTimeLength = 7

// qrTokenDigits are the base-62 digits of a token's time, in byte order.
const qrTokenDigits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// qrTokenTime writes t as qrTokenTimeLength base-62 digits of its milliseconds since 1970, so
// that tokens made later sort after (a time before 1970 counts as 1970; from the year 2081 the
// digits wrap around, which only costs the ordering).
func qrTokenTime(t time.Time) string {
	ms := max(t.UnixMilli(), 0)
	var b [qrTokenTimeLength]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = qrTokenDigits[ms%62]
		ms /= 62
	}
	return string(b[:])
}

// ticketFor builds a ticket in the layout of WeChat's published example: a 12-byte header, then
// tag 1 with the url, tag 2 with the creation time and tag 3 with the expiry time (0 for a
// permanent code), base64-encoded.
func (e *Emulator) ticketFor(q *QRCode) string {
	// 12 bytes of header, 2 + the url, 6 for each time: a url of up to 255 bytes fits.
	var raw [12 + 2 + 255 + 12]byte
	b := append(raw[:0], 0x81, 0x01)
	b = binary.LittleEndian.AppendUint32(b, e.deps.Rand.Uint32())
	b = append(b, 0, 0, 0, 0, 0, 0)
	b = append(b, 0x01, byte(len(q.URL)))
	b = append(b, q.URL...)
	var exp uint32
	if q.ExpiresAt != nil {
		exp = uint32(q.ExpiresAt.Unix())
	}
	b = append(b, 0x02, 0x04)
	b = binary.LittleEndian.AppendUint32(b, uint32(q.CreatedAt.Unix()))
	b = append(b, 0x03, 0x04)
	b = binary.LittleEndian.AppendUint32(b, exp)
	var out [(len(raw) + 2) / 3 * 4]byte
	return string(base64.StdEncoding.AppendEncode(out[:0], b))
}

// urlOfTicket reads the url back out of a ticket, or "" if it is not one the sandbox makes.
func urlOfTicket(ticket string) string {
	raw, err := base64.StdEncoding.DecodeString(ticket)
	if err != nil || len(raw) < 14 || raw[0] != 0x81 || raw[12] != 0x01 {
		return ""
	}
	n := int(raw[13])
	if len(raw) < 14+n {
		return ""
	}
	return string(raw[14 : 14+n])
}

// handleShowQRCode emulates GET https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=: the code's
// JPEG, or a bare 404 for a ticket that is unknown or has expired.
func (e *Emulator) handleShowQRCode(c *endpoint.Call) (any, error) {
	notFound := endpoint.Raw{Status: http.StatusNotFound}
	// Query() has already URL-decoded the ticket; a client that forgot to encode it sends "+" as
	// a space, which is put back.
	ticket := strings.ReplaceAll(c.Query("ticket"), " ", "+")
	var q *QRCode
	err := e.deps.Store.View(func(tx *store.Tx) error {
		var err error
		q, err = e.LookupQRCode(tx, urlOfTicket(ticket))
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case q == nil || q.Ticket != ticket:
		c.Reason = "no QR code has this ticket"
		return notFound, nil
	case !q.live(c.Now):
		c.Reason = "the QR code expired at " + q.ExpiresAt.Format(time.RFC3339)
		return notFound, nil
	}
	img, err := qrimage.JPEG(q.URL, qrimage.Size)
	if err != nil {
		return nil, fmt.Errorf("wechat: showqrcode: %w", err)
	}
	return endpoint.Raw{
		Status:      http.StatusOK,
		ContentType: QRImageContentType,
		Header:      http.Header{"Cache-Control": {qrShowCacheControl}},
		Body:        img,
	}, nil
}
