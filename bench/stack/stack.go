// Package stack is the one owner of "start a path as processes": per path
// variant, a table of its components (the chatbench subcommand and flags
// of each, its readiness check, the order they start and stop in, which
// may be restarted for faults, how many instances run), started on
// loopback with free ports, health-checked, stopped in order, each
// process's CPU time and peak memory collected from its rusage.
//
// compare, chaos and soak start their paths through it; Replay holds the
// replay settings compare and chaos share and builds the driver's
// configuration from them.
package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

// spec is one process a stack runs: an instance of a component, with its
// arguments fixed when the stack is planned (so a restart reuses its
// ports).
type spec struct {
	name        string // process name, e.g. "queue-worker"
	component   string
	instance    int
	exe         string
	args        []string
	ready       Check
	readyAddr   string // the first listen address, where it binds (not through Via)
	restartable bool
	backlog     string // the gauge read before the stop (Component.Backlog)
	logPath     string
	reserved    []net.Listener // its ports, held until it starts
}

// release closes the listeners holding sp's ports.
func (sp *spec) release() {
	for _, ln := range sp.reserved {
		ln.Close()
	}
	sp.reserved = nil
}

// Stack is one variant's processes, started by Start. Its methods are safe
// for concurrent use; each holds the stack while it works (Restart until
// the component is ready again).
type Stack struct {
	variant Variant
	cfg     Config
	targets []string

	mu      sync.Mutex
	procs   []*proc // running (or exited on their own), in start order
	retired []*proc // processes stopped by Signal and replaced by Restart
	stopped bool
}

// Start launches variant's components with cfg's settings, in order, each
// on its own free loopback ports, and waits until each is ready. On error
// the components already started are stopped, and the error names the
// component that failed and its log.
func Start(ctx context.Context, cfg Config, variant string) (*Stack, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	v, err := Lookup(variant)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		return nil, err
	}
	specs, targets, err := plan(cfg, v, listen)
	if err != nil {
		return nil, err
	}
	s := &Stack{variant: v, cfg: cfg, targets: targets}
	for i, sp := range specs {
		err = s.launch(ctx, sp)
		if err != nil {
			for _, rest := range specs[i:] {
				rest.release()
			}
			break
		}
	}
	if err != nil {
		_, stopErr := s.Stop()
		return nil, errors.Join(err, stopErr)
	}
	return s, nil
}

// launch starts sp with a fresh log and waits until it is ready.
func (s *Stack) launch(ctx context.Context, sp *spec) error {
	if err := os.WriteFile(sp.logPath, nil, 0o644); err != nil {
		return fmt.Errorf("start %s: %w", sp.name, err)
	}
	s.cfg.Logger.Debug("starting component", "process", sp.name, "addr", sp.readyAddr)
	sp.release()
	p, err := start(sp)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return waitReady(ctx, p, s.cfg.ReadyTimeout)
}

