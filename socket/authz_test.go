package socket_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/wstest"
)

// TestAuthorization has 20 users across 10 conversations, each token
// allowing one or two of them, try to join, send to, leave and read
// conversations they may not, including frames that forge a conversation
// or a sender. Every refusal must carry the right code; after a graceful
// shutdown has flushed every queue, no user may have received any event of
// a conversation it was not a member of, nor an event whose sender was
// forged.
func TestAuthorization(t *testing.T) {
	e := start(t, nil)
	const users, convs = 20, 10
	conv := func(i int) string { return fmt.Sprintf("c%d", i%convs) }
	type user struct {
		name    string
		role    chat.Role
		allowed []string
		joined  map[string]bool // ever joined successfully
		c       *wstest.Client
		seq     int
		got     []*chat.ServerFrame
	}
	us := make([]*user, users)
	for i := range us {
		u := &user{name: fmt.Sprintf("u%d", i), role: chat.RolePatient, allowed: []string{conv(i)}, joined: map[string]bool{}}
		if i%2 == 1 {
			u.role = chat.RoleProvider
		}
		if i%3 == 0 {
			u.allowed = append(u.allowed, conv(i+1))
		}
		u.c = wstest.Dial(t, e.url, token(t, u.name, u.role, u.allowed...))
		us[i] = u
	}
	// do sends f (its id made unique per user) and checks the reply: an ack
	// when code is "", else an error with code.
	do := func(u *user, f chat.ClientFrame, code string) {
		t.Helper()
		u.seq++
		f.ID = fmt.Sprintf("%s-%d", u.name, u.seq)
		u.c.Send(f)
		r, evs := u.c.AwaitReply(f.ID)
		u.got = append(u.got, evs...)
		switch {
		case code == "" && r.Op != chat.OpAck:
			t.Errorf("%s %s %s: want ack, got %s %s (%s)", u.name, f.Op, f.Conv, r.Op, r.Code, r.Message)
		case code != "" && (r.Op != chat.OpError || r.Code != code):
			t.Errorf("%s %s %s: want error %s, got %s %s", u.name, f.Op, f.Conv, code, r.Op, r.Code)
		}
		if code == "" && f.Op == chat.OpJoin {
			u.joined[f.Conv] = true
		}
	}
	// raw sends a hand-written frame and checks the reply the same way.
	raw := func(u *user, format, conv, code string) {
		t.Helper()
		u.seq++
		id := fmt.Sprintf("%s-%d", u.name, u.seq)
		if err := u.c.WriteRaw(websocket.TextMessage, fmt.Appendf(nil, format, id, conv)); err != nil {
			t.Fatal(err)
		}
		r, evs := u.c.AwaitReply(id)
		u.got = append(u.got, evs...)
		if (code == "" && r.Op != chat.OpAck) || (code != "" && r.Code != code) {
			t.Errorf("%s raw %q: want %q, got %s %s (%s)", u.name, format, code, r.Op, r.Code, r.Message)
		}
	}

	// Round 1: everyone joins its first conversation; a forbidden join,
	// sends/leaves for conversations not joined (forbidden, or allowed but
	// not joined) are refused.
	for i, u := range us {
		do(u, chat.ClientFrame{Op: chat.OpJoin, Conv: u.allowed[0]}, "")
		do(u, chat.ClientFrame{Op: chat.OpJoin, Conv: conv(i + 5)}, chat.CodeForbidden)
		do(u, chat.ClientFrame{Op: chat.OpSend, Conv: conv(i + 5), Type: "text", Body: "intrude"}, chat.CodeNotJoined)
		do(u, chat.ClientFrame{Op: chat.OpSend, Conv: conv(i + 5), Type: "typing"}, chat.CodeNotJoined)
		do(u, chat.ClientFrame{Op: chat.OpLeave, Conv: conv(i + 5)}, chat.CodeNotJoined)
		if len(u.allowed) > 1 {
			do(u, chat.ClientFrame{Op: chat.OpSend, Conv: u.allowed[1], Type: "text"}, chat.CodeNotJoined)
			do(u, chat.ClientFrame{Op: chat.OpLeave, Conv: u.allowed[1]}, chat.CodeNotJoined)
		}
	}
	// Round 2: legitimate traffic, plus frames forging the sender or the
	// audience (unknown fields are ignored) and a conversation in a field
	// the server does not read.
	for i, u := range us {
		do(u, chat.ClientFrame{Op: chat.OpSend, Conv: u.allowed[0], Type: "text", Body: "hello"}, "")
		raw(u, `{"op":"send","id":%q,"conv":%q,"type":"text","from":"u0","members":["u1","u2","u3"],"audience":"all"}`, u.allowed[0], "")
		raw(u, `{"op":"send","id":%q,"conv":%q,"type":"text","room":"c0"}`, conv(i+5), chat.CodeNotJoined)
		raw(u, `{"op":"join","id":%q,"conv":%q,"token":"forged"}`, conv(i+5), chat.CodeForbidden)
	}
	// Round 3: second conversations are joined, used and left; a second
	// leave is refused; sending after leaving is refused.
	for _, u := range us {
		if len(u.allowed) < 2 {
			continue
		}
		c2 := u.allowed[1]
		do(u, chat.ClientFrame{Op: chat.OpJoin, Conv: c2}, "")
		do(u, chat.ClientFrame{Op: chat.OpSend, Conv: c2, Type: "typing"}, "")
		do(u, chat.ClientFrame{Op: chat.OpLeave, Conv: c2}, "")
		do(u, chat.ClientFrame{Op: chat.OpLeave, Conv: c2}, chat.CodeNotJoined)
		do(u, chat.ClientFrame{Op: chat.OpSend, Conv: c2, Type: "text"}, chat.CodeNotJoined)
	}

	// Graceful shutdown flushes every queue, then closes with 1001.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	events := 0
	for _, u := range us {
		u.got = append(u.got, u.c.Drain()...)
		for _, f := range u.got {
			if f.Op != chat.OpEvent {
				continue
			}
			events++
			if !slices.Contains(u.allowed, f.Conv) || !u.joined[f.Conv] {
				t.Errorf("%s (allowed %v, joined %v) received an event of %s: %s/%s from %s", u.name, u.allowed, u.joined, f.Conv, f.Job, f.Name, f.From)
			}
			if n := fmt.Sprint(f.From); len(n) > 0 && !slices.ContainsFunc(us, func(o *user) bool { return o.name == n && slices.Contains(o.allowed, f.Conv) }) {
				t.Errorf("%s received an event of %s from %s, who may not be there (forged sender?)", u.name, f.Conv, f.From)
			}
		}
	}
	if events == 0 {
		t.Fatal("no events at all: the test proves nothing")
	}
	t.Logf("%d events checked across %d users", events, users)
}
