package socket

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/redistest"
)

// sink is a Handler that records what a broker delivers.
type sink struct {
	mu    sync.Mutex
	got   []Publication
	lost  int
	more  chan struct{}
	users map[string][]string // Present's answer: conv → users
}

func newSink() *sink { return &sink{more: make(chan struct{}, 1024)} }

func (s *sink) Deliver(p *Publication) int {
	s.mu.Lock()
	s.got = append(s.got, *p)
	s.mu.Unlock()
	s.more <- struct{}{}
	return 1
}

func (s *sink) Lost() {
	s.mu.Lock()
	s.lost++
	s.mu.Unlock()
	s.more <- struct{}{}
}

func (s *sink) Present(fn func(conv, user string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for conv, us := range s.users {
		for _, u := range us {
			fn(conv, u)
		}
	}
}

// await waits until s has n deliveries and returns them.
func (s *sink) await(t *testing.T, n int) []Publication {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		got := slices.Clone(s.got)
		s.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-s.more:
		case <-deadline:
			t.Fatalf("%d deliveries after 5s, want %d", len(got), n)
		}
	}
}

func flush(t *testing.T, b Broker) {
	t.Helper()
	if f, ok := b.(Flusher); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func relayEvent(conv, from, id string) *chat.Event {
	return &chat.Event{Name: "text", Job: chat.RelayJob, Conv: conv, From: from, ReplyTo: id, Status: chat.StatusOK, Audience: chat.AudienceOthers}
}

// brokers returns a fresh broker of each kind; the Redis one is skipped
// when redis-server is not installed.
func brokers(t *testing.T, resume ResumeConfig) map[string]func(t *testing.T) Broker {
	return map[string]func(t *testing.T) Broker{
		BrokerMemory: func(*testing.T) Broker { return NewMemoryBroker(resume) },
		BrokerRedis: func(t *testing.T) Broker {
			srv := redistest.Start(t)
			b, err := NewRedisBroker(RedisConfig{URL: srv.URL(), Resume: resume})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = b.Close() })
			return b
		},
	}
}

