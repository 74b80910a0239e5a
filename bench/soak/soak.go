// Package soak holds many authenticated WebSocket connections open against a
// chat server for a while — a few of them sending a light mix of messages,
// the rest idle — and checks that the server's goroutines and memory come
// back near their baseline once the connections have closed.
//
// The server is observed through a Sampler: by default its Prometheus
// /metrics (go_goroutines, process_resident_memory_bytes,
// process_cpu_seconds_total).
package soak

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/chat"
)

// Sample is one observation of the server.
type Sample struct {
	// At is when the sample was taken.
	At time.Time
	// Goroutines is the server's goroutine count.
	Goroutines int
	// RSS is the server's resident memory in bytes (0 = unknown).
	RSS int64
	// CPUSeconds is the server's total CPU time so far (0 = unknown).
	CPUSeconds float64
}

// Sampler observes the server.
type Sampler func(ctx context.Context) (Sample, error)

// MetricsSampler returns a Sampler that scrapes a Prometheus text /metrics
// endpoint at url for go_goroutines, process_resident_memory_bytes and
// process_cpu_seconds_total.
func MetricsSampler(url string) Sampler {
	client := &http.Client{Timeout: 5 * time.Second}
	return func(ctx context.Context) (Sample, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return Sample{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return Sample{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return Sample{}, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
		}
		return parseMetrics(resp.Body, time.Now())
	}
}

func parseMetrics(r io.Reader, at time.Time) (Sample, error) {
	s := Sample{At: at}
	seen := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_goroutines":
			s.Goroutines, seen = int(f), true
		case "process_resident_memory_bytes":
			s.RSS = int64(f)
		case "process_cpu_seconds_total":
			s.CPUSeconds = f
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if !seen {
		return s, errors.New("soak: /metrics has no go_goroutines")
	}
	return s, nil
}

// Defaults of Config's thresholds (see docs/reliability.md, "Soak").
const (
	// DefaultGoroutineMargin is how many goroutines above the baseline
	// still count as back at baseline.
	DefaultGoroutineMargin = 10
	// DefaultRSSMargin is how many bytes of resident memory above the
	// baseline always count as back near baseline.
	DefaultRSSMargin = 64 << 20
	// DefaultRSSFraction is the share of the peak's growth over the
	// baseline that may remain resident after the settle: the Go runtime
	// returns freed memory to the OS gradually.
	DefaultRSSFraction = 0.25
)

// Config configures a soak.
type Config struct {
	// Target is the server's WebSocket URL, e.g. ws://127.0.0.1:8080/ws.
	Target string
	// Secret signs the users' bearer tokens.
	Secret []byte
	// Sampler observes the server (required).
	Sampler Sampler
	// Conns is the number of connections held (even; pairs share a
	// conversation). Each is a distinct user.
	Conns int
	// Active is how many of them send (the rest only read and answer pings).
	Active int
	// Duration is how long all connections are held.
	Duration time.Duration
	// Rate is the total messages per second sent across the active
	// connections: a mix of typing, read and text.
	Rate float64
	// Every is the sampling interval while connections are held. Zero
	// means 5s.
	Every time.Duration
	// Settle is the deadline for goroutines and memory to come back after
	// the connections closed. Zero means 3 minutes.
	Settle time.Duration
	// GoroutineMargin: zero means DefaultGoroutineMargin.
	GoroutineMargin int
	// RSSMargin: zero means DefaultRSSMargin; negative skips the memory
	// check (e.g. an in-process server, whose RSS is shared).
	RSSMargin int64
	// RSSFraction: zero means DefaultRSSFraction.
	RSSFraction float64
	// ConnectParallel bounds connection attempts in flight. Zero means 32.
	ConnectParallel int
	// Progress receives a line per sample (nil = none).
	Progress io.Writer
}

// Report is what a soak measured.
type Report struct {
	// Conns and Active repeat the configuration; Opened is how many
	// connections were established and joined.
	Conns, Active, Opened int
	// Held is how long all connections were held.
	Held time.Duration
	// Baseline is before connecting, Peak the largest values while held
	// (per field), After the last sample of the settle.
	Baseline, Peak, After Sample
	// SettleTime is how long after the close the server took to come back
	// (or the deadline, when it did not).
	SettleTime time.Duration
	// Sent, Received and Errors count frames: sent by the active
	// connections, received by all, and error frames or failed writes.
	Sent, Received, Errors int64
	// SampleErrors counts failed samples while connections were held.
	SampleErrors int
	// Disconnects counts connections that ended before the driver closed
	// them.
	Disconnects int64
	// DriverBytesPerConn is the driver's heap in use plus stacks per
	// connection while held.
	DriverBytesPerConn float64
	// DriverCPUSeconds and DriverPeakRSS are the driver process's.
	DriverCPUSeconds float64
	// DriverPeakRSS is the driver process's peak resident memory (bytes).
	DriverPeakRSS int64
	// ServerCPUSeconds is the server's CPU time between Baseline and After.
	ServerCPUSeconds float64
	// GoroutinesOK and MemoryOK say whether the server came back near its
	// baseline; GoroutineLimit and RSSLimit are the thresholds used.
	GoroutinesOK, MemoryOK bool
	// GoroutineLimit is baseline + margin.
	GoroutineLimit int
	// RSSLimit is baseline + max(margin, fraction × growth); -1 = unchecked.
	RSSLimit int64
}

// OK reports whether goroutines and memory came back and no connection
// was lost.
func (r *Report) OK() bool { return r.GoroutinesOK && r.MemoryOK && r.Disconnects == 0 }

// ServerBytesPerConn is the server's resident memory growth per
// connection at the peak.
func (r *Report) ServerBytesPerConn() float64 {
	if r.Opened == 0 {
		return 0
	}
	return float64(r.Peak.RSS-r.Baseline.RSS) / float64(r.Opened)
}

// ServerGoroutinesPerConn is the server's goroutine growth per connection
// at the peak.
func (r *Report) ServerGoroutinesPerConn() float64 {
	if r.Opened == 0 {
		return 0
	}
	return float64(r.Peak.Goroutines-r.Baseline.Goroutines) / float64(r.Opened)
}

// conn is one held connection.
type conn struct {
	user, conv string
	role       chat.Role
	ws         *websocket.Conn
	closing    atomic.Bool
	seq        int
}

type counters struct {
	sent, recv, errs, disc atomic.Int64
}

func (c *Config) defaults() error {
	if c.Target == "" || c.Sampler == nil {
		return errors.New("soak: Target and Sampler are required")
	}
	if c.Conns < 2 {
		return errors.New("soak: need at least 2 connections")
	}
	c.Conns -= c.Conns % 2
	c.Active = max(0, min(c.Active, c.Conns))
	if c.Every <= 0 {
		c.Every = 5 * time.Second
	}
	if c.Settle <= 0 {
		c.Settle = 3 * time.Minute
	}
	if c.GoroutineMargin <= 0 {
		c.GoroutineMargin = DefaultGoroutineMargin
	}
	if c.RSSMargin == 0 {
		c.RSSMargin = DefaultRSSMargin
	}
	if c.RSSFraction <= 0 {
		c.RSSFraction = DefaultRSSFraction
	}
	if c.ConnectParallel <= 0 {
		c.ConnectParallel = 32
	}
	return nil
}

// Run soaks the server. It returns a report with whatever was measured
// and an error when the soak could not be carried out (the report says
// whether the server came back: see Report.OK).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	rep := &Report{Conns: cfg.Conns, Active: cfg.Active}
	var err error
	if rep.Baseline, err = cfg.Sampler(ctx); err != nil {
		return nil, fmt.Errorf("soak: baseline sample: %w", err)
	}
	rep.Peak = rep.Baseline
	cfg.progress("baseline: %d goroutines, RSS %s", rep.Baseline.Goroutines, mib(rep.Baseline.RSS))

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	var cnt counters
	var readers sync.WaitGroup
	conns, connErr := connect(ctx, &cfg, &cnt, &readers)
	rep.Opened = len(conns)
	closeAll := func() {
		for _, c := range conns {
			c.closing.Store(true)
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, "soak done"), time.Now().Add(time.Second))
			_ = c.ws.Close()
		}
		readers.Wait()
	}
	if connErr != nil {
		closeAll()
		return rep, connErr
	}
	cfg.progress("opened %d connections (%d active)", len(conns), cfg.Active)

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	rep.DriverBytesPerConn = float64(int64(after.HeapInuse+after.StackInuse)-int64(before.HeapInuse+before.StackInuse)) / float64(len(conns))

	// Hold: send on the active subset and sample, until Duration.
	held := time.Now()
	holdCtx, stopHold := context.WithTimeout(ctx, cfg.Duration)
	var sender sync.WaitGroup
	sender.Go(func() { send(holdCtx, &cfg, conns[:cfg.Active], &cnt) })
	tick := time.NewTicker(cfg.Every)
	sampleErrs := 0
