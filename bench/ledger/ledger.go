// Package ledger accounts for every delivery a benchmark replay must cause.
// From the catalog and the members listed on each message's ack it knows
// which events each message must bring to whom, and it counts each expected
// delivery once as delivered, errored, lost or excused, plus duplicates,
// reordered and unexpected events, with the latency of each delivery in
// HdrHistograms (µs) by group: "all", "class:<class>" and "job:<job>".
//
// Messages are planned (Expect) before the replay starts; Sent then only
// stamps them, without locking, so the open-loop scheduler never waits for
// the readers. State is sharded by conversation.
//
// Frames are matched by (from, reply_to): message ids are unique per user.
// Events may arrive before the ack of their message; they are held and
// reconciled when the ack comes.
package ledger

import (
	"hash/maphash"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/chat"
)

// ExpectFunc lists the deliveries a message of type typ from sender (with
// role) must cause, given the members present when it was accepted.
type ExpectFunc func(typ, sender string, role chat.Role, members []chat.Member) []chat.Delivery

// Echo names the job, class and event of the echo floor server's only
// event.
const Echo = "echo"

// EchoExpect is the ExpectFunc of the echo floor: every sent message (not
// join or leave) causes exactly one "echo" event to its sender.
func EchoExpect(typ, sender string, _ chat.Role, _ []chat.Member) []chat.Delivery {
	if typ == chat.OpJoin || typ == chat.OpLeave {
		return nil
	}
	return []chat.Delivery{{Job: Echo, Class: Echo, Event: Echo, User: sender}}
}

// Config configures a Ledger.
type Config struct {
	// Catalog computes expected deliveries (chat.Catalog.Deliveries) and
	// maps jobs to classes. Required unless Expect is set.
	Catalog *chat.Catalog
	// Expect overrides the catalog's expectation (see EchoExpect).
	Expect ExpectFunc
	// Roles gives each user's role; members missing from it are taken as
	// patients.
	Roles map[string]chat.Role
}

// outcome of one expected delivery.
type outcome uint8

const (
	pending outcome = iota
	delivered
	errored
	lost
	excused
)

type expectation struct {
	job, class, user string
	out              outcome
}

type early struct {
	recipient string
	ev        chat.Event
	received  time.Time
}

type msgKey struct{ from, id string }

// message is one planned message. The fields after sent are guarded by
// its shard's mutex.
type message struct {
	from, conv, typ string
	role            chat.Role
	offset          time.Duration // scheduled instant − start
	shard           *shard
	sent            atomic.Int64 // Unix ns; 0 = not sent

	acked, rejected bool
	exps            []expectation
	early           []early
}

type orderKey struct{ recipient, conv, job string }

type convUser struct{ user, conv string }

// group is one result group's counts and histograms.
type group struct {
	counts    results.Counts
	fromSched *hdrhistogram.Histogram
	fromSent  *hdrhistogram.Histogram
}

type second struct {
	delivered, lost int
	lat             *hdrhistogram.Histogram
}

const (
	nShards   = 16
	nStripes  = 4
	maxSeries = 3600 // seconds of per-second series kept
)

// shard holds the state of the conversations that hash to it.
type shard struct {
	idx      int
	mu       sync.Mutex
	msgs     []*message
	owed     map[convUser]map[*message]int // pending deliveries by recipient and conversation
	left     map[convUser]bool             // leave acked
	order    map[orderKey]int64            // last gateway_in seen
	groups   map[string]*group
	groupsJC map[[2]string][]*group // groupsOf's answers, by job and class
	hops     map[string]map[string]*hdrhistogram.Histogram
	stats    Stats
	rejected map[string]int
}

// stripe is part of the per-second series (striped to spread the lock).
type stripe struct {
	mu   sync.Mutex
	secs []*second
}

