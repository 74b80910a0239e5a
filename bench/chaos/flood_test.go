package chaos_test

import (
	"bytes"
	"flag"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/chaos"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/golden"
	"github.com/chatbench/chatbench/socket"
)

// TestFloodTrace checks the noisy neighbour's generated flood: a valid
// trace, one conversation per connection, each connection sending at the
// rate asked for, and on its defaults within what the front door allows a
// well-behaved user (connections per user, frames per second).
func TestFloodTrace(t *testing.T) {
	for _, f := range []chaos.Flood{{Users: 2, Conns: 3, Rate: 5}, {}} {
		const span = 4 * time.Second
		hdr, recs, err := chaos.FloodTrace(f, span)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := trace.Write(&b, hdr, recs, false); err != nil {
			t.Fatal(err)
		}
		if _, errs := trace.Validate(&b); len(errs) > 0 {
			t.Fatalf("%+v: flood trace invalid: %v", f, errs)
		}
		users, conns := f.Users, f.Conns
		if users == 0 {
			users, conns = chaos.DefaultFloodUsers, chaos.DefaultFloodConns
			if conns > socket.DefaultMaxConnsPerUser || chaos.DefaultFloodRate > socket.DefaultRateLimit {
				t.Errorf("the default flood breaks the front door's limits: %d connections at %v/s", conns, chaos.DefaultFloodRate)
			}
		}
		rate := f.Rate
		if rate == 0 {
			rate = chaos.DefaultFloodRate
		}
		perConv := map[string][]int64{}
		byUser := map[string]map[string]bool{}
		for _, r := range recs {
			if r.Type == jobs.TypeText {
				perConv[r.Conv] = append(perConv[r.Conv], r.T)
			}
			if byUser[r.User] == nil {
				byUser[r.User] = map[string]bool{}
			}
			byUser[r.User][r.Conv] = true
		}
		if len(byUser) != users {
			t.Errorf("%+v: %d users, want %d", f, len(byUser), users)
		}
		for u, cs := range byUser {
			if len(cs) != conns {
				t.Errorf("%+v: user %s in %d conversations, want %d (one per connection)", f, u, len(cs), conns)
			}
		}
		want := int(rate * span.Seconds())
		for conv, ts := range perConv {
			if len(ts) < want-1 || len(ts) > want {
				t.Errorf("%+v: %s sends %d texts in %s, want about %d", f, conv, len(ts), span, want)
			}
		}
	}
}

var update = flag.Bool("update", false, "rewrite the flood fixtures in testdata from FloodTrace")

// TestFloodFixture keeps testdata/flood-conversation.jsonl, the flood of
// one conversation sending a text every 100 ms for two minutes (the
// memory measurement of docs/reliability.md replays it with chatbench
// bench), equal to what FloodTrace generates: rewrite it with -update.
func TestFloodFixture(t *testing.T) {
	h, recs, err := chaos.FloodTrace(chaos.Flood{Users: 1, Conns: 1, Rate: 10}, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := trace.Write(&b, h, recs, false); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "flood-conversation.jsonl", b.Bytes(), *update)
}
