package driver

import (
	"context"
	"fmt"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/chatbench/chatbench/bench/ledger"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
)

// Run replays cfg.Records against cfg.Target and returns what it measured.
// When ctx ends the replay stops promptly; what was measured is returned
// together with ctx's error.
func Run(ctx context.Context, cfg Config) (*results.Path, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	sch, err := cfg.schedule()
	if err != nil {
		return nil, err
	}
	cast := castOf(sch.recs)
	log := cfg.Logger
	log.Info("connecting", "targets", cfg.Targets, "participants", len(cast.peers), "messages", len(sch.recs))
	connect := results.NewHDR()
	if err := connectAll(ctx, &cfg, cast.peers, connect); err != nil {
		closeAll(cast.peers)
		return nil, err
	}
	led, err := planLedger(&cfg, sch, cast.roles)
	if err != nil {
		closeAll(cast.peers)
		return nil, err
	}
	start := time.Now().Add(20 * time.Millisecond) // a moment to start the readers and senders
	led.Begin(start, sch.warm)
	s := newScheduler(ctx, &cfg, led, cast.byUser, start, sch.warm)
	defer s.cancelDial()
	w := s.startWorkers(ctx, cast.peers, sch)
	log.Info("replaying", "speed", cfg.Speed, "span", sch.span, "warmup", sch.warm)
	s.runAll(ctx, sch.recs, cfg.Senders)
	lastSend := s.lastSent() // held leaves may still be sent later; this ends the schedule
	outstanding := led.Outstanding()
	log.Info("draining", "outstanding", outstanding, "deadline", cfg.Drain)
	w.prog.draining(outstanding)
	s.drain(ctx)
	end := time.Now()
	w.stop(s, cast.peers)
	p, err := s.results(end, lastSend, connect)
	if err != nil {
		return nil, err
	}
	st := led.Stats()
	log.Info("replay done", "sent", st.Sent, "acked", st.Acked, "delivered", st.Delivered, "lost", st.Lost,
		"duplicates", st.Duplicates, "unexpected", st.Unexpected, "lag_p99_us", p.ScheduleLag.P99,
		"sender_cpu_ms", p.Driver.SenderCPUMs, "sender_runqueue_ms", p.Driver.SenderRunQueueMs, "untrusted", p.Driver.Untrusted)
	return p, ctx.Err()
}

// cast is a replay's participants, in order of their first message.
type cast struct {
	peers  []*peer
	byUser map[string]*peer
	roles  map[string]chat.Role
}

func castOf(recs []trace.Record) *cast {
	c := &cast{byUser: map[string]*peer{}, roles: map[string]chat.Role{}}
	for _, r := range recs {
		if c.byUser[r.User] == nil {
			p := &peer{user: r.User, role: r.Role}
			c.byUser[r.User] = p
			c.peers = append(c.peers, p)
			c.roles[r.User] = r.Role
		}
	}
	return c
}

// planLedger returns a ledger with every message of sch planned.
func planLedger(cfg *Config, sch *schedule, roles map[string]chat.Role) (*ledger.Ledger, error) {
	lcfg := ledger.Config{Catalog: cfg.Catalog, Roles: roles}
	if cfg.Path == PathEcho {
		lcfg.Expect = ledger.EchoExpect
	}
	led, err := ledger.New(lcfg)
	if err != nil {
		return nil, fmt.Errorf("driver: %w", err)
	}
	for _, r := range sch.recs {
		if !led.Expect(r.User, r.ID, r.Conv, r.Type, r.Role, cfg.at(r)) {
			return nil, fmt.Errorf("driver: message id %q of user %s appears twice: ids must be unique per user (run `chatbench trace validate`)", r.ID, r.User)
		}
	}
	return led, nil
}

// workers are the goroutines a replay runs beside its senders: the
// readers (the poller, and a goroutine per connection it does not read),
// the releases of held messages, the retries and the progress output.
type workers struct {
	readers      sync.WaitGroup
	poll         *poller // nil: a goroutine reads each connection
	progress     sync.WaitGroup
	stopProgress context.CancelFunc
	prog         *progress
}

