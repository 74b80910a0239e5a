package driver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/chatbench/chatbench/bench/ledger"
	"github.com/chatbench/chatbench/bench/results"
)

// scheduler sends the records open loop, split among Config.Senders
// goroutines by user (so each user's messages keep their order).
type scheduler struct {
	cfg   *Config
	led   *ledger.Ledger
	peers map[string]*peer
	start time.Time

	warmEnd   time.Time // messages scheduled before it are not in lag
	sent      atomic.Int64
	scheduled atomic.Int64

	mu       sync.Mutex // guards lag (read by progress) and lastSend
	lag      *hdrhistogram.Histogram
	lastSend time.Time

	heldMu      sync.Mutex
	held        map[heldKey][]*planned // held leaves, and what waits behind them (hold.go)
	heldNow     atomic.Int64           // messages in held, read without the lock
	heldTotal   atomic.Int64           // leaves ever held
	releaseWake chan struct{}          // a reader asks runReleases to release

	stop       chan struct{}      // closed when the replay ends: no more reconnects
	dialCtx    context.Context    // cancelled with stop
	cancelDial context.CancelFunc // cancels dialCtx
	resent     atomic.Int64       // frames resent after a reconnect
	reconnects atomic.Int64       // connections re-established
	replayed   atomic.Int64       // events replayed to re-joins, as their acks said
	resumeGaps atomic.Int64       // re-joins whose ack reported a gap

	niceOnce   sync.Once
	nice       int          // the senders' nice value (pinThread)
	senderCPU  atomic.Int64 // ns the sender threads ran, summed (threadTimes)
	senderWait atomic.Int64 // ns they waited for a CPU, runnable

	retryMu   sync.Mutex
	retries   retryHeap     // refused frames waiting to be sent again (retry.go)
	retryWake chan struct{} // a new retry may be due sooner
	retried   atomic.Int64  // refusals answered by a retry
}

// newScheduler returns the state of a replay of cfg through led to peers
// (by user), starting at start, with a warm-up of warm. Its dialCtx ends
// with ctx or cancelDial.
func newScheduler(ctx context.Context, cfg *Config, led *ledger.Ledger, peers map[string]*peer, start time.Time, warm time.Duration) *scheduler {
	s := &scheduler{cfg: cfg, led: led, peers: peers, start: start, warmEnd: start.Add(warm), lag: results.NewHDR(),
		stop: make(chan struct{}), retryWake: make(chan struct{}, 1), releaseWake: make(chan struct{}, 1)}
	s.dialCtx, s.cancelDial = context.WithCancel(ctx)
	return s
}

// lastSent returns the instant of the last send so far.
func (s *scheduler) lastSent() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSend
}

func (s *scheduler) lagP99() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Duration(s.lag.ValueAtQuantile(99)) * time.Microsecond
}
