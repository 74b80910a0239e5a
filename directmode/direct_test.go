package directmode_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("direct-test-secret-0123456789")

// startML runs the real ML service on loopback with the given profile spec
// merged onto the zero preset, and returns a client for it.
func startML(t *testing.T, spec string) chat.ML { return wstest.StartML(t, spec) }

func startDirect(t *testing.T, ml chat.ML, tweak func(*directmode.Config)) *directmode.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	dc := directmode.Config{Catalog: jobs.Catalog(), Deps: chat.Deps{ML: ml}, Registerer: reg}
	if tweak != nil {
		tweak(&dc)
	}
	srv, err := directmode.Start(directmode.ServerConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret, Registerer: reg},
		Dispatcher: dc,
		Gatherer:   reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return srv
}

func newScript(t *testing.T) *wstest.Script { return wstest.NewScript(t, jobs.Catalog()) }

func dial(t *testing.T, url, user string, role chat.Role, convs ...string) *wstest.Participant {
	return wstest.DialAs(t, url, secret, user, role, convs...)
}

// TestEveryJobEndToEnd runs a visit that triggers every job of the catalog
// over real WebSockets with the real ML service, then shuts the server down
// (which flushes every event before closing with 1001) and compares what
// each participant received with what the catalog says: the events, their
// audience, and nothing else — including nothing from another conversation.
func TestEveryJobEndToEnd(t *testing.T) {
	srv := startDirect(t, startML(t, ""), nil)
	s := newScript(t)
	ps := s.Visit(srv.URL(), secret)
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.CheckDrained(ps, func(user string, f *chat.ServerFrame) { checkEvent(t, user, f) })
}

// checkEvent checks an event's status and that its hop stamps are in order
// for its class.
func checkEvent(t *testing.T, user string, f *chat.ServerFrame) {
	t.Helper()
	ev := f.Event
	if ev.Status != chat.StatusOK {
		t.Errorf("%s: %s/%s status %s (%s)", user, f.ReplyTo, ev.Job, ev.Status, ev.ErrCode)
	}
	h := ev.Hops
	seq := []int64{h.ClientSent, h.GatewayIn}
	if ev.Job != chat.RelayJob {
		seq = append(seq, h.JobStart)
		if jobs.Catalog().Job(ev.Job).Class == chat.ClassML {
			if h.MLStart == 0 || h.MLEnd == 0 {
				t.Errorf("%s: ml job %s has no ml stamps", user, ev.Job)
			}
			seq = append(seq, h.MLStart, h.MLEnd)
		}
		seq = append(seq, h.JobEnd)
	}
	seq = append(seq, h.Emitted)
	for i := 1; i < len(seq); i++ {
		if seq[i] == 0 || seq[i] < seq[i-1] {
			t.Errorf("%s: %s/%s hops out of order: %+v", user, f.ReplyTo, ev.Job, h)
			break
		}
	}
	if h.Enqueued != 0 || h.Dequeued != 0 || h.CallbackIn != 0 {
		t.Errorf("%s: direct path stamped queue hops: %+v", user, h)
	}
}