// Ledger is the delivery ledger. It is safe for concurrent use, except
// Expect and Begin, which must all happen before the first Sent.
type Ledger struct {
	cfg    Config
	expect ExpectFunc
	seed   maphash.Seed
	start  time.Time     // set by Begin
	warmup time.Duration // after start; set by Begin

	msgs    map[msgKey]*message // written by Expect only, read-only after
	shards  [nShards]shard
	stripes [nStripes]stripe

	sent        atomic.Int64
	outstanding atomic.Int64 // unanswered sent messages + pending deliveries
	finished    atomic.Bool

	idleMu sync.Mutex
	idle   chan struct{}
}

// Stats is a snapshot of the ledger's running totals: messages sent,
// acked and rejected, and expected deliveries by outcome (as in
// results.Counts, summed over every group "all").
type Stats struct {
	Sent, Acked, Rejected        int // messages
	Expected, Delivered, Errored int // deliveries
	Lost, Excused, Duplicates    int // deliveries (Lost is set by Finish)
	Reordered, Unexpected        int // extra observations
	Unacked                      int // sent messages never answered; set by Finish
	Outstanding                  int // unanswered messages plus pending deliveries
}

func (s *Stats) add(o *Stats) {
	s.Sent += o.Sent
	s.Acked += o.Acked
	s.Rejected += o.Rejected
	s.Expected += o.Expected
	s.Delivered += o.Delivered
	s.Errored += o.Errored
	s.Lost += o.Lost
	s.Excused += o.Excused
	s.Duplicates += o.Duplicates
	s.Reordered += o.Reordered
	s.Unexpected += o.Unexpected
	s.Unacked += o.Unacked
}

// New returns an empty ledger.
func New(cfg Config) *Ledger {
	l := &Ledger{cfg: cfg, expect: cfg.Expect, seed: maphash.MakeSeed(), msgs: make(map[msgKey]*message)}
	if l.expect == nil && cfg.Catalog != nil {
		l.expect = cfg.Catalog.Deliveries
	}
	if l.expect == nil {
		l.expect = func(string, string, chat.Role, []chat.Member) []chat.Delivery { return nil }
	}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.idx = i
		sh.owed = make(map[convUser]map[*message]int)
		sh.left = make(map[convUser]bool)
		sh.order = make(map[orderKey]int64)
		sh.groups = make(map[string]*group)
		sh.groupsJC = make(map[[2]string][]*group)
		sh.hops = make(map[string]map[string]*hdrhistogram.Histogram)
		sh.rejected = make(map[string]int)
	}
	return l
}

func (l *Ledger) shardOf(conv string) *shard {
	return &l.shards[maphash.String(l.seed, conv)%nShards]
}

// Expect plans message id of user from: its conversation, type (join and
// leave for those ops), the sender's role and its scheduled send instant as
// an offset from the start (see Begin). Plan every message, then call
// Begin, before the replay starts (Expect and Begin are not safe for use
// concurrently with the other methods). It reports false for a repeated
// (from, id).
func (l *Ledger) Expect(from, id, conv, typ string, role chat.Role, offset time.Duration) bool {
	k := msgKey{from, id}
	if _, dup := l.msgs[k]; dup {
		return false
	}
	sh := l.shardOf(conv)
	m := &message{from: from, conv: conv, typ: typ, role: role, offset: offset, shard: sh}
	l.msgs[k] = m
	sh.msgs = append(sh.msgs, m)
	return true
}

// Begin sets the replay's start instant (offset 0) and its warm-up:
// deliveries of messages scheduled in the first warmup are counted but not
// timed, and the per-second series starts after it.
func (l *Ledger) Begin(start time.Time, warmup time.Duration) {
	l.start, l.warmup = start, max(0, warmup)
}

func (m *message) warm(l *Ledger) bool { return m.offset < l.warmup }

func (m *message) scheduled(l *Ledger) time.Time { return l.start.Add(m.offset) }

// Sent records that planned message id of user from was sent at sent. It
// takes no lock. Call it before the frame is written, so no answer can
// arrive first. It reports false for a message not planned.
func (l *Ledger) Sent(from, id string, sent time.Time) bool {
	return l.SentHandle(l.Handle(from, id), sent)
}

// Handle names a planned message, so that a sender that looks it up once
// before the replay records its send without a lookup (SentHandle). The
// zero Handle names no message.
type Handle struct{ m *message }

