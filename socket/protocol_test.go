package socket_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/socket"
)

// The edges of docs/protocol.md, each checked on a real server.

// TestAuthFrameWithoutTokenCloses1008 checks that an auth frame whose
// token is absent or empty is refused like any token that does not
// verify: bad_token naming the frame, then close 1008.
func TestAuthFrameWithoutTokenCloses1008(t *testing.T) {
	e := start(t, nil)
	for _, frame := range []string{`{"op":"auth","id":"a"}`, `{"op":"auth","id":"a","token":""}`} {
		t.Run(frame, func(t *testing.T) {
			c := wstest.Dial(t, e.url, "")
			if err := c.WriteRaw(websocket.TextMessage, []byte(frame)); err != nil {
				t.Fatal(err)
			}
			if f := c.Expect(chat.OpError, chat.CodeBadToken, "a"); !strings.Contains(f.Message, "no token") {
				t.Errorf("message %q does not say the token is missing", f.Message)
			}
			expectClose(t, c, websocket.ClosePolicyViolation)
		})
	}
}

// TestOverlongIDNamedByPrefix checks that a frame with an id over 128 bytes
// is refused bad_field with reply_to the id's first 128 bytes, and the
// connection stays.
func TestOverlongIDNamedByPrefix(t *testing.T) {
	e := start(t, nil)
	c := wstest.Dial(t, e.url, token(t, "p1", chat.RolePatient, "c1"))
	id := strings.Repeat("i", chat.MaxIDLen) + "-and-more"
	c.Send(chat.ClientFrame{Op: chat.OpJoin, ID: id, Conv: "c1"})
	c.Expect(chat.OpError, chat.CodeBadField, id[:chat.MaxIDLen])
	c.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"})
	c.Expect(chat.OpAck, "", "j")
}

// TestLeaveAckMembers checks the members of a leave's ack: the users still
// in the conversation, so not the leaver — unless another of its
// connections is still there.
func TestLeaveAckMembers(t *testing.T) {
	e := start(t, nil)
	tokP := token(t, "p1", chat.RolePatient, "c1")
	d := wstest.Dial(t, e.url, token(t, "d1", chat.RoleProvider, "c1"))
	d.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "dj", Conv: "c1"})
	d.AwaitReply("dj")
	p1, p2 := wstest.Dial(t, e.url, tokP), wstest.Dial(t, e.url, tokP)
	for i, c := range []*wstest.Client{p1, p2} {
		id := "pj" + strconv.Itoa(i)
		c.Send(chat.ClientFrame{Op: chat.OpJoin, ID: id, Conv: "c1"})
		if ack, _ := c.AwaitReply(id); !slices.Equal(ack.Members, []string{"d1", "p1"}) {
			t.Fatalf("join ack members %q, want [d1 p1]", ack.Members)
		}
	}
	leave := func(c *wstest.Client, id string, want []string) {
		t.Helper()
		c.Send(chat.ClientFrame{Op: chat.OpLeave, ID: id, Conv: "c1"})
		ack, _ := c.AwaitReply(id)
		if ack.Op != chat.OpAck || !slices.Equal(ack.Members, want) {
			t.Errorf("leave %s: %s members %q, want ack with %q", id, ack.Op, ack.Members, want)
		}
	}
	leave(p1, "pl1", []string{"d1", "p1"}) // p2 is still there
	leave(p2, "pl2", []string{"d1"})       // the last of p1's connections
}

