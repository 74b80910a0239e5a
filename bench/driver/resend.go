package driver

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
)

// The client side of the resend protocol (docs/protocol.md, "Resending").
// When a peer's connection drops, its reader reconnects with exponential
// backoff, re-authenticates, joins again every conversation the user had
// joined (driver-internal join frames, ids starting with InternalIDPrefix,
// which the ledger never sees), and resends every message of the user that
// was sent but neither acked nor rejected, with the same id, in the order
// they were first sent. Latency stays measured from each message's
// scheduled instant. Config.NoResend turns all of it off.

// InternalIDPrefix starts the ids of the driver's own frames (re-joins after
// a reconnect). Frames answering them, and events they cause, are left out
// of the ledger; traces must not use ids with this prefix (trace validation
// refuses them).
const InternalIDPrefix = trace.ReservedIDPrefix

// Reconnect backoff: the first retry waits reconnectBase, each further one
// twice as long up to reconnectMax, for at most reconnectAttempts dials.
const (
	reconnectBase     = 25 * time.Millisecond
	reconnectMax      = 2 * time.Second
	reconnectAttempts = 8
)

func internal(id string) bool { return strings.HasPrefix(id, InternalIDPrefix) }

// resendState is what a reconnect must redo for one peer.
type resendState struct {
	// seen is the highest event seq seen per conversation, which a re-join
	// asks to resume from. Only the reader goroutine touches it (redo runs
	// there too).
	seen       map[string]uint64
	rejoinConv map[string]string // internal re-join id → conversation, until its ack

	mu       sync.Mutex
	pending  map[string]*trace.Record // sent, not answered (the schedule's own records)
	order    []string                 // pending ids in first-send order (may hold answered ones)
	joined   map[string]bool          // conversations whose join was acked and no leave since
	rejoins  int                      // internal ids used
	attempts map[string]int           // retries after retryable refusals, by id (retry.go)
}

// track records that r was sent and awaits its answer. It keeps r itself,
// not a copy: the schedule's records live, unchanged, as long as the replay.
func (p *peer) track(r *trace.Record) {
	p.rs.mu.Lock()
	defer p.rs.mu.Unlock()
	if p.rs.pending == nil {
		p.rs.pending = map[string]*trace.Record{}
	}
	if _, ok := p.rs.pending[r.ID]; !ok {
		p.rs.pending[r.ID] = r
		p.rs.order = append(p.rs.order, r.ID)
	}
}

// unanswered reports whether id was sent and awaits its answer.
func (p *peer) unanswered(id string) bool {
	p.rs.mu.Lock()
	defer p.rs.mu.Unlock()
	_, ok := p.rs.pending[id]
	return ok
}

// answered records the ack (or error) of id, and with it which
// conversations the user is in.
func (p *peer) answered(id string, acked bool) {
	p.rs.mu.Lock()
	defer p.rs.mu.Unlock()
	r, ok := p.rs.pending[id]
	if !ok {
		return
	}
	delete(p.rs.pending, id)
	if len(p.rs.pending) == 0 {
		p.rs.order = p.rs.order[:0]
	}
	if !acked {
		return
	}
	switch r.Type {
	case chat.OpJoin:
		if p.rs.joined == nil {
			p.rs.joined = map[string]bool{}
		}
		p.rs.joined[r.Conv] = true
	case chat.OpLeave:
		delete(p.rs.joined, r.Conv)
	}
}

