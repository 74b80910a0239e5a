package wstest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/socket"
)

// Participant is one test user with one connection and the events it has
// received so far.
type Participant struct {
	User string
	Role chat.Role
	C    *Client
	Got  []*chat.ServerFrame
}

// DialAs connects as user with a token signed by secret.
func DialAs(t testing.TB, url string, secret []byte, user string, role chat.Role, convs ...string) *Participant {
	t.Helper()
	tok, err := socket.MintToken(secret, socket.Claims{User: user, Role: role, Convs: convs, Exp: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return &Participant{User: user, Role: role, C: Dial(t, url, tok)}
}

// Drain reads every remaining frame of p until the server closes the
// connection (after a graceful shutdown has flushed everything).
func (p *Participant) Drain() { p.Got = append(p.Got, p.C.Drain()...) }

// Script drives conversations over real connections, waiting for each
// frame's ack before the next, and records what the catalog says each
// message must deliver to whom. Both paths' end-to-end tests use it, so
// they hold each path to the same expectation.
type Script struct {
	t       testing.TB
	Cat     *chat.Catalog
	members map[string][]chat.Member // conv → members, in join order
	Want    map[string][]string      // user → "reply_to/job/event" expected
	n       int
}

// NewScript returns a script checking against cat.
func NewScript(t testing.TB, cat *chat.Catalog) *Script {
	return &Script{t: t, Cat: cat, members: map[string][]chat.Member{}, Want: map[string][]string{}}
}

// Do sends one frame (op join, leave or send) from p, waits for its ack
// (keeping events that arrive meanwhile) and adds the deliveries it must
// cause. It returns the frame's id.
func (s *Script) Do(p *Participant, op, conv, typ, body string) string {
	s.t.Helper()
	s.n++
	id := fmt.Sprintf("m%03d", s.n)
	if op != chat.OpSend {
		typ = op
	}
	switch op {
	case chat.OpJoin:
		s.members[conv] = append(s.members[conv], chat.Member{User: p.User, Role: p.Role})
	case chat.OpLeave:
		s.members[conv] = slices.DeleteFunc(s.members[conv], func(m chat.Member) bool { return m.User == p.User })
	}
	p.C.Send(chat.ClientFrame{Op: op, ID: id, Conv: conv, Type: typ, Body: body, SentAt: chat.NowMicros()})
	reply, evs := p.C.AwaitReply(id)
	if reply.Op != chat.OpAck {
		s.t.Fatalf("%s %s from %s: %s %s", op, typ, p.User, reply.Code, reply.Message)
	}
	p.Got = append(p.Got, evs...)
	var users []string
	for _, m := range s.members[conv] {
		users = append(users, m.User)
	}
	slices.Sort(users)
	if !slices.Equal(slices.Compact(users), reply.Members) {
		s.t.Fatalf("ack of %s lists members %v, want %v", id, reply.Members, users)
	}
	for _, d := range s.Cat.Deliveries(typ, p.User, p.Role, s.members[conv]) {
		s.Want[d.User] = append(s.Want[d.User], id+"/"+d.Job+"/"+d.Event)
	}
	return id
}

// Settle reads p's frames until every event expected for p so far has
// arrived.
func (s *Script) Settle(p *Participant) {
	s.t.Helper()
	for len(Keys(p.Got)) < len(s.Want[p.User]) {
		p.Got = append(p.Got, p.C.Next())
	}
}

// Check reports an error unless p received exactly the expected events.
func (s *Script) Check(p *Participant) {
	s.t.Helper()
	want := append([]string(nil), s.Want[p.User]...)
	sort.Strings(want)
	if got := Keys(p.Got); !slices.Equal(got, want) {
		s.t.Errorf("%s received\n  %v\nwant\n  %v", p.User, got, want)
	}
}

// Keys returns the sorted "reply_to/job/event" keys of the events among
// frames.
func Keys(frames []*chat.ServerFrame) []string {
	var out []string
	for _, f := range frames {
		if f != nil && f.Op == chat.OpEvent {
			out = append(out, f.ReplyTo+"/"+f.Event.Job+"/"+f.Event.Name)
		}
	}
	sort.Strings(out)
	return out
}

// IsGoingAway reports whether err is a close with 1001.
func IsGoingAway(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce) && ce.Code == websocket.CloseGoingAway
}
