package socket

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
)

// AcceptedWindow is how long the front door remembers a message it
// accepted, from its acceptance or its latest resend — key (from, id), value
// the members its ack listed. A join,
// leave or send resent with the same id within it is answered with the same
// ack and not dispatched again (see "Resending" in docs/protocol.md). The
// broker keeps it: the in-memory broker per front-door process (a
// restarted server has forgotten it), the Redis broker for every instance
// sharing the Redis, across restarts of any of them.
const AcceptedWindow = 10 * time.Minute

// Resend outcomes (label values of chatbench_resends_total).
const resendDuplicateAcked = "duplicate_acked"

func newResendsCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chatbench_resends_total",
		Help: "Frames resent by clients with an id the front door had already accepted, by outcome (duplicate_acked: answered with the original ack, not dispatched again).",
	}, []string{"outcome"})
	if reg != nil {
		reg.MustRegister(c)
	}
	return c
}

// ackDuplicate answers a frame whose (from, id) the front door already
// accepted (ans, from the broker's accepted-id window): the same ack, with
// the members it listed, and nothing else — no relay, no jobs. It reports
// false for a message not accepted before, which the caller then
// dispatches.
func (c *Conn) ackDuplicate(id string, ans *Answer, res *chat.Resume) bool {
	if ans == nil || !ans.Accepted {
		return false
	}
	c.srv.resends.WithLabelValues(resendDuplicateAcked).Inc()
	c.srv.log.Debug("resend of an accepted message acked again", "conn", c.id, "id_len", len(id))
	c.enqueue(encodeAck(id, ans.AcceptedMembers, res))
	return true
}
