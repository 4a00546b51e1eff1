package push

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/citysandbox/citysandbox/sandbox/internal/store"
)

// Deliveries run off the request path. Deliver records a push as pending and hands it to the
// queue of its receiver (the scheme and host it is posted to); each queue runs at most
// Deps.Concurrency deliveries at a time, in the order they were asked for, so a receiver that
// hangs holds up its own deliveries and no one else's, and the request that caused a push is
// answered at once. Pushes in one lane (Target.Lane: about one user) to one receiver go one at
// a time, so an integrator sees that user's events in the order they happened (subscribe
// before the SCAN that follows it), as WeChat, which waits for each answer, delivers them. Wait reports when every queue is idle; Reset drops the work of a state that
// was reset, and Close cancels what is in flight, leaving the rest pending in the store for
// Resume to pick up at the next start.

// DefaultConcurrency is how many deliveries to one receiver run at once, unless Deps says
// otherwise.
const DefaultConcurrency = 4

// job is one delivery in a queue.
type job struct {
	// gen is the generation of the state the delivery belongs to (see Reset).
	gen      uint64
	delivery *Delivery
	target   Target
	prepared Prepared
	// lane names the user the push is about ("" for none): a receiver's pushes in one lane run
	// one at a time, in order.
	lane string
	// done, when set, is called with the settled record.
	done func(Delivery)
}

// receiverQueue holds the deliveries to one receiver not yet started, and counts those running.
type receiverQueue struct {
	jobs    []*job
	running int
	// busyLanes holds the lanes with a delivery running.
	busyLanes map[string]bool
}

// next takes the first job whose lane has nothing running, or returns nil.
func (rq *receiverQueue) next() *job {
	for i, j := range rq.jobs {
		if j.lane != "" && rq.busyLanes[j.lane] {
			continue
		}
		rq.jobs = slices.Delete(rq.jobs, i, i+1)
		if j.lane != "" {
			rq.busyLanes[j.lane] = true
		}
		return j
	}
	return nil
}

// queues is the Deliverer's part that runs deliveries. Its zero value is not usable; see
// newQueues.
type queues struct {
	mu     sync.Mutex
	byHost map[string]*receiverQueue
	// busy counts the deliveries queued or running; idle is closed when it falls to zero.
	busy int
	idle chan struct{}
	// gen grows with every Reset; ctx, cancelled by Reset and Close, carries the tries in flight.
	gen    uint64
	ctx    context.Context
	cancel context.CancelFunc
	closed bool
	// workers counts the goroutines running deliveries, which Close waits for.
	workers sync.WaitGroup
}

func newQueues() queues {
	ctx, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	return queues{byHost: map[string]*receiverQueue{}, idle: idle, ctx: ctx, cancel: cancel}
}

// receiverOf names the queue a push URL goes to.
func receiverOf(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return strings.ToLower(u.Scheme + "://" + u.Host)
	}
	return rawURL
}

// enqueue hands j to its receiver's queue, starting a worker if the queue has room for one.
func (d *Deliverer) enqueue(j *job) {
	q := &d.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return // left pending in the store: Resume sends it after the next start
	}
	j.gen = q.gen
	host := receiverOf(j.delivery.URL)
	rq := q.byHost[host]
	if rq == nil {
		rq = &receiverQueue{busyLanes: map[string]bool{}}
		q.byHost[host] = rq
	}
	rq.jobs = append(rq.jobs, j)
	if q.busy == 0 {
		q.idle = make(chan struct{})
	}
	q.busy++
	if rq.running < d.deps.Concurrency {
		rq.running++
		q.workers.Add(1)
		go d.work(host, rq)
	}
}

// work runs the deliveries of one receiver's queue until it is empty.
func (d *Deliverer) work(host string, rq *receiverQueue) {
	q := &d.q
	defer q.workers.Done()
	for {
		q.mu.Lock()
		var j *job
		if !q.closed {
			j = rq.next()
		}
		if j == nil {
			// Nothing left, or only jobs waiting behind a running one of their lane, whose
			// worker takes them next.
			rq.running--
			if rq.running == 0 && q.byHost[host] == rq {
				delete(q.byHost, host)
			}
			q.mu.Unlock()
			return
		}
		ctx, current := q.ctx, j.gen == q.gen
		q.mu.Unlock()
		if current {
			d.run(ctx, j)
		}
		q.mu.Lock()
		delete(rq.busyLanes, j.lane)
		d.settled()
		q.mu.Unlock()
	}
}

