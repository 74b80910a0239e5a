package driver

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/socket"
)

// peer is one participant's connection.
type peer struct {
	user string
	role chat.Role
	ws   *websocket.Conn
	dead atomic.Bool
	wmu  sync.Mutex // one writer at a time; guards ws once the replay runs (a reconnect replaces it)
	// deadline is the write deadline send last set on ws (zero: none
	// yet); guarded by wmu. Other writers only ever set a later one.
	deadline time.Time

	rs   resendState  // what a reconnect must redo (resend.go)
	held atomic.Int64 // the user's messages held back, not yet sent (hold.go)
}

// NewDialer returns a dialer for driver connections: small read buffers
// and write buffers pooled among all the connections it opens (a frame's
// write buffer is only held while the frame is written), which keeps idle
// connections small (see BenchmarkMemPerConn).
func NewDialer() *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
		NetDialContext:   dialTCP, // the poller needs what followed the handshake (handshake.go)
	}
}

// dialer returns a dialer (NewDialer) for c's target, with c's TLS
// configuration.
func (c *Config) dialer() *websocket.Dialer {
	d := NewDialer()
	d.TLSClientConfig = c.TLS
	return d
}

// Dial opens with d and authenticates one connection for user with a token
// signed by secret allowing every conversation.
func Dial(ctx context.Context, d *websocket.Dialer, target string, secret []byte, user string, role chat.Role) (*websocket.Conn, error) {
	tok, err := socket.MintToken(secret, socket.Claims{User: user, Role: role, Convs: []string{"*"}, Exp: time.Now().Add(24 * time.Hour).Unix()})
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	ws, resp, err := d.DialContext(ctx, target, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("connect %s as %s: %w (HTTP %d)", target, user, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("connect %s as %s: %w", target, user, err)
	}
	return ws, nil
}

// connectAll opens every peer's connection, cfg.ConnectParallel at a time,
// recording each connect time (µs).
func connectAll(ctx context.Context, cfg *Config, peers []*peer, hist *hdrhistogram.Histogram) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		next atomic.Int64
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dialer := cfg.dialer()
	for range min(cfg.ConnectParallel, len(peers)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(peers) || ctx.Err() != nil {
					return
				}
				p := peers[i]
				t := time.Now()
				ws, err := Dial(ctx, dialer, cfg.targetOf(p.user, 0), cfg.Secret, p.user, p.role)
				d := time.Since(t)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
					cancel()
				} else {
					p.ws = ws
					if hist != nil {
						_ = hist.RecordValue(max(1, d.Microseconds()))
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("driver: %d of %d connections failed; first: %w", len(errs), len(peers), errs[0])
	}
	return nil
}

// closeAll closes every open connection (the readers then end).
func closeAll(peers []*peer) {
	for _, p := range peers {
		p.wmu.Lock()
		if p.ws != nil {
			_ = p.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			_ = p.ws.Close()
		}
		p.wmu.Unlock()
	}
}

// drop ends p's connection for its reader, which then reconnects (the
// caller holds wmu). It shuts the socket's reading side rather than closing
// it: a closed socket leaves the poller's epoll set without an event, so
// the poller would never learn of it.
func (p *peer) drop() {
	if c, ok := p.ws.NetConn().(interface{ CloseRead() error }); ok && c.CloseRead() == nil {
		return
	}
	_ = p.ws.Close()
}
