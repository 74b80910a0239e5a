package socket_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/socket"
)

// TestRateLimit floods one connection past its burst: the frames over it are
// refused with a retryable rate_limited naming their ids, the connection
// keeps working, and sustained abuse closes it with 1008.
func TestRateLimit(t *testing.T) {
	e := start(t, func(c *socket.Config) { c.RateLimit, c.RateBurst = 1, 5 })
	c := wstest.Dial(t, e.url, token(t, "p1", chat.RolePatient, "c1"))
	// The burst (5) is admitted: each typing before a join is refused as
	// not_joined, which shows it was handled.
	for i := range 5 {
		c.Send(chat.ClientFrame{Op: chat.OpSend, ID: "m" + strconv.Itoa(i), Conv: "c1", Type: "typing"})
	}
	for i := range 5 {
		c.Expect(chat.OpError, chat.CodeNotJoined, "m"+strconv.Itoa(i))
	}
	c.Send(chat.ClientFrame{Op: chat.OpSend, ID: "over", Conv: "c1", Type: "typing"})
	f := c.Expect(chat.OpError, chat.CodeRateLimited, "over")
	if !f.Retryable {
		t.Errorf("rate_limited is not retryable: %+v", f)
	}
	// Keep going: 10 × burst refusals close the connection with 1008. The
	// frames written past that point are still unread when the server
	// closes; it must read them off before closing the socket, or the TCP
	// reset that follows can destroy the close frame before we read it.
	for i := range 400 {
		if c.WriteRaw(websocket.TextMessage, []byte(`{"op":"send","id":"f`+strconv.Itoa(i)+`","conv":"c1","type":"typing"}`)) != nil {
			break
		}
	}
	expectClose(t, c, websocket.ClosePolicyViolation)
	if got := counter(t, e.reg, "chatbench_protocol_errors_total", map[string]string{"code": chat.CodeRateLimited}); got < 40 {
		t.Errorf("rate_limited errors counted %v, want ≥ 40", got)
	}
	// Another connection of the same user is unaffected.
	d := wstest.Dial(t, e.url, token(t, "p1", chat.RolePatient, "c1"))
	d.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"})
	if r, _ := d.AwaitReply("j"); r.Op != chat.OpAck {
		t.Fatalf("join after another connection's abuse: %+v", r)
	}
}

// TestMaxConnsPerUser checks the per-user connection cap: in the handshake
// (HTTP 429 JSON) and after an auth frame (error + 1008), and that closing
// a connection frees its slot.
func TestMaxConnsPerUser(t *testing.T) {
	e := start(t, func(c *socket.Config) { c.MaxConnsPerUser = 2 })
	tok := token(t, "p1", chat.RolePatient, "c1")
	a := wstest.Dial(t, e.url, tok)
	b := wstest.Dial(t, e.url, "")
	b.Auth(tok)
	_, resp, err := wstest.TryDial(e.url, tok)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection: err %v resp %v, want HTTP 429", err, resp)
	}
	var body struct{ Code, Message string }
	raw, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if json.Unmarshal(raw, &body) != nil || body.Code != chat.CodeTooManyConns || body.Message == "" {
		t.Fatalf("429 body %s", raw)
	}
	c := wstest.Dial(t, e.url, "")
	c.Send(chat.ClientFrame{Op: chat.OpAuth, ID: "a", Token: tok})
	c.Expect(chat.OpError, chat.CodeTooManyConns, "a")
	expectClose(t, c, websocket.ClosePolicyViolation)
	// Another user is not affected.
	wstest.Dial(t, e.url, token(t, "p2", chat.RolePatient, "c1"))
	// Closing one frees a slot.
	a.Close()
	waitFor(t, func() bool {
		d, _, err := wstest.TryDial(e.url, tok)
		if err != nil {
			return false
		}
		d.Close()
		return true
	})
	b.Close()
	if got := counter(t, e.reg, "chatbench_protocol_errors_total", map[string]string{"code": chat.CodeTooManyConns}); got < 2 {
		t.Errorf("too_many_connections counted %v, want ≥ 2", got)
	}
}

// waitFor polls cond until it holds, failing after wstest.Wait.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wstest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