hold:
	for {
		select {
		case <-holdCtx.Done():
			break hold
		case <-tick.C:
			s, err := cfg.Sampler(holdCtx)
			if err != nil {
				if holdCtx.Err() == nil {
					sampleErrs++
				}
				continue
			}
			rep.Peak = peak(rep.Peak, s)
			cfg.progress("held %s: %d goroutines, RSS %s, sent %d, received %d, errors %d, disconnects %d",
				time.Since(held).Round(time.Second), s.Goroutines, mib(s.RSS), cnt.sent.Load(), cnt.recv.Load(), cnt.errs.Load(), cnt.disc.Load())
		}
	}
	tick.Stop()
	stopHold()
	sender.Wait()
	rep.Held = time.Since(held)
	if s, err := cfg.Sampler(ctx); err == nil {
		rep.Peak = peak(rep.Peak, s)
	}

	closeAll()
	closed := time.Now()
	cfg.progress("closed all connections; waiting up to %s for the server to settle", cfg.Settle)

	// Settle: poll until goroutines and memory are back, or the deadline.
	rep.GoroutineLimit = rep.Baseline.Goroutines + cfg.GoroutineMargin
	rep.RSSLimit = -1
	if cfg.RSSMargin > 0 {
		rep.RSSLimit = rep.Baseline.RSS + max(cfg.RSSMargin, int64(cfg.RSSFraction*float64(rep.Peak.RSS-rep.Baseline.RSS)))
	}
	deadline := time.Now().Add(cfg.Settle)
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		s, err := cfg.Sampler(ctx)
		if err == nil {
			rep.After = s
			rep.GoroutinesOK = s.Goroutines <= rep.GoroutineLimit
			rep.MemoryOK = rep.RSSLimit < 0 || s.RSS <= rep.RSSLimit
			if rep.GoroutinesOK && rep.MemoryOK {
				break
			}
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(delay):
		}
	}
	rep.SettleTime = time.Since(closed)
	rep.Sent, rep.Received, rep.Errors, rep.Disconnects = cnt.sent.Load(), cnt.recv.Load(), cnt.errs.Load(), cnt.disc.Load()
	if rep.After.CPUSeconds > 0 {
		rep.ServerCPUSeconds = rep.After.CPUSeconds - rep.Baseline.CPUSeconds
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		rep.DriverCPUSeconds = float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
		rep.DriverPeakRSS = ru.Maxrss * 1024
	}
	rep.SampleErrors = sampleErrs
	return rep, nil
}

