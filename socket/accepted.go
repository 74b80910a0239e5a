package socket

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
)

// AcceptedWindow is how long (at least) the front door remembers a message
// it accepted — key (from, id), value the members its ack listed. A join,
// leave or send resent with the same id within it is answered with the same
// ack and not dispatched again (see "Resending" in docs/protocol.md). The
// memory is per front-door process: a restarted server has forgotten it.
const AcceptedWindow = 10 * time.Minute

// Resend outcomes (label values of chatbench_resends_total).
const resendDuplicateAcked = "duplicate_acked"

// acceptedSet remembers accepted (from, id) keys with their ack's members
// for at least window and at most twice that, in two generations swapped
// every window, like seenSet. It is safe for concurrent use.
type acceptedSet struct {
	window  time.Duration
	resends *prometheus.CounterVec

	mu        sync.Mutex
	cur, prev map[string][]string
	rotated   time.Time
}

func newAcceptedSet(window time.Duration, reg prometheus.Registerer) *acceptedSet {
	a := &acceptedSet{
		window: window, cur: map[string][]string{}, prev: map[string][]string{}, rotated: time.Now(),
		resends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_resends_total",
			Help: "Frames resent by clients with an id the front door had already accepted, by outcome (duplicate_acked: answered with the original ack, not dispatched again).",
		}, []string{"outcome"}),
	}
	if reg != nil {
		reg.MustRegister(a.resends)
	}
	return a
}

func acceptedKey(from, id string) string { return from + "\x00" + id }

// rotateLocked swaps generations when a window has passed.
func (a *acceptedSet) rotateLocked(now time.Time) {
	switch age := now.Sub(a.rotated); {
	case age >= 2*a.window: // idle for two windows: everything has expired
		a.prev, a.cur, a.rotated = map[string][]string{}, map[string][]string{}, now
	case age >= a.window:
		a.prev, a.cur, a.rotated = a.cur, make(map[string][]string, len(a.cur)), now
	}
}

// put remembers that (from, id) was accepted with members.
func (a *acceptedSet) put(from, id string, members []string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rotateLocked(now)
	a.cur[acceptedKey(from, id)] = slices.Clip(members)
}

// get returns the members remembered for (from, id), and whether it was
// accepted within the window. A hit is refreshed into the current
// generation.
func (a *acceptedSet) get(from, id string, now time.Time) ([]string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rotateLocked(now)
	k := acceptedKey(from, id)
	if m, ok := a.cur[k]; ok {
		return m, true
	}
	if m, ok := a.prev[k]; ok {
		a.cur[k] = m
		return m, true
	}
	return nil, false
}

// ackDuplicate answers a frame whose (from, id) the front door already
// accepted: the same ack, with the members it listed, and nothing else —
// no relay, no jobs. It reports false for a message not accepted before,
// which the caller then dispatches.
func (c *Conn) ackDuplicate(from, id string, res *chat.Resume) bool {
	members, ok := c.srv.accepted.get(from, id, time.Now())
	if !ok {
		return false
	}
	c.srv.accepted.resends.WithLabelValues(resendDuplicateAcked).Inc()
	c.srv.log.Debug("resend of an accepted message acked again", "conn", c.id, "id_len", len(id))
	c.enqueue(encodeAck(id, members, res))
	return true
}

// remember records an accepted message for ackDuplicate.
func (c *Conn) remember(from, id string, members []string) {
	c.srv.accepted.put(from, id, members, time.Now())
}
