package driver

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/chatbench/chatbench/bench/ledger"
)

// StatusLine is an optional ability of Config.Progress: a stream shared
// with log output that keeps one status line below the log lines
// (internal/obs.Console is one). When Progress has it, the bar is drawn
// with SetStatus, so a log record written meanwhile lands above the bar
// instead of inside it. Without it the bar is drawn in place with a
// carriage return, and only a stream nobody else writes to stays tidy.
type StatusLine interface {
	SetStatus(line string) // "" removes the status line
}

// Phases of a replay, as its progress names them.
const (
	phaseSending  = "sending"  // the schedule is being sent
	phaseDraining = "draining" // everything is sent; outstanding deliveries are awaited
	phaseDone     = "done"
)

// How often progress is shown: the bar is redrawn every barEvery, lines
// are written every lineEvery (and at each change of phase).
const (
	barEvery  = 250 * time.Millisecond
	lineEvery = 5 * time.Second
)

// progress shows a replay's progress on Config.Progress: the label, the
// phase, how far it is, and when it will end. The sending phase's ETA is
// the instant the schedule's last message is due — the replay is open
// loop, so it is known exactly, where a rate-based estimate would swing
// with the trace's bursts. The drain phase counts the deliveries still
// outstanding, and its deadline.
type progress struct {
	cfg   *Config
	s     *scheduler
	total int       // messages to send
	end   time.Time // when the last of them is due

	drainC  chan struct{} // closed when the drain begins
	drainAt time.Time     // set before drainC is closed
	atDrain int           // deliveries outstanding when the drain began
}

func newProgress(cfg *Config, s *scheduler, sch *schedule) *progress {
	return &progress{cfg: cfg, s: s, total: len(sch.recs), end: s.start.Add(sch.span), drainC: make(chan struct{})}
}

// draining marks the start of the drain, with outstanding deliveries
// awaited. Call it once, after the last send.
func (p *progress) draining(outstanding int) {
	p.drainAt, p.atDrain = time.Now(), outstanding
	close(p.drainC)
}

// snapshot is what progress shows at one instant.
type snapshot struct {
	label       string
	phase       string
	sent, total int
	left        time.Duration // sending: until the last message is due; draining: until the drain's deadline
	outstanding int           // deliveries outstanding now
	atDrain     int           // and when the drain began
	st          ledger.Stats
	lag         time.Duration // schedule lag p99 so far
}

func (p *progress) snap(phase string, now time.Time) snapshot {
	label := p.cfg.Label
	if label == "" {
		label = p.cfg.Path
	}
	sn := snapshot{label: label, phase: phase, sent: int(p.s.sent.Load()), total: p.total,
		st: p.s.led.Stats(), lag: p.s.lagP99()}
	sn.outstanding = sn.st.Outstanding
	switch phase {
	case phaseSending:
		sn.left = max(0, p.end.Sub(now))
	case phaseDraining: // only once drainC is closed: drainAt and atDrain are set
		sn.atDrain, sn.left = p.atDrain, max(0, p.drainAt.Add(p.cfg.Drain).Sub(now))
	}
	return sn
}

// phase returns the phase the replay is in until ctx ends.
func (p *progress) phase() string {
	select {
	case <-p.drainC:
		return phaseDraining
	default:
		return phaseSending
	}
}

// run shows progress until ctx ends, then a last line with the totals: a
// bar when Config.TTY is set, else a line every lineEvery and at the
// start of the drain.
func (p *progress) run(ctx context.Context) {
	if p.cfg.TTY {
		p.bar(ctx)
	} else {
		p.lines(ctx)
	}
	fmt.Fprintln(p.cfg.Progress, p.snap(phaseDone, time.Now()).line())
}

func (p *progress) lines(ctx context.Context) {
	t := time.NewTicker(lineEvery)
	defer t.Stop()
	drain := p.drainC
	for {
		select {
		case <-ctx.Done():
			return
		case <-drain:
			drain = nil // once
		case <-t.C:
		}
		fmt.Fprintln(p.cfg.Progress, p.snap(p.phase(), time.Now()).line())
	}
}

