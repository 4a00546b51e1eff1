package qr

// QR-jump rules: "scan a QR code to open a Mini Program" (reference: wechat-api.md §3), in both
// variants, told apart by the caller and by appid in the body:
//
//   - the service-account variant (a service account's token, the target Mini Program's appid
//     in the body): prefixes are http://weixin.qq.com/q/ links; the accounts must be linked;
//     100,000 rule creations per Mini Program for ever (deletes do not give any back); 200 calls
//     a minute per service account;
//   - the ordinary-link variant (the Mini Program's own token, no appid): http, https or ftp
//     prefixes, open_version, up to 5 debug_url under the prefix, permit_sub_rule, and the
//     verification file of qrcodejumpdownload.
//
// Common to both: is_edit 0 adds (85071 for a prefix the account already has), 1 modifies an
// unpublished rule (40097 for a published one); publishing needs a released Mini Program (85074)
// and is limited to 100 a calendar month per Mini Program (886000, remaining shown in
// qrcodejump_pub_quota); delete works at once; only verified accounts and non-personal Mini
// Programs (85075); 5 calls a second per account and API (44990). Limits scale with the Mini
// Program's tier (test: a tenth; unlimited: none).
//
// Invented where the sources are silent (the most plausible behaviour):
//   - an exact prefix belongs to one account: another account adding it gets 85072, as does an
//     account adding a prefix under another account's permit_sub_rule 2 rule, or a
//     service-account rule for a code the sandbox issued to another service account;
//   - the ordinary-link cap is 100 live rules per Mini Program (older docs; 85073), and the
//     service-account variant's exhausted lifetime budget is also 85073;
//   - a Mini Program that is not linked to the calling service account, or is not a Mini
//     Program, is 40166; an appid sent with a Mini Program's token, or no appid with a service
//     account's (where the variant needs one), is 48001 (the wrong token for the variant);
//   - modifying, publishing or deleting a prefix the account has no rule for is 40097;
//   - ordinary-link prefixes on weixin.qq.com, on an IP address or without a dotted host are
//     85066, and hosts under the reserved TLDs test, example, invalid, localhost and local fail
//     the ICP check (85076, whose message WeChat leaves empty); the verification file is
//     fetched only from hosts mapped to local addresses (verifyfile.go: 85069 when it is not
//     served; an unmapped host is accepted unchecked unless the Mini Program requires the
//     check);
//   - get_type 0 answers the newest 10,000 rules in the order they were added; total_count is
//     the number of rules the caller can list whatever get_type; qrcodejump_open is always 1;
//   - the verification file is derived from the appid (the same file for ever);
//   - publishing a published rule succeeds again and counts against the month: the publish
//     pages' only rule about it is "本月发布次数达到上线（100次）" (886000), which counts publishes
//     and exempts none; they do not say that a published rule is refused.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/quota"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// registerQRJumpRoutes lists the QR-jump rule APIs.
func (e *Emulator) registerQRJumpRoutes(r endpoint.Routes) {
	r.Handle("addQRCodeJump", e.handleQRJumpAdd)           // POST /cgi-bin/wxopen/qrcodejumpadd
	r.Handle("getQRCodeJump", e.handleQRJumpGet)           // POST /cgi-bin/wxopen/qrcodejumpget
	r.Handle("publishQRCodeJump", e.handleQRJumpPublish)   // POST /cgi-bin/wxopen/qrcodejumppublish
	r.Handle("deleteQRCodeJump", e.handleQRJumpDelete)     // POST /cgi-bin/wxopen/qrcodejumpdelete
	r.Handle("downloadQRCodeJump", e.handleQRJumpDownload) // POST /cgi-bin/wxopen/qrcodejumpdownload
}

// QR-jump limits at the production tier.
const (
	QRJumpServiceRulesLifetime = 100000 // rule creations per Mini Program, service-account variant
	QRJumpOrdinaryRuleCap      = 100    // live ordinary-link rules per Mini Program
	QRJumpPublishesPerMonth    = 100    // per Mini Program, both variants together
	QRJumpServicePerMinute     = 200    // calls per service account, service-account variant
	QRJumpMaxDebugURLs         = 5
	QRJumpGetAllMax            = 10000 // rules answered by get_type 0
	QRJumpMaxPrefixList        = 200
	QRJumpMaxPageSize          = 200
	qrjumpBlock                = 1024 // rules per paging block
	qrjumpServiceQuotaAPI      = "/cgi-bin/wxopen/qrcodejump#service-account"
)