// TestBroker states what every broker does: seqs grow and are in the
// delivered frame, members follow enter and exit, the accepted and relayed
// windows answer, and a resume replays what is kept after since and
// reports a gap for what is not.
func TestBroker(t *testing.T) {
	for kind, open := range brokers(t, ResumeConfig{Events: 3}) {
		t.Run(kind, func(t *testing.T) {
			b := open(t)
			s := newSink()
			b.Attach(s)
			ctx := context.Background()
			ans, err := b.Lookup(ctx, &Query{Conv: "c1", User: "p1", Enter: true, Members: true})
			if err != nil {
				t.Fatal(err)
			}
			start := ans.LastSeq
			if !slices.Equal(ans.Members, []string{"p1"}) || start == 0 {
				t.Fatalf("enter: members %v, last seq %d", ans.Members, start)
			}
			if _, err := b.Lookup(ctx, &Query{Conv: "c1", User: "d1", Enter: true}); err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if _, err := b.Publish(relayEvent("c1", "p1", "m"+strconv.Itoa(i))); err != nil {
					t.Fatal(err)
				}
			}
			got := s.await(t, 5)
			prev := start
			for _, p := range got {
				if p.Seq <= prev || !bytes.Contains(p.Frame, []byte(`"seq":`+strconv.FormatUint(p.Seq, 10)+",")) {
					t.Fatalf("publication seq %d after %d, frame %s", p.Seq, prev, p.Frame)
				}
				prev = p.Seq
			}
			ans, err = b.Lookup(ctx, &Query{Conv: "c1", User: "p1", Exit: true, Members: true})
			if err != nil || !slices.Equal(ans.Members, []string{"d1"}) {
				t.Fatalf("exit p1: members %v, %v", ans.Members, err)
			}

			// Only the 3 newest are kept: resuming after the first misses the
			// second (a gap); after the second, nothing.
			ans, err = b.Lookup(ctx, &Query{Conv: "c1", User: "d1", Resume: true, Since: got[0].Seq})
			if err != nil || !ans.Gap || len(ans.History) != 3 || ans.History[0].Seq != got[2].Seq || ans.LastSeq != got[4].Seq {
				t.Fatalf("resume after #1 of 5 (3 kept): gap %v, %d kept, last %d: %v", ans.Gap, len(ans.History), ans.LastSeq, err)
			}
			ans, err = b.Lookup(ctx, &Query{Conv: "c1", User: "d1", Resume: true, Since: got[1].Seq})
			if err != nil || ans.Gap || len(ans.History) != 3 {
				t.Fatalf("resume after #2 of 5 (3 kept): gap %v, %d kept: %v", ans.Gap, len(ans.History), err)
			}
			ans, err = b.Lookup(ctx, &Query{Conv: "c1", User: "d1", Resume: true, Since: got[3].Seq})
			if err != nil || ans.Gap || len(ans.History) != 1 || !bytes.Equal(ans.History[0].Frame, got[4].Frame) {
				t.Fatalf("resume after #4: gap %v, history %v: %v", ans.Gap, ans.History, err)
			}

			b.Remember("p1", "m1", []string{"d1", "p1"})
			flush(t, b)
			ans, err = b.Lookup(ctx, &Query{Conv: "c1", User: "p1", ID: "m1", Relay: true})
			if err != nil || !ans.Accepted || !slices.Equal(ans.AcceptedMembers, []string{"d1", "p1"}) || !ans.Relay {
				t.Fatalf("accepted m1: %+v, %v", ans, err)
			}
			ans, _ = b.Lookup(ctx, &Query{Conv: "c1", User: "d1", ID: "m1", Relay: true})
			if ans.Accepted || !ans.Relay {
				t.Fatalf("another user's m1: accepted %v, relay %v", ans.Accepted, ans.Relay)
			}
			ans, _ = b.Lookup(ctx, &Query{Conv: "c1", User: "p1", ID: "m1", Relay: true})
			if ans.Relay {
				t.Fatal("relay of p1's m1 claimed twice")
			}

			lim := b.(ConnLimiter)
			var rel []func()
			for range 2 {
				r, err := lim.AdmitConn(ctx, "p1", 2)
				if err != nil {
					t.Fatal(err)
				}
				rel = append(rel, r)
			}
			if _, err := lim.AdmitConn(ctx, "p1", 2); !errors.Is(err, ErrTooManyConns) {
				t.Fatalf("third connection of 2: %v", err)
			}
			rel[0]()
			flush(t, b)
			if _, err := lim.AdmitConn(ctx, "p1", 2); err != nil {
				t.Fatalf("after a release: %v", err)
			}

			d := b.(Deduper)
			if first, err := d.FirstTime(ctx, "k", time.Minute); !first || err != nil {
				t.Fatalf("first time: %v, %v", first, err)
			}
			if first, _ := d.FirstTime(ctx, "k", time.Minute); first {
				t.Fatal("second time reported as first")
			}
		})
	}
}