func (p *progress) bar(ctx context.Context) {
	draw := func(line string) { fmt.Fprint(p.cfg.Progress, "\r"+line+"\x1b[K") }
	erase := func() { fmt.Fprint(p.cfg.Progress, "\r\x1b[K") }
	if sl, ok := p.cfg.Progress.(StatusLine); ok {
		draw, erase = sl.SetStatus, func() { sl.SetStatus("") }
	}
	defer erase()
	bars := map[string]*progressbar.ProgressBar{}
	t := time.NewTicker(barEvery)
	defer t.Stop()
	for {
		sn := p.snap(p.phase(), time.Now())
		b := bars[sn.phase]
		if b == nil {
			b = newBar(sn.barMax(), sn.phase == phaseSending)
			bars[sn.phase] = b
		}
		draw(sn.barLine(b))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// newBar returns a bar of max steps that renders into a string (the
// stream is drawn by progress, which owns the line), optionally with the
// count.
func newBar(steps int, count bool) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(io.Discard), progressbar.OptionSetWidth(24),
		progressbar.OptionSetTheme(progressbar.ThemeASCII),
		progressbar.OptionSetPredictTime(false), progressbar.OptionSetElapsedTime(false),
	}
	if count {
		opts = append(opts, progressbar.OptionShowCount())
	}
	return progressbar.NewOptions(max(steps, 1), opts...) // never -1: that starts a spinner goroutine
}

// barMax is the number of steps of the phase's bar: messages to send, or
// deliveries outstanding when the drain began.
func (sn snapshot) barMax() int {
	if sn.phase == phaseDraining {
		return sn.atDrain
	}
	return sn.total
}

// barLine renders the snapshot as one status line with b at its place.
func (sn snapshot) barLine(b *progressbar.ProgressBar) string {
	n := sn.sent
	if sn.phase == phaseDraining {
		n = sn.atDrain - sn.outstanding
	}
	_ = b.Set(max(0, min(n, sn.barMax())))
	bar := strings.TrimSpace(strings.TrimPrefix(b.String(), "\r"))
	switch sn.phase {
	case phaseDraining:
		if sn.outstanding == 0 {
			return fmt.Sprintf("%s  draining %s  every delivery in", sn.label, bar)
		}
		return fmt.Sprintf("%s  draining %s  waiting for %d of %d deliveries · ≤%s left · delivered %d lost %d",
			sn.label, bar, sn.outstanding, max(sn.atDrain, sn.outstanding), round(sn.left), sn.st.Delivered, sn.st.Lost)
	default:
		return fmt.Sprintf("%s  sending %s  ETA %s · acked %d delivered %d lost %d · lag p99 %s",
			sn.label, bar, round(sn.left), sn.st.Acked, sn.st.Delivered, sn.st.Lost, sn.lag)
	}
}

// line renders the snapshot as one plain line.
func (sn snapshot) line() string {
	switch sn.phase {
	case phaseSending:
		return fmt.Sprintf("%s: sending %d/%d (%d%%), last message due in %s; acked %d, delivered %d, lost %d, lag p99 %s",
			sn.label, sn.sent, sn.total, percent(sn.sent, sn.total), round(sn.left), sn.st.Acked, sn.st.Delivered, sn.st.Lost, sn.lag)
	case phaseDraining:
		if sn.outstanding == 0 {
			return fmt.Sprintf("%s: draining: every delivery in; delivered %d, lost %d", sn.label, sn.st.Delivered, sn.st.Lost)
		}
		return fmt.Sprintf("%s: draining: waiting for %d of the %d deliveries outstanding at the last send, at most %s more; delivered %d, lost %d",
			sn.label, sn.outstanding, max(sn.atDrain, sn.outstanding), round(sn.left), sn.st.Delivered, sn.st.Lost)
	}
	return fmt.Sprintf("%s: done: sent %d/%d, acked %d, delivered %d, lost %d, dup %d; lag p99 %s",
		sn.label, sn.sent, sn.total, sn.st.Acked, sn.st.Delivered, sn.st.Lost, sn.st.Duplicates, sn.lag)
}

func percent(n, of int) int {
	if of <= 0 {
		return 100
	}
	return 100 * n / of
}

// round rounds d for a person: whole seconds, tenths under ten seconds.
func round(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