// TestGracefulShutdownLosesNoAcceptedTask accepts ML work that takes a
// while, shuts down at once, and checks every accepted task's event reached
// its client before the connection closed with 1001.
func TestGracefulShutdownLosesNoAcceptedTask(t *testing.T) {
	srv := startDirect(t, startML(t, "triage=median:150ms,p99:300ms;intent=median:100ms,p99:200ms"), nil)
	s := newScript(t)
	d1 := dial(t, srv.URL(), "d1", chat.RoleProvider, "c1")
	p1 := dial(t, srv.URL(), "p1", chat.RolePatient, "c1")
	s.Do(d1, chat.OpJoin, "c1", "", "")
	s.Do(p1, chat.OpJoin, "c1", "", "")
	for i := 0; i < 20; i++ {
		s.Do(p1, chat.OpSend, "c1", "text", "my head hurts")
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	for _, p := range []*wstest.Participant{d1, p1} {
		p.Drain()
		want := append([]string(nil), s.Want[p.User]...)
		sort.Strings(want)
		if got := wstest.Keys(p.Got); !slices.Equal(got, want) {
			t.Errorf("%s: got %d events, want %d", p.User, len(got), len(want))
		}
		if !wstest.IsGoingAway(p.C.CloseErr) {
			t.Errorf("%s: connection ended with %v, want close 1001", p.User, p.C.CloseErr)
		}
	}
}

// joinedPair starts a direct server with lanes sync lanes and returns a
// provider and a patient who have both joined conversation c1.
func joinedPair(t *testing.T, lanes int) (d1, p1 *wstest.Participant) {
	t.Helper()
	srv := startDirect(t, startML(t, ""), func(c *directmode.Config) { c.SyncLanes = lanes })
	s := newScript(t)
	d1 = dial(t, srv.URL(), "d1", chat.RoleProvider, "c1")
	p1 = dial(t, srv.URL(), "p1", chat.RolePatient, "c1")
	s.Do(d1, chat.OpJoin, "c1", "", "")
	s.Do(p1, chat.OpJoin, "c1", "", "")
	return d1, p1
}

// readStates returns the reply_to of the next n read_state events to.
func readStates(to *wstest.Participant, n int) []string {
	var got []string
	for len(got) < n {
		f := to.C.Next()
		if f.Op == chat.OpEvent && f.Event.Job == "read_state" {
			got = append(got, f.ReplyTo)
		}
	}
	return got
}

// TestSyncJobsKeepConversationOrder sends many read receipts at once; the
// others must see the read_state events in the order sent.
func TestSyncJobsKeepConversationOrder(t *testing.T) {
	d1, p1 := joinedPair(t, 2)
	var ids []string
	for i := 0; i < 200; i++ {
		id := fmt.Sprintf("r%03d", i)
		ids = append(ids, id)
		p1.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: "c1", Type: "read", Body: id})
	}
	if got := readStates(d1, len(ids)); !slices.Equal(got, ids) {
		t.Fatalf("read_state order differs from send order:\n%v", got)
	}
}

// TestSyncJobsKeepOrderUnderContention has two participants of one
// conversation send read receipts at once into a single lane, so each
// one's messages queue behind the other's: each must see all of the
// other's read_state events, in the order the other sent them. (It caught
// a lane handed back too early in a version that ran jobs on the reader
// when the lane was idle, docs/performance.md.)
func TestSyncJobsKeepOrderUnderContention(t *testing.T) {
	d1, p1 := joinedPair(t, 1)
	const n = 100 // an ack and an event each: within a connection's send queue
	sent := map[string][]string{}
	for _, from := range []string{"p1", "d1"} {
		for i := range n {
			sent[from] = append(sent[from], fmt.Sprintf("%s-r%03d", from, i))
		}
	}
	var wg sync.WaitGroup
	for from, c := range map[string]*wstest.Participant{"p1": p1, "d1": d1} {
		wg.Go(func() {
			for _, id := range sent[from] {
				b, _ := json.Marshal(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: "c1", Type: "read", Body: id})
				if err := c.C.WriteRaw(websocket.TextMessage, b); err != nil {
					t.Errorf("%s: send %s: %v", from, id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for to, from := range map[*wstest.Participant]string{d1: "p1", p1: "d1"} {
		if got := readStates(to, n); !slices.Equal(got, sent[from]) {
			t.Fatalf("%s's read_state events out of order:\n%v", from, got)
		}
	}
}

// TestOverloadedIsRetryable bounds pending ML tasks below what one patient
// text needs: the text is refused with a retryable overloaded error and the
// connection keeps working.
func TestOverloadedIsRetryable(t *testing.T) {
	srv := startDirect(t, startML(t, ""), func(c *directmode.Config) { c.MaxPending = 2 })
	s := newScript(t)
	p1 := dial(t, srv.URL(), "p1", chat.RolePatient, "c1")
	s.Do(p1, chat.OpJoin, "c1", "", "")
	p1.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: "t1", Conv: "c1", Type: "text", Body: "hello"})
	r, _ := p1.C.AwaitReply("t1")
	if r.Code != chat.CodeOverloaded || !r.Retryable {
		t.Fatalf("want retryable overloaded, got %+v", r)
	}
	s.Do(p1, chat.OpSend, "c1", "wait_time_request", "")
}
