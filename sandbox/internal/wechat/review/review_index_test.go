package review

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/clock"
	"github.com/citysandbox/citysandbox/sandbox/internal/fixture"
	"github.com/citysandbox/citysandbox/sandbox/internal/seeded"
	"github.com/citysandbox/citysandbox/sandbox/internal/store"
	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// reviewWorld is a bare WeChat platform (no HTTP) with one mini program, for the review index's
// own tests and benchmarks.
type reviewWorld struct {
	p     *Emulator
	clock *clock.Controllable
	app   *wechat.App
}

func newReviewWorld(tb testing.TB) *reviewWorld {
	tb.Helper()
	st, err := store.Open(store.Memory, store.SyncEverySecond)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return newReviewWorldOn(tb, st)
}

func newReviewWorldOn(tb testing.TB, st *store.Store) *reviewWorld {
	clk := clock.NewFrozen(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
	rnd, faker := seeded.New(3), fixture.NewFaker(3)
	wx, err := wechat.New(wechat.Deps{Store: st, Clock: clk, Rand: rnd, Faker: faker})
	if err != nil {
		tb.Fatal(err)
	}
	p := New(Deps{Store: st, Clock: clk, Rand: rnd, Faker: faker, WeChat: wx})
	app, err := wx.CreateApp(wechat.AppSpec{Type: wechat.TypeMiniProgram, Name: "测试小程序"})
	if err != nil {
		tb.Fatal(err)
	}
	return &reviewWorld{p: p, clock: clk, app: app}
}

// post posts n reviews one by one, a minute apart.
func (w *reviewWorld) post(tb testing.TB, n int) []*Review {
	var out []*Review
	for range n {
		res, err := w.p.PostReviews(context.Background(), ReviewSpec{AppID: w.app.AppID})
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, res.Reviews...)
		w.clock.Advance(time.Minute)
	}
	return out
}