// startWorkers starts the readers of peers, the retries (unless resending
// is off) and the progress output (if configured) of a replay of sch.
func (s *scheduler) startWorkers(ctx context.Context, peers []*peer, sch *schedule) *workers {
	w := &workers{prog: newProgress(s.cfg, s, sch)}
	if !s.cfg.GoroutineReaders {
		var err error
		if w.poll, err = newPoller(s.frame, s.releaseIfHeld, s.cfg.Logger); err != nil {
			s.cfg.Logger.Debug("a goroutine reads each connection", "why", err)
		}
	}
	polled := 0
	for _, p := range peers {
		if w.poll != nil && w.poll.add(p) {
			polled++
			continue
		}
		w.readers.Go(func() { s.read(p) })
	}
	if w.poll != nil {
		// A connection that ends leaves the poller; its reconnect, and
		// the reading after it, are a goroutine's (read.go).
		w.readers.Go(func() {
			w.poll.run(func(p *peer, err error, lastRefused string) {
				w.readers.Go(func() {
					if ws := s.ended(p, err, lastRefused); ws != nil {
						s.readFrom(p, ws)
					}
				})
			})
		})
	}
	s.cfg.Logger.Debug("readers", "polled", polled, "goroutines", len(peers)-polled)
	w.readers.Go(s.runReleases)
	if !s.cfg.NoResend {
		w.readers.Go(s.runRetries)
	}
	progCtx, stop := context.WithCancel(ctx)
	w.stopProgress = stop
	if s.cfg.Progress != nil {
		w.progress.Go(func() { w.prog.run(progCtx) })
	}
	return w
}

// stop ends the workers, once the ledger is finished: the progress output,
// then the readers (no more reconnects, every connection closed).
func (w *workers) stop(s *scheduler, peers []*peer) {
	w.stopProgress()
	w.progress.Wait()
	close(s.stop) // readers stop reconnecting
	s.cancelDial()
	if w.poll != nil {
		w.poll.stop()
	}
	closeAll(peers)
	w.readers.Wait()
}

// drain waits, after the last send, until nothing is outstanding, Drain
// has passed or ctx ended, and then finishes the ledger.
func (s *scheduler) drain(ctx context.Context) {
	if ctx.Err() == nil {
		t := time.NewTimer(s.cfg.Drain)
		select {
		case <-s.led.Idle():
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	s.led.Finish()
}

// results returns the path's results: the ledger's, and the scheduler's
// counters, rate, schedule lag and connect times.
func (s *scheduler) results(end, lastSend time.Time, connect *hdrhistogram.Histogram) (*results.Path, error) {
	// The measured part starts after the warm-up.
	p := &results.Path{Name: s.cfg.Path, Target: s.cfg.Target, Start: s.warmEnd, End: end}
	if err := s.led.Fill(p); err != nil {
		return nil, err
	}
	p.Messages.Scheduled = int(s.scheduled.Load())
	p.Messages.HeldLeaves = int(s.heldTotal.Load())
	p.Messages.Resent = int(s.resent.Load())
	p.Messages.Reconnects = int(s.reconnects.Load())
	p.Messages.Replayed = int(s.replayed.Load())
	p.Messages.ResumeGaps = int(s.resumeGaps.Load())
	p.Messages.Retried = int(s.retried.Load())
	p.SenderNice = s.nice
	if measured := lastSend.Sub(p.Start).Seconds(); measured > 0 {
		p.Messages.PerSecond = float64(p.Messages.Sent-p.Messages.Warmup) / measured
	}
	var err error
	s.mu.Lock()
	p.ScheduleLag, err = results.FromHDR(s.lag)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if p.Connect, err = results.FromHDR(connect); err != nil {
		return nil, err
	}
	p.Components = []results.Component{}
	p.Driver = &results.DriverSelf{Senders: s.cfg.Senders,
		SenderCPUMs:      float64(s.senderCPU.Load()) / 1e6,
		SenderRunQueueMs: float64(s.senderWait.Load()) / 1e6,
		Untrusted:        p.Untrusted()}
	return p, nil
}
