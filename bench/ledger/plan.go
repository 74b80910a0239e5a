package ledger

import (
	"sync/atomic"
	"time"

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

type msgKey struct{ from, id string }

// message is one planned message. The fields after sent are guarded by
// its shard's mutex.
type message struct {
	from, conv, typ string
	role            chat.Role
	offset          time.Duration // scheduled instant − start
	shard           *shard
	sent            atomic.Int64 // Unix ns; 0 = not sent
	// unanswered counts its conversation's messages sent and neither
	// acked nor rejected (shared by them; Owes).
	unanswered *atomic.Int64

	acked, rejected bool
	exps            []expectation
	early           []early
}

func (m *message) warm(l *Ledger) bool { return m.offset < l.warmup }

func (m *message) scheduled(l *Ledger) time.Time { return l.start.Add(m.offset) }

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
	un := sh.unanswered[conv]
	if un == nil {
		un = new(atomic.Int64)
		sh.unanswered[conv] = un
	}
	m := &message{from: from, conv: conv, typ: typ, role: role, offset: offset, shard: sh, unanswered: un}
	l.msgs[k] = m
	sh.msgs = append(sh.msgs, m)
	return true
}

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
	m.unanswered.Add(1)
	l.sent.Add(1)
	l.outstanding.Add(1)
	return true
}
