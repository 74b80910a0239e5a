package queuemode

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/chatbench/chatbench/chat"
)

// A chain is the messages of one FIFO group that one receive returned, in
// order. SQS returns no further message of the group until every one of
// them is deleted (or its visibility timeout passes), so how fast a chain
// finishes is how fast its group drains. With GroupConcurrency 1 its
// messages run one after another; with more, their jobs run side by side
// and each event still waits for those of the messages before it, so what
// clients see is in the group's order either way. A chain stops at its
// first failure: that message and the rest are left for redelivery, their
// events unposted.

// runChain runs ms, one receive's messages of one group, in order,
// releasing each message's in-flight slot when it is done with.
func (w *Worker) runChain(ms []types.Message, hb *heartbeat) {
	var ahead []*result
	if w.cfg.GroupConcurrency > 1 && len(ms) > 1 {
		var wg sync.WaitGroup
		defer wg.Wait() // a chain that stopped early still owns its run-ahead
		stop := make(chan struct{})
		defer close(stop) // first: start no more of the messages left for redelivery
		ahead = w.runAhead(ms, &wg, stop)
	}
	for i, m := range ms {
		var ok bool
		if ahead == nil {
			ok = w.process(m)
		} else {
			ok = w.finish(m, ahead[i])
		}
		hb.done(1)
		if !ok {
			w.m.JobsInFlight.Sub(float64(len(ms) - i))
			w.release(len(ms) - i)
			return
		}
		w.m.JobsInFlight.Dec()
		w.release(1)
	}
}

// result is one message of a chain run ahead: ready closes when its jobs
// have run.
type result struct {
	ready chan struct{}
	p     *prepared     // nil: undecodable (left for the DLQ)
	evs   []*chat.Event // one per job, in p.jobs' order; short if one panicked
}

// runAhead runs the jobs of ms, at most GroupConcurrency messages at once,
// starting them in order until stop closes, without posting anything; wg
// owns the goroutines.
func (w *Worker) runAhead(ms []types.Message, wg *sync.WaitGroup, stop <-chan struct{}) []*result {
	out := make([]*result, len(ms))
	for i := range out {
		out[i] = &result{ready: make(chan struct{})}
	}
	free := make(chan struct{}, w.cfg.GroupConcurrency)
	wg.Go(func() {
		for i, m := range ms {
			select {
			case free <- struct{}{}:
			case <-stop:
				return
			}
			r := out[i]
			wg.Go(func() {
				defer func() { <-free }()
				defer close(r.ready)
				w.runAll(m, r)
			})
		}
	})
	return out
}

// runAll decodes m and runs its jobs into r.
func (w *Worker) runAll(m types.Message, r *result) {
	p, ok := w.prepare(m)
	if !ok {
		return
	}
	r.p = p
	for _, j := range p.jobs {
		ev, ok := w.runJob(j, p)
		if !ok {
			return
		}
		r.evs = append(r.evs, ev)
	}
}

// finish posts the events of a message run ahead, once they are ready, and
// deletes it; false when it is left for redelivery.
func (w *Worker) finish(m types.Message, r *result) bool {
	<-r.ready
	if r.p == nil || len(r.evs) < len(r.p.jobs) {
		return false
	}
	for i, j := range r.p.jobs {
		if !w.post(j, r.p, r.evs[i]) {
			return false
		}
	}
	return w.deleteProcessed(m, r.p)
}
