package socket

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"
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

var (
	_ Emitter = (*Hub)(nil)
	_ Handler = (*Hub)(nil)
)

// Defaults of ResumeConfig.
const (
	DefaultResumeEvents = 128
	DefaultResumeWindow = 2 * time.Minute
)

// ResumeConfig sizes each conversation's buffer of recent events, from
// which a client that reconnects and joins with since gets what it missed
// (docs/protocol.md, "Resuming"). An event stays buffered for Window after
// it was emitted, and a conversation keeps at most its Events newest. The
// broker keeps them (in this process's memory, or in Redis).
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

// Hub keeps this process's rooms (one per conversation with a connection
// here) and emits events through its broker, which delivers them back to
// the rooms of every instance. It is safe for concurrent use.
type Hub struct {
	catalog   *chat.Catalog
	broker    Broker
	eventsOut *prometheus.CounterVec
	replayed  prometheus.Counter
	gaps      prometheus.Counter

	// mu guards the rooms map, for writing when a room is made or removed;
	// a room's conns are guarded by its mu, taken with mu held.
	mu    sync.RWMutex
	rooms map[string]*room
}

// room is one conversation's connections in this process.
type room struct {
	mu    sync.Mutex
	conns map[*Conn]*member
}

// member is a connection's place in a room. While it resumes (recovering),
// deliveries wait in held; afterwards those with a seq at most floor — the
// ones its replay already sent — are skipped.
type member struct {
	recovering bool
	held       []Publication
	floor      uint64
}

// NewHub returns a hub for catalog's jobs on broker b (nil = a
// MemoryBroker with the default resume settings). It registers
// chatbench_events_out_total and the resume counters on reg (nil = not
// registered).
func NewHub(catalog *chat.Catalog, reg prometheus.Registerer, b Broker) *Hub {
	if b == nil {
		b = NewMemoryBroker(ResumeConfig{})
	}
	h := &Hub{
		catalog: catalog,
		broker:  b,
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
	if reg != nil {
		reg.MustRegister(h.eventsOut, h.replayed, h.gaps)
	}
	b.Attach(h)
	return h
}

// Broker returns the hub's broker.
func (h *Hub) Broker() Broker { return h.broker }

// Emit stamps ev's emitted hop and its seq, encodes it once and publishes
// it through the broker, which keeps it for resuming and queues it to every
// connection in ev.Conv, on any instance, whose user is in ev.Audience. A
// connection whose send queue is full is closed as a slow consumer and not
// counted. It returns how many of this process's connections it was queued
// to before returning: all of them with the in-memory broker; 0 with a
// broker that delivers asynchronously (Redis).
func (h *Hub) Emit(ev *chat.Event) int {
	n, _ := h.broker.Publish(ev) // a broker that cannot take it has counted and logged it
	return n
}

// FirstTime records key for ttl in the broker, shared between instances
// when the broker is (Deduper), and reports whether it was new. A broker
// without the ability answers true: nothing is remembered.
func (h *Hub) FirstTime(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if d, ok := h.broker.(Deduper); ok {
		return d.FirstTime(ctx, key, ttl)
	}
	return true, nil
}

// Deliver implements Handler.
func (h *Hub) Deliver(p *Publication) int {
	n := 0
	h.mu.RLock()
	if r := h.rooms[p.Conv]; r != nil {
		r.mu.Lock()
		for c, m := range r.conns {
			switch {
			case p.Seq <= m.floor || !p.mayHave(c.claims.User, c.claims.Role):
			case m.recovering:
				m.held = append(m.held, *p)
			case c.enqueue(p.Frame):
				n++
			}
		}
		r.mu.Unlock()
	}
	h.mu.RUnlock()
	h.count(p.Job, n)
	return n
}

// count adds n frames of job to chatbench_events_out_total.
func (h *Hub) count(job string, n int) {
	if n == 0 {
		return
	}
	class := chat.ClassRelay
	if j := h.catalog.Job(job); j != nil {
		class = j.Class
	}
	h.eventsOut.WithLabelValues(job, string(class)).Add(float64(n))
}

// Lost implements Handler: every connection in a room is closed with 1012
// (service restart) after its queue is flushed; its client reconnects and
// joins again with since, and the shared history replays what this
// process may have missed, or the join's ack reports the gap.
func (h *Hub) Lost() {
	h.mu.RLock()
	var conns []*Conn
	for _, r := range h.rooms {
		r.mu.Lock()
		for c := range r.conns {
			conns = append(conns, c)
		}
		r.mu.Unlock()
	}
	h.mu.RUnlock()
	for _, c := range conns {
		c.close(websocket.CloseServiceRestart, "broker reconnected: join again with since to resume", true, reasonResync)
	}
}

// Present implements Handler.
func (h *Hub) Present(fn func(conv, user string)) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for conv, r := range h.rooms {
		r.mu.Lock()
		seen := make(map[string]bool, len(r.conns))
		for c := range r.conns {
			if u := c.claims.User; !seen[u] {
				seen[u] = true
				fn(conv, u)
			}
		}
		r.mu.Unlock()
	}
}