// settled counts one delivery out of the busy ones. Called with q.mu held.
func (d *Deliverer) settled() {
	q := &d.q
	q.busy--
	if q.busy == 0 {
		close(q.idle)
	}
}

// run makes the tries of j, recording each, until one is delivered, the tries are spent, or
// ctx ends (a reset or a shutdown), which leaves the record as it was before the cut try.
func (d *Deliverer) run(ctx context.Context, j *job) {
	dl := j.delivery
	for n := len(dl.Tries) + 1; n <= d.deps.Tries; n++ {
		if n > 1 && d.deps.RetryDelay > 0 {
			select {
			case <-time.After(d.deps.RetryDelay):
			case <-ctx.Done():
				return
			}
		}
		try, ok, latency := d.try(ctx, j.target, j.prepared, n)
		if ctx.Err() != nil {
			return
		}
		dl.Tries = append(dl.Tries, try)
		dl.Answer = try.Answer
		switch {
		case ok:
			dl.Status = StatusDelivered
		case n == d.deps.Tries:
			dl.Status = StatusFailed
		}
		d.logTry(j.target, dl, try, latency)
		kept, err := d.record(j)
		if err != nil || !kept {
			if err != nil {
				d.journalFailure(dl, err)
			}
			return
		}
		if ok {
			break
		}
	}
	if j.done != nil && dl.Status != StatusPending {
		j.done(*dl)
	}
}

// record writes j's record after a try, unless the state it belongs to was reset since or the
// record was forgotten meanwhile; it reports whether it wrote. The write happens under the
// queues' lock, so that a reset never sees it land in the state that replaced the old one.
func (d *Deliverer) record(j *job) (bool, error) {
	q := &d.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if j.gen != q.gen {
		return false, nil
	}
	key := d.deliveryPrefix() + j.delivery.ID
	kept := false
	err := d.deps.Store.Update(func(tx *store.Tx) error {
		has, err := tx.Has(key)
		if err != nil || !has {
			return err
		}
		kept = true
		return tx.Put(key, d.stored(j.delivery))
	})
	if err != nil {
		return false, fmt.Errorf("push: record try: %w", err)
	}
	return kept, nil
}

// Wait returns once no delivery is queued or running, or with ctx's error when ctx ends first.
func (d *Deliverer) Wait(ctx context.Context) error {
	for {
		d.q.mu.Lock()
		busy, idle := d.q.busy, d.q.idle
		d.q.mu.Unlock()
		if busy == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Busy returns how many deliveries are queued or running.
func (d *Deliverer) Busy() int {
	d.q.mu.Lock()
	defer d.q.mu.Unlock()
	return d.q.busy
}

// Reset drops every delivery queued and cancels those in flight, as a reset of the state that
// holds their records must: none of them writes to the new state. The latencies kept beside the
// records are dropped too, since ids start again at 1.
func (d *Deliverer) Reset() {
	q := &d.q
	q.mu.Lock()
	defer q.mu.Unlock()
	q.gen++
	q.cancel()
	q.ctx, q.cancel = context.WithCancel(context.Background())
	for _, rq := range q.byHost {
		for range rq.jobs {
			d.settled()
		}
		rq.jobs = nil
	}
	d.latencies.Clear()
}

// Close stops delivering: the tries in flight are cancelled (and not recorded), the deliveries
// still queued stay pending in the store, and Close returns once every worker has stopped. Call
// it before closing the store; Deliver after Close records pushes without sending them.
func (d *Deliverer) Close() {
	q := &d.q
	q.mu.Lock()
	q.closed = true
	q.cancel()
	q.mu.Unlock()
	q.workers.Wait()
}

// Resume queues the deliveries the store holds as pending (a shutdown or a crash came before
// they were settled), in id order, so that a push the sandbox accepted is still made.
func (d *Deliverer) Resume() error {
	var pending []*Delivery
	err := d.deps.Store.View(func(tx *store.Tx) error {
		return store.Each(tx, d.deliveryPrefix(), func(_ string, dl *Delivery) error {
			if dl.Status == StatusPending {
				pending = append(pending, dl)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("push: resume: %w", err)
	}
	for _, dl := range pending {
		t := Target{AppID: dl.AppID, URL: dl.URL, Format: dl.Format, Mode: dl.Mode, RequireSuccess: dl.RequireSuccess}
		d.enqueue(&job{delivery: dl, target: t, prepared: Prepared{URL: dl.URL, Body: []byte(dl.Body), ContentType: contentType(dl.Format)}})
	}
	return nil
}
