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

// Visit runs, on the server at url, the visit both paths' end-to-end tests
// share, built from the catalog so that it covers every type and every job
// without a list: providers d1 and d2 and patient p1 join conversation c1,
// patient p9 joins c2 and is alone there; then, type by type, every send
// type is sent with its example body into c1 by p1 and by d1 (each if its
// role may send it) and into c2 by p9; finally d2 and p9 leave (a leave
// from each role) and p9 tries to join c1 (refused). So every trigger —
// type and role — fires. It returns the participants; shut the server down
// gracefully, then call CheckDrained.
func (s *Script) Visit(url string, secret []byte) []*Participant {
	s.t.Helper()
	d1 := DialAs(s.t, url, secret, "d1", chat.RoleProvider, "c1")
	d2 := DialAs(s.t, url, secret, "d2", chat.RoleProvider, "c1")
	p1 := DialAs(s.t, url, secret, "p1", chat.RolePatient, "c1")
	p9 := DialAs(s.t, url, secret, "p9", chat.RolePatient, "c2")
	home := map[*Participant]string{d1: "c1", d2: "c1", p1: "c1", p9: "c2"}
	for _, p := range []*Participant{d1, d2, p1, p9} {
		s.Do(p, chat.OpJoin, home[p], "", "")
	}
	for _, typ := range s.Cat.Types() {
		for _, p := range []*Participant{p1, d1, p9} {
			if typ.Op == chat.OpSend && typ.CanSend(p.Role) {
				s.Do(p, chat.OpSend, home[p], typ.Name, typ.Example)
			}
		}
	}
	// Events for messages accepted while a member was present reach it only
	// if it is still there when they are emitted: let them arrive before it
	// leaves, so the expectation is exact on any path.
	for _, p := range []*Participant{d2, p9} {
		s.Settle(p)
		s.Do(p, chat.OpLeave, home[p], "", "")
	}
	// The outsider tries to get into c1 and is refused.
	p9.C.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "sneak", Conv: "c1"})
	r, evs := p9.C.AwaitReply("sneak")
	if r.Code != chat.CodeForbidden {
		s.t.Fatalf("outsider join: got %q", r.Code)
	}
	p9.Got = append(p9.Got, evs...)
	return []*Participant{d1, d2, p1, p9}
}

// CheckDrained reads what is left for each participant until the server
// closes the connection with 1001, checks each received exactly the
// expected events and no other frame, passes every event to check, and
// reports an error for each catalog job that never ran (and for a missing
// relay).
func (s *Script) CheckDrained(ps []*Participant, check func(user string, f *chat.ServerFrame)) {
	s.t.Helper()
	seen := map[string]bool{}
	for _, p := range ps {
		p.Drain()
		s.Check(p)
		for _, f := range p.Got {
			if f.Op != chat.OpEvent {
				s.t.Errorf("%s: unexpected %s frame %q", p.User, f.Op, f.Code)
				continue
			}
			seen[f.Event.Job] = true
			check(p.User, f)
		}
		if !IsGoingAway(p.C.CloseErr) {
			s.t.Errorf("%s: connection ended with %v, want close 1001", p.User, p.C.CloseErr)
		}
	}
	for _, j := range s.Cat.Jobs() {
		if !seen[j.Name] {
			s.t.Errorf("job %s never ran", j.Name)
		}
	}
	if !seen[chat.RelayJob] {
		s.t.Error("no relay seen")
	}
}
