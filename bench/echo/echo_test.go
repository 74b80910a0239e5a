package echo

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestEcho checks the floor's answers: join acked with the user as the
// only member; send answered with one echo event to the sender, then an
// ack; and that Shutdown closes the connection with 1001.
func TestEcho(t *testing.T) {
	srv, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(context.Background()) }()
	tok, err := socket.MintToken([]byte("any-secret-0123456789"), socket.Claims{User: "p1", Role: chat.RolePatient, Convs: []string{"*"}, Exp: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	ws, _, err := websocket.DefaultDialer.Dial(srv.URL(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	next := func() *chat.ServerFrame {
		t.Helper()
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		f, err := chat.DecodeServerFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if err := ws.WriteJSON(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"}); err != nil {
		t.Fatal(err)
	}
	if f := next(); f.Op != chat.OpAck || f.ReplyTo != "j" || len(f.Members) != 1 || f.Members[0] != "p1" {
		t.Fatalf("join answer %+v", f)
	}
	if err := ws.WriteJSON(chat.ClientFrame{Op: chat.OpSend, ID: "m1", Conv: "c1", Type: "text", Body: "hi", SentAt: chat.NowMicros()}); err != nil {
		t.Fatal(err)
	}
	ev := next()
	if ev.Op != chat.OpEvent || ev.ReplyTo != "m1" || ev.Event.Job != "echo" || ev.Event.From != "p1" || ev.Event.Status != chat.StatusOK ||
		ev.Event.Hops.ClientSent == 0 || ev.Event.Hops.GatewayIn == 0 || ev.Event.Hops.Emitted == 0 {
		t.Fatalf("event %+v", ev)
	}
	if f := next(); f.Op != chat.OpAck || f.ReplyTo != "m1" {
		t.Fatalf("send answer %+v", f)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("after shutdown: %v, want close 1001", err)
	}
}