// Handle returns the handle of planned message id of user from (the zero
// Handle if it was not planned). It must not run concurrently with Expect.
func (l *Ledger) Handle(from, id string) Handle { return Handle{l.msgs[msgKey{from, id}]} }

// SentHandle is Sent for the message h names.
func (l *Ledger) SentHandle(h Handle, sent time.Time) bool {
	m := h.m
	if m == nil || l.finished.Load() || !m.sent.CompareAndSwap(0, sent.UnixNano()) {
		return false
	}
	l.sent.Add(1)
	l.outstanding.Add(1)
	return true
}

// Acked records the ack of message id of user from, with the members it
// lists, and reconciles events that arrived before it. The ack of a leave
// also excuses what is still owed to its sender in that conversation (see
// LeftAcked); the ack of a join makes deliveries to its sender owed again.
func (l *Ledger) Acked(from, id string, members []string) {
	m := l.msgs[msgKey{from, id}]
	if m == nil {
		return
	}
	sh := m.shard
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if l.finished.Load() || m.acked || m.rejected || m.sent.Load() == 0 {
		return
	}
	m.acked = true
	sh.stats.Acked++
	if m.typ == chat.OpJoin {
		delete(sh.left, convUser{from, m.conv})
	}
	mem := make([]chat.Member, len(members))
	for i, u := range members {
		mem[i] = chat.Member{User: u, Role: l.role(u)}
	}
	ds := l.expect(m.typ, from, m.role, mem)
	m.exps = make([]expectation, 0, len(ds))
	owed := 0
	for _, d := range ds {
		m.exps = append(m.exps, expectation{job: d.Job, class: string(d.Class), user: d.User})
		e := &m.exps[len(m.exps)-1]
		for _, g := range sh.groupsOf(e.job, e.class) {
			g.counts.Expected++
		}
		sh.stats.Expected++
		cu := convUser{e.user, m.conv}
		if sh.left[cu] && !m.hasEarly(e) {
			// The recipient's leave was acked before this message's ack: an
			// event not in by then never comes.
			l.settle(sh, m, e, excused)
			continue
		}
		owed++
		o := sh.owed[cu]
		if o == nil {
			o = make(map[*message]int)
			sh.owed[cu] = o
		}
		o[m]++
	}
	l.outstanding.Add(int64(owed))
	l.done(1) // answered
	held := m.early
	m.early = nil
	for _, e := range held {
		l.match(sh, m, e.recipient, &e.ev, e.received)
	}
	if m.typ == chat.OpLeave {
		l.leftLocked(sh, from, m.conv)
	}
}

func (m *message) hasEarly(e *expectation) bool {
	for i := range m.early {
		if m.early[i].recipient == e.user && m.early[i].ev.Job == e.job {
			return true
		}
	}
	return false
}

// Rejected records an error frame answering message id of user from (or a
// send the driver could not write), with its code. Events held for it
// become unexpected.
func (l *Ledger) Rejected(from, id, code string) {
	m := l.msgs[msgKey{from, id}]
	if m == nil {
		return
	}
	sh := m.shard
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if l.finished.Load() || m.acked || m.rejected || m.sent.Load() == 0 {
		return
	}
	m.rejected = true
	sh.stats.Rejected++
	sh.rejected[code]++
	for _, e := range m.early {
		l.unexpected(sh, e.ev.Job)
	}
	m.early = nil
	l.done(1)
}