// TestRedisBrokerInstances checks what several instances share through
// one Redis: an event published by one is delivered to both, members are
// every instance's, and after Redis restarts empty the subscription is
// restored (the hub is told, Lost) and a resume from before reports the
// gap — the lost history is never silence.
func TestRedisBrokerInstances(t *testing.T) {
	srv := redistest.Start(t)
	var bs []*RedisBroker
	var sinks []*sink
	for range 2 {
		b, err := NewRedisBroker(RedisConfig{URL: srv.URL(), PresenceTTL: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		s := newSink()
		b.Attach(s)
		bs, sinks = append(bs, b), append(sinks, s)
	}
	ctx := context.Background()
	if _, err := bs[0].Lookup(ctx, &Query{Conv: "c1", User: "p1", Enter: true}); err != nil {
		t.Fatal(err)
	}
	ans, err := bs[1].Lookup(ctx, &Query{Conv: "c1", User: "d1", Enter: true, Members: true})
	if err != nil || !slices.Equal(ans.Members, []string{"d1", "p1"}) {
		t.Fatalf("members across instances: %v, %v", ans.Members, err)
	}
	if _, err := bs[0].Publish(relayEvent("c1", "p1", "m1")); err != nil {
		t.Fatal(err)
	}
	a, b := sinks[0].await(t, 1), sinks[1].await(t, 1)
	if a[0].Seq != b[0].Seq || !bytes.Equal(a[0].Frame, b[0].Frame) || b[0].From != "p1" || b[0].Audience != chat.AudienceOthers {
		t.Fatalf("instances got %+v and %+v", a[0], b[0])
	}
	since := a[0].Seq

	srv.Restart() // empty: history, members and ids are gone
	for i, s := range sinks {
		deadline := time.After(10 * time.Second)
		for {
			s.mu.Lock()
			lost := s.lost
			s.mu.Unlock()
			if lost > 0 {
				break
			}
			select {
			case <-s.more:
			case <-deadline:
				t.Fatalf("instance %d: not told of the lost subscription", i)
			}
		}
	}
	// Lookups fail until the pool reconnects; the first that works must
	// report the gap.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ans, err = bs[1].Lookup(ctx, &Query{Conv: "c1", User: "d1", Enter: true, Resume: true, Since: since})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || !ans.Gap || len(ans.History) != 0 {
		t.Fatalf("resume after a Redis restart: gap %v, %d replayed, %v", ans.Gap, len(ans.History), err)
	}
}

// TestMemoryBrokerSweep checks the resume buffer's expiry: an event older
// than the window is trimmed (and its seq reported as dropped), a
// conversation with neither members nor kept events is removed, and one
// somebody is in stays.
func TestMemoryBrokerSweep(t *testing.T) {
	b := NewMemoryBroker(ResumeConfig{Window: time.Minute})
	b.Attach(newSink())
	b.Publish(relayEvent("empty", "p1", "m1"))
	b.Publish(relayEvent("busy", "p1", "m1"))
	b.Lookup(context.Background(), &Query{Conv: "busy", User: "d1", Enter: true})
	b.maybeSweep(time.Now().Add(30 * time.Second)) // not due yet
	if len(b.convs) != 2 {
		t.Fatalf("swept before the window: %d left", len(b.convs))
	}
	b.maybeSweep(time.Now().Add(2 * time.Minute))
	if _, ok := b.convs["empty"]; ok || len(b.convs) != 1 {
		t.Fatalf("after the window: %v, want only busy", b.convs)
	}
	c := b.convs["busy"]
	if len(c.events()) != 0 || c.dropped != c.seq {
		t.Fatalf("busy: %d events left, dropped %d, seq %d: want its expired event trimmed", len(c.events()), c.dropped, c.seq)
	}
}

// TestParseEntry checks the entry format against what the publish script
// builds, and that malformed entries are refused without a panic.
func TestParseEntry(t *testing.T) {
	m := `{"c":"c1","j":"relay","f":"p1","a":"others","m":["d1"],"i":"x"}`
	p, meta, err := parseEntry("17 " + strconv.Itoa(len(m)+3) + " " + m + `{"seq":17}`)
	if err == nil {
		t.Fatalf("a wrong meta length parsed: %+v %+v", p, meta)
	}
	p, meta, err = parseEntry("17 " + strconv.Itoa(len(m)) + " " + m + `{"seq":17}`)
	if err != nil || p.Seq != 17 || p.Conv != "c1" || string(p.Frame) != `{"seq":17}` || !slices.Equal(p.Members, []string{"d1"}) || meta.Inst != "x" {
		t.Fatalf("parse: %+v %+v %v", p, meta, err)
	}
	for _, bad := range []string{"", "17", "17 ", "x 2 {}", "17 99 {}", "17 -1 {}"} {
		if _, _, err := parseEntry(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
