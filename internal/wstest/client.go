// Package wstest is a small protocol-v1 WebSocket client for tests: it
// dials a front door, sends client frames and hands back server frames in
// arrival order. It speaks the protocol over a real socket; nothing is
// faked.
package wstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
)

// Wait is how long Next waits for a frame before failing the test. It is a
// bound on a broken test, not a synchronisation device.
const Wait = 10 * time.Second

// Client is one test connection. Frames are read by a goroutine the Client
// owns; Close stops and waits for it.
type Client struct {
	t      testing.TB
	ws     *websocket.Conn
	frames chan *chat.ServerFrame
	done   chan struct{}
	// CloseErr is the error that ended the reader (a *websocket.CloseError
	// when the server closed properly); valid after Done is closed.
	CloseErr error
	wmu      sync.Mutex
	once     sync.Once
}

// Dial connects to url with an optional bearer token in the Authorization
// header ("" = none).
func Dial(t testing.TB, url, bearer string) *Client {
	t.Helper()
	c, resp, err := TryDial(url, bearer)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	c.t = t
	t.Cleanup(c.Close)
	return c
}

// TryDial is Dial returning the error and handshake response instead of
// failing a test. The caller must Close the client.
func TryDial(url, bearer string) (*Client, *http.Response, error) {
	return TryDialWith(websocket.DefaultDialer, url, bearer)
}

// DialWith is Dial with dialer d (e.g. one with a TLS configuration).
func DialWith(t testing.TB, d *websocket.Dialer, url, bearer string) *Client {
	t.Helper()
	c, resp, err := TryDialWith(d, url, bearer)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	c.t = t
	t.Cleanup(c.Close)
	return c
}

// TryDialWith is TryDial with dialer d.
func TryDialWith(d *websocket.Dialer, url, bearer string) (*Client, *http.Response, error) {
	h := http.Header{}
	if bearer != "" {
		h.Set("Authorization", "Bearer "+bearer)
	}
	ws, resp, err := d.Dial(url, h)
	if err != nil {
		return nil, resp, err
	}
	c := &Client{ws: ws, frames: make(chan *chat.ServerFrame, 4096), done: make(chan struct{})}
	go c.read()
	return c, resp, nil
}

func (c *Client) read() {
	defer close(c.done)
	defer close(c.frames)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.CloseErr = err
			return
		}
		f, err := chat.DecodeServerFrame(data)
		if err != nil {
			c.CloseErr = fmt.Errorf("undecodable server frame: %w", err)
			return
		}
		c.frames <- f
	}
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// WriteRaw sends one frame of the given websocket message type.
func (c *Client) WriteRaw(mt int, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(mt, data)
}

// Send sends f as a JSON text frame.
func (c *Client) Send(f chat.ClientFrame) {
	c.t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.WriteRaw(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("send %s: %v", f.Op, err)
	}
}

// Next returns the next server frame, failing the test if none arrives
// within Wait or the connection ends.
func (c *Client) Next() *chat.ServerFrame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("connection ended while waiting for a frame: %v", c.CloseErr)
		}
		return f
	case <-time.After(Wait):
		c.t.Fatalf("no frame within %s", Wait)
		return nil
	}
}

// Expect reads the next frame and fails unless it has op (and, for
// errors, code; for events, the event name) and reply_to ref.
func (c *Client) Expect(op, what, ref string) *chat.ServerFrame {
	c.t.Helper()
	f := c.Next()
	got := f.Code
	if f.Event != nil {
		got = f.Event.Name
	}
	if f.Op != op || (what != "" && got != what) || (ref != "" && f.ReplyTo != ref) {
		c.t.Fatalf("want %s %q reply_to %q, got %s %q reply_to %q (message %q)", op, what, ref, f.Op, got, f.ReplyTo, f.Message)
	}
	return f
}

// Auth authenticates with an auth frame and waits for its ack.
func (c *Client) Auth(token string) {
	c.t.Helper()
	c.Send(chat.ClientFrame{Op: chat.OpAuth, ID: "auth", Token: token})
	c.Expect(chat.OpAck, "", "auth")
}

// Pending returns the frames already received without waiting.
func (c *Client) Pending() []*chat.ServerFrame {
	var out []*chat.ServerFrame
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return out
			}
			out = append(out, f)
		default:
			return out
		}
	}
}

// Close closes the connection and waits for the reader.
func (c *Client) Close() {
	c.once.Do(func() {
		c.wmu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.wmu.Unlock()
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
		}
		_ = c.ws.Close()
		<-c.done
	})
}

// AwaitReply reads frames until an ack or error replying to ref arrives and
// returns it; events read on the way are returned too.
func (c *Client) AwaitReply(ref string) (reply *chat.ServerFrame, events []*chat.ServerFrame) {
	c.t.Helper()
	for {
		f := c.Next()
		if (f.Op == chat.OpAck || f.Op == chat.OpError) && f.ReplyTo == ref {
			return f, events
		}
		events = append(events, f)
	}
}

// Drain returns every frame still to come until the connection ends,
// failing the test if it does not end within Wait of the last frame.
func (c *Client) Drain() []*chat.ServerFrame {
	c.t.Helper()
	var out []*chat.ServerFrame
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return out
			}
			out = append(out, f)
		case <-time.After(Wait):
			c.t.Fatalf("connection still open %s after the last frame", Wait)
			return out
		}
	}
}
