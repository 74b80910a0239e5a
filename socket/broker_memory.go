package socket

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/ttlset"
)

// MemoryBroker is the broker of a single front-door process, the default:
// everything it shares lives in this process's memory, and Publish
// delivers before it returns. A restarted process has forgotten it all —
// its histories, its accepted and relayed ids. It is safe for concurrent
// use.
type MemoryBroker struct {
	resume  ResumeConfig
	handler Handler

	// mu guards convs; a conversation's fields are guarded by its own mu,
	// taken with mu held (read or write), so that sweep, which holds mu
	// for writing, never removes one somebody is using.
	mu        sync.RWMutex
	convs     map[string]*memConv
	lastSweep atomic.Int64 // UnixNano of the last sweep (maybeSweep)

	accepted *ttlset.Set[msgKey, []string] // (from, id) → its ack's members, AcceptedWindow
	relayed  *ttlset.Set[msgKey, struct{}] // relays sent, RelayWindow
	once     *ttlset.Set[string, struct{}] // FirstTime keys
	users    userConns                     // open connections per user (limit.go)
}

var (
	_ Broker      = (*MemoryBroker)(nil)
	_ ConnLimiter = (*MemoryBroker)(nil)
	_ Deduper     = (*MemoryBroker)(nil)
)

// memConv is one conversation: its members and its recently emitted events.
type memConv struct {
	mu      sync.Mutex
	members map[string]struct{}
	seq     uint64 // seq of the latest event (the conversation's start before the first)
	dropped uint64 // highest seq no longer kept (the start before any)
	// buf[head:] are the kept events, oldest first. Trimming moves head;
	// the slice is compacted once head passes half of it, so each event is
	// moved at most once on average, not once per publish.
	buf  []memEntry
	head int
}

// memEntry is a kept publication and when it was published.
type memEntry struct {
	p  Publication
	at time.Time
}

func (c *memConv) events() []memEntry { return c.buf[c.head:] }

// NewMemoryBroker returns an empty in-process broker keeping resume's
// events per conversation.
func NewMemoryBroker(resume ResumeConfig) *MemoryBroker {
	b := &MemoryBroker{
		resume:   resume.withDefaults(),
		convs:    make(map[string]*memConv),
		accepted: ttlset.New[msgKey, []string](ttlset.Config{TTL: AcceptedWindow, Refresh: true}),
		relayed:  ttlset.New[msgKey, struct{}](ttlset.Config{TTL: RelayWindow, Refresh: true}),
		once:     ttlset.New[string, struct{}](ttlset.Config{TTL: AcceptedWindow, MaxKeys: 1 << 20}),
	}
	b.lastSweep.Store(time.Now().UnixNano())
	return b
}

// Attach implements Broker.
func (b *MemoryBroker) Attach(h Handler) { b.handler = h }

// inConv runs fn on conv's conversation with it locked and b.mu held (for
// reading; for writing when it had to make it, which it does only with
// create). It reports false (without running fn) when the conversation
// does not exist and create is false.
func (b *MemoryBroker) inConv(conv string, create bool, fn func(c *memConv)) bool {
	b.mu.RLock()
	c := b.convs[conv]
	if c == nil {
		b.mu.RUnlock()
		if !create {
			return false
		}
		b.mu.Lock()
		if c = b.convs[conv]; c == nil {
			// A conversation's seqs start from the clock, in µs (see Publish).
			start := uint64(time.Now().UnixMicro())
			c = &memConv{members: make(map[string]struct{}), seq: start, dropped: start}
			b.convs[conv] = c
		}
		c.mu.Lock()
		fn(c)
		c.mu.Unlock()
		b.mu.Unlock()
		return true
	}
	c.mu.Lock()
	fn(c)
	c.mu.Unlock()
	b.mu.RUnlock()
	return true
}

