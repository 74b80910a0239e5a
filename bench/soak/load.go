package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/chat"
)

// conn is one held connection.
type conn struct {
	user, conv string
	role       chat.Role
	ws         *websocket.Conn
	closing    atomic.Bool
	seq        int
}

// counters are the frames the soak's connections sent and received.
type counters struct {
	sent, recv, errs, disc atomic.Int64
}

// connect opens cfg.Conns connections, joins each pair to a conversation and
// starts each one's reader. On error the connections opened so far are
// returned with it (their readers running).
func connect(ctx context.Context, cfg *Config, cnt *counters, readers *sync.WaitGroup) ([]*conn, error) {
	d := driver.NewDialer()
	all := make([]*conn, cfg.Conns)
	for i := range all {
		role := chat.RolePatient
		if i%2 == 1 {
			role = chat.RoleProvider
		}
		all[i] = &conn{user: fmt.Sprintf("soak-%d", i), conv: fmt.Sprintf("soak-c%d", i/2), role: role}
	}
	// Pairs are adjacent, so an even Active selects whole pairs.
	jobs := make(chan *conn)
	var (
		mu       sync.Mutex
		firstErr error
		opened   = make([]bool, len(all))
	)
	idx := map[*conn]int{}
	for i, c := range all {
		idx[c] = i
	}
	var workers sync.WaitGroup
	for range min(cfg.ConnectParallel, len(all)) {
		workers.Go(func() {
			for c := range jobs {
				err := open(ctx, d, cfg, c)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					opened[idx[c]] = true
				}
				mu.Unlock()
				if err == nil {
					readers.Go(func() { read(c, cnt) })
				}
			}
		})
	}
feed:
	for _, c := range all {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		select {
		case jobs <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	workers.Wait()
	var out []*conn
	for i, c := range all {
		if opened[i] {
			out = append(out, c)
		}
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

// open dials and authenticates c and joins its conversation, waiting for
// the join's ack.
func open(ctx context.Context, d *websocket.Dialer, cfg *Config, c *conn) error {
	ws, err := driver.Dial(ctx, d, cfg.Target, cfg.Secret, c.user, c.role)
	if err != nil {
		return err
	}
	id := c.user + "-join"
	_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteJSON(chat.ClientFrame{V: chat.ProtocolVersion, Op: chat.OpJoin, ID: id, Conv: c.conv}); err != nil {
		ws.Close()
		return fmt.Errorf("join %s as %s: %w", c.conv, c.user, err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return fmt.Errorf("join %s as %s: %w", c.conv, c.user, err)
		}
		var f chat.ServerFrame
		if json.Unmarshal(data, &f) != nil || f.ReplyTo != id {
			continue
		}
		if f.Op == chat.OpError {
			ws.Close()
			return fmt.Errorf("join %s as %s refused: %s", c.conv, c.user, data)
		}
		if f.Op == chat.OpAck {
			break
		}
	}
	_ = ws.SetReadDeadline(time.Time{})
	_ = ws.SetWriteDeadline(time.Time{})
	c.ws = ws
	return nil
}

// read reads everything c receives until the connection ends. Reading is
// also what answers the server's pings.
func read(c *conn, cnt *counters) {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if !c.closing.Load() {
				cnt.disc.Add(1)
			}
			return
		}
		cnt.recv.Add(1)
		if strings.Contains(string(data), `"op":"error"`) {
			cnt.errs.Add(1)
		}
	}
}

// send sends cfg.Rate messages per second, round robin over active, until
// ctx ends: typing, read, text, typing, … Only this goroutine writes data
// frames, so writes need no lock.
func send(ctx context.Context, cfg *Config, active []*conn, cnt *counters) {
	if len(active) == 0 || cfg.Rate <= 0 {
		<-ctx.Done()
		return
	}
	types := [...]string{"typing", "read", "typing", "text"}
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	start := time.Now()
	for n := 0; ; n++ {
		at := start.Add(time.Duration(n) * interval)
		if wait := time.Until(at); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		c := active[n%len(active)]
		c.seq++
		typ := types[(n/len(active))%len(types)]
		f := chat.ClientFrame{V: chat.ProtocolVersion, Op: chat.OpSend, ID: fmt.Sprintf("%s-%d", c.user, c.seq), Conv: c.conv, Type: typ}
		switch typ {
		case "read":
			f.Body = fmt.Sprintf("%s-%d", c.user, c.seq-1)
		case "text":
			f.Body = "soak message"
		}
		_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := c.ws.WriteJSON(f); err != nil {
			cnt.errs.Add(1)
			continue
		}
		cnt.sent.Add(1)
	}
}

// closeAll closes every connection (close frame, then the socket) and
// waits for their readers.
func closeAll(conns []*conn, readers *sync.WaitGroup) {
	for _, c := range conns {
		c.closing.Store(true)
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "soak done"), time.Now().Add(time.Second))
		_ = c.ws.Close()
	}
	readers.Wait()
}