// LeftAcked records that user's leave of conv was acked: deliveries still
// owed to the user for that conversation are excused (by the protocol, an
// event not arrived before the leave's ack never comes), as are those of
// messages acked later, until the user joins again. Acked calls it for the
// leaves it sees.
func (l *Ledger) LeftAcked(user, conv string) {
	sh := l.shardOf(conv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if !l.finished.Load() {
		l.leftLocked(sh, user, conv)
	}
}

func (l *Ledger) leftLocked(sh *shard, user, conv string) {
	cu := convUser{user, conv}
	sh.left[cu] = true
	n := 0
	for m := range sh.owed[cu] {
		for i := range m.exps {
			if e := &m.exps[i]; e.user == user && e.out == pending {
				l.settle(sh, m, e, excused)
				n++
			}
		}
	}
	delete(sh.owed, cu)
	l.done(n)
}

// Event records an event frame f received by recipient at received.
func (l *Ledger) Event(recipient string, f *chat.ServerFrame, received time.Time) {
	if f == nil || f.Event == nil {
		return
	}
	m := l.msgs[msgKey{f.Event.From, f.ReplyTo}]
	sh := l.shardOf(f.Event.Conv)
	if m != nil {
		sh = m.shard
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch {
	case l.finished.Load():
	case m == nil || m.rejected || m.sent.Load() == 0:
		l.unexpected(sh, f.Event.Job)
	case !m.acked:
		m.early = append(m.early, early{recipient: recipient, ev: *f.Event, received: received})
	default:
		l.match(sh, m, recipient, f.Event, received)
	}
}

// match settles one arrived event against m's expectations.
func (l *Ledger) match(sh *shard, m *message, recipient string, ev *chat.Event, received time.Time) {
	var e *expectation
	for i := range m.exps {
		if m.exps[i].user == recipient && m.exps[i].job == ev.Job {
			e = &m.exps[i]
			break
		}
	}
	if e == nil {
		l.unexpected(sh, ev.Job)
		return
	}
	switch e.out {
	case delivered, errored:
		for _, g := range sh.groupsOf(e.job, e.class) {
			g.counts.Duplicates++
		}
		sh.stats.Duplicates++
		return
	case lost, excused:
		// After the leave's ack or the drain deadline: not owed any more.
		l.unexpected(sh, ev.Job)
		return
	}
	cu := convUser{recipient, m.conv}
	if o := sh.owed[cu]; o != nil {
		if o[m]--; o[m] <= 0 {
			delete(o, m)
			if len(o) == 0 {
				delete(sh.owed, cu)
			}
		}
	}
	out := delivered
	if ev.Status != chat.StatusOK {
		out = errored
	}
	l.settle(sh, m, e, out)
	l.done(1)
	ok := orderKey{recipient, m.conv, e.job}
	if gi := ev.Hops.GatewayIn; gi != 0 {
		if last, seen := sh.order[ok]; seen && gi < last {
			for _, g := range sh.groupsOf(e.job, e.class) {
				g.counts.Reordered++
			}
			sh.stats.Reordered++
		} else {
			sh.order[ok] = gi
		}
	}
	if m.warm(l) {
		return
	}
	fs := micros(received.Sub(m.scheduled(l)))
	fsent := micros(received.Sub(time.Unix(0, m.sent.Load())))
	for _, g := range sh.groupsOf(e.job, e.class) {
		_ = g.fromSched.RecordValue(fs)
		_ = g.fromSent.RecordValue(fsent)
	}
	l.recordSecond(sh, received, fs, false)
	sh.recordHops(e.class, &ev.Hops, received)
}

// recordSecond counts a delivery (latency fs) or a loss in the series.
func (l *Ledger) recordSecond(sh *shard, t time.Time, fs int64, isLost bool) {
	base := l.base()
	if base.IsZero() || t.Before(base) {
		return
	}
	i := int(t.Sub(base) / time.Second)
	if i >= maxSeries {
		return
	}
	st := &l.stripes[sh.idx%nStripes]
	st.mu.Lock()
	defer st.mu.Unlock()
	for len(st.secs) <= i {
		st.secs = append(st.secs, nil)
	}
	s := st.secs[i]
	if s == nil {
		s = &second{}
		st.secs[i] = s
	}
	if isLost {
		s.lost++
		return
	}
	s.delivered++
	if s.lat == nil {
		s.lat = hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 2)
	}
	_ = s.lat.RecordValue(fs)
}

// done marks n outstanding items answered and wakes Idle waiters at zero.
func (l *Ledger) done(n int) {
	if n == 0 {
		return
	}
	if l.outstanding.Add(int64(-n)) <= 0 {
		l.idleMu.Lock()
		if l.idle != nil && l.outstanding.Load() <= 0 {
			close(l.idle)
			l.idle = nil
		}
		l.idleMu.Unlock()
	}
}

// settle gives e its outcome and counts it.
func (l *Ledger) settle(sh *shard, m *message, e *expectation, out outcome) {
	e.out = out
	for _, g := range sh.groupsOf(e.job, e.class) {
		switch out {
		case delivered:
			g.counts.Delivered++
		case errored:
			g.counts.Errored++
		case lost:
			g.counts.Lost++
		case excused:
			g.counts.Excused++
		}
	}
	switch out {
	case delivered:
		sh.stats.Delivered++
	case errored:
		sh.stats.Errored++
	case lost:
		sh.stats.Lost++
		if !m.warm(l) {
			l.recordSecond(sh, m.scheduled(l), 0, true)
		}
	case excused:
		sh.stats.Excused++
	}
}

func (l *Ledger) unexpected(sh *shard, job string) {
	class := ""
	switch {
	case job == chat.RelayJob:
		class = string(chat.ClassRelay)
	case job == Echo:
		class = Echo
	case l.cfg.Catalog != nil && l.cfg.Catalog.Job(job) != nil:
		class = string(l.cfg.Catalog.Job(job).Class)
	}
	for _, g := range sh.groupsOf(job, class) {
		g.counts.Unexpected++
	}
	sh.stats.Unexpected++
}

func (l *Ledger) role(user string) chat.Role {
	if r, ok := l.cfg.Roles[user]; ok {
		return r
	}
	return chat.RolePatient
}

// groupsOf returns the groups a delivery of job in class counts in: all,
// its class and its job. The caller must not modify the slice.
func (sh *shard) groupsOf(job, class string) []*group {
	k := [2]string{job, class}
	if out, ok := sh.groupsJC[k]; ok {
		return out
	}
	out := make([]*group, 0, 3)
	out = append(out, sh.group("all"))
	if class != "" {
		out = append(out, sh.group("class:"+class))
	}
	if job != "" {
		out = append(out, sh.group("job:"+job))
	}
	sh.groupsJC[k] = out
	return out
}

func (sh *shard) group(name string) *group {
	g := sh.groups[name]
	if g == nil {
		g = &group{fromSched: results.NewHDR(), fromSent: results.NewHDR()}
		sh.groups[name] = g
	}
	return g
}

// base is the instant the measured part of the replay starts.
func (l *Ledger) base() time.Time { return l.start.Add(l.warmup) }

// recordHops records each hop of h that happened, per class.
func (sh *shard) recordHops(class string, h *chat.Hops, received time.Time) {
	hm := sh.hops[class]
	if hm == nil {
		hm = make(map[string]*hdrhistogram.Histogram)
		sh.hops[class] = hm
	}
	rec := func(name string, d int64) {
		x := hm[name]
		if x == nil {
			x = results.NewHDR()
			hm[name] = x
		}
		_ = x.RecordValue(clamp(d))
	}
	both := func(a, b int64) bool { return a != 0 && b != 0 }
	if both(h.ClientSent, h.GatewayIn) {
		rec("ingress", h.GatewayIn-h.ClientSent)
	}
	if both(h.GatewayIn, h.Enqueued) {
		rec("queue_send", h.Enqueued-h.GatewayIn)
	}
	if both(h.Enqueued, h.Dequeued) {
		rec("queue_wait", h.Dequeued-h.Enqueued)
	}
	if h.JobStart != 0 {
		from := h.Dequeued
		if from == 0 {
			from = h.GatewayIn
		}
		if from != 0 {
			rec("dispatch", h.JobStart-from)
		}
	}
	var ml int64
	if both(h.MLStart, h.MLEnd) {
		ml = h.MLEnd - h.MLStart
		rec("ml", ml)
	}
	if both(h.JobStart, h.JobEnd) {
		rec("handler", h.JobEnd-h.JobStart-ml)
	}
	if both(h.JobEnd, h.CallbackIn) {
		rec("callback", h.CallbackIn-h.JobEnd)
	}
	if h.Emitted != 0 {
		from := h.CallbackIn
		if from == 0 {
			from = h.JobEnd
		}
		if from == 0 {
			from = h.GatewayIn
		}
		if from != 0 {
			rec("emit", h.Emitted-from)
		}
		rec("egress", received.UnixMicro()-h.Emitted)
	}
}

func micros(d time.Duration) int64 { return clamp(int64(d / time.Microsecond)) }

// clamp keeps a µs value inside the histograms' range (negative values come
// from clocks that disagree; they count as 0).
func clamp(v int64) int64 {
	const hi = int64(time.Hour / time.Microsecond)
	return max(0, min(v, hi))
}

// Stats returns a snapshot of the running totals.
func (l *Ledger) Stats() Stats {
	var s Stats
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		s.add(&sh.stats)
		sh.mu.Unlock()
	}
	s.Sent = int(l.sent.Load())
	s.Outstanding = int(max(0, l.outstanding.Load()))
	return s
}

