package socket_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("socket-test-secret-0123456789")

type env struct {
	srv *directmode.Server
	reg *prometheus.Registry
	url string
}

// start runs a direct-path server with the telehealth catalog and no ML
// service (ML jobs then emit status=error events, which these front-door
// tests do not look at).
func start(t *testing.T, tweak func(*socket.Config)) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	fc := socket.Config{Secret: secret, Registerer: reg}
	if tweak != nil {
		tweak(&fc)
	}
	srv, err := directmode.Start(directmode.ServerConfig{
		Addr: "127.0.0.1:0", Front: fc,
		Dispatcher: directmode.Config{Catalog: jobs.Catalog(), Registerer: reg},
		Gatherer:   reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &env{srv: srv, reg: reg, url: srv.URL()}
}

func token(t *testing.T, user string, role chat.Role, convs ...string) string {
	t.Helper()
	tok, err := socket.MintToken(secret, socket.Claims{User: user, Role: role, Convs: convs, Exp: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			sum += value(m)
		}
	}
	return sum
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// TestBadInput sends each kind of bad frame and checks the error code, that
// the connection still works afterwards, and that a bystander in the same
// conversation is served throughout.
func TestBadInput(t *testing.T) {
	e := start(t, nil)
	bystander := wstest.Dial(t, e.url, token(t, "d1", chat.RoleProvider, "c1"))
	bystander.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "bj", Conv: "c1"})
	bystander.Expect(chat.OpAck, "", "bj")

	tests := []struct {
		name   string
		authed bool
		frame  string
		binary bool
		code   string
	}{
		{name: "malformed json", frame: `{"op":`, code: chat.CodeBadJSON},
		{name: "binary frame", frame: `{"op":"auth"}`, binary: true, code: chat.CodeBinaryFrame},
		{name: "invalid utf-8", frame: "{\"op\":\"auth\",\"token\":\"\xfe\"}", code: chat.CodeBadUTF8},
		{name: "unknown op", frame: `{"op":"subscribe","id":"x"}`, code: chat.CodeUnknownOp},
		{name: "missing field", frame: `{"op":"join","id":"x"}`, code: chat.CodeMissingField},
		{name: "bad version", frame: `{"v":9,"op":"auth","token":"t"}`, code: chat.CodeBadVersion},
		{name: "version 0", frame: `{"v":0,"op":"auth","token":"t"}`, code: chat.CodeBadVersion},
		{name: "version null", frame: `{"v":null,"op":"auth","token":"t"}`, code: chat.CodeBadVersion},
		{name: "no op", frame: `{"id":"x","conv":"c1"}`, code: chat.CodeMissingField},
		{name: "send before auth", frame: `{"op":"join","id":"x","conv":"c1"}`, code: chat.CodeNotAuthenticated},
		{name: "unknown type", authed: true, frame: `{"op":"send","id":"x","conv":"c1","type":"telepathy"}`, code: chat.CodeUnknownType},
		{name: "membership type via send", authed: true, frame: `{"op":"send","id":"x","conv":"c1","type":"join"}`, code: chat.CodeBadField},
		{name: "role may not send type", authed: true, frame: `{"op":"send","id":"x","conv":"c1","type":"end_visit"}`, code: chat.CodeForbiddenType},
		{name: "send without joining", authed: true, frame: `{"op":"send","id":"x","conv":"c1","type":"text"}`, code: chat.CodeNotJoined},
		{name: "join forbidden conversation", authed: true, frame: `{"op":"join","id":"x","conv":"c2"}`, code: chat.CodeForbidden},
		{name: "leave without joining", authed: true, frame: `{"op":"leave","id":"x","conv":"c1"}`, code: chat.CodeNotJoined},
		{name: "second auth", authed: true, frame: `{"op":"auth","id":"x","token":"whatever"}`, code: chat.CodeAlreadyAuthed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := wstest.Dial(t, e.url, "")
			if tc.authed {
				c.Auth(token(t, "p1", chat.RolePatient, "c1"))
			}
			mt := websocket.TextMessage
			if tc.binary {
				mt = websocket.BinaryMessage
			}
			if err := c.WriteRaw(mt, []byte(tc.frame)); err != nil {
				t.Fatal(err)
			}
			f := c.Expect(chat.OpError, tc.code, "")
			if !strings.Contains(f.Message, " ") {
				t.Errorf("error message %q does not explain itself", f.Message)
			}
			// The connection survives and still works.
			if !tc.authed {
				c.Auth(token(t, "p1", chat.RolePatient, "c1"))
			}
			c.Send(chat.ClientFrame{Op: chat.OpSend, ID: "ok-" + tc.name, Conv: "c1", Type: "typing"})
			c.Expect(chat.OpError, chat.CodeNotJoined, "ok-"+tc.name)
		})
	}
	// The bystander was never disturbed: a relay reaches it.
	p := wstest.Dial(t, e.url, token(t, "p2", chat.RolePatient, "c1"))
	p.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "pj", Conv: "c1"})
	p.Send(chat.ClientFrame{Op: chat.OpSend, ID: "pt", Conv: "c1", Type: "typing"})
	for {
		f := bystander.Next()
		if f.Op == chat.OpEvent && f.ReplyTo == "pt" {
			break
		}
	}
	if got := counter(t, e.reg, "chatbench_protocol_errors_total", map[string]string{"code": chat.CodeBadJSON}); got != 1 {
		t.Errorf("bad_json errors counted %v, want 1", got)
	}
}