func peak(p, s Sample) Sample {
	p.Goroutines = max(p.Goroutines, s.Goroutines)
	p.RSS = max(p.RSS, s.RSS)
	p.At = s.At
	return p
}

func (c *Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "soak: "+format+"\n", args...)
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// connect opens cfg.Conns connections, joins each pair to a conversation and
// starts each one's reader. On error the connections opened so far are
// returned with it (their readers running).
func connect(ctx context.Context, cfg *Config, cnt *counters, readers *sync.WaitGroup) ([]*conn, error) {
	d := driver.NewDialer()
	all := make([]*conn, cfg.Conns)
	for i := range all {
		role := chat.RolePatient
		if i%2 == 1 {
			role = chat.RoleProvider
		}
		all[i] = &conn{user: fmt.Sprintf("soak-%d", i), conv: fmt.Sprintf("soak-c%d", i/2), role: role}
	}
	// Pairs are adjacent, so an even Active selects whole pairs.
	jobs := make(chan *conn)
	var (
		mu       sync.Mutex
		firstErr error
		opened   = make([]bool, len(all))
	)
	idx := map[*conn]int{}
	for i, c := range all {
		idx[c] = i
	}
	var workers sync.WaitGroup
	for range min(cfg.ConnectParallel, len(all)) {
		workers.Go(func() {
			for c := range jobs {
				err := open(ctx, d, cfg, c)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					opened[idx[c]] = true
				}
				mu.Unlock()
				if err == nil {
					readers.Go(func() { read(c, cnt) })
				}
			}
		})
	}
