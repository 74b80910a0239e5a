package socket

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
)

// Emitter delivers events to the connections in their conversation whose
// user is in the event's audience. The direct dispatcher and the queue
// gateway's callback both emit through the Hub.
type Emitter interface {
	// Emit delivers ev and returns how many connections it was queued to.
	Emit(ev *chat.Event) int
}

var _ Emitter = (*Hub)(nil)

// Defaults of ResumeConfig.
const (
	DefaultResumeEvents = 128
	DefaultResumeWindow = 2 * time.Minute
)

// ResumeConfig sizes each conversation's buffer of recent events, from
// which a client that reconnects and joins with since gets what it missed
// (docs/protocol.md, "Resuming"). An event stays buffered for Window after
// it was emitted, and a conversation keeps at most its Events newest.
type ResumeConfig struct {
	Events int           // zero means DefaultResumeEvents; negative turns resuming off
	Window time.Duration // zero means DefaultResumeWindow; negative is refused (Config.Validate)
}

func (r ResumeConfig) withDefaults() ResumeConfig {
	if r.Events == 0 {
		r.Events = DefaultResumeEvents
	}
	if r.Window <= 0 {
		r.Window = DefaultResumeWindow
	}
	return r
}

// Hub keeps the rooms (one per conversation) and emits events into them.
// It is safe for concurrent use.
type Hub struct {
	catalog   *chat.Catalog
	resume    ResumeConfig
	eventsOut *prometheus.CounterVec
	replayed  prometheus.Counter
	gaps      prometheus.Counter

	// mu guards the rooms map; a room's own fields are guarded by its mu,
	// taken with h.mu held (read or write), so that sweep, which holds
	// h.mu for writing, never removes a room somebody is using.
	mu        sync.RWMutex
	rooms     map[string]*room
	lastSweep atomic.Int64 // UnixNano of the last sweep (maybeSweep)
}

// room is one conversation: the connections that joined it and the events
// recently emitted into it.
type room struct {
	mu      sync.Mutex
	conns   map[*Conn]struct{}
	seq     uint64 // seq of the latest event (the room's start before the first)
	dropped uint64 // highest seq no longer buffered (the room's start before any)
	// buf[head:] are the buffered events, oldest first. Trimming moves
	// head; the slice is compacted once head passes half of it, so each
	// event is moved at most once on average, not once per emit.
	buf  []buffered
	head int
}

// events returns r's buffered events, oldest first. r is locked.
func (r *room) events() []buffered { return r.buf[r.head:] }

// buffered is one emitted event as kept for resuming: its encoded frame
// (shared with the send queues) and what decides who may have it.
type buffered struct {
	seq      uint64
	at       time.Time
	frame    []byte
	from     string
	audience chat.Audience
	members  []string
}

func (b *buffered) mayHave(c *Conn) bool {
	return b.audience.Includes(b.from, c.claims.User, c.claims.Role) &&
		(b.members == nil || slices.Contains(b.members, c.claims.User))
}

// NewHub returns an empty hub for catalog's jobs. It registers
// chatbench_events_out_total and the resume counters on reg (nil = not
// registered).
func NewHub(catalog *chat.Catalog, reg prometheus.Registerer, resume ResumeConfig) *Hub {
	now := time.Now()
	h := &Hub{
		catalog: catalog,
		resume:  resume.withDefaults(),
		eventsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_events_out_total", Help: "Event frames queued to client connections, by job (chat_job) and class.",
		}, []string{"chat_job", "class"}), // not "job": Prometheus's own target label
		replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatbench_resume_replayed_total", Help: "Buffered events sent again to clients that joined with since.",
		}),
		gaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatbench_resume_gaps_total", Help: "Joins with since that asked for events no longer buffered.",
		}),
		rooms: make(map[string]*room),
	}
	h.lastSweep.Store(now.UnixNano())
	if reg != nil {
		reg.MustRegister(h.eventsOut, h.replayed, h.gaps)
	}
	return h
}

// inRoomLocked runs fn on conv's room with the room locked and h.mu held
// (for reading; for writing when it had to make the room, which it does
// only with create). It reports false
// (without running fn) when the room does not exist and create is false.
func (h *Hub) inRoomLocked(conv string, create bool, fn func(r *room)) bool {
	h.mu.RLock()
	r := h.rooms[conv]
	if r == nil {
		h.mu.RUnlock()
		if !create {
			return false
		}
		h.mu.Lock()
		if r = h.rooms[conv]; r == nil {
			// A room's seqs start from the clock, in µs (see Emit).
			start := uint64(time.Now().UnixMicro())
			r = &room{conns: make(map[*Conn]struct{}), seq: start, dropped: start}
			h.rooms[conv] = r
		}
		r.mu.Lock()
		fn(r)
		r.mu.Unlock()
		h.mu.Unlock()
		return true
	}
	r.mu.Lock()
	fn(r)
	r.mu.Unlock()
	h.mu.RUnlock()
	return true
}