func expectClose(t *testing.T, c *wstest.Client, code int) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(wstest.Wait):
		t.Fatal("connection not closed")
	}
	var ce *websocket.CloseError
	if !errors.As(c.CloseErr, &ce) || ce.Code != code {
		t.Fatalf("want close %d, got %v", code, c.CloseErr)
	}
}

func TestOversizeFrameCloses1009(t *testing.T) {
	e := start(t, func(c *socket.Config) { c.MaxFrameBytes = 1024 })
	c := wstest.Dial(t, e.url, token(t, "p1", chat.RolePatient, "c1"))
	_ = c.WriteRaw(websocket.TextMessage, []byte(`{"op":"send","body":"`+strings.Repeat("x", 2048)+`"}`))
	expectClose(t, c, websocket.CloseMessageTooBig)
}

func TestBadTokenFrameCloses1008(t *testing.T) {
	e := start(t, nil)
	c := wstest.Dial(t, e.url, "")
	bad := token(t, "p1", chat.RolePatient, "c1") + "x"
	c.Send(chat.ClientFrame{Op: chat.OpAuth, ID: "a", Token: bad})
	c.Expect(chat.OpError, chat.CodeBadToken, "a")
	expectClose(t, c, websocket.ClosePolicyViolation)
}

func TestBadTokenHeaderIs401(t *testing.T) {
	e := start(t, nil)
	other, err := socket.MintToken([]byte("another-secret-0123456789"), socket.Claims{User: "p1", Role: chat.RolePatient, Convs: []string{"*"}, Exp: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := socket.MintToken(secret, socket.Claims{User: "p1", Role: chat.RolePatient, Convs: []string{"*"}, Exp: time.Now().Add(-time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"wrong secret": other, "expired": expired, "garbage": "abc"} {
		t.Run(name, func(t *testing.T) {
			c, resp, err := wstest.TryDial(e.url, tok)
			if err == nil {
				c.Close()
				t.Fatal("connected with a bad token")
			}
			if resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("want 401, got %v", resp)
			}
		})
	}
}

func TestAuthTimeoutCloses1008(t *testing.T) {
	e := start(t, func(c *socket.Config) { c.AuthTimeout = 100 * time.Millisecond })
	c := wstest.Dial(t, e.url, "")
	expectClose(t, c, websocket.ClosePolicyViolation)
}

func TestOriginCheck(t *testing.T) {
	e := start(t, func(c *socket.Config) { c.AllowedOrigins = []string{"https://app.example"} })
	for origin, ok := range map[string]bool{"https://app.example": true, "https://evil.example": false, "": true} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ws, resp, err := websocket.DefaultDialer.Dial(e.url, h)
		if ok != (err == nil) {
			t.Errorf("origin %q: allowed=%v, want %v (resp %v)", origin, err == nil, ok, resp)
		}
		if ws != nil {
			_ = ws.Close()
		}
		if !ok && (resp == nil || resp.StatusCode != http.StatusForbidden) {
			t.Errorf("origin %q: want 403, got %v", origin, resp)
		}
	}
}

// TestSlowConsumerDisconnected fills a non-reading client's socket and send
// queue with relays; the server must drop frames for it, count the drops,
// end that connection, and keep serving the sender.
func TestSlowConsumerDisconnected(t *testing.T) {
	e := start(t, func(c *socket.Config) { c.SendQueue = 8; c.WriteTimeout = 300 * time.Millisecond })
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token(t, "d1", chat.RoleProvider, "c1"))
	slow, _, err := websocket.DefaultDialer.Dial(e.url, h)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := slow.WriteJSON(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"}); err != nil {
		t.Fatal(err)
	}
	// From here on nobody reads from slow.
	sender := wstest.Dial(t, e.url, token(t, "p1", chat.RolePatient, "c1"))
	sender.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"})
	if r, _ := sender.AwaitReply("j"); r.Op != chat.OpAck {
		t.Fatalf("join: %s", r.Code)
	}
	body := strings.Repeat("x", 60<<10)
	for i := 0; counter(t, e.reg, "chatbench_send_queue_drops_total", nil) == 0; i++ {
		if i > 5000 {
			t.Fatal("no drop after 5000 large relays to a client that does not read")
		}
		id := "m" + strconv.Itoa(i)
		sender.Send(chat.ClientFrame{Op: chat.OpSend, ID: id, Conv: "c1", Type: "typing", Body: body})
		if r, _ := sender.AwaitReply(id); r.Op != chat.OpAck {
			t.Fatalf("send: %s", r.Code)
		}
	}
	// The slow connection ends: reading what it had buffered ends in an
	// error (a close frame or a reset).
	_ = slow.SetReadDeadline(time.Now().Add(wstest.Wait))
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("slow connection still open")
			}
			break
		}
	}
	sender.Send(chat.ClientFrame{Op: chat.OpSend, ID: "after", Conv: "c1", Type: "typing"})
	if r, _ := sender.AwaitReply("after"); r.Op != chat.OpAck {
		t.Fatalf("send after: %s", r.Code)
	}
}

func TestShutdownRefusesNewConnections(t *testing.T) {
	e := start(t, nil)
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := wstest.TryDial(e.url, ""); err == nil {
		t.Fatal("connected after shutdown")
	}
}

// nilGatherer serves an empty /metrics for benchmarks that do not read it.
type nilGatherer struct{}

func (nilGatherer) Gather() ([]*dto.MetricFamily, error) { return nil, nil }