// enter puts c in conv's room; it reports false if c was already there.
// A recovering connection holds its deliveries until resumed.
func (h *Hub) enter(c *Conn, conv string, recovering bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[conv]
	if r == nil {
		r = &room{conns: make(map[*Conn]*member)}
		h.rooms[conv] = r
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.conns[c]; ok {
		return false
	}
	r.conns[c] = &member{recovering: recovering}
	return true
}

// resume finishes c's join of conv with what the broker answered: it
// queues the kept events after since that c's user may have, in order,
// then the deliveries held while it recovered that the replay did not
// cover, and then lets deliveries through — so no event is both replayed
// and delivered live, and none falls between.
func (h *Hub) resume(c *Conn, conv string, since uint64, ans *Answer) chat.Resume {
	res := chat.Resume{LastSeq: ans.LastSeq, Gap: ans.Gap}
	last := since
	for i := range ans.History {
		p := &ans.History[i]
		if p.Seq <= last {
			continue
		}
		last = p.Seq
		if p.mayHave(c.claims.User, c.claims.Role) && c.enqueue(p.Frame) {
			res.Replayed++
		}
	}
	h.mu.RLock()
	if r := h.rooms[conv]; r != nil {
		r.mu.Lock()
		if m := r.conns[c]; m != nil && m.recovering {
			for i := range m.held {
				if p := &m.held[i]; p.Seq > last {
					last = p.Seq
					if c.enqueue(p.Frame) {
						h.count(p.Job, 1)
					}
				}
			}
			m.recovering, m.held, m.floor = false, nil, last
		}
		r.mu.Unlock()
	}
	h.mu.RUnlock()
	res.LastSeq = max(res.LastSeq, last)
	if res.Gap {
		h.gaps.Inc()
	}
	h.replayed.Add(float64(res.Replayed))
	return res
}

// leave takes c out of conv's room; it reports false if c was not there,
// and whether c was its user's last connection in the room.
func (h *Hub) leave(c *Conn, conv string) (left, last bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[conv]
	if r == nil {
		return false, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, left = r.conns[c]; !left {
		return false, false
	}
	delete(r.conns, c)
	last = true
	for o := range r.conns {
		if o.claims.User == c.claims.User {
			last = false
			break
		}
	}
	if len(r.conns) == 0 {
		delete(h.rooms, conv)
	}
	return true, last
}

// inRoomLocked runs fn on conv's connections, locked, and returns what
// it returns; none when the room does not exist.
func (h *Hub) inRoomLocked(conv string, none bool, fn func(conns map[*Conn]*member) bool) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	r := h.rooms[conv]
	if r == nil {
		return none
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return fn(r.conns)
}

// lastHere reports whether c is the only connection of its user in conv's
// room (c being in it).
func (h *Hub) lastHere(c *Conn, conv string) bool {
	return h.inRoomLocked(conv, true, func(conns map[*Conn]*member) bool {
		for o := range conns {
			if o != c && o.claims.User == c.claims.User {
				return false
			}
		}
		return true
	})
}

// inRoom reports whether c has joined conv.
func (h *Hub) inRoom(c *Conn, conv string) bool {
	return h.inRoomLocked(conv, false, func(conns map[*Conn]*member) bool {
		_, in := conns[c]
		return in
	})
}

// part takes c out of conv's room without a client frame (its join was
// refused, or it disconnected): when it was its user's last connection
// here, the broker is told, as far as it can be within a second (a shared
// broker forgets the user anyway once this process stops vouching for it).
func (h *Hub) part(c *Conn, conv string) {
	if left, last := h.leave(c, conv); left && last {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = h.broker.Lookup(ctx, &Query{Conv: conv, User: c.claims.User, Exit: true})
		cancel()
	}
}

// removeAll takes c out of every room in convs.
func (h *Hub) removeAll(c *Conn, convs map[string]bool) {
	for conv := range convs {
		h.part(c, conv)
	}
}