// plan reserves every process's ports and builds its arguments, in start
// order, and returns the client-facing URLs. reserve picks a port.
func plan(cfg Config, v Variant, reserve func() (net.Listener, error)) (specs []*spec, targets []string, err error) {
	defer func() {
		if err != nil {
			for _, sp := range specs {
				sp.release()
			}
			specs, targets = nil, nil
		}
	}()
	known := map[string]bool{}
	for _, kv := range variants {
		for _, c := range kv.Set.Components {
			known[c.Name] = true
		}
	}
	for _, name := range sortedKeys(cfg.Instances) {
		if !known[name] {
			return nil, nil, fmt.Errorf("stack: instances of %q: no such component", name)
		}
	}
	addrs := map[string][][]string{}
	for _, c := range v.Set.Components {
		if c.When != nil && !c.When(cfg) {
			continue
		}
		n := max(c.Instances, 1)
		if c.Scale {
			n = max(n, cfg.Scale)
		}
		if o := cfg.Instances[c.Name]; o > 0 {
			n = o
		}
		exe := cfg.Exe
		if c.Exe != "" {
			if exe, err = exec.LookPath(c.Exe); err != nil {
				return specs, nil, fmt.Errorf("stack: %s needs %s: %w (Debian: apt-get install %s)", v.Name, c.Exe, err, c.Exe)
			}
		}
		var reach [][]string
		for i := range n {
			sp := &spec{name: procName(v.Name, c.Name, i, n), component: c.Name, instance: i, exe: exe,
				ready: c.Ready, restartable: c.Restartable, backlog: c.Backlog}
			sp.logPath = filepath.Join(cfg.LogDir, sp.name+".log")
			specs = append(specs, sp)
			own := make([]string, len(c.Listen))
			for j := range c.Listen {
				ln, err := reserve()
				if err != nil {
					return specs, nil, fmt.Errorf("stack: reserve a port for %s: %w", sp.name, err)
				}
				sp.reserved = append(sp.reserved, ln)
				own[j] = ln.Addr().String()
			}
			var missing []string
			args := append(slices.Clone(c.Command), c.Args(Env{Config: cfg, Instance: i, addrs: addrs, missing: &missing})...)
			if len(missing) > 0 {
				return specs, nil, fmt.Errorf("stack: %s: %s refers to %v, not started before it", v.Name, c.Name, missing)
			}
			args = append(args, v.Extra[c.Name]...)
			for j, flag := range c.Listen {
				addr := own[j]
				if c.Exe != "" {
					_, addr, _ = net.SplitHostPort(addr) // a foreign program takes the port alone
				}
				args = append(args, flag, addr)
			}
			if c.Exe == "" {
				args = append(args, "--log-level", "warn")
			}
			sp.args = args
			if len(own) > 0 {
				sp.readyAddr = own[0]
			}
			r := slices.Clone(own)
			if c.Hop != "" && cfg.Via != nil && len(r) > 0 {
				if r[0], err = cfg.Via(hopName(c.Hop, i), own[0]); err != nil {
					return specs, nil, fmt.Errorf("stack: route %s through hop %s: %w", sp.name, hopName(c.Hop, i), err)
				}
			}
			reach = append(reach, r)
			if c.Client && len(r) > 0 {
				targets = append(targets, "ws://"+r[0]+"/ws")
			}
		}
		addrs[c.Name] = reach
	}
	return specs, targets, nil
}

// Topology returns how many instances of each component the stack runs,
// by component name (its results record it).
func (s *Stack) Topology() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, p := range s.procs {
		out[p.spec.component] = max(out[p.spec.component], p.spec.instance+1)
	}
	return out
}

// Broker returns what the stack's front doors share: BrokerRedis when it
// runs the Redis component, else BrokerMemory.
func (s *Stack) Broker() string {
	if _, ok := s.Topology()["redis"]; ok {
		return BrokerRedis
	}
	return BrokerMemory
}

// Variant returns the variant the stack runs.
func (s *Stack) Variant() Variant { return s.variant }

// Targets returns the WebSocket URL of every client-facing instance (after
// Via), in instance order.
func (s *Stack) Targets() []string { return slices.Clone(s.targets) }

// Target returns the first of Targets: the one a single driver connects to.
func (s *Stack) Target() string { return s.targets[0] }

// find returns the running process of instance of component.
func (s *Stack) find(component string, instance int) (int, *proc, error) {
	for i, p := range s.procs {
		if p.spec.component == component && p.spec.instance == instance {
			return i, p, nil
		}
	}
	return 0, nil, fmt.Errorf("stack: no instance %d of component %q in path %s", instance, component, s.variant.Name)
}

// Signal sends sig to instance of component and waits until it has
// exited; if it has not within grace, it is killed (SIGKILL), which its
// results.Component records as Killed. The process is not restarted.
func (s *Stack) Signal(component string, instance int, sig syscall.Signal, grace time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, p, err := s.find(component, instance)
	if err != nil {
		return err
	}
	if p.exitedYet() {
		return fmt.Errorf("signal %s: it has already exited (see %s)", p.spec.name, p.spec.logPath)
	}
	p.readPeak()
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s: %w", p.spec.name, err)
	}
	p.await(sig, grace)
	return nil
}