// mutate moves some reviews between filters: comments, compromises, revisions.
func (w *reviewWorld) mutate(tb testing.TB, reviews []*Review, rng *rand.Rand) {
	err := w.p.deps.Store.Update(func(tx *store.Tx) error {
		for _, r0 := range reviews {
			var r Review
			if _, err := tx.Get(reviewKey(r0.CommentID), &r); err != nil {
				return err
			}
			err := updateReview(tx, &r, func(r *Review) error {
				switch rng.IntN(4) {
				case 0:
					if r.Reply == nil {
						r.Reply = &ReviewReply{ReplyID: "1", Content: "谢谢"}
					} else {
						r.Reply = nil
					}
				case 1:
					if r.Negative && r.Compromise == nil {
						r.Compromise = &Compromise{Content: "退款", At: 1}
						if rng.IntN(2) == 0 {
							w.p.revise(r, 2, 1+rng.IntN(5), "改评")
						}
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// bruteForce lists a filter by reading every review: the specification the index must meet.
func (w *reviewWorld) bruteForce(tb testing.TB, f int, start, end int64) []string {
	var all []Review
	err := w.p.deps.Store.View(func(tx *store.Tx) error {
		return tx.AscendPrefix("wechat:review:c:", func(_, v string) bool {
			var r Review
			if err := json.Unmarshal([]byte(v), &r); err != nil {
				tb.Fatal(err)
			}
			all = append(all, r)
			return true
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	slices.SortFunc(all, func(a, b Review) int { return int(b.Seq - a.Seq) })
	var out []string
	for _, r := range all {
		if r.filters()[f] && r.CreateTime >= start && r.CreateTime <= end {
			out = append(out, r.CommentID)
		}
	}
	return out
}

func (w *reviewWorld) page(tb testing.TB, f int, start, end int64, offset, limit int) (int64, []string) {
	var total int64
	var ids []string
	err := w.p.deps.Store.View(func(tx *store.Tx) error {
		t, page, err := listReviews(tx, w.app.AppID, f, start, end, offset, limit)
		total = t
		for _, r := range page {
			ids = append(ids, r.CommentID)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return total, ids
}

func TestReviewIndexMatchesBruteForce(t *testing.T) {
	t.Parallel()
	w := newReviewWorld(t)
	reviews := w.post(t, 120)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 3 {
		w.mutate(t, reviews, rng)
		first, last := reviews[0].CreateTime, reviews[len(reviews)-1].CreateTime
		ranges := [][2]int64{{0, 1 << 40}, {first + 600, last - 600}, {first, first}, {last + 1, last + 100}}
		for f := 1; f <= reviewFilters; f++ {
			for _, rg := range ranges {
				want := w.bruteForce(t, f, rg[0], rg[1])
				for _, limit := range []int{1, 7, 100} {
					var got []string
					for off := 0; ; off += limit {
						total, ids := w.page(t, f, rg[0], rg[1], off, limit)
						if total != int64(len(want)) {
							t.Fatalf("round %d filter %d range %v: total %d, want %d", round, f, rg, total, len(want))
						}
						if len(ids) == 0 {
							break
						}
						got = append(got, ids...)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("round %d filter %d range %v limit %d: paged %v, want %v", round, f, rg, limit, got, want)
					}
				}
			}
		}
	}
}

var (
	benchOnce  sync.Once
	benchWorld *reviewWorld
)

// setupBench builds, once per test binary, 10,000 reviews of one mini program, posted a minute
// apart, with comments, compromises and revisions spread over them. Its in-memory store is shared
// by the benchmarks and never closed.
func setupBench(b *testing.B) *reviewWorld {
	benchOnce.Do(func() {
		st, err := store.Open(store.Memory, store.SyncEverySecond)
		if err != nil {
			b.Fatal(err)
		}
		benchWorld = newReviewWorldOn(b, st)
		reviews := benchWorld.post(b, 10000)
		benchWorld.mutate(b, reviews, rand.New(rand.NewPCG(5, 6)))
	})
	return benchWorld
}

// BenchmarkReviewListPage lists one page of 8 at several offsets into 10,000 reviews of one
// mini program, for each filterType: the time per page should not grow with the offset.
func BenchmarkReviewListPage(b *testing.B) {
	w := setupBench(b)
	for f := 1; f <= reviewFilters; f++ {
		total, _ := w.page(b, f, 0, 1<<40, 0, 8)
		for _, at := range []float64{0, 0.5, 1} {
			off := int(float64(total-8) * at)
			b.Run(fmt.Sprintf("filter=%d/total=%d/offset=%d", f, total, off), func(b *testing.B) {
				for b.Loop() {
					if _, ids := w.page(b, f, 0, 1<<40, off, 8); len(ids) != 8 {
						b.Fatalf("page at %d has %d reviews", off, len(ids))
					}
				}
			})
		}
	}
}

// BenchmarkReviewListToEnd pages through each filterType of 10,000 reviews, 8 at a time, and
// reports the cost per page.
func BenchmarkReviewListToEnd(b *testing.B) {
	w := setupBench(b)
	for f := 1; f <= reviewFilters; f++ {
		b.Run(fmt.Sprintf("filter=%d", f), func(b *testing.B) {
			pages := 0
			for b.Loop() {
				for off := 0; ; off += 8 {
					_, ids := w.page(b, f, 0, 1<<40, off, 8)
					if len(ids) == 0 {
						break
					}
					pages++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pages), "ns/page")
		})
	}
}

// BenchmarkReviewListScanBaseline is what a page costs without the index: reading and filtering
// every review (the brute-force specification above), for comparison with BenchmarkReviewListPage.
func BenchmarkReviewListScanBaseline(b *testing.B) {
	w := setupBench(b)
	for b.Loop() {
		if ids := w.bruteForce(b, 6, 0, 1<<40); len(ids) != 10000 {
			b.Fatalf("scan found %d reviews", len(ids))
		}
	}
}
