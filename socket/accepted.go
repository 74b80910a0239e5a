package socket

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/ttlset"
)

// AcceptedWindow is how long the front door remembers a message it
// accepted, from its acceptance or its latest resend — key (from, id), value
// the members its ack listed. A join,
// leave or send resent with the same id within it is answered with the same
// ack and not dispatched again (see "Resending" in docs/protocol.md). The
// memory is per front-door process: a restarted server has forgotten it.
const AcceptedWindow = 10 * time.Minute

// Resend outcomes (label values of chatbench_resends_total).
const resendDuplicateAcked = "duplicate_acked"

// acceptedSet remembers accepted messages with their ack's members for
// window after they were last seen (a resend refreshes them), and counts
// the resends it answers. It is safe for concurrent use.
type acceptedSet struct {
	acks    *ttlset.Set[msgKey, []string]
	resends *prometheus.CounterVec
}

func newAcceptedSet(window time.Duration, reg prometheus.Registerer) *acceptedSet {
	a := &acceptedSet{
		acks: ttlset.New[msgKey, []string](ttlset.Config{TTL: window, Refresh: true}),
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

// put remembers that (from, id) was accepted with members.
func (a *acceptedSet) put(from, id string, members []string, now time.Time) {
	a.acks.Put(msgKey{from, id}, slices.Clip(members), now)
}

// get returns the members remembered for (from, id), and whether it was
// accepted within the window.
func (a *acceptedSet) get(from, id string, now time.Time) ([]string, bool) {
	return a.acks.Get(msgKey{from, id}, now)
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