// Restart starts instance of component again with the same arguments (so
// on the same ports), its output appended to the same log, and waits until
// it is ready. The previous process must have exited (see Signal), and the
// component must be Restartable.
func (s *Stack) Restart(ctx context.Context, component string, instance int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, old, err := s.find(component, instance)
	if err != nil {
		return err
	}
	if !old.spec.restartable {
		return fmt.Errorf("stack: %s is not restartable", old.spec.name)
	}
	if !old.exitedYet() {
		return fmt.Errorf("stack: %s is still running", old.spec.name)
	}
	p, err := start(old.spec)
	if err != nil {
		return err
	}
	s.procs[i] = p
	s.retired = append(s.retired, old)
	return waitReady(ctx, p, s.cfg.ReadyTimeout)
}

// Stop stops the stack's processes in the variant's stop order — every
// instance of a component is sent SIGTERM at once and given the grace
// together — and returns each process's CPU time and peak memory, in start
// order, then the processes Restart replaced. A process that had to be
// killed after its grace is marked Killed and named in the error, as is
// one that had failed. Stop is safe to call twice; the second call returns
// nothing.
func (s *Stack) Stop() ([]results.Component, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, nil
	}
	s.stopped = true
	grace := s.cfg.StopGrace
	var errs []error
	killed := map[*proc]bool{}
	for _, ci := range s.variant.Set.stopOrder() {
		name := s.variant.Set.Components[ci].Name
		var group []*proc
		for _, p := range s.procs {
			if p.spec.component == name {
				group = append(group, p)
			}
		}
		// What each still holds, and its peak memory, are read before any
		// is asked to stop.
		readBacklogs(group)
		for _, p := range group {
			p.readPeak()
		}
		for _, p := range group {
			if !p.exitedYet() {
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		// The group shares the grace, and whatever of it outlives the
		// grace is killed at once: one kill's wait is no reprieve for
		// another.
		expired := make(chan struct{})
		deadline := time.AfterFunc(grace, func() { close(expired) })
		for _, p := range group {
			select {
			case <-p.done:
			case <-expired:
			}
		}
		deadline.Stop()
		var late []*proc
		for _, p := range group {
			if !p.exitedYet() {
				late = append(late, p)
				_ = p.cmd.Process.Kill()
			}
		}
		for _, p := range late {
			<-p.done
			p.killed, killed[p] = true, true
		}
	}
	var comps []results.Component
	for _, p := range s.procs {
		c, err := p.usage(grace, killed[p])
		comps = append(comps, c)
		errs = append(errs, err)
	}
	for _, p := range s.retired {
		// A retired process ended by the fault it was signalled for.
		c, _ := p.usage(grace, false)
		comps = append(comps, c)
	}
	return comps, errors.Join(errs...)
}

// Run starts variant, calls drive with the started stack, stops it, and
// returns drive's path with every process's CPU time and peak memory as
// its Components, the last being this process's ("driver": CPU spent
// while drive ran), and the machine's noise over the whole span, from
// before the first process started until the last was reaped (Noise; nil
// off Linux). The path measured is returned with any error.
func Run(ctx context.Context, cfg Config, variant string, drive func(context.Context, *Stack) (*results.Path, error)) (*results.Path, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	noise := MeterNoise(cfg.NoiseThreshold)
	st, err := Start(ctx, cfg, variant)
	if err != nil {
		return nil, err
	}
	self := MeterSelf()
	p, driveErr := drive(ctx, st)
	drv := self()
	comps, stopErr := st.Stop()
	if p != nil {
		p.Components = append(comps, drv)
		p.Noise = noise(comps)
		p.Desc, p.Claim = st.variant.Desc, st.variant.Claim
		// A component killed after its stop grace is a finding of the
		// path, recorded in its results (Killed, Backlog), not a failure
		// of the run: what was measured stands.
		stopErr = withoutKills(stopErr)
	}
	return p, errors.Join(driveErr, stopErr)
}
