package queuemode_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
	"github.com/chatbench/chatbench/socket"
)

// queueVariant is one configuration of the queue path's one dispatcher and
// worker.
type queueVariant struct {
	name  string
	setup queuemode.SetupOptions
	tweak func(*queuemode.GatewayConfig)
	// batch has the worker batch its deletes, as the well-built rows do.
	batch bool
}

// queueVariants returns every configuration the dispatcher offers: each
// grouping on a FIFO queue and a standard queue, each with every job
// queued and with sync jobs inline (hybrid). Built from the options, not
// from bench/stack's rows, so a new grouping is covered without a list.
func queueVariants() []queueVariant {
	var vs []queueVariant
	add := func(name string, setup queuemode.SetupOptions, tweak func(*queuemode.GatewayConfig)) {
		batch := name != "fifo/"+string(queuemode.GroupConversation) // the legacy configuration deletes one by one
		vs = append(vs, queueVariant{name, setup, tweak, batch})
		vs = append(vs, queueVariant{name + "+inline", setup, func(c *queuemode.GatewayConfig) {
			tweak(c)
			c.InlineSync = &directmode.SyncConfig{}
		}, true})
	}
	for _, g := range queuemode.GroupByNames() {
		add("fifo/"+g, queuemode.SetupOptions{}, func(c *queuemode.GatewayConfig) { c.Dispatcher.GroupBy = queuemode.GroupBy(g) })
	}
	add("standard", queuemode.SetupOptions{Standard: true}, func(*queuemode.GatewayConfig) {})
	return vs
}

// digestCatalog has one relayed type, "note", whose sync and ML job each
// answer with the SHA-256 and length of the body they were given: what the
// worker decoded from the queue (or, inline, what the gateway had).
func digestCatalog(t *testing.T) *chat.Catalog {
	t.Helper()
	digest := chat.HandlerFunc(func(_ context.Context, m *chat.Message, _ chat.Deps) (json.RawMessage, error) {
		sum := sha256.Sum256([]byte(m.Body))
		return json.Marshal(map[string]any{"sha256": hex.EncodeToString(sum[:]), "len": len(m.Body)})
	})
	cat, err := chat.NewCatalog(
		[]chat.MessageType{{Name: "note", Op: chat.OpSend, Relay: true}, {Name: chat.OpJoin, Op: chat.OpJoin}},
		[]chat.Job{
			{Name: "digest", Class: chat.ClassSync, Event: "digest", Audience: chat.AudienceSender,
				Triggers: []chat.Trigger{{Type: "note"}}, Handler: digest},
			{Name: "digest_ml", Class: chat.ClassML, Model: "digest_model", Event: "digest_ml", Audience: chat.AudienceAll,
				Triggers: []chat.Trigger{{Type: "note"}}, Handler: digest},
		},
	)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// largestBody returns the longest body of repeated unit whose send frame
// (id, conv, type note, sent_at; '<' and '>' unescaped, as a browser's
// JSON.stringify writes them) still fits the front door's frame limit.
func largestBody(unit string, limit int) string {
	n := limit / len(unit)
	for n > 0 && len(sendFrame("big", strings.Repeat(unit, n))) > limit {
		over := len(sendFrame("big", strings.Repeat(unit, n))) - limit
		n -= max(1, over/(len(unit)*6))
	}
	return strings.Repeat(unit, n)
}

// sendFrame encodes a send of body as the tests' clients write it.
func sendFrame(id, body string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: "c1", Type: "note", Body: body, SentAt: 1764241200000000})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// controlChars is every character below U+0020.
func controlChars() string {
	var b strings.Builder
	for r := rune(0); r < 0x20; r++ {
		b.WriteRune(r)
	}
	return b.String()
}

