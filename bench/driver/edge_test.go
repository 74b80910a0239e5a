package driver_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/socket"
)

// Traces of unusual shapes, shared with package trace's tests, which check
// that validation refuses the ones a replay cannot use. Here they are
// replayed unvalidated, as a library caller of Run may.
const edgeTraces = "../trace/testdata"

// loadEdge reads fixture name line by line (trace.ReadAll: no checks
// across lines, no frame limit).
func loadEdge(t *testing.T, name string) []trace.Record {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(edgeTraces, name))
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := trace.ReadAll(raw)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// startDirectWith starts a direct server with front door configuration
// front (its Secret set to the tests') and an ML service with the zero
// preset plus mlSpec.
func startDirectWith(t testing.TB, front socket.Config, mlSpec string) *directmode.Server {
	t.Helper()
	front.Secret = secret
	srv, err := directmode.Start(directmode.ServerConfig{
		Addr: "127.0.0.1:0", Front: front,
		Dispatcher: directmode.Config{Catalog: jobs.Catalog(), Deps: chat.Deps{ML: wstest.StartML(t, mlSpec)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv
}

// protocolErrors returns the front door's count of refusals with code.
func protocolErrors(t *testing.T, reg *prometheus.Registry, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "chatbench_protocol_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" && l.GetValue() == code {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// replayEdge replays fixture name against srv at speed and returns the
// path's results.
func replayEdge(t *testing.T, srv *directmode.Server, name string, speed float64) *results.Path {
	t.Helper()
	p, err := driver.Run(context.Background(), driver.Config{
		Target: srv.URL(), Secret: secret, Path: driver.PathDirect, Records: loadEdge(t, name),
		Speed: speed, Catalog: jobs.Catalog(), Drain: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: messages %+v, ledger %+v", name, p.Messages, *p.Ledger["all"])
	return p
}

// clean fails t unless every expected delivery of p arrived once and
// nothing else did.
func clean(t *testing.T, p *results.Path) {
	t.Helper()
	all := p.Ledger["all"]
	if all.Expected == 0 || all.Lost != 0 || all.Duplicates != 0 || all.Unexpected != 0 || all.Errored != 0 || all.Excused != 0 ||
		all.Delivered != all.Expected {
		t.Errorf("ledger %+v: want every expected delivery delivered once", *all)
	}
	if p.Messages.Unacked != 0 || p.Messages.Rejected[chat.CodeNotJoined] != 0 {
		t.Errorf("messages %+v: want none unacked, none not_joined", p.Messages)
	}
}

// TestOversizeFrameRejectedNotResent replays a trace with a message whose
// frame is one byte over the front door's default limit (and one exactly
// at it): the server closes the connection with 1009 once; the driver
// counts the message rejected, reconnects once and resends the others,
// never the refused one. It once reconnected and resent it thousands of
// times.
func TestOversizeFrameRejectedNotResent(t *testing.T) {
	recs := loadEdge(t, "oversize-frame.jsonl")
	sizes := map[string]int{}
	for _, r := range recs {
		sizes[r.ID] = r.FrameSize()
	}
	// The fixture's two big frames sit on each side of the default limit.
	if sizes["p1-fit"] != trace.DefaultMaxFrameBytes || sizes["p1-big"] != trace.DefaultMaxFrameBytes+1 {
		t.Fatalf("fixture frames p1-fit %d and p1-big %d bytes, want %d and %d", sizes["p1-fit"], sizes["p1-big"],
			trace.DefaultMaxFrameBytes, trace.DefaultMaxFrameBytes+1)
	}
	reg := prometheus.NewRegistry()
	srv := startDirectWith(t, socket.Config{Registerer: reg}, "")
	p := replayEdge(t, srv, "oversize-frame.jsonl", 1)
	clean(t, p)
	if p.Messages.Rejected[chat.CodeFrameTooLarge] != 1 || len(p.Messages.Rejected) != 1 {
		t.Errorf("rejected %v: want the one oversize message as %s", p.Messages.Rejected, chat.CodeFrameTooLarge)
	}
	if p.Messages.Acked != len(recs)-1 {
		t.Errorf("acked %d, want all %d but the oversize one", p.Messages.Acked, len(recs)-1)
	}
	if p.Messages.Reconnects != 1 {
		t.Errorf("%d reconnects, want 1", p.Messages.Reconnects)
	}
	// The server read the oversize frame once: it was never resent.
	if n := protocolErrors(t, reg, chat.CodeFrameTooLarge); n != 1 {
		t.Errorf("the server refused %g oversize frames, want 1", n)
	}
}

// TestHeldLeaveThenRejoin replays a patient who leaves right after a text
// whose ML answer (safety_screen, to the sender) takes a second, so the
// driver holds the leave, and who joins again 1 s later — or at the same
// t. The re-join must wait behind the held leave: sent first, it was acked
// as a no-op (the patient was still in the room), its jobs never ran, and
// the held leave then took the patient out, so their later messages were
// refused not_joined.
func TestHeldLeaveThenRejoin(t *testing.T) {
	for _, name := range []string{"rejoin-after-1s.jsonl", "rejoin-same-t.jsonl"} {
		t.Run(name, func(t *testing.T) {
			srv := startDirectWith(t, socket.Config{}, "safety=median:1s,p99:1s")
			// At 10× the re-join (1 s or 0 s after the leave) is due well
			// within the second the held leave waits.
			p := replayEdge(t, srv, name, 10)
			clean(t, p)
			if len(p.Messages.Rejected) != 0 || p.Messages.Acked != p.Messages.Sent {
				t.Errorf("messages %+v: want every message acked", p.Messages)
			}
			if p.Messages.HeldLeaves == 0 {
				t.Error("no leave was held: the fixture no longer tests the order behind a held leave")
			}
		})
	}
}

// TestPolicyCloseRejectsItsFrame floods a front door whose rate limit is
// tiny: it refuses frames rate_limited and, when the refusals pile up,
// closes the connection with 1008 on one of them. The driver counts that
// frame rejected (close_1008) instead of resending it, and every other
// message is answered.
func TestPolicyCloseRejectsItsFrame(t *testing.T) {
	srv := startDirectWith(t, socket.Config{RateLimit: 20, RateBurst: 1}, "")
	recs := []trace.Record{{T: 0, Conv: "c1", User: "p1", Role: chat.RolePatient, Type: "join", ID: "p1-j"}}
	for i := range 14 {
		recs = append(recs, trace.Record{T: 100_000, Conv: "c1", User: "p1", Role: chat.RolePatient, Type: "typing", ID: fmt.Sprintf("p1-%d", i)})
	}
	p, err := driver.Run(context.Background(), driver.Config{
		Target: srv.URL(), Secret: secret, Path: driver.PathDirect, Records: recs,
		Speed: 1, Catalog: jobs.Catalog(), Drain: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := p.Messages
	t.Logf("messages %+v", m)
	if m.Rejected["close_1008"] == 0 {
		t.Errorf("rejected %v: want the frames the 1008 closes fell on as close_1008", m.Rejected)
	}
	// Each close rejects a frame, so closes (and reconnects) end before the
	// frames do.
	if m.Reconnects == 0 || m.Reconnects > len(recs) {
		t.Errorf("%d reconnects, want between 1 and %d", m.Reconnects, len(recs))
	}
	if m.Unacked != 0 || m.Acked+sum(m.Rejected) != m.Sent {
		t.Errorf("messages %+v: want every message acked or rejected", m)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