// Outstanding returns how many sent messages are unanswered plus how many
// expected deliveries are pending.
func (l *Ledger) Outstanding() int { return int(max(0, l.outstanding.Load())) }

// Idle returns a channel closed once nothing is outstanding (at once if
// nothing is now). Wait on it after the last send.
func (l *Ledger) Idle() <-chan struct{} {
	l.idleMu.Lock()
	defer l.idleMu.Unlock()
	ch := make(chan struct{})
	if l.outstanding.Load() <= 0 {
		close(ch)
		return ch
	}
	if l.idle == nil {
		l.idle = ch
	}
	return l.idle
}

// Finish ends the accounting: every delivery still owed becomes lost and
// sent messages neither acked nor rejected are counted as unacked (events
// held for them become unexpected). Later calls of the other methods are
// ignored.
func (l *Ledger) Finish() {
	for i := range l.shards {
		l.shards[i].mu.Lock()
	}
	defer func() {
		for i := range l.shards {
			l.shards[i].mu.Unlock()
		}
	}()
	if !l.finished.CompareAndSwap(false, true) {
		return
	}
	for i := range l.shards {
		sh := &l.shards[i]
		for _, m := range sh.msgs {
			if m.sent.Load() == 0 {
				continue
			}
			if !m.acked && !m.rejected {
				sh.stats.Unacked++
				for _, e := range m.early {
					l.unexpected(sh, e.ev.Job)
				}
				m.early = nil
				continue
			}
			for i := range m.exps {
				if e := &m.exps[i]; e.out == pending {
					l.settle(sh, m, e, lost)
				}
			}
		}
		sh.owed = map[convUser]map[*message]int{}
	}
	l.outstanding.Store(0)
	l.idleMu.Lock()
	if l.idle != nil {
		close(l.idle)
		l.idle = nil
	}
	l.idleMu.Unlock()
}

