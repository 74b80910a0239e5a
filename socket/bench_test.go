package socket_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/socket"
)

// BenchmarkEmitFanOut measures one event's fan-out to a room of n
// connections, end to end: encode once, queue to each connection, each
// writer writes it, each client (over loopback) has read it.
func BenchmarkEmitFanOut(b *testing.B) {
	for _, n := range []int{2, 10, 100} {
		b.Run("room="+strconv.Itoa(n), func(b *testing.B) {
			srv, err := directmode.Start(directmode.ServerConfig{
				Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret},
				Dispatcher: directmode.Config{Catalog: jobs.Catalog()},
				Gatherer:   nilGatherer{},
			})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Shutdown(context.Background())
			got := make(chan struct{}, 1024)
			marker := []byte(`"job":"bench"`)
			var conns []*websocket.Conn
			done := make(chan struct{})
			for i := 0; i < n; i++ {
				h := http.Header{}
				tok, _ := socket.MintToken(secret, socket.Claims{User: "u" + strconv.Itoa(i), Role: chat.RoleProvider, Convs: []string{"c1"}, Exp: time.Now().Add(time.Hour).Unix()})
				h.Set("Authorization", "Bearer "+tok)
				ws, _, err := websocket.DefaultDialer.Dial(srv.URL(), h)
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, ws)
				_ = ws.WriteJSON(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"})
				for { // wait for the join ack; skip presence events
					_, data, err := ws.ReadMessage()
					if err != nil {
						b.Fatal(err)
					}
					if f, _ := chat.DecodeServerFrame(data); f.Op == chat.OpAck {
						break
					}
				}
				go func() {
					defer func() { done <- struct{}{} }()
					for {
						_, data, err := ws.ReadMessage()
						if err != nil {
							return
						}
						// Count only the benchmark's events, not the
						// presence events of the other joins.
						if bytes.Contains(data, marker) {
							got <- struct{}{}
						}
					}
				}()
			}
			ev := &chat.Event{Name: "triage", Job: "bench", Conv: "c1", From: "p1", Status: chat.StatusOK,
				Data: json.RawMessage(`{"urgency":"high","score":0.91}`), ReplyTo: "m1", Audience: chat.AudienceAll}
			hub := srv.Front().Hub()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				e := *ev
				if hub.Emit(&e) != n {
					b.Fatal("not delivered to every connection")
				}
				for range n {
					<-got
				}
			}
			b.StopTimer()
			for _, ws := range conns {
				_ = ws.Close()
			}
			for range conns {
				<-done
			}
		})
	}
}
