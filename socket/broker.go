package socket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
)

// The broker is the seam between the hub — this process's rooms and
// connections — and the state every instance of a front door must share
// to behave as one: the events emitted (each conversation's seq, its resume
// history and the fan-out to every instance), who is in each conversation
// (the members of acks), the accepted-id and relayed-id windows, and
// (an optional ability, ConnLimiter) the per-user connection cap. The two
// implementations sit beside this file: broker_memory.go (one process,
// the default) and broker_redis.go (several instances sharing a Redis).
// Optional abilities are discovered by type assertion: ConnLimiter, Flusher,
// Deduper, Keeper and Closer.

// Publication is an emitted event as a broker carries it: encoded once,
// with what decides which connections may have it. Brokers hand it to the
// hub (Handler.Deliver) and keep it for resuming (Answer.History).
type Publication struct {
	Conv  string
	Seq   uint64
	Job   string // for the hub's metrics
	Frame []byte // the encoded event frame, seq included; shared, never modified
	From  string
	// Audience and Members decide who may have it (see "Who receives an
	// event" in docs/protocol.md); nil Members means no restriction.
	Audience chat.Audience
	Members  []string
}

// mayHave reports whether a connection of user (with role) may receive p.
func (p *Publication) mayHave(user string, role chat.Role) bool {
	return p.Audience.Includes(p.From, user, role) &&
		(p.Members == nil || slices.Contains(p.Members, user))
}

// Handler is what a broker delivers to: the hub of this process.
type Handler interface {
	// Deliver queues p to this process's connections in p.Conv that may
	// have it, and returns how many. A broker calls it in seq order per
	// conversation, never for two publications of one conversation at once.
	Deliver(p *Publication) int
	// Lost tells the hub that publications may have been lost on their way
	// to this process (a broker's subscription broke and was restored): the
	// hub ends its connections so that their clients resume from the
	// shared history, which reports a gap when it cannot fill one.
	Lost()
	// Present calls fn once for each (conversation, user) with a
	// connection in this process: what a shared broker keeps alive in its
	// members while this process runs.
	Present(fn func(conv, user string))
}

// Broker carries the state a front door's instances share. Its methods are
// safe for concurrent use.
type Broker interface {
	// Attach sets where publications are delivered. The hub calls it once,
	// from NewHub, before any other method.
	Attach(h Handler)
	// Publish assigns ev the next seq of ev.Conv (ev.Seq; ev.Hops.Emitted is
	// stamped), keeps it for resuming and delivers it to every instance's
	// hub, this one's included, in seq order per conversation. It returns
	// how many of this process's connections it was queued to when the
	// broker delivers before returning (memory), else 0. An error means the
	// broker did not take the event (it is not delivered).
	Publish(ev *chat.Event) (int, error)
	// Lookup answers, in one round trip to shared state, what the front door
	// must know about a client frame before acting on it, applying the
	// presence change it asks for (q.Enter, q.Exit) first. An error means
	// shared state is unreachable: the front door refuses the frame with
	// the retryable unavailable.
	Lookup(ctx context.Context, q *Query) (Answer, error)
	// Remember records that user's message id was accepted with members
	// (the accepted-id window, AcceptedWindow).
	Remember(user, id string, members []string)
}

// Query is what Lookup is asked about one client frame of User in Conv.
type Query struct {
	Conv, User string
	// ID, when not empty, is looked up in the accepted-id window (a hit
	// refreshes it).
	ID string
	// Enter puts User in Conv's members (a connection of the user joins);
	// Exit takes User out (its last connection in this process left).
	Enter, Exit bool
	// Members asks for the users in Conv (after Enter or Exit).
	Members bool
	// Resume asks for Conv's kept events after Since, and whether some of
	// them are no longer kept.
	Resume bool
	Since  uint64
	// Relay claims the relay of (User, ID) in the relayed-id window
	// (RelayWindow); Answer.Relay reports whether this was the first claim.
	Relay bool
}