// Fill writes the ledger's results into p: Messages' counters (Sent,
// Acked, Rejected, Unacked, Warmup), FromScheduled, FromSent, Ledger, Hops
// and Series. Call it after Finish.
func (l *Ledger) Fill(p *results.Path) error {
	groups := map[string]*group{"all": {fromSched: results.NewHDR(), fromSent: results.NewHDR()}}
	hops := map[string]map[string]*hdrhistogram.Histogram{}
	var st Stats
	rejected := map[string]int{}
	sentPer := map[int]int{}
	warm := 0
	base := l.base()
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		st.add(&sh.stats)
		for k, v := range sh.rejected {
			rejected[k] += v
		}
		for name, g := range sh.groups {
			t := groups[name]
			if t == nil {
				t = &group{fromSched: results.NewHDR(), fromSent: results.NewHDR()}
				groups[name] = t
			}
			t.counts.Add(&g.counts)
			t.fromSched.Merge(g.fromSched)
			t.fromSent.Merge(g.fromSent)
		}
		for class, hm := range sh.hops {
			if hops[class] == nil {
				hops[class] = map[string]*hdrhistogram.Histogram{}
			}
			for name, h := range hm {
				if hops[class][name] == nil {
					hops[class][name] = results.NewHDR()
				}
				hops[class][name].Merge(h)
			}
		}
		for _, m := range sh.msgs {
			ns := m.sent.Load()
			if ns == 0 {
				continue
			}
			if m.warm(l) {
				warm++
			}
			if t := time.Unix(0, ns); !base.IsZero() && !t.Before(base) && t.Sub(base) < maxSeries*time.Second {
				sentPer[int(t.Sub(base)/time.Second)]++
			}
		}
		sh.mu.Unlock()
	}
	p.Messages.Sent = int(l.sent.Load())
	p.Messages.Acked = st.Acked
	p.Messages.Unacked = st.Unacked
	p.Messages.Warmup = warm
	if len(rejected) > 0 {
		p.Messages.Rejected = rejected
	}
	p.FromScheduled = make(map[string]*results.Histogram, len(groups))
	p.FromSent = make(map[string]*results.Histogram, len(groups))
	p.Ledger = make(map[string]*results.Counts, len(groups))
	for name, g := range groups {
		c := g.counts
		p.Ledger[name] = &c
		var err error
		if p.FromScheduled[name], err = results.FromHDR(g.fromSched); err != nil {
			return err
		}
		if p.FromSent[name], err = results.FromHDR(g.fromSent); err != nil {
			return err
		}
	}
	p.Hops = make(map[string]map[string]*results.Histogram, len(hops))
	for class, hm := range hops {
		out := make(map[string]*results.Histogram, len(hm))
		for name, h := range hm {
			x, err := results.FromHDR(h)
			if err != nil {
				return err
			}
			out[name] = x
		}
		p.Hops[class] = out
	}
	n := 0
	for t := range sentPer {
		n = max(n, t+1)
	}
	for i := range l.stripes {
		st := &l.stripes[i]
		st.mu.Lock()
		n = max(n, len(st.secs))
		st.mu.Unlock()
	}
	p.Series = make([]results.Second, n)
	for t := range p.Series {
		r := results.Second{T: t, Sent: sentPer[t]}
		lat := hdrhistogram.New(1, int64(time.Hour/time.Microsecond), 2)
		for i := range l.stripes {
			st := &l.stripes[i]
			st.mu.Lock()
			if t < len(st.secs) && st.secs[t] != nil {
				s := st.secs[t]
				r.Delivered += s.delivered
				r.Lost += s.lost
				if s.lat != nil {
					lat.Merge(s.lat)
				}
			}
			st.mu.Unlock()
		}
		if lat.TotalCount() > 0 {
			r.P50, r.P99, r.Max = lat.ValueAtQuantile(50), lat.ValueAtQuantile(99), lat.Max()
		}
		p.Series[t] = r
	}
	return nil
}

