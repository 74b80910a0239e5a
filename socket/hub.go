package socket

import (
	"slices"
	"sync"

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

// Hub keeps the rooms (one per conversation) and emits events into them.
// It is safe for concurrent use.
type Hub struct {
	catalog   *chat.Catalog
	eventsOut *prometheus.CounterVec

	mu    sync.RWMutex
	rooms map[string]map[*Conn]struct{}
}

// NewHub returns an empty hub for catalog's jobs. It registers
// chatbench_events_out_total on reg (nil = not registered).
func NewHub(catalog *chat.Catalog, reg prometheus.Registerer) *Hub {
	h := &Hub{
		catalog: catalog,
		eventsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_events_out_total", Help: "Event frames queued to client connections, by job and class.",
		}, []string{"job", "class"}),
		rooms: make(map[string]map[*Conn]struct{}),
	}
	if reg != nil {
		reg.MustRegister(h.eventsOut)
	}
	return h
}

// join adds c to conv's room; it reports false if c was already there.
func (h *Hub) join(c *Conn, conv string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	room := h.rooms[conv]
	if room == nil {
		room = make(map[*Conn]struct{})
		h.rooms[conv] = room
	}
	if _, ok := room[c]; ok {
		return false
	}
	room[c] = struct{}{}
	return true
}

// leave removes c from conv's room; it reports false if c was not there.
func (h *Hub) leave(c *Conn, conv string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	room := h.rooms[conv]
	if _, ok := room[c]; !ok {
		return false
	}
	delete(room, c)
	if len(room) == 0 {
		delete(h.rooms, conv)
	}
	return true
}

// inRoom reports whether c has joined conv.
func (h *Hub) inRoom(c *Conn, conv string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, ok := h.rooms[conv][c]
	return ok
}

// Emit stamps ev's emitted hop, encodes it once and queues it to every
// connection in ev.Conv whose user is in ev.Audience. A connection whose
// send queue is full is closed as a slow consumer and not counted.
func (h *Hub) Emit(ev *chat.Event) int {
	ev.Hops.Emitted = chat.NowMicros()
	frame, err := chat.EncodeEvent(ev)
	if err != nil {
		// Only an invalid RawMessage from a handler can get here.
		ev.Status, ev.ErrCode, ev.Data = chat.StatusError, chat.CodeJobFailed, nil
		frame, _ = chat.EncodeEvent(ev)
	}
	n := 0
	h.mu.RLock()
	for c := range h.rooms[ev.Conv] {
		if ev.Audience.Includes(ev.From, c.claims.User, c.claims.Role) &&
			(ev.Members == nil || slices.Contains(ev.Members, c.claims.User)) && c.enqueue(frame) {
			n++
		}
	}
	h.mu.RUnlock()
	if n > 0 {
		class := chat.ClassRelay
		if j := h.catalog.Job(ev.Job); j != nil {
			class = j.Class
		}
		h.eventsOut.WithLabelValues(ev.Job, string(class)).Add(float64(n))
	}
	return n
}

// removeAll takes c out of every room in convs.
func (h *Hub) removeAll(c *Conn, convs map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for conv := range convs {
		if room := h.rooms[conv]; room != nil {
			delete(room, c)
			if len(room) == 0 {
				delete(h.rooms, conv)
			}
		}
	}
}

// members returns the users with a connection in conv's room, sorted.
func (h *Hub) members(conv string) []string {
	h.mu.RLock()
	out := make([]string, 0, len(h.rooms[conv]))
	for c := range h.rooms[conv] {
		out = append(out, c.claims.User)
	}
	h.mu.RUnlock()
	slices.Sort(out)
	return slices.Compact(out)
}
