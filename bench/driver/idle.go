package driver

import (
	"context"
	"fmt"
	"sync"

	"github.com/chatbench/chatbench/bench/ledger"
	"github.com/chatbench/chatbench/chat"
)

// Idle is a set of open, authenticated connections that send nothing, each
// with its reader goroutine, as in a replay. It exists to measure the
// driver's memory per connection.
type Idle struct {
	peers   []*peer
	readers sync.WaitGroup
}

// OpenIdle opens n connections to target as users idle-0 … idle-(n-1).
func OpenIdle(ctx context.Context, target string, secret []byte, n int) (*Idle, error) {
	if n < 0 {
		return nil, fmt.Errorf("driver: OpenIdle of %d connections: n must be ≥ 0", n)
	}
	cfg := Config{Target: target, Secret: secret, Path: PathEcho}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	idle := &Idle{}
	for i := range n {
		idle.peers = append(idle.peers, &peer{user: fmt.Sprintf("idle-%d", i), role: chat.RolePatient})
	}
	if err := connectAll(ctx, &cfg, idle.peers, nil); err != nil {
		closeAll(idle.peers)
		return nil, err
	}
	led, err := ledger.New(ledger.Config{Expect: ledger.EchoExpect})
	if err != nil {
		closeAll(idle.peers)
		return nil, err
	}
	cfg.NoResend = true // a closed idle connection stays closed
	s := &scheduler{cfg: &cfg, led: led}
	for _, p := range idle.peers {
		idle.readers.Add(1)
		go func() {
			defer idle.readers.Done()
			s.read(p)
		}()
	}
	return idle, nil
}

// Close closes the connections and waits for their readers.
func (i *Idle) Close() {
	closeAll(i.peers)
	i.readers.Wait()
}
