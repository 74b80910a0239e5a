package compare

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

// Hops between components that StackOptions.Via can route through a proxy.
const (
	// HopSQS is the gateway's and the worker's connection to the SQS endpoint.
	HopSQS = "sqs"
	// HopML is the direct server's or the worker's connection to the ML service.
	HopML = "ml"
	// HopServer is the driver's connection to the direct server or gateway.
	HopServer = "server"
)

// StackOptions change how StartStack launches a path.
type StackOptions struct {
	// Via, when not nil, is called with each hop (HopSQS, HopML, HopServer)
	// and the upstream component's address, and returns the address the
	// hop's clients use instead (e.g. a fault proxy's). nil connects
	// components directly, as Run does.
	Via func(hop, upstream string) (string, error)
}

// Stack is one path's components, started by StartStack, each a separate
// process that can be signalled and restarted. It is safe for use by one
// goroutine at a time per component.
type Stack struct {
	// Target is the WebSocket URL the driver connects to.
	Target string

	mu      sync.Mutex
	st      *stack
	retired []*proc // processes killed and replaced by Restart
	logDir  string
}

// StartStack launches the components of path ("echo", "direct" or "queue")
// with cfg's settings (cfg.Exe and cfg.LogDir are required) and waits
// until each is ready. On error the components already started are
// stopped.
func StartStack(ctx context.Context, cfg Config, path string, opts StackOptions) (*Stack, error) {
	if cfg.Exe == "" || cfg.LogDir == "" {
		return nil, errors.New("compare: Exe and LogDir are required")
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.SQSLatency == "" {
		cfg.SQSLatency = "none"
	}
	if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		return nil, err
	}
	st, err := cfg.start(ctx, path, opts.Via)
	if err != nil {
		_, stopErr := st.stop()
		return nil, errors.Join(err, stopErr)
	}
	return &Stack{Target: st.target, st: st, logDir: cfg.LogDir}, nil
}

// find returns the running process whose name ends in "-"+component
// ("server", "gateway", "worker", "ml", "sqs").
func (s *Stack) find(component string) (int, *proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.st.procs {
		if strings.HasSuffix(p.name, "-"+component) {
			return i, p, nil
		}
	}
	return 0, nil, fmt.Errorf("compare: no component %q in this stack", component)
}

// Signal sends sig to component and waits until it has exited; if it has
// not within grace, it is killed (SIGKILL). The process is not restarted.
func (s *Stack) Signal(component string, sig syscall.Signal, grace time.Duration) error {
	_, p, err := s.find(component)
	if err != nil {
		return err
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return nil
}

// Restart starts component again with the same arguments (so on the same
// port), its output appended to the same log, and waits until it is ready.
// The previous process must have exited (see Signal).
func (s *Stack) Restart(ctx context.Context, component string) error {
	i, old, err := s.find(component)
	if err != nil {
		return err
	}
	select {
	case <-old.done:
	default:
		return fmt.Errorf("compare: %s is still running", old.name)
	}
	f, err := os.OpenFile(filepath.Join(s.logDir, old.name+".log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	p, err := startProcLog(old.name, old.exe, old.args, f)
	if err != nil {
		return err
	}
	p.readyURL = old.readyURL
	s.mu.Lock()
	s.st.procs[i] = p
	s.retired = append(s.retired, old)
	s.mu.Unlock()
	if p.readyURL == "" {
		return nil
	}
	return waitReady(ctx, p, p.readyURL, 30*time.Second)
}

// Stop stops the stack's processes in reverse start order and returns
// each one's CPU time and peak memory (a restarted component appears once
// per process it ran as).
func (s *Stack) Stop() ([]results.Component, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	comps, err := s.st.stop()
	for _, p := range s.retired {
		c, _ := p.stop(time.Second)
		comps = append(comps, c)
	}
	return comps, err
}