// Publish implements Broker: it stamps, encodes, keeps and delivers ev
// with the conversation locked, so deliveries keep seq order.
func (b *MemoryBroker) Publish(ev *chat.Event) (int, error) {
	b.maybeSweep(time.Now())
	n := 0
	keep := b.resume.Events >= 0
	b.inConv(ev.Conv, keep, func(c *memConv) {
		now := time.Now()
		// The seq follows the clock in µs where it can, so that it keeps
		// growing across a restart and a conversation's removal.
		us := now.UnixMicro()
		c.seq = max(c.seq+1, uint64(us))
		ev.Seq = c.seq
		ev.Hops.Emitted = us
		frame := encodeEvent(ev)
		if !keep {
			p := publication(ev, frame) // escapes: only here, not when kept
			n = b.handler.Deliver(&p)
			return
		}
		c.buf = append(c.buf, memEntry{p: publication(ev, frame), at: now})
		n = b.handler.Deliver(&c.buf[len(c.buf)-1].p)
		b.trim(c, now)
	})
	return n, nil
}

// Lookup implements Broker; it never fails.
func (b *MemoryBroker) Lookup(_ context.Context, q *Query) (Answer, error) {
	var ans Answer
	now := time.Now()
	if q.ID != "" {
		ans.AcceptedMembers, ans.Accepted = b.accepted.Get(msgKey{q.User, q.ID}, now)
	}
	if q.Relay {
		ans.Relay = b.relayed.Add(msgKey{q.User, q.ID}, struct{}{}, now)
	}
	if q.Enter || q.Exit || q.Members || q.Resume {
		b.inConv(q.Conv, q.Enter, func(c *memConv) {
			if q.Enter {
				c.members[q.User] = struct{}{}
			}
			if q.Exit {
				delete(c.members, q.User)
			}
			if q.Members {
				ans.Members = make([]string, 0, len(c.members))
				for u := range c.members {
					ans.Members = append(ans.Members, u)
				}
				slices.Sort(ans.Members)
			}
			ans.LastSeq = c.seq
			if !q.Resume || b.resume.Events < 0 {
				return
			}
			b.trim(c, now)
			ans.Gap = q.Since < c.dropped
			for _, e := range c.events() {
				if e.p.Seq > q.Since {
					ans.History = append(ans.History, e.p)
				}
			}
		})
	}
	if ans.Members == nil {
		ans.Members = []string{}
	}
	return ans, nil
}

// Remember implements Broker.
func (b *MemoryBroker) Remember(user, id string, members []string) {
	b.accepted.Put(msgKey{user, id}, slices.Clip(members), time.Now())
}

// AdmitConn implements ConnLimiter, for this process's connections.
func (b *MemoryBroker) AdmitConn(_ context.Context, user string, limit int) (func(), error) {
	if !b.users.acquire(user, limit) {
		return nil, ErrTooManyConns
	}
	return func() { b.users.release(user) }, nil
}

// FirstTime implements Deduper; ttl is at most AcceptedWindow here.
func (b *MemoryBroker) FirstTime(_ context.Context, key string, _ time.Duration) (bool, error) {
	return b.once.Add(key, struct{}{}, time.Now()), nil
}

// trim drops the events of c that are too old or too many. c is locked.
func (b *MemoryBroker) trim(c *memConv, now time.Time) {
	log := c.events()
	cut := max(0, len(log)-b.resume.Events)
	for cut < len(log) && now.Sub(log[cut].at) > b.resume.Window {
		cut++
	}
	if cut == 0 {
		return
	}
	c.dropped = log[cut-1].p.Seq
	clear(log[:cut]) // let the frames go
	c.head += cut
	if c.head > len(c.buf)/2 {
		n := copy(c.buf, c.buf[c.head:])
		clear(c.buf[n:])
		c.buf, c.head = c.buf[:n], 0
	}
}

// maybeSweep removes, at most once per resume window, the conversations
// nobody is in whose kept events have all expired, so that a server that
// has seen many conversations does not keep one entry for each.
func (b *MemoryBroker) maybeSweep(now time.Time) {
	last := b.lastSweep.Load()
	if now.UnixNano()-last <= int64(b.resume.Window) || !b.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return // not due, or another Publish is sweeping
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for conv, c := range b.convs {
		c.mu.Lock()
		b.trim(c, now)
		idle := len(c.members) == 0 && len(c.events()) == 0
		c.mu.Unlock()
		if idle {
			delete(b.convs, conv)
		}
	}
}