// join adds c to conv's room; it reports false if c was already there. With
// since > 0 it first queues to c the buffered events of conv after since
// that c's user may have, in order, atomically with joining: no event is
// both replayed and delivered live, and none falls between.
func (h *Hub) join(c *Conn, conv string, since uint64) (added bool, res chat.Resume) {
	h.inRoomLocked(conv, true, func(r *room) {
		if _, ok := r.conns[c]; ok {
			res.LastSeq = r.seq
			return
		}
		added = true
		r.conns[c] = struct{}{}
		res.LastSeq = r.seq
		if since == 0 || h.resume.Events < 0 {
			return
		}
		h.trim(r, time.Now())
		res.Gap = since < r.dropped
		log := r.events()
		for i := range log {
			if b := &log[i]; b.seq > since && b.mayHave(c) && c.enqueue(b.frame) {
				res.Replayed++
			}
		}
	})
	if res.Gap {
		h.gaps.Inc()
	}
	h.replayed.Add(float64(res.Replayed))
	return added, res
}

// leave removes c from conv's room; it reports false if c was not there.
func (h *Hub) leave(c *Conn, conv string) bool {
	left := false
	h.inRoomLocked(conv, false, func(r *room) {
		if _, left = r.conns[c]; left {
			delete(r.conns, c)
		}
	})
	return left
}

// inRoom reports whether c has joined conv.
func (h *Hub) inRoom(c *Conn, conv string) bool {
	in := false
	h.inRoomLocked(conv, false, func(r *room) { _, in = r.conns[c] })
	return in
}

// Emit stamps ev's emitted hop and its seq, encodes it once, buffers it for
// resuming and queues it to every connection in ev.Conv whose user is in
// ev.Audience. A connection whose send queue is full is closed as a slow
// consumer and not counted.
func (h *Hub) Emit(ev *chat.Event) int {
	h.maybeSweep(time.Now())
	n := 0
	h.inRoomLocked(ev.Conv, h.resume.Events >= 0, func(r *room) {
		now := time.Now()
		// The seq follows the clock in µs where it can, so that it keeps
		// growing across a restart and a room's removal.
		us := now.UnixMicro()
		r.seq = max(r.seq+1, uint64(us))
		ev.Seq = r.seq
		ev.Hops.Emitted = us
		frame, err := chat.EncodeEvent(ev)
		if err != nil {
			// Only an invalid RawMessage from a handler can get here.
			ev.Status, ev.ErrCode, ev.Data = chat.StatusError, chat.CodeJobFailed, nil
			frame, _ = chat.EncodeEvent(ev)
		}
		b := buffered{seq: r.seq, at: now, frame: frame, from: ev.From, audience: ev.Audience, members: ev.Members}
		for c := range r.conns {
			if b.mayHave(c) && c.enqueue(frame) {
				n++
			}
		}
		if h.resume.Events >= 0 {
			r.buf = append(r.buf, b)
			h.trim(r, now)
		}
	})
	if n > 0 {
		class := chat.ClassRelay
		if j := h.catalog.Job(ev.Job); j != nil {
			class = j.Class
		}
		h.eventsOut.WithLabelValues(ev.Job, string(class)).Add(float64(n))
	}
	return n
}

// trim drops the events of r that are too old or too many. r is locked.
func (h *Hub) trim(r *room, now time.Time) {
	log := r.events()
	cut := max(0, len(log)-h.resume.Events)
	for cut < len(log) && now.Sub(log[cut].at) > h.resume.Window {
		cut++
	}
	if cut == 0 {
		return
	}
	r.dropped = log[cut-1].seq
	clear(log[:cut]) // let the frames go
	r.head += cut
	if r.head > len(r.buf)/2 {
		n := copy(r.buf, r.buf[r.head:])
		clear(r.buf[n:])
		r.buf, r.head = r.buf[:n], 0
	}
}

// maybeSweep removes, at most once per resume window, the rooms nobody is
// in whose buffered events have all expired, so that a server that has
// seen many conversations does not keep one room for each.
func (h *Hub) maybeSweep(now time.Time) {
	last := h.lastSweep.Load()
	if now.UnixNano()-last <= int64(h.resume.Window) || !h.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return // not due, or another Emit is sweeping
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for conv, r := range h.rooms {
		r.mu.Lock()
		h.trim(r, now)
		idle := len(r.conns) == 0 && len(r.events()) == 0
		r.mu.Unlock()
		if idle {
			delete(h.rooms, conv)
		}
	}
}

// removeAll takes c out of every room in convs.
func (h *Hub) removeAll(c *Conn, convs map[string]bool) {
	for conv := range convs {
		h.leave(c, conv)
	}
}

// members returns the users with a connection in conv's room, sorted.
func (h *Hub) members(conv string) []string {
	var out []string
	h.inRoomLocked(conv, false, func(r *room) {
		out = make([]string, 0, len(r.conns))
		for c := range r.conns {
			out = append(out, c.claims.User)
		}
	})
	if out == nil {
		return []string{}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