// TestEveryBodyOnEveryVariant sends, on every queue variant, bodies the
// direct path accepts and SQS's character rules or size limits would trip
// over if the envelope carried them naively — the largest frame the front
// door accepts, of several characters; '<', '"' and '\' (escaped six- and
// twofold by a naive encoder); control characters; U+FFFE and U+FFFF (valid
// UTF-8 that SQS refuses); astral characters — and checks that every job
// got the very body that was sent, and every message was delivered.
func TestEveryBodyOnEveryVariant(t *testing.T) {
	limit := socket.DefaultMaxFrameBytes
	bodies := map[string]string{
		"largest ascii":     largestBody("x", limit),
		"largest <":         largestBody("<", limit),
		"largest quote":     largestBody(`"`, limit),
		"largest backslash": largestBody(`\`, limit),
		"largest control":   largestBody(controlChars(), limit),
		"largest U+FFFF":    largestBody("\uffff", limit),
		"largest astral":    largestBody("🩺", limit),
		"mixed":             `<b>"quoted" \ back</b>` + controlChars() + "\ufffe\uffff\U0001F44B\U0010FFFD\u2028",
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range bodies {
			if !yield(k) {
				return
			}
		}
	})
	for _, v := range queueVariants() {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			cat := digestCatalog(t)
			e := newEnv(t, envOpts{catalog: cat, setup: v.setup, variant: v.tweak})
			e.worker(nil, func(c *queuemode.WorkerConfig) { c.BatchDeletes = v.batch })
			s := newScript(t, cat)
			p1 := dial(t, e.gw.URL(), "p1", chat.RolePatient, "c1")
			d1 := dial(t, e.gw.URL(), "d1", chat.RoleProvider, "c1")
			s.Do(p1, chat.OpJoin, "c1", "", "")
			s.Do(d1, chat.OpJoin, "c1", "", "")
			members := []chat.Member{{User: "p1", Role: chat.RolePatient}, {User: "d1", Role: chat.RoleProvider}}
			sent := map[string]string{} // id → body
			for i, name := range names {
				id, body := fmt.Sprint("b", i), bodies[name]
				sent[id] = body
				// Written raw: a JSON encoder that escapes '<' would not fit
				// the largest bodies in a frame.
				if err := p1.C.WriteRaw(websocket.TextMessage, sendFrame(id, body)); err != nil {
					t.Fatal(err)
				}
				r, evs := p1.C.AwaitReply(id)
				if r.Op != chat.OpAck {
					t.Fatalf("%s (%d bytes): %s %s", name, len(body), r.Code, r.Message)
				}
				p1.Got = append(p1.Got, evs...)
				for _, d := range cat.Deliveries("note", "p1", chat.RolePatient, members) {
					s.Want[d.User] = append(s.Want[d.User], id+"/"+d.Job+"/"+d.Event)
				}
			}
			e.shutdown(20 * time.Second)
			for _, p := range []*wstest.Participant{p1, d1} {
				p.Drain()
				s.Check(p)
				for _, f := range p.Got {
					if f.Op != chat.OpEvent || f.Event.Job == chat.RelayJob {
						continue
					}
					var got struct {
						SHA string `json:"sha256"`
						Len int    `json:"len"`
					}
					_ = json.Unmarshal(f.Event.Data, &got)
					sum := sha256.Sum256([]byte(sent[f.ReplyTo]))
					if f.Event.Status != chat.StatusOK || got.SHA != hex.EncodeToString(sum[:]) {
						t.Errorf("%s: %s of %s saw a %d-byte body that is not the %d bytes sent (status %s)",
							p.User, f.Event.Job, f.ReplyTo, got.Len, len(sent[f.ReplyTo]), f.Event.Status)
					}
				}
			}
		})
	}
}

// TestTooLargeRefusedBeforeRelay gives the front door a frame limit above
// what the queue carries: a body that cannot be queued is refused with the
// permanent message_too_large — before its relay goes out, so the other
// participant never sees it — while a body that fits goes through.
func TestTooLargeRefusedBeforeRelay(t *testing.T) {
	for _, v := range queueVariants() {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			cat := digestCatalog(t)
			e := newEnv(t, envOpts{catalog: cat, setup: v.setup, variant: func(c *queuemode.GatewayConfig) {
				v.tweak(c)
				c.Front.MaxFrameBytes = 64 << 10
				c.Dispatcher.MaxMessageBytes = 8 << 10
			}})
			e.worker(nil, nil)
			p1 := dial(t, e.gw.URL(), "p1", chat.RolePatient, "c1")
			d1 := dial(t, e.gw.URL(), "d1", chat.RoleProvider, "c1")
			for _, p := range []*wstest.Participant{p1, d1} {
				p.C.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "j-" + p.User, Conv: "c1"})
				if r, _ := p.C.AwaitReply("j-" + p.User); r.Op != chat.OpAck {
					t.Fatalf("join: %+v", r)
				}
			}
			if err := p1.C.WriteRaw(websocket.TextMessage, sendFrame("big", strings.Repeat("x", 9<<10))); err != nil {
				t.Fatal(err)
			}
			if r, _ := p1.C.AwaitReply("big"); r.Code != chat.CodeTooLarge || r.Retryable {
				t.Fatalf("a body over the queue's limit: got %+v, want permanent %s", r, chat.CodeTooLarge)
			}
			if err := p1.C.WriteRaw(websocket.TextMessage, sendFrame("small", "fits")); err != nil {
				t.Fatal(err)
			}
			if r, _ := p1.C.AwaitReply("small"); r.Op != chat.OpAck {
				t.Fatalf("a body that fits: %+v", r)
			}
			// Relays from one connection arrive in the order it sent: the
			// small one's relay comes first, so none came for the big one.
			for {
				f := d1.C.Next()
				if f.Op == chat.OpEvent && f.Event.Job == chat.RelayJob {
					if f.ReplyTo != "small" {
						t.Fatalf("d1 got the relay of %s, want only that of small", f.ReplyTo)
					}
					break
				}
			}
		})
	}
}

// TestQueueRejectionIsPermanent points the gateway at a queue that takes
// less than the dispatcher believes: SQS refuses the send as invalid, and
// the client is told so with the permanent queue_rejected, not the
// retryable unavailable.
func TestQueueRejectionIsPermanent(t *testing.T) {
	cat := digestCatalog(t)
	e := newEnv(t, envOpts{catalog: cat, variant: func(c *queuemode.GatewayConfig) {
		c.Dispatcher.MaxMessageBytes = 0 // believe SQS's 1 MiB
	}})
	if _, err := e.client.SetQueueAttributes(context.Background(), setMaxSize(e.queues.URL, 1024)); err != nil {
		t.Fatal(err)
	}
	p1 := dial(t, e.gw.URL(), "p1", chat.RolePatient, "c1")
	p1.C.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"})
	p1.C.AwaitReply("j")
	if err := p1.C.WriteRaw(websocket.TextMessage, sendFrame("n1", strings.Repeat("x", 2000))); err != nil {
		t.Fatal(err)
	}
	if r, _ := p1.C.AwaitReply("n1"); r.Code != chat.CodeQueueRejected || r.Retryable {
		t.Fatalf("got %+v, want permanent %s", r, chat.CodeQueueRejected)
	}
}

// TestHybridResendRunsSyncJobsOnce makes the queue unreachable under a
// hybrid gateway: a text's sync jobs run at once (they do not wait for
// the queue), its queue send is refused with the retryable unavailable,
// and when the client resends the same frame after SQS is back its ML job
// is queued while its sync job does not run again.
func TestHybridResendRunsSyncJobsOnce(t *testing.T) {
	cat := digestCatalog(t)
	srv := sqsd.New(sqsd.Config{})
	upstream, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	px := newTCPProxy(t, strings.TrimPrefix(upstream, "http://"))
	e := newEnv(t, envOpts{catalog: cat, endpoint: "http://" + px.Addr(), variant: func(c *queuemode.GatewayConfig) {
		c.Dispatcher.GroupBy = queuemode.GroupMessage
		c.InlineSync = &directmode.SyncConfig{}
	}})
	e.worker(nil, nil)
	s := newScript(t, cat)
	p1 := dial(t, e.gw.URL(), "p1", chat.RolePatient, "c1")
	s.Do(p1, chat.OpJoin, "c1", "", "")
	px.Stop()
	p1.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: "n1", Conv: "c1", Type: "note", Body: "hello"})
	r, evs := p1.C.AwaitReply("n1")
	if r.Code != chat.CodeUnavailable || !r.Retryable {
		t.Fatalf("with SQS down: got %+v, want retryable unavailable", r)
	}
	p1.Got = append(p1.Got, evs...)
	px.Start()
	p1.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: "n1", Conv: "c1", Type: "note", Body: "hello"})
	if r, evs := p1.C.AwaitReply("n1"); r.Op != chat.OpAck {
		t.Fatalf("resend with SQS back: %+v", r)
	} else {
		p1.Got = append(p1.Got, evs...)
	}
	e.shutdown(20 * time.Second)
	p1.Drain()
	got := wstest.Keys(p1.Got)
	want := []string{"n1/digest/digest", "n1/digest_ml/digest_ml"}
	if !slices.Equal(got, want) {
		t.Errorf("p1 received %v, want each job's event once: %v", got, want)
	}
	for _, f := range p1.Got {
		if f.Op == chat.OpEvent && f.Event.Job == "digest" && f.Event.Hops.Enqueued != 0 {
			t.Errorf("the inline sync job's event was queued: %+v", f.Event.Hops)
		}
	}
}

// TestStandardQueueDuplicates runs a standard queue whose SQS delivers
// duplicates: the gateway's event dedup keeps every copy from the client
// and counts them; with NoDedup the copies reach the client — the story's
// duplicate sends.
func TestStandardQueueDuplicates(t *testing.T) {
	for _, noDedup := range []bool{false, true} {
		t.Run(fmt.Sprintf("no-dedup=%v", noDedup), func(t *testing.T) {
			t.Parallel()
			cat := digestCatalog(t)
			m := queuemode.NewMetrics(nil)
			e := newEnv(t, envOpts{catalog: cat, sqsd: sqsd.Config{Duplicates: 0.5, Seed: 7}, setup: queuemode.SetupOptions{Standard: true},
				variant: func(c *queuemode.GatewayConfig) { c.Callback.NoDedup, c.Metrics = noDedup, m }})
			e.worker(nil, nil)
			p1 := dial(t, e.gw.URL(), "p1", chat.RolePatient, "c1")
			p1.C.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"})
			p1.C.AwaitReply("j")
			const n = 20
			for i := range n {
				id := fmt.Sprint("n", i)
				p1.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: "c1", Type: "note", Body: "x"})
				r, evs := p1.C.AwaitReply(id)
				if r.Op != chat.OpAck {
					t.Fatalf("%s: %+v", id, r)
				}
				p1.Got = append(p1.Got, evs...)
			}
			e.shutdown(30 * time.Second)
			p1.Drain()
			events := 0
			for _, f := range p1.Got {
				if f.Op == chat.OpEvent && f.Event.Job != chat.RelayJob {
					events++
				}
			}
			dropped, emitted := value(m.CallbackDuplicates.WithLabelValues("dropped")), value(m.CallbackDuplicates.WithLabelValues("emitted"))
			switch {
			case !noDedup && (events != 2*n || dropped == 0 || emitted != 0):
				t.Errorf("dedup on: %d events (want %d), %v duplicates dropped (want some), %v emitted (want 0)", events, 2*n, dropped, emitted)
			case noDedup && (events <= 2*n || float64(events-2*n) != emitted || dropped != 0):
				t.Errorf("dedup off: %d events (want more than %d: the duplicates), %v counted emitted, %v dropped (want 0)", events, 2*n, emitted, dropped)
			}
		})
	}
}

// setMaxSize sets the MaximumMessageSize of the queue at url.
func setMaxSize(url string, size int) *sqs.SetQueueAttributesInput {
	return &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{
		string(types.QueueAttributeNameMaximumMessageSize): fmt.Sprint(size),
	}}
}
