package qr

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/quota"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// jumpIndexWorld is a bare WeChat platform (no HTTP) with a linked, unlimited-tier service
// account and Mini Program, for the rule index's own tests and benchmarks.
type jumpIndexWorld struct {
	p      *Emulator
	st     *store.Store
	clock  *clock.Controllable
	oa, mp *wechat.App
}

func newJumpIndexWorld(tb testing.TB) *jumpIndexWorld {
	tb.Helper()
	st, err := store.Open(store.Memory, store.SyncEverySecond)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	clk := clock.NewFrozen(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
	rnd := seeded.New(5)
	wx, err := wechat.New(wechat.Deps{Store: st, Clock: clk, Quota: quota.New(st, clk, wechat.QuotaPrefix), Rand: rnd, Faker: fixture.NewFaker(5)})
	if err != nil {
		tb.Fatal(err)
	}
	p := New(Deps{Store: st, Clock: clk, Rand: rnd, WeChat: wx})
	released := true
	w := &jumpIndexWorld{p: p, st: st, clock: clk}
	if w.oa, err = wx.CreateApp(wechat.AppSpec{Type: wechat.TypeOfficialAccount, Name: "服务号", Tier: wechat.TierUnlimited}); err != nil {
		tb.Fatal(err)
	}
	if w.mp, err = wx.CreateApp(wechat.AppSpec{Type: wechat.TypeMiniProgram, Name: "小程序", Tier: wechat.TierUnlimited, Released: &released}); err != nil {
		tb.Fatal(err)
	}
	if err := p.LinkApps(w.oa.AppID, w.mp.AppID); err != nil {
		tb.Fatal(err)
	}
	return w
}

func jumpPrefix(i int) string { return fmt.Sprintf("http://weixin.qq.com/q/bench%07d", i) }

// seed adds service-account rules from..to-1, a thousand a transaction (the rule index's own
// code, without the HTTP around it).
func (w *jumpIndexWorld) seed(tb testing.TB, from, to int) {
	tb.Helper()
	for ; from < to; from += 1000 {
		w.seedChunk(tb, from, min(from+1000, to))
	}
}

func (w *jumpIndexWorld) seedChunk(tb testing.TB, from, to int) {
	tb.Helper()
	err := w.st.Update(func(tx *store.Tx) error {
		for i := from; i < to; i++ {
			r := QRJumpRule{Prefix: jumpPrefix(i), Path: "pages/index/index", State: RuleUnpublished, MiniProgram: w.mp.AppID, Owner: w.oa.AppID}
			if err := w.p.addRule(tx, w.mp, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func (w *jumpIndexWorld) delete(tb testing.TB, i int) {
	tb.Helper()
	err := w.st.Update(func(tx *store.Tx) error {
		r, err := getRule(tx, qrjumpScope(w.mp.AppID, w.oa.AppID), jumpPrefix(i))
		if err != nil {
			return err
		}
		return deleteRule(tx, r)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// call runs a handler as the pipeline would after validation, with the service account's token.
func (w *jumpIndexWorld) call(tb testing.TB, h endpoint.HandlerFunc, body any) any {
	raw, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	c := &endpoint.Call{Body: raw, Now: w.clock.Now(), Principal: &wechat.Principal{App: w.oa}}
	v, err := h(c)
	if err != nil {
		tb.Fatalf("handler: %v", err)
	}
	return v
}

func (w *jumpIndexWorld) page(tb testing.TB, skip, n int) []string {
	tb.Helper()
	var out []string
	err := w.st.View(func(tx *store.Tx) error {
		rules, err := rulesPage(tx, qrjumpScope(w.mp.AppID, w.oa.AppID), skip, n)
		for _, r := range rules {
			out = append(out, r.Prefix)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestRulesPageAgreesWithAList checks the block-skipping pager against a plain list, across block
// boundaries, with dense blocks, blocks with holes and a block emptied altogether.
func TestRulesPageAgreesWithAList(t *testing.T) {
	t.Parallel()
	w := newJumpIndexWorld(t)
	const n = 3*qrjumpBlock + 100
	w.seed(t, 0, n)
	live := map[int]bool{}
	for i := range n {
		live[i] = true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 { // holes in blocks 0 and 2
		i := rng.IntN(qrjumpBlock)
		if rng.IntN(2) == 0 {
			i += 2 * qrjumpBlock
		}
		if live[i] {
			w.delete(t, i)
			delete(live, i)
		}
	}
	for i := qrjumpBlock; i < 2*qrjumpBlock; i++ { // block 1 emptied
		w.delete(t, i)
		delete(live, i)
	}
	var want []string
	for i := range n {
		if live[i] {
			want = append(want, jumpPrefix(i))
		}
	}
	for _, tc := range [][2]int{{0, 10}, {0, 200}, {5, 7}, {qrjumpBlock - 300, 200}, {len(want) - 150, 200}, {len(want) - 1, 5}, {len(want), 5}, {len(want) + 10, 5}} {
		for _, skip := range []int{tc[0], tc[0] + 1, tc[0] + 333} {
			got := w.page(t, skip, tc[1])
			lo, hi := min(skip, len(want)), min(skip+tc[1], len(want))
			if !slices.Equal(got, want[lo:hi]) {
				t.Errorf("rulesPage(skip %d, n %d) = %d rules starting %v, want %d starting %v", skip, tc[1], len(got), head(got), hi-lo, head(want[lo:hi]))
			}
		}
	}
}

func head(s []string) []string { return s[:min(2, len(s))] }

// benchSizes are the rule counts the issue compares: per-call cost at 100,000 rules within twice
// the cost at 100.
var benchSizes = []int{100, 100000}

// BenchmarkQRJumpAdd measures qrcodejumpadd's handler (account checks, prefix claim, limits and
// the writes) on a Mini Program that holds 100 or 100,000 rules.
func BenchmarkQRJumpAdd(b *testing.B) {
	for _, size := range benchSizes {
		b.Run("rules="+strconv.Itoa(size), func(b *testing.B) {
			w := newJumpIndexWorld(b)
			w.seed(b, 0, size)
			i := size
			b.ResetTimer()
			for b.Loop() {
				w.call(b, w.p.handleQRJumpAdd, map[string]any{"prefix": jumpPrefix(i), "appid": w.mp.AppID, "path": "pages/index/index", "is_edit": 0})
				i++
			}
		})
	}
}

// BenchmarkQRJumpGet measures qrcodejumpget's handler: get_type 1 with 10 prefixes, and get_type
// 2 for the last full page of 20 (the deepest page, the worst case for paging).
func BenchmarkQRJumpGet(b *testing.B) {
	for _, size := range benchSizes {
		w := newJumpIndexWorld(b)
		w.seed(b, 0, size)
		var list []string
		for k := range 10 {
			list = append(list, jumpPrefix(k*size/10+3))
		}
		b.Run(fmt.Sprintf("type=1/rules=%d", size), func(b *testing.B) {
			for b.Loop() {
				out := w.call(b, w.p.handleQRJumpGet, map[string]any{"appid": w.mp.AppID, "get_type": 1, "prefix_list": list}).(qrjumpList)
				if out.ListSize != 10 {
					b.Fatalf("list_size %d, want 10", out.ListSize)
				}
			}
		})
		b.Run(fmt.Sprintf("type=2/rules=%d", size), func(b *testing.B) {
			for b.Loop() {
				out := w.call(b, w.p.handleQRJumpGet, map[string]any{"appid": w.mp.AppID, "get_type": 2, "page_num": size / 20, "page_size": 20}).(qrjumpList)
				if out.ListSize != 20 || out.RuleList[19].Prefix != jumpPrefix(size-1) {
					b.Fatalf("last page: %d rules", out.ListSize)
				}
			}
		})
	}
}

// BenchmarkQRJumpStoreMemory reports the Go heap and the process's resident memory that 100,000
// rules take in the store (the bar is 200 MB of RSS). The measurement is made once; the timed
// loop is empty.
func BenchmarkQRJumpStoreMemory(b *testing.B) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	rssBefore := rssBytes()
	w := newJumpIndexWorld(b)
	w.seed(b, 0, 100000)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	rss := rssBytes()
	runtime.KeepAlive(w)
	for b.Loop() {
	}
	b.ReportMetric(heap/(1<<20), "heap-MB")
	if rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "RSS-MB")
		b.ReportMetric((float64(rss)-float64(rssBefore))/(1<<20), "RSS-growth-MB")
	}
}

// rssBytes reads the process's resident set size on Linux; 0 elsewhere.
func rssBytes() uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// FuzzCheckOrdinaryPrefix checks that the prefix rules never panic and only accept absolute
// http, https or ftp links with a lower-case scheme and a dotted host off weixin.qq.com.
func FuzzCheckOrdinaryPrefix(f *testing.F) {
	for _, s := range []string{"https://a.example.cn/x", "ftp://f.example.cn/", "HTTP://A.CN/", "https://1.2.3.4/", "http://weixin.qq.com/q/a", "https://a.test/", "mailto:x@y.cn", "", "https://a..cn/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, prefix string) {
		if checkOrdinaryPrefix(prefix) != nil {
			return
		}
		scheme, rest, ok := strings.Cut(prefix, "://")
		if !ok || (scheme != "http" && scheme != "https" && scheme != "ftp") || rest == "" {
			t.Errorf("accepted %q", prefix)
		}
		if u, err := url.Parse(prefix); err != nil || u.Hostname() == "weixin.qq.com" || strings.HasSuffix(u.Hostname(), ".weixin.qq.com") {
			t.Errorf("accepted %q (a weixin.qq.com or unparsable prefix)", prefix)
		}
	})
}

// FuzzParseQRCreate checks that qrcode/create's rules never panic and that what they accept is
// within WeChat's ranges.
func FuzzParseQRCreate(f *testing.F) {
	f.Add(`{"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":1}}}`)
	f.Add(`{"action_name":"QR_LIMIT_STR_SCENE","expire_seconds":9,"action_info":{"scene":{"scene_str":"字"}}}`)
	f.Add(`{"action_name":"QR_LIMIT_SCENE","action_info":{"scene":{"scene_id":100001}}}`)
	f.Add(`{"action_name":"QR_STR_SCENE","expire_seconds":99999999,"action_info":{}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req qrCreateRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		s, err := parseQRCreate(req)
		if err != nil {
			return
		}
		permanent := s.action == QRLimitScene || s.action == QRLimitStrScene
		switch {
		case permanent && s.expire != 0, !permanent && (s.expire < 1 || s.expire > QRMaxExpire):
			t.Errorf("%s accepted with expire %d", body, s.expire)
		case s.action == QRLimitScene && (s.sceneID < 1 || s.sceneID > QRPermanentMaxID):
			t.Errorf("%s accepted with scene_id %d", body, s.sceneID)
		case (s.action == QRScene || s.action == QRLimitScene) && s.sceneID == 0:
			t.Errorf("%s accepted with scene_id 0", body)
		case (s.action == QRStrScene || s.action == QRLimitStrScene) && (s.sceneStr == "" || len([]rune(s.sceneStr)) > QRSceneStrMax):
			t.Errorf("%s accepted with scene_str %q", body, s.sceneStr)
		}
	})
}