// Groups returns the names of the groups seen, sorted.
func (l *Ledger) Groups() []string {
	seen := map[string]bool{}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for n := range sh.groups {
			seen[n] = true
		}
		sh.mu.Unlock()
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Counts returns the counts of group name (zero if unseen).
func (l *Ledger) Counts(name string) results.Counts {
	var c results.Counts
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		if g := sh.groups[name]; g != nil {
			c.Add(&g.counts)
		}
		sh.mu.Unlock()
	}
	return c
}

// Owes reports whether user may still be owed a delivery in conv: one is
// pending, or a message in conv was sent and not yet answered (its
// deliveries are not known yet). The driver holds a user's leave while it
// is true, since an event emitted after the leave never comes.
func (l *Ledger) Owes(user, conv string) bool {
	sh := l.shardOf(conv)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.owed[convUser{user, conv}]) > 0 {
		return true
	}
	for _, m := range sh.msgs {
		if m.conv == conv && m.sent.Load() != 0 && !m.acked && !m.rejected {
			return true
		}
	}
	return false
}

// Hold counts a message the driver holds back as outstanding, so Idle
// waits for it; Release undoes Hold (after the message was Sent, or when it
// will not be).
func (l *Ledger) Hold() { l.outstanding.Add(1) }

// Release undoes one Hold.
func (l *Ledger) Release() { l.done(1) }