// smallBuffers is a listener whose connections have small, fixed kernel
// send buffers, so that a server writer whose client does not read blocks
// after a few kilobytes and its send queue fills.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestFloodCloses1008 floods a connection far past its rate limit without
// reading: its rate_limited refusals fill its send queue long before they
// add up to ten times the burst. The close must say abuse (1008), not slow
// reading (1013), and come after the refusals queued before it.
func TestFloodCloses1008(t *testing.T) {
	reg := prometheus.NewRegistry()
	hub := socket.NewHub(jobs.Catalog(), reg, nil)
	d, err := directmode.New(directmode.Config{Catalog: jobs.Catalog(), Emitter: hub, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// A burst of 50 lets 50 frames through and closes for abuse after 500
	// refusals; the queue of 64 and the small buffers fill well before.
	srv, err := socket.NewServer(socket.Config{Hub: hub, Dispatcher: d, Secret: secret, Registerer: reg, RateLimit: 1, RateBurst: 50, SendQueue: 64})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv)
	hs.Listener = smallBuffers{hs.Listener}
	hs.Start()
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		hs.Close()
		if err := d.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})

	dialer := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(2048)
		}
		return c, err
	}}
	ws, _, err := dialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws", map[string][]string{"Authorization": {"Bearer " + token(t, "p1", chat.RolePatient, "c1")}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// 1,000 frames are twice what abuse needs: the close comes before
	// the last (the server reads them off until it has closed).
	for i := range 1000 {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"op":"send","id":"f`+strconv.Itoa(i)+`","conv":"c1","type":"typing"}`)); err != nil {
			break
		}
	}
	_ = ws.SetReadDeadline(time.Now().Add(wstest.Wait))
	var last *chat.ServerFrame
	refused := 0
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
				t.Fatalf("after %d refusals: %v; want close 1008", refused, err)
			}
			break
		}
		f, err := chat.DecodeServerFrame(data)
		if err != nil {
			t.Fatal(err)
		}
		if f.Code == chat.CodeRateLimited {
			refused++
		}
		last = f
	}
	if last == nil || last.Code != chat.CodeRateLimited {
		t.Errorf("last frame before the close %+v, want the refusal it closed on", last)
	}
	if refused >= 500 {
		t.Errorf("%d refusals before the close: the abuse count closed it, not the full queue; shrink the buffers", refused)
	}
}

// sessionBlock is the example session of docs/protocol.md.
var sessionBlock = regexp.MustCompile("(?s)## A session\n.*?```\n(.*?)```")

// exampleEvent finds the message and event an elided event line names.
var exampleEvent = regexp.MustCompile(`"reply_to":"([^"]+)","event":"([^"]+)"`)

// TestSessionExample replays docs/protocol.md's "A session" as patient p1
// in a conversation where provider d1 already is, and checks the example
// against what the server sends: each ack has exactly the fields and the
// members shown, and the events shown are exactly those p1 receives for
// each message (their number from the catalog).
func TestSessionExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	m := sessionBlock.FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/protocol.md: no \"A session\" code block")
	}
	var sent []chat.ClientFrame
	acks := map[string]map[string]json.RawMessage{} // reply_to → fields shown
	shown := map[string][]string{}                  // message id → events shown
	for _, line := range strings.Split(strings.TrimSpace(string(m[1])), "\n") {
		switch {
		case strings.HasPrefix(line, "→ "):
			var f chat.ClientFrame
			if err := json.Unmarshal([]byte(line[len("→ "):]), &f); err != nil {
				t.Fatalf("client frame %q: %v", line, err)
			}
			sent = append(sent, f)
		case strings.HasPrefix(line, "← "):
			var fields map[string]json.RawMessage
			if json.Unmarshal([]byte(line[len("← "):]), &fields) == nil && string(fields["op"]) == `"ack"` {
				var id string
				_ = json.Unmarshal(fields["reply_to"], &id)
				acks[id] = fields
				continue
			}
			ev := exampleEvent.FindStringSubmatch(line)
			if ev == nil {
				t.Fatalf("server frame %q: neither a complete ack nor an event naming reply_to and event", line)
			}
			shown[ev[1]] = append(shown[ev[1]], ev[2])
		}
	}

	e := start(t, nil)
	d1 := wstest.Dial(t, e.url, token(t, "d1", chat.RoleProvider, "c1"))
	d1.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "dj", Conv: "c1"})
	d1.AwaitReply("dj")
	p1 := wstest.Dial(t, e.url, "")
	members := []chat.Member{{User: "d1", Role: chat.RoleProvider}, {User: "p1", Role: chat.RolePatient}}
	cat := jobs.Catalog()
	for _, f := range sent {
		if f.Op == chat.OpAuth {
			f.Token = token(t, "p1", chat.RolePatient, "c1")
		}
		p1.Send(f)
		typ := f.Type
		if f.Op != chat.OpSend {
			typ = f.Op
		}
		owed := 0 // events of this message for p1, from the catalog
		if f.Op != chat.OpAuth {
			for _, dl := range cat.Deliveries(typ, "p1", chat.RolePatient, members) {
				if dl.User == "p1" {
					owed++
				}
			}
		}
		var ack *chat.ServerFrame
		var got []string
		for ack == nil || len(got) < owed {
			fr := p1.Next()
			switch {
			case fr.Op == chat.OpEvent && fr.ReplyTo == f.ID:
				got = append(got, fr.Event.Name)
			case fr.Op == chat.OpAck && fr.ReplyTo == f.ID:
				ack = fr
			default:
				t.Fatalf("%s %s: unexpected %s %+v", f.Op, f.ID, fr.Op, fr)
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(shown[f.ID]))
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: p1 receives events %q, the example shows %q", f.Op, f.ID, got, want)
		}
		b, _ := json.Marshal(ack)
		var real map[string]json.RawMessage
		_ = json.Unmarshal(b, &real)
		doc := acks[f.ID]
		if doc == nil {
			t.Errorf("%s %s: the example shows no ack", f.Op, f.ID)
			continue
		}
		if k1, k2 := slices.Sorted(maps.Keys(real)), slices.Sorted(maps.Keys(doc)); !slices.Equal(k1, k2) {
			t.Errorf("%s %s: ack has fields %q, the example %q", f.Op, f.ID, k1, k2)
		}
		for _, k := range []string{"user", "members"} {
			if string(real[k]) != string(doc[k]) {
				t.Errorf("%s %s: ack %s is %s, the example %s", f.Op, f.ID, k, real[k], doc[k])
			}
		}
	}
}
