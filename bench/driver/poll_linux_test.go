//go:build linux

package driver

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// polledFrames runs a poller over one connection to url and returns the
// messages it read, in order, and the error the connection ended with.
func polledFrames(t *testing.T, url string) ([]string, error) {
	t.Helper()
	ws, _, err := NewDialer().Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var got []string
	pl, err := newPoller(func(_ *peer, data []byte, _ time.Time) string {
		got = append(got, string(data)) // only the poller's goroutine calls it
		return ""
	}, func() {}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Skipf("no poller here: %v", err)
	}
	if !pl.add(&peer{user: "u", ws: ws}) {
		t.Fatal("the poller refused a plain ws:// connection")
	}
	ended := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		pl.run(func(_ *peer, err error, _ string) { ended <- err })
	})
	defer wg.Wait()
	defer pl.stop()
	select {
	case err := <-ended:
		return got, err
	case <-time.After(10 * time.Second):
		t.Fatal("the connection did not end")
	}
	return nil, nil
}

// TestPollerReadsWhatGorillaWrites has a gorilla server send a short
// message, one long enough to be fragmented and to span many reads, a
// ping and a close with a code: the poller must hand on both messages
// whole and in order, answer the ping with a pong carrying its payload, and
// end the connection with the close's code, as gorilla's reader does.
func TestPollerReadsWhatGorillaWrites(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 20_000) // 320 KB: over the poller's 64 KiB read
	pong := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{WriteBufferSize: 4096}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		ws.SetPongHandler(func(data string) error { pong <- data; return nil })
		go func() { // reads the pong and the close's answer; ends when ws closes
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
		_ = ws.WriteMessage(websocket.TextMessage, []byte("first"))
		// NextWriter sends a long message as frames of its buffer's size.
		mw, _ := ws.NextWriter(websocket.TextMessage)
		_, _ = mw.Write([]byte(long))
		_ = mw.Close()
		_ = ws.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
		select {
		case p := <-pong:
			pong <- p
		case <-time.After(5 * time.Second):
		}
		_ = ws.WriteMessage(websocket.TextMessage, []byte("last"))
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "too many"), time.Now().Add(time.Second))
	}))
	defer srv.Close()
	got, err := polledFrames(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	if len(got) != 3 || got[0] != "first" || got[1] != long || got[2] != "last" {
		lens := []int{}
		for _, g := range got {
			lens = append(lens, len(g))
		}
		t.Fatalf("messages of lengths %v, want first, %d bytes, last", lens, len(long))
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "too many" {
		t.Fatalf("ended with %v, want the close 1008 \"too many\"", err)
	}
	select {
	case p := <-pong:
		if p != "are you there" {
			t.Fatalf("pong %q", p)
		}
	default:
		t.Fatal("the ping got no pong")
	}
}

// TestPollerKeepsWhatFollowedTheHandshake has a server write its handshake
// response and a first message in one write, so the dialer's reader
// buffers the message with the response: the poller must still read it
// (handshake.go).
func TestPollerKeepsWhatFollowedTheHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + /* RFC 6455, 1.3 */ "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n"
		frame := append([]byte{0x81, 5}, "early"...)
		closing := append([]byte{0x88, 2}, 0x03, 0xe8) // 1000, normal
		_, _ = c.Write(append(append([]byte(resp), frame...), closing...))
		_, _ = c.Read(make([]byte, 64)) // the close's answer
	})
	got, err := polledFrames(t, "ws://"+ln.Addr().String()+"/ws")
	if len(got) != 1 || got[0] != "early" {
		t.Fatalf("messages %q, want the one sent with the handshake", got)
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("ended with %v, want a normal close", err)
	}
}

// TestParseHeaderRefusesWhatAServerMustNotSend checks the header checks:
// masked frames, reserved bits, long or fragmented control frames, and
// lengths that need more bytes than have come.
func TestParseHeaderRefusesWhatAServerMustNotSend(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    []byte
		ok, bad bool
		length  uint64
	}{
		{"short text", []byte{0x81, 3}, true, false, 3},
		{"16-bit length", []byte{0x81, 126, 0x01, 0x00}, true, false, 256},
		{"16-bit length not all here", []byte{0x81, 126, 0x01}, false, false, 0},
		{"64-bit length", []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}, true, false, 65536},
		{"masked", []byte{0x81, 0x83}, false, true, 0},
		{"reserved bit", []byte{0xc1, 1}, false, true, 0},
		{"fragmented ping", []byte{0x09, 0}, false, true, 0},
		{"long close", []byte{0x88, 126, 0, 200}, false, true, 0},
		{"over the bound", []byte{0x81, 127, 0, 0, 0, 1, 0, 0, 0, 0}, false, true, 0},
		{"one byte", []byte{0x81}, false, false, 0},
	} {
		h, ok, err := parseHeader(tc.data)
		if ok != tc.ok || (err != nil) != tc.bad || (ok && h.length != tc.length) {
			t.Errorf("%s: ok %v err %v length %d, want ok %v bad %v length %d", tc.name, ok, err, h.length, tc.ok, tc.bad, tc.length)
		}
	}
}
