package driver_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat/jobs"
)

// dropProxy is a loopback TCP proxy that cuts every client connection once,
// when the clients have written killAfter chunks (about one per frame)
// beyond their handshakes. Its goroutines are waited for by Close.
type dropProxy struct {
	ln        net.Listener
	upstream  string
	killAfter int

	mu     sync.Mutex
	conns  []net.Conn
	chunks int
	killed bool
	wg     sync.WaitGroup
}

func newDropProxy(t *testing.T, upstream string, killAfter int) *dropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, upstream: upstream, killAfter: killAfter}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *dropProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.chunks-- // the handshake
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.pipe(u, c, true) }()
		go func() { defer p.wg.Done(); p.pipe(c, u, false) }()
	}
}

// pipe copies src to dst; client→server chunks count towards the drop.
func (p *dropProxy) pipe(dst, src net.Conn, fromClient bool) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if fromClient {
				p.count()
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *dropProxy) count() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chunks++
	if p.killed || p.chunks < p.killAfter {
		return
	}
	p.killed = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// Close stops the proxy and waits for its goroutines.
func (p *dropProxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// TestResendAfterDroppedConnections cuts every driver connection once in
// the middle of a replay: with the resend protocol every message is
// answered, nothing is delivered twice and nothing is lost (what was
// emitted while a recipient was away is replayed when it joins again);
// without it, messages in flight stay unanswered.
func TestResendAfterDroppedConnections(t *testing.T) {
	h, recs, err := trace.Generate(trace.Params{Days: 0.02, Messages: 120, Conversations: 4, Seed: 7, Bodies: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, noResend := range []bool{false, true} {
		name := map[bool]string{false: "resend", true: "no-resend"}[noResend]
		t.Run(name, func(t *testing.T) {
			srv := startDirect(t)
			host := strings.TrimSuffix(strings.TrimPrefix(srv.URL(), "ws://"), "/ws")
			px := newDropProxy(t, host, 50)
			p, err := driver.Run(context.Background(), driver.Config{
				Target: "ws://" + px.ln.Addr().String() + "/ws", Secret: secret, Path: driver.PathDirect, Header: h, Records: recs,
				Speed: 400, Catalog: jobs.Catalog(), Drain: 5 * time.Second, NoResend: noResend,
			})
			if err != nil {
				t.Fatal(err)
			}
			all, m := p.Ledger["all"], p.Messages
			t.Logf("%s: ledger %+v; messages %+v", name, *all, m)
			if !px.killed {
				t.Fatal("the proxy never cut the connections")
			}
			if noResend {
				if m.Reconnects != 0 || m.Resent != 0 {
					t.Errorf("reconnected with resend off: %+v", m)
				}
				if m.Acked == m.Sent {
					t.Errorf("every message acked although connections were cut without resend: %+v", m)
				}
				return
			}
			if m.Reconnects == 0 {
				t.Errorf("no reconnects: %+v", m)
			}
			if m.Unacked != 0 || len(m.Rejected) != 0 || m.Acked != m.Sent {
				t.Errorf("messages not all acked with resend: %+v", m)
			}
			if all.Duplicates != 0 || all.Unexpected != 0 {
				t.Errorf("duplicates or unexpected events with resend: %+v", *all)
			}
			// Events emitted to a recipient while its connection was down
			// are replayed when it joins again with since (docs/protocol.md,
			// Resuming).
			if all.Lost != 0 || m.ResumeGaps != 0 {
				t.Errorf("lost %d deliveries (resume gaps %d) with resend and resume", all.Lost, m.ResumeGaps)
			}
		})
	}
}

// TestReconnectOverTLS cuts every connection to a wss:// echo floor whose
// certificate only Config.TLS trusts: the reconnects must use it too, or
// the messages in flight stay unanswered.
func TestReconnectOverTLS(t *testing.T) {
	srv, ccfg := startEchoTLS(t)
	h, recs, err := trace.Generate(trace.Params{Days: 0.02, Messages: 120, Conversations: 4, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(srv.URL(), "wss://"), "/ws")
	px := newDropProxy(t, host, 50)
	p, err := driver.Run(context.Background(), driver.Config{
		Target: "wss://" + px.ln.Addr().String() + "/ws", Secret: secret, Path: driver.PathEcho, Header: h, Records: recs,
		Speed: 400, Drain: 5 * time.Second, TLS: ccfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := p.Messages
	if !px.killed {
		t.Fatal("the proxy never cut the connections")
	}
	if m.Reconnects == 0 || m.Unacked != 0 || m.Acked != m.Sent {
		t.Fatalf("after cuts over wss: %+v", m)
	}
}