// Rule states.
const (
	RuleUnpublished = 1
	RulePublished   = 2
)

// QRJumpRule is a rule as stored.
type QRJumpRule struct {
	Prefix string `json:"prefix"`
	Path   string `json:"path"`
	State  int    `json:"state"`
	// MiniProgram is the Mini Program the rule opens; Owner is the account that added it (the
	// Mini Program itself for an ordinary-link rule, the service account otherwise).
	MiniProgram   string    `json:"mp"`
	Owner         string    `json:"owner"`
	OpenVersion   int       `json:"open_version,omitempty"`
	PermitSubRule int       `json:"permit_sub_rule,omitempty"`
	DebugURL      []string  `json:"debug_url,omitempty"`
	Seq           uint64    `json:"seq"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Ordinary reports whether the rule is of the ordinary-link variant.
func (r *QRJumpRule) Ordinary() bool { return r.Owner == r.MiniProgram }

// scope is the set of rules one caller lists: a Mini Program's ordinary-link rules, or the
// rules one service account made for one Mini Program.
func (r *QRJumpRule) scope() string { return qrjumpScope(r.MiniProgram, r.Owner) }

func qrjumpScope(mp, owner string) string {
	if mp == owner {
		return mp + ":a"
	}
	return mp + ":b:" + owner
}

// Keys. A rule is found by scope and prefix; the insertion order of a scope is a sequence key
// per rule; a count per block of sequence numbers lets a page start without walking the rules
// before it; the prefix index says who owns an exact prefix across every account.
func qrjumpRuleKey(scope, prefix string) string { return "wechat:qrjump:rule:" + scope + ":" + prefix }
func qrjumpSeqPrefix(scope string) string       { return "wechat:qrjump:seq:" + scope + ":" }
func qrjumpSeqKey(scope string, seq uint64) string {
	return fmt.Sprintf("%s%012d", qrjumpSeqPrefix(scope), seq)
}
func qrjumpBlockPrefix(scope string) string { return "wechat:qrjump:blk:" + scope + ":" }
func qrjumpBlockKey(scope string, seq uint64) string {
	return fmt.Sprintf("%s%08d", qrjumpBlockPrefix(scope), (seq-1)/qrjumpBlock)
}
func qrjumpScopeKey(scope string) string  { return "wechat:qrjump:scope:" + scope }
func qrjumpOwnerKey(prefix string) string { return "wechat:qrjump:prefix:" + prefix }
func qrjumpMPKey(mp string) string        { return "wechat:qrjump:mp:" + mp }
func qrjumpPubKey(mp string, t time.Time) string {
	return "wechat:qrjump:pub:" + mp + ":" + t.In(clock.Beijing).Format("200601")
}

// publishCountForgetAt forgets a month's publish count when the month is over.
func publishCountForgetAt(key, _ string) (time.Time, error) {
	month, err := time.ParseInLocation("200601", key[strings.LastIndexByte(key, ':')+1:], clock.Beijing)
	if err != nil {
		return time.Time{}, fmt.Errorf("wechat: publish count %s: %w", key, err)
	}
	return month.AddDate(0, 1, 0), nil
}

// prefixOwner is the prefix index's value.
type prefixOwner struct {
	MiniProgram   string `json:"mp"`
	Owner         string `json:"owner"`
	PermitSubRule int    `json:"permit_sub_rule,omitempty"`
}

// scopeMeta counts a scope's live rules and numbers its rules in the order they were added
// (from 1; a number is never reused).
type scopeMeta struct {
	Count int    `json:"count"`
	Seq   uint64 `json:"seq"`
}

// mpMeta is a Mini Program's rule bookkeeping.
type mpMeta struct {
	// ServiceCreated counts service-account rule creations for ever.
	ServiceCreated int `json:"service_created"`
}

// qrjumpLimit returns a per-Mini-Program limit at the Mini Program's tier; 0 means none.
func qrjumpLimit(mp *wechat.App, n int) int {
	return wechat.TierLimits(mp, quota.Limits{Lifetime: n}).Lifetime
}

// qrjumpCaller is who is calling and for which Mini Program.
type qrjumpCaller struct {
	app *wechat.App // the caller
	mp  *wechat.App // the Mini Program whose rules are concerned (nil for a publish by prefix)
}

func (q qrjumpCaller) service() bool { return q.app.Type == wechat.TypeOfficialAccount }

// qrjumpResolve decides the variant and checks the accounts. appid is the body's; needAppID says
// whether the service-account variant of this API takes one.
func (e *Emulator) qrjumpResolve(c *endpoint.Call, appid string, needAppID bool) (qrjumpCaller, error) {
	app := c.Principal.(*wechat.Principal).App
	q := qrjumpCaller{app: app}
	if !app.Verified {
		return q, apierr.Newf(apierr.Forbidden, 85075, "%s is not verified", app.AppID)
	}
	if app.Type == wechat.TypeMiniProgram {
		if appid != "" {
			return q, apierr.New(apierr.Forbidden, 48001, "appid is for the service-account variant, which takes a service account's token")
		}
		if err := qrjumpCheckMP(app); err != nil {
			return q, err
		}
		q.mp = app
		return q, nil
	}
	if needAppID && appid == "" {
		return q, apierr.New(apierr.Forbidden, 48001, "the ordinary-link variant (no appid) takes a Mini Program's token; the service-account variant needs the Mini Program's appid")
	}
	if err := e.deps.WeChat.AdmitCall(c, app, qrjumpServiceQuotaAPI, quota.Limits{PerMinute: QRJumpServicePerMinute}); err != nil {
		return q, err
	}
	if appid == "" {
		return q, nil
	}
	err := e.deps.Store.View(func(tx *store.Tx) error {
		mp, err := wechat.GetApp(tx, appid)
		if err != nil {
			return err
		}
		if mp == nil || mp.Type != wechat.TypeMiniProgram {
			return apierr.Newf(apierr.Invalid, 40166, "appid %q is not a Mini Program", appid)
		}
		linked, err := tx.Has(linkKey(app.AppID, appid))
		if err != nil {
			return err
		}
		if !linked {
			return apierr.Newf(apierr.Invalid, 40166, "Mini Program %s is not linked to %s (POST /_sandbox/wechat/apps/%s/links)", appid, app.AppID, app.AppID)
		}
		q.mp = mp
		return nil
	})
	if err != nil {
		return q, err
	}
	return q, qrjumpCheckMP(q.mp)
}

// qrjumpCheckMP refuses personal and unverified Mini Programs.
func qrjumpCheckMP(mp *wechat.App) error {
	if mp.SubjectType == "personal" {
		return apierr.Newf(apierr.Forbidden, 85075, "Mini Program %s is personal; QR-jump rules need an organisation's", mp.AppID)
	}
	if !mp.Verified {
		return apierr.Newf(apierr.Forbidden, 85075, "Mini Program %s is not verified", mp.AppID)
	}
	return nil
}

// reservedTLDs cannot hold an ICP filing.
var reservedTLDs = map[string]bool{"test": true, "example": true, "invalid": true, "localhost": true, "local": true}

// checkOrdinaryPrefix validates an ordinary-link prefix: 85066 for a malformed or forbidden one,
// 85076 for a host that cannot have an ICP filing.
func checkOrdinaryPrefix(prefix string) error {
	u, err := url.Parse(prefix)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
		return apierr.Newf(apierr.Invalid, 85066, "prefix %q is not an absolute URL", prefix)
	}
	if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ftp" {
		return apierr.Newf(apierr.Invalid, 85066, "prefix %q must start with http://, https:// or ftp://", prefix)
	}
	if !strings.HasPrefix(prefix, u.Scheme+"://") {
		return apierr.Newf(apierr.Invalid, 85066, "prefix %q must spell its scheme in lower case", prefix)
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return apierr.Newf(apierr.Invalid, 85066, "prefix %q has an IP address; rules need a domain with an ICP filing", prefix)
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return apierr.Newf(apierr.Invalid, 85066, "prefix %q has no domain", prefix)
	}
	for _, l := range labels {
		if l == "" || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			return apierr.Newf(apierr.Invalid, 85066, "prefix %q has an invalid host %q", prefix, host)
		}
	}
	if host == "weixin.qq.com" || strings.HasSuffix(host, ".weixin.qq.com") {
		return apierr.Newf(apierr.Invalid, 85066, "prefix %q is on weixin.qq.com: service-account codes take the service-account variant", prefix)
	}
	if reservedTLDs[labels[len(labels)-1]] {
		return apierr.Newf(apierr.Invalid, 85076, "%s is under a reserved top-level domain and has no ICP filing", host)
	}
	return nil
}

// checkServicePrefix validates a service-account prefix.
func checkServicePrefix(prefix string) error {
	tok, ok := strings.CutPrefix(prefix, qrURLPrefix)
	if !ok || tok == "" || strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		return apierr.Newf(apierr.Invalid, 85066, "prefix %q must be a service-account code link, http://weixin.qq.com/q/<code>", prefix)
	}
	return nil
}

// checkPagePath validates a Mini Program page path.
func checkPagePath(path string) error {
	page, _, _ := strings.Cut(path, "?")
	if page == "" || strings.HasPrefix(page, "/") || strings.ContainsAny(page, " \t\r\n#") {
		return apierr.Newf(apierr.Invalid, 40097, "path %q is not a Mini Program page such as pages/index/index", path)
	}
	return nil
}

type qrjumpAddRequest struct {
	Prefix        string    `json:"prefix"`
	AppID         string    `json:"appid"`
	Path          string    `json:"path"`
	IsEdit        int       `json:"is_edit"`
	OpenVersion   *int      `json:"open_version"`
	DebugURL      *[]string `json:"debug_url"`
	PermitSubRule *int      `json:"permit_sub_rule"`
}

// handleQRJumpAdd emulates POST /cgi-bin/wxopen/qrcodejumpadd: add (is_edit 0) or modify
// (is_edit 1) a rule.
func (e *Emulator) handleQRJumpAdd(c *endpoint.Call) (any, error) {
	var req qrjumpAddRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	q, err := e.qrjumpResolve(c, req.AppID, true)
	if err != nil {
		return nil, err
	}
	rule := QRJumpRule{Prefix: req.Prefix, Path: req.Path, State: RuleUnpublished, MiniProgram: q.mp.AppID, Owner: q.app.AppID, UpdatedAt: c.Now}
	if q.service() {
		if err := checkServicePrefix(req.Prefix); err != nil {
			return nil, err
		}
	} else {
		if req.OpenVersion == nil || req.PermitSubRule == nil {
			return nil, apierr.New(apierr.Invalid, 40097, "the ordinary-link variant needs open_version and permit_sub_rule")
		}
		if err := checkOrdinaryPrefix(req.Prefix); err != nil {
			return nil, err
		}
		rule.OpenVersion, rule.PermitSubRule = *req.OpenVersion, *req.PermitSubRule
		if req.DebugURL != nil {
			for _, d := range *req.DebugURL {
				if !strings.HasPrefix(d, req.Prefix) {
					return nil, apierr.Newf(apierr.Invalid, 85068, "debug_url %q is not under prefix %q", d, req.Prefix)
				}
			}
			rule.DebugURL = *req.DebugURL
		}
	}
	if err := checkPagePath(req.Path); err != nil {
		return nil, err
	}
	if !q.service() && req.IsEdit != 1 {
		if err := e.checkVerificationFile(c, q.mp, req.Prefix); err != nil {
			return nil, err
		}
	}
	return nil, e.deps.Store.Update(func(tx *store.Tx) error {
		if req.IsEdit == 1 {
			return e.modifyRule(tx, rule)
		}
		return e.addRule(tx, q.mp, rule)
	})
}

// claim checks that owner may hold prefix: 85071 if it already does, 85072 if another account
// holds it, holds a prefix above it that occupies its sub-rules, or (for a code the sandbox
// issued) owns the code.
func (e *Emulator) claim(tx *store.Tx, owner, prefix string) error {
	var po prefixOwner
	ok, err := tx.Get(qrjumpOwnerKey(prefix), &po)
	if err != nil {
		return err
	}
	if ok {
		if po.Owner == owner {
			return apierr.Newf(apierr.Conflict, 85071, "%s already has a rule for %s", owner, prefix)
		}
		return apierr.Newf(apierr.Conflict, 85072, "%s belongs to a rule of %s", prefix, po.Owner)
	}
	// No rule on weixin.qq.com occupies its sub-rules (service-account rules have no
	// permit_sub_rule, and ordinary-link rules may not be there), so code links skip the walk.
	if strings.HasPrefix(prefix, qrURLPrefix) {
		code, err := e.LookupQRCode(tx, prefix)
		if err != nil {
			return err
		}
		if code != nil && code.AppID != owner {
			return apierr.Newf(apierr.Conflict, 85072, "the code %s was issued to %s", prefix, code.AppID)
		}
		return nil
	}
	return eachPrefixOwner(tx, prefix, func(p string, po prefixOwner) error {
		if p != prefix && po.PermitSubRule == 2 && po.Owner != owner {
			return apierr.Newf(apierr.Conflict, 85072, "%s's rule %s occupies its sub-rules", po.Owner, p)
		}
		return nil
	})
}

// eachPrefixOwner calls fn for every indexed prefix that is a prefix of s (itself included),
// shortest first: one point lookup per cut, so the cost depends on len(s), not on the number of
// rules.
func eachPrefixOwner(tx *store.Tx, s string, fn func(prefix string, po prefixOwner) error) error {
	start := strings.Index(s, "://")
	if start < 0 {
		start = 0
	} else {
		start += len("://") + 1
	}
	for i := start; i <= len(s); i++ {
		var po prefixOwner
		ok, err := tx.Get(qrjumpOwnerKey(s[:i]), &po)
		if err != nil {
			return err
		}
		if ok {
			if err := fn(s[:i], po); err != nil {
				return err
			}
		}
	}
	return nil
}

// addRule stores a new rule, within the Mini Program's limits.
func (e *Emulator) addRule(tx *store.Tx, mp *wechat.App, r QRJumpRule) error {
	if err := e.claim(tx, r.Owner, r.Prefix); err != nil {
		return err
	}
	scope := r.scope()
	var sm scopeMeta
	if _, err := tx.Get(qrjumpScopeKey(scope), &sm); err != nil {
		return err
	}
	var mm mpMeta
	if _, err := tx.Get(qrjumpMPKey(mp.AppID), &mm); err != nil {
		return err
	}
	if r.Ordinary() {
		if limit := qrjumpLimit(mp, QRJumpOrdinaryRuleCap); limit > 0 && sm.Count >= limit {
			return apierr.Newf(apierr.QuotaExceeded, 85073, "%s has %d ordinary-link rules, the most it may have", mp.AppID, limit)
		}
	} else {
		if limit := qrjumpLimit(mp, QRJumpServiceRulesLifetime); limit > 0 && mm.ServiceCreated >= limit {
			return apierr.Newf(apierr.QuotaExceeded, 85073, "%d service-account rules have been created for %s, all it may ever have", limit, mp.AppID)
		}
		mm.ServiceCreated++
	}
	sm.Seq++
	r.Seq = sm.Seq
	sm.Count++
	var blk int
	if _, err := tx.Get(qrjumpBlockKey(scope, r.Seq), &blk); err != nil {
		return err
	}
	for _, w := range []struct {
		key string
		v   any
	}{
		{qrjumpRuleKey(scope, r.Prefix), r},
		{qrjumpSeqKey(scope, r.Seq), r.Prefix},
		{qrjumpBlockKey(scope, r.Seq), blk + 1},
		{qrjumpScopeKey(scope), sm},
		{qrjumpMPKey(mp.AppID), mm},
		{qrjumpOwnerKey(r.Prefix), prefixOwner{MiniProgram: r.MiniProgram, Owner: r.Owner, PermitSubRule: r.PermitSubRule}},
	} {
		if err := tx.Put(w.key, w.v); err != nil {
			return err
		}
	}
	return nil
}

// modifyRule changes an unpublished rule's page and settings.
func (e *Emulator) modifyRule(tx *store.Tx, r QRJumpRule) error {
	old, err := getRule(tx, r.scope(), r.Prefix)
	if err != nil {
		return err
	}
	if old.State == RulePublished {
		return apierr.Newf(apierr.Conflict, 40097, "rule %s is published and cannot be modified; delete it and add it again", r.Prefix)
	}
	r.Seq = old.Seq
	if err := tx.Put(qrjumpRuleKey(r.scope(), r.Prefix), r); err != nil {
		return err
	}
	return tx.Put(qrjumpOwnerKey(r.Prefix), prefixOwner{MiniProgram: r.MiniProgram, Owner: r.Owner, PermitSubRule: r.PermitSubRule})
}

// getRule returns the rule for prefix in scope, or 40097.
func getRule(tx *store.Tx, scope, prefix string) (*QRJumpRule, error) {
	var r QRJumpRule
	ok, err := tx.Get(qrjumpRuleKey(scope, prefix), &r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierr.Newf(apierr.NotFound, 40097, "no rule for prefix %q", prefix)
	}
	return &r, nil
}

// deleteRule removes a rule and its index entries.
func deleteRule(tx *store.Tx, r *QRJumpRule) error {
	scope := r.scope()
	var sm scopeMeta
	if _, err := tx.Get(qrjumpScopeKey(scope), &sm); err != nil {
		return err
	}
	sm.Count--
	var blk int
	if _, err := tx.Get(qrjumpBlockKey(scope, r.Seq), &blk); err != nil {
		return err
	}
	if blk <= 1 {
		if err := tx.Delete(qrjumpBlockKey(scope, r.Seq)); err != nil {
			return err
		}
	} else if err := tx.Put(qrjumpBlockKey(scope, r.Seq), blk-1); err != nil {
		return err
	}
	for _, k := range []string{qrjumpRuleKey(scope, r.Prefix), qrjumpSeqKey(scope, r.Seq), qrjumpOwnerKey(r.Prefix)} {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return tx.Put(qrjumpScopeKey(scope), sm)
}

type qrjumpGetRequest struct {
	AppID      string   `json:"appid"`
	GetType    int      `json:"get_type"`
	PrefixList []string `json:"prefix_list"`
	PageNum    int      `json:"page_num"`
	PageSize   int      `json:"page_size"`
}

// qrjumpRuleView is a rule as qrcodejumpget lists it; the ordinary-link fields are left out
// of service-account rules.
type qrjumpRuleView struct {
	Prefix        string    `json:"prefix"`
	Path          string    `json:"path"`
	State         int       `json:"state"`
	OpenVersion   *int      `json:"open_version,omitempty"`
	PermitSubRule *int      `json:"permit_sub_rule,omitempty"`
	DebugURL      *[]string `json:"debug_url,omitempty"`
}

func viewRule(r *QRJumpRule) qrjumpRuleView {
	v := qrjumpRuleView{Prefix: r.Prefix, Path: r.Path, State: r.State}
	if r.Ordinary() {
		debug := r.DebugURL
		if debug == nil {
			debug = []string{}
		}
		v.OpenVersion, v.PermitSubRule, v.DebugURL = &r.OpenVersion, &r.PermitSubRule, &debug
	}
	return v
}

type qrjumpList struct {
	wechat.Envelope
	RuleList       []qrjumpRuleView `json:"rule_list"`
	QRCodeJumpOpen int              `json:"qrcodejump_open"`
	ListSize       int              `json:"list_size"`
	PubQuota       int              `json:"qrcodejump_pub_quota"`
	TotalCount     int              `json:"total_count"`
}

// handleQRJumpGet emulates POST /cgi-bin/wxopen/qrcodejumpget.
func (e *Emulator) handleQRJumpGet(c *endpoint.Call) (any, error) {
	var req qrjumpGetRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	q, err := e.qrjumpResolve(c, req.AppID, true)
	if err != nil {
		return nil, err
	}
	switch {
	case req.GetType == 1 && len(req.PrefixList) == 0:
		return nil, apierr.New(apierr.Invalid, 40097, "get_type 1 needs prefix_list")
	case req.GetType == 2 && (req.PageNum < 1 || req.PageSize < 1):
		return nil, apierr.New(apierr.Invalid, 40097, "get_type 2 needs page_num (from 1) and page_size (1-200)")
	}
	scope := qrjumpScope(q.mp.AppID, q.app.AppID)
	out := qrjumpList{Envelope: wechat.OK(), RuleList: []qrjumpRuleView{}, QRCodeJumpOpen: 1}
	err = e.deps.Store.View(func(tx *store.Tx) error {
		var sm scopeMeta
		if _, err := tx.Get(qrjumpScopeKey(scope), &sm); err != nil {
			return err
		}
		out.TotalCount = sm.Count
		var used int
		if _, err := tx.Get(qrjumpPubKey(q.mp.AppID, c.Now), &used); err != nil {
			return err
		}
		out.PubQuota = max(0, QRJumpPublishesPerMonth-used)
		if l := qrjumpLimit(q.mp, QRJumpPublishesPerMonth); l > 0 {
			out.PubQuota = max(0, l-used)
		}
		var rules []*QRJumpRule
		var err error
		switch req.GetType {
		case 1:
			rules, err = rulesByPrefix(tx, scope, req.PrefixList)
		case 2:
			rules, err = rulesPage(tx, scope, (req.PageNum-1)*req.PageSize, req.PageSize)
		default:
			rules, err = rulesPage(tx, scope, max(0, sm.Count-QRJumpGetAllMax), QRJumpGetAllMax)
		}
		for _, r := range rules {
			out.RuleList = append(out.RuleList, viewRule(r))
		}
		return err
	})
	out.ListSize = len(out.RuleList)
	return out, err
}

// rulesByPrefix looks each prefix up; unknown ones are left out.
func rulesByPrefix(tx *store.Tx, scope string, prefixes []string) ([]*QRJumpRule, error) {
	var out []*QRJumpRule
	seen := map[string]bool{}
	for _, pf := range prefixes {
		if seen[pf] {
			continue
		}
		seen[pf] = true
		var r QRJumpRule
		ok, err := tx.Get(qrjumpRuleKey(scope, pf), &r)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, &r)
		}
	}
	return out, nil
}

// rulesPage returns up to n rules of scope in insertion order, skipping the first skip. Whole
// blocks of sequence numbers are skipped by their counts; inside the block where the page starts,
// a block without deleted rules is entered at the right sequence number at once, and one with
// holes is walked. The cost is the number of blocks (a hundred at 100,000 rules) plus n, plus at
// most one block's walk — never the number of rules before the page.
func rulesPage(tx *store.Tx, scope string, skip, n int) ([]*QRJumpRule, error) {
	var sm scopeMeta
	if _, err := tx.Get(qrjumpScopeKey(scope), &sm); err != nil {
		return nil, err
	}
	var from uint64 // the first sequence number to walk from
	err := store.Each(tx, qrjumpBlockPrefix(scope), func(k string, cnt *int) error {
		if skip >= *cnt {
			skip -= *cnt
			return nil
		}
		b, err := strconv.ParseUint(k[strings.LastIndexByte(k, ':')+1:], 10, 64)
		if err != nil {
			return fmt.Errorf("wechat: qrjump block key %s: %w", k, err)
		}
		start := b*qrjumpBlock + 1
		from = start
		if assigned := min(uint64(qrjumpBlock), sm.Seq-start+1); uint64(*cnt) == assigned {
			from, skip = start+uint64(skip), 0 // no holes: the page starts skip numbers in
		}
		return store.Stop
	})
	if err != nil || from == 0 {
		return nil, err
	}
	var out []*QRJumpRule
	err = store.EachFrom(tx, qrjumpSeqPrefix(scope), qrjumpSeqKey(scope, from), func(_ string, pf *string) error {
		if skip > 0 {
			skip--
			return nil
		}
		r, err := store.Get[QRJumpRule](tx, qrjumpRuleKey(scope, *pf))
		if err != nil {
			return err
		}
		if r != nil {
			out = append(out, r)
		}
		if len(out) >= n {
			return store.Stop
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

type qrjumpPrefixRequest struct {
	Prefix string `json:"prefix"`
	AppID  string `json:"appid"`
}

// findOwnRule returns the caller's rule for prefix: in its Mini Program's ordinary-link rules,
// or — for a service account — wherever the prefix index says it is.
func (e *Emulator) findOwnRule(tx *store.Tx, q qrjumpCaller, prefix string) (*QRJumpRule, error) {
	if q.mp != nil {
		return getRule(tx, qrjumpScope(q.mp.AppID, q.app.AppID), prefix)
	}
	var po prefixOwner
	ok, err := tx.Get(qrjumpOwnerKey(prefix), &po)
	if err != nil {
		return nil, err
	}
	if !ok || po.Owner != q.app.AppID {
		return nil, apierr.Newf(apierr.NotFound, 40097, "%s has no rule for prefix %q", q.app.AppID, prefix)
	}
	return getRule(tx, qrjumpScope(po.MiniProgram, po.Owner), prefix)
}

// handleQRJumpPublish emulates POST /cgi-bin/wxopen/qrcodejumppublish.
func (e *Emulator) handleQRJumpPublish(c *endpoint.Call) (any, error) {
	var req qrjumpPrefixRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	q, err := e.qrjumpResolve(c, req.AppID, false)
	if err != nil {
		return nil, err
	}
	return nil, e.deps.Store.Update(func(tx *store.Tx) error {
		r, err := e.findOwnRule(tx, q, req.Prefix)
		if err != nil {
			return err
		}
		mp, err := wechat.GetApp(tx, r.MiniProgram)
		if err != nil {
			return err
		}
		if mp == nil {
			return apierr.Newf(apierr.Conflict, 85095, "the rule's Mini Program %s no longer exists", r.MiniProgram)
		}
		if err := qrjumpCheckMP(mp); err != nil {
			return err
		}
		if !mp.Released {
			return apierr.Newf(apierr.Conflict, 85074, "Mini Program %s has never been released (PATCH /_sandbox/wechat/apps/%s {\"released\":true})", mp.AppID, mp.AppID)
		}
		var used int
		if _, err := tx.Get(qrjumpPubKey(mp.AppID, c.Now), &used); err != nil {
			return err
		}
		if limit := qrjumpLimit(mp, QRJumpPublishesPerMonth); limit > 0 && used >= limit {
			return apierr.Newf(apierr.QuotaExceeded, 886000, "%s has published %d times this month, the most it may", mp.AppID, limit)
		}
		r.State = RulePublished
		r.UpdatedAt = c.Now
		if err := tx.Put(qrjumpRuleKey(r.scope(), r.Prefix), r); err != nil {
			return err
		}
		return tx.Put(qrjumpPubKey(mp.AppID, c.Now), used+1)
	})
}

// handleQRJumpDelete emulates POST /cgi-bin/wxopen/qrcodejumpdelete; the rule stops at once.
func (e *Emulator) handleQRJumpDelete(c *endpoint.Call) (any, error) {
	var req qrjumpPrefixRequest
	if err := c.Bind(&req); err != nil {
		return nil, err
	}
	q, err := e.qrjumpResolve(c, req.AppID, true)
	if err != nil {
		return nil, err
	}
	return nil, e.deps.Store.Update(func(tx *store.Tx) error {
		r, err := e.findOwnRule(tx, q, req.Prefix)
		if err != nil {
			return err
		}
		return deleteRule(tx, r)
	})
}

// handleQRJumpDownload emulates POST /cgi-bin/wxopen/qrcodejumpdownload: the verification file
// to put in the prefix's last directory (or at the host's root).
func (e *Emulator) handleQRJumpDownload(c *endpoint.Call) (any, error) {
	q, err := e.qrjumpResolve(c, "", true)
	if err != nil {
		return nil, err
	}
	name, content := verificationFile(q.mp.AppID)
	return struct {
		wechat.Envelope
		FileName    string `json:"file_name"`
		FileContent string `json:"file_content"`
	}{wechat.OK(), name, content}, nil
}

// verificationFile derives a Mini Program's verification file: a 10-character name and 32 hex
// digits, the same for ever, like WeChat's.
func verificationFile(appid string) (name, content string) {
	sum := sha256.Sum256([]byte("qrcodejump verification file " + appid))
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b strings.Builder
	for _, x := range sum[:10] {
		b.WriteByte(alnum[int(x)%len(alnum)])
	}
	return b.String() + ".txt", hex.EncodeToString(sum[16:32])
}