// Answer is what Lookup found.
type Answer struct {
	// Members are the users in the conversation, sorted, never nil.
	Members []string
	// Accepted reports that (User, ID) was accepted within the window, and
	// AcceptedMembers the members its ack listed.
	Accepted        bool
	AcceptedMembers []string
	// Relay reports that the relay of (User, ID) is this frame's to send.
	Relay bool
	// LastSeq is the seq of the conversation's latest event (with Enter or
	// Resume).
	LastSeq uint64
	// History are the conversation's kept events after Since, oldest first
	// (with Resume); Gap reports that some events after Since are no longer
	// kept — too old, too many, or lost with the shared state — so the
	// client may have missed some.
	History []Publication
	Gap     bool
}

// ConnLimiter is the optional ability of a broker to apply the per-user
// connection cap across instances. A broker without it leaves the cap to
// each process.
type ConnLimiter interface {
	// AdmitConn takes one of user's limit connection slots (limit 0 =
	// unlimited) and returns the function that gives it back. It returns
	// ErrTooManyConns when user is at the limit, another error when the
	// shared count is unreachable.
	AdmitConn(ctx context.Context, user string, limit int) (release func(), err error)
}

// ErrTooManyConns is AdmitConn's answer for a user at the connection limit.
var ErrTooManyConns = errors.New("socket: too many connections for this user")

// Flusher is the optional ability of a broker that delivers asynchronously
// to wait until what this process published has been delivered back to it,
// so that a draining server closes its connections after their last events.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Deduper is the optional ability of a broker to remember keys across
// instances: the queue gateway's callback uses it (through Hub.FirstTime)
// so that a job redelivered to a worker that posts to another gateway
// still reaches no client twice.
type Deduper interface {
	// FirstTime records key for ttl and reports whether it was new.
	FirstTime(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// Keeper is the optional ability of a broker to keep small values for a
// while, shared between instances: the queue gateway's record of the
// messages it accepted lives there too (queuemode), so a worker's callback
// that reaches another gateway than the one that accepted the message is
// still checked against it. A broker without it leaves such records to
// each process.
type Keeper interface {
	// Keep stores value under key for ttl, replacing what was there.
	Keep(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Kept returns the value under key and whether there is one.
	Kept(ctx context.Context, key string) ([]byte, bool, error)
}

// Closer is the optional ability of a broker to release what it holds (its
// connections to shared state); the front door calls it last.
type Closer interface {
	Close() error
}

// Broker kinds, the scheme of a --broker URL.
const (
	BrokerMemory = "memory"
	BrokerRedis  = "redis"
)

// BrokerOptions are the settings every broker takes besides its URL.
type BrokerOptions struct {
	// Resume sizes each conversation's kept events.
	Resume     ResumeConfig
	Logger     *slog.Logger          // nil = discard
	Registerer prometheus.Registerer // nil = metrics not registered
}

// OpenBroker returns the broker rawURL names: "" or "memory" for the
// in-process one, redis://[user:password@]host:port[/db] for Redis. A Redis
// that cannot be reached is an error naming the URL.
func OpenBroker(rawURL string, opt BrokerOptions) (Broker, error) {
	if rawURL == "" || rawURL == BrokerMemory {
		return NewMemoryBroker(opt.Resume), nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != BrokerRedis && u.Scheme != "rediss") || u.Host == "" {
		return nil, fmt.Errorf("--broker %q: want memory or redis://host:port/db", rawURL)
	}
	return NewRedisBroker(RedisConfig{URL: rawURL, Resume: opt.Resume, Logger: opt.Logger, Registerer: opt.Registerer})
}

// BrokerKind returns the kind of broker rawURL names (BrokerMemory or
// BrokerRedis), for results and logs; it never includes credentials.
func BrokerKind(rawURL string) string {
	if rawURL == "" || rawURL == BrokerMemory {
		return BrokerMemory
	}
	return BrokerRedis
}

// encodeEvent encodes ev; an event a handler gave an invalid RawMessage is
// sent as the job's failure instead.
func encodeEvent(ev *chat.Event) []byte {
	frame, err := chat.EncodeEvent(ev)
	if err != nil {
		ev.Status, ev.ErrCode, ev.Data = chat.StatusError, chat.CodeJobFailed, nil
		frame, _ = chat.EncodeEvent(ev)
	}
	return frame
}

// publication returns ev, encoded, as a Publication.
func publication(ev *chat.Event, frame []byte) Publication {
	return Publication{Conv: ev.Conv, Seq: ev.Seq, Job: ev.Job, Frame: frame, From: ev.From, Audience: ev.Audience, Members: ev.Members}
}