feed:
	for _, c := range all {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		select {
		case jobs <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	workers.Wait()
	var out []*conn
	for i, c := range all {
		if opened[i] {
			out = append(out, c)
		}
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

// open dials and authenticates c and joins its conversation, waiting for
// the join's ack.
func open(ctx context.Context, d *websocket.Dialer, cfg *Config, c *conn) error {
	ws, err := driver.Dial(ctx, d, cfg.Target, cfg.Secret, c.user, c.role)
	if err != nil {
		return err
	}
	id := c.user + "-join"
	_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteJSON(chat.ClientFrame{V: chat.ProtocolVersion, Op: chat.OpJoin, ID: id, Conv: c.conv}); err != nil {
		ws.Close()
		return fmt.Errorf("join %s as %s: %w", c.conv, c.user, err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return fmt.Errorf("join %s as %s: %w", c.conv, c.user, err)
		}
		var f chat.ServerFrame
		if json.Unmarshal(data, &f) != nil || f.ReplyTo != id {
			continue
		}
		if f.Op == chat.OpError {
			ws.Close()
			return fmt.Errorf("join %s as %s refused: %s", c.conv, c.user, data)
		}
		if f.Op == chat.OpAck {
			break
		}
	}
	_ = ws.SetReadDeadline(time.Time{})
	_ = ws.SetWriteDeadline(time.Time{})
	c.ws = ws
	return nil
}

// read reads everything c receives until the connection ends. Reading is
// also what answers the server's pings.
func read(c *conn, cnt *counters) {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if !c.closing.Load() {
				cnt.disc.Add(1)
			}
			return
		}
		cnt.recv.Add(1)
		if strings.Contains(string(data), `"op":"error"`) {
			cnt.errs.Add(1)
		}
	}
}

// send sends cfg.Rate messages per second, round robin over active, until
// ctx ends: typing, read, text, typing, … Only this goroutine writes data
// frames, so writes need no lock.
func send(ctx context.Context, cfg *Config, active []*conn, cnt *counters) {
	if len(active) == 0 || cfg.Rate <= 0 {
		<-ctx.Done()
		return
	}
	types := [...]string{"typing", "read", "typing", "text"}
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	start := time.Now()
	for n := 0; ; n++ {
		at := start.Add(time.Duration(n) * interval)
		if wait := time.Until(at); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		c := active[n%len(active)]
		c.seq++
		typ := types[(n/len(active))%len(types)]
		f := chat.ClientFrame{V: chat.ProtocolVersion, Op: chat.OpSend, ID: fmt.Sprintf("%s-%d", c.user, c.seq), Conv: c.conv, Type: typ}
		switch typ {
		case "read":
			f.Body = fmt.Sprintf("%s-%d", c.user, c.seq-1)
		case "text":
			f.Body = "soak message"
		}
		_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := c.ws.WriteJSON(f); err != nil {
			cnt.errs.Add(1)
			continue
		}
		cnt.sent.Add(1)
	}
}

// Table renders r as a plain-text table.
func (r *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %d connections (%d active) held %s\n\n", r.Opened, r.Active, r.Held.Round(time.Second))
	fmt.Fprintf(&b, "%-24s %12s %12s %12s\n", "server", "baseline", "peak", "after")
	fmt.Fprintf(&b, "%-24s %12d %12d %12d\n", "goroutines", r.Baseline.Goroutines, r.Peak.Goroutines, r.After.Goroutines)
	fmt.Fprintf(&b, "%-24s %12s %12s %12s\n", "RSS", mib(r.Baseline.RSS), mib(r.Peak.RSS), mib(r.After.RSS))
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "%-34s %s\n", "server goroutines per connection", fmt.Sprintf("%.2f", r.ServerGoroutinesPerConn()))
	fmt.Fprintf(&b, "%-34s %.1f KiB\n", "server RSS per connection", r.ServerBytesPerConn()/1024)
	fmt.Fprintf(&b, "%-34s %.1f KiB\n", "driver heap+stack per connection", r.DriverBytesPerConn/1024)
	fmt.Fprintf(&b, "%-34s %.1f s\n", "server CPU", r.ServerCPUSeconds)
	fmt.Fprintf(&b, "%-34s %.1f s (peak RSS %s)\n", "driver CPU", r.DriverCPUSeconds, mib(r.DriverPeakRSS))
	fmt.Fprintf(&b, "%-34s %d sent, %d received\n", "frames", r.Sent, r.Received)
	fmt.Fprintf(&b, "%-34s %d\n", "errors", r.Errors)
	fmt.Fprintf(&b, "%-34s %d\n", "disconnects", r.Disconnects)
	fmt.Fprintf(&b, "%-34s %s\n", "settle time", r.SettleTime.Round(100*time.Millisecond))
	fmt.Fprintf(&b, "%-34s %v (after %d ≤ limit %d)\n", "goroutines back at baseline", r.GoroutinesOK, r.After.Goroutines, r.GoroutineLimit)
	if r.RSSLimit >= 0 {
		fmt.Fprintf(&b, "%-34s %v (after %s ≤ limit %s)\n", "memory back near baseline", r.MemoryOK, mib(r.After.RSS), mib(r.RSSLimit))
	} else {
		fmt.Fprintf(&b, "%-34s not checked\n", "memory back near baseline")
	}
	return b.String()
}