// redo returns the frames a new connection must carry first: re-joins with
// fresh internal ids, then the unanswered messages with their own ids.
func (p *peer) redo() (frames []chat.ClientFrame, resent int) {
	p.rs.mu.Lock()
	defer p.rs.mu.Unlock()
	convs := make([]string, 0, len(p.rs.joined))
	for c := range p.rs.joined {
		convs = append(convs, c)
	}
	slices.Sort(convs)
	// Acks of the previous connection's re-joins can no longer come.
	p.rs.rejoinConv = make(map[string]string, len(convs))
	for _, c := range convs {
		p.rs.rejoins++
		id := InternalIDPrefix + "rejoin-" + strconv.Itoa(p.rs.rejoins)
		p.rs.rejoinConv[id] = c
		frames = append(frames, chat.ClientFrame{Op: chat.OpJoin, ID: id, Conv: c, Since: p.rs.seen[c]})
	}
	kept := p.rs.order[:0]
	for _, id := range p.rs.order {
		if r, ok := p.rs.pending[id]; ok {
			kept = append(kept, id)
			f := r.Frame()
			if f.Op == chat.OpJoin {
				// It may have been accepted with its ack lost: resume too.
				f.Since = p.rs.seen[f.Conv]
			}
			frames = append(frames, f)
			resent++
		}
	}
	p.rs.order = kept
	return frames, resent
}

// sawSeq keeps the highest event seq p has seen per conversation, from
// events and from join acks (a join ack's last_seq covers the events before
// the join, which were not addressed to the joining connection), and counts
// what re-joins replayed.
func (s *scheduler) sawSeq(p *peer, f *chat.ServerFrame) {
	if f.Event != nil {
		if f.Event.Seq > p.rs.seen[f.Event.Conv] {
			if p.rs.seen == nil {
				p.rs.seen = map[string]uint64{}
			}
			p.rs.seen[f.Event.Conv] = f.Event.Seq
		}
		return
	}
	p.rs.mu.Lock()
	conv, rejoin := p.rs.rejoinConv[f.ReplyTo]
	if rejoin {
		delete(p.rs.rejoinConv, f.ReplyTo)
	} else if r, ok := p.rs.pending[f.ReplyTo]; ok && r.Type == chat.OpJoin {
		conv = r.Conv
	}
	if conv != "" && f.LastSeq > p.rs.seen[conv] {
		if p.rs.seen == nil {
			p.rs.seen = map[string]uint64{}
		}
		p.rs.seen[conv] = f.LastSeq
	}
	p.rs.mu.Unlock()
	// Only joins with since (re-joins, resent joins) replay or report gaps.
	s.replayed.Add(int64(f.Replayed))
	if f.Gap {
		s.resumeGaps.Add(1)
	}
}

// reconnect replaces p's dropped connection and redoes what the old one
// left unanswered. It returns the new connection, or nil when resending is
// off, the replay is ending, or every attempt failed (the peer then stays
// dead and its unanswered messages count as unacked).
func (s *scheduler) reconnect(p *peer) *websocket.Conn {
	if s.cfg.NoResend {
		return nil
	}
	wait := reconnectBase
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	dialer := s.cfg.dialer()
	for attempt := range reconnectAttempts {
		timer.Reset(wait)
		select {
		case <-s.stop:
			return nil
		case <-timer.C:
		}
		wait = min(2*wait, reconnectMax)
		// With several instances, an attempt that failed moves on to the
		// next one (the user's own instance may be the one that is down).
		ws, err := Dial(s.dialCtx, dialer, s.cfg.targetOf(p.user, attempt), s.cfg.Secret, p.user, p.role)
		if err != nil {
			s.cfg.Logger.Debug("reconnect failed", "user", p.user, "err", err)
			continue
		}
		p.wmu.Lock()
		select {
		case <-s.stop:
			p.wmu.Unlock()
			_ = ws.Close()
			return nil
		default:
		}
		_ = p.ws.Close()
		p.ws = ws
		p.deadline = time.Time{}
		frames, resent := p.redo()
		ok := true
		for i := range frames {
			frames[i].SentAt = chat.NowMicros()
			b, _ := json.Marshal(&frames[i]) // cannot fail
			_ = ws.SetWriteDeadline(time.Now().Add(writeDeadline))
			if ws.WriteMessage(websocket.TextMessage, b) != nil {
				ok = false
				break
			}
		}
		if ok {
			p.dead.Store(false)
		} else {
			_ = ws.Close() // the reader's next read fails: reconnect again
		}
		p.wmu.Unlock()
		s.reconnects.Add(1)
		s.resent.Add(int64(resent))
		return ws
	}
	return nil
}
