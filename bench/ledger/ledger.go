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
//
// The files follow a message through the ledger: plan.go (Expect, Sent),
// answer.go (its ack or refusal, and what it is then owed), match.go (its
// events), leave.go (leaves excuse what is still owed), outcome.go (how an
// expected delivery ends), then what is kept: groups.go, stats.go,
// series.go, hops.go, outstanding.go; fill.go writes it all into the
// results.
package ledger

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbench/chatbench/chat"
)

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

const nShards = 16

// shard holds the state of the conversations that hash to it.
type shard struct {
	idx  int
	mu   sync.Mutex
	msgs []*message
	// unanswered counts, by conversation, the messages sent and not
	// answered; the map is filled by Expect, the counts change without the
	// lock (SentHandle takes none).
	unanswered map[string]*atomic.Int64
	owed       map[convUser]map[*message]int // pending deliveries by recipient and conversation
	left       map[convUser]bool             // leave acked
	order      map[orderKey]int64            // last gateway_in seen
	groups     map[string]*group
	groupsJC   map[[2]string][]*group // groupsOf's answers, by job and class
	hops       map[string]hopHists    // by class
	stats      Stats
	rejected   map[string]int
}

type convUser struct{ user, conv string }

// Validate checks cfg: it needs a Catalog or an Expect, and every role in
// Roles must be a known one.
func (cfg Config) Validate() error {
	if cfg.Catalog == nil && cfg.Expect == nil {
		return errors.New("ledger: Config.Catalog or Config.Expect is required: it says which deliveries a message must cause")
	}
	for u, r := range cfg.Roles {
		if !chat.ValidRole(r) {
			return fmt.Errorf("ledger: Config.Roles[%q] %q: must be %q or %q", u, r, chat.RolePatient, chat.RoleProvider)
		}
	}
	return nil
}

// New returns an empty ledger, or cfg's error (see Validate).
func New(cfg Config) (*Ledger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Ledger{cfg: cfg, expect: cfg.Expect, seed: maphash.MakeSeed(), msgs: make(map[msgKey]*message)}
	if l.expect == nil {
		l.expect = cfg.Catalog.Deliveries
	}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.idx = i
		sh.owed = make(map[convUser]map[*message]int)
		sh.unanswered = make(map[string]*atomic.Int64)
		sh.left = make(map[convUser]bool)
		sh.order = make(map[orderKey]int64)
		sh.groups = make(map[string]*group)
		sh.groupsJC = make(map[[2]string][]*group)
		sh.hops = make(map[string]hopHists)
		sh.rejected = make(map[string]int)
	}
	return l, nil
}

func (l *Ledger) shardOf(conv string) *shard {
	return &l.shards[maphash.String(l.seed, conv)%nShards]
}

// Begin sets the replay's start instant (offset 0) and its warm-up:
// deliveries of messages scheduled in the first warmup are counted but not
// timed, and the per-second series starts after it.
func (l *Ledger) Begin(start time.Time, warmup time.Duration) {
	l.start, l.warmup = start, max(0, warmup)
}

// base is the instant the measured part of the replay starts.
func (l *Ledger) base() time.Time { return l.start.Add(l.warmup) }

func (l *Ledger) role(user string) chat.Role {
	if r, ok := l.cfg.Roles[user]; ok {
		return r
	}
	return chat.RolePatient
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
		l.finishShard(&l.shards[i])
	}
	l.outstanding.Store(0)
	l.wake()
}

// finishShard settles what sh still owes; the caller holds sh.mu.
func (l *Ledger) finishShard(sh *shard) {
	for _, m := range sh.msgs {
		if m.sent.Load() == 0 {
			continue
		}
		if !m.acked && !m.rejected {
			sh.stats.Unacked++
			l.dropEarly(sh, m)
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
