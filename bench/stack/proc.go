package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

// proc is one component instance running as its own process, so a kill is
// a real kill and its CPU time and peak memory are its own (from wait4's
// rusage).
type proc struct {
	spec *spec
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when Wait returned
	err  error         // Wait's error, once done is closed
	// exited is when Wait returned; tests read it to check stop order.
	exited time.Time
	// killed is set when the process had to be SIGKILLed after its grace.
	killed bool
	// backlog is what it held when asked to stop (spec.backlog's samples),
	// nil when not read.
	backlog *int64
	// peak is its peak resident memory (VmHWM) read just before it was
	// signalled, 0 when not read. Preferred over wait4's ru_maxrss, which
	// on Linux also counts the parent's memory at the fork: exec records
	// the high-water mark of the memory it replaces, the driver's.
	peak int64
}

// readPeak records the process's peak resident memory so far from
// /proc/<pid>/status (Linux; elsewhere nothing is read).
func (p *proc) readPeak() {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
				p.peak = kb * 1024
			}
			return
		}
	}
}

// start runs sp's command, its output appended to sp.logPath.
func start(sp *spec) (*proc, error) {
	f, err := os.OpenFile(sp.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", sp.name, err)
	}
	cmd := exec.Command(sp.exe, sp.args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Plain-text logs, whatever the parent's CHATBENCH_LOG_FORMAT.
	cmd.Env = append(os.Environ(), "CHATBENCH_LOG_FORMAT=text")
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", sp.name, err)
	}
	p := &proc{spec: sp, cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		p.exited = time.Now()
		close(p.done)
	}()
	return p, nil
}

// exitedYet reports whether the process has exited.
func (p *proc) exitedYet() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// await waits until the process, sent sig, exits; if it has not within
// grace it is killed and, unless sig was SIGKILL already, marked killed.
// It reports whether it had to be killed.
func (p *proc) await(sig syscall.Signal, grace time.Duration) bool {
	t := time.NewTimer(max(grace, 0))
	defer t.Stop()
	select {
	case <-p.done:
		return false
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		p.killed = p.killed || sig != syscall.SIGKILL
		return sig != syscall.SIGKILL
	}
}

// usage closes the log of an exited process and returns its CPU time and
// peak memory, and an error when it had to be killed or failed on its own.
func (p *proc) usage(grace time.Duration, killedNow bool) (results.Component, error) {
	p.log.Close()
	c := results.Component{Name: p.spec.name, Killed: p.killed, Backlog: p.backlog}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		c.CPUSeconds = tv(ru.Utime) + tv(ru.Stime)
		c.PeakRSS = ru.Maxrss * 1024 // Linux reports KiB
	}
	if p.peak > 0 {
		c.PeakRSS = p.peak
	}
	switch {
	case killedNow:
		return c, &killedError{fmt.Sprintf("%s did not stop within %s of SIGTERM; killed (see %s)", p.spec.name, grace, p.spec.logPath)}
	case p.err != nil && !exitedOnSignal(p.err):
		return c, fmt.Errorf("%s: %w (see %s)", p.spec.name, p.err, p.spec.logPath)
	}
	return c, nil
}

func exitedOnSignal(err error) bool {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return true
		}
	}
	return false
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// selfUsage returns this process's CPU seconds and peak RSS so far.
func selfUsage() (cpu float64, peak int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return tv(ru.Utime) + tv(ru.Stime), ru.Maxrss * 1024
}

// MeterSelf starts measuring this process (the driver) and returns a
// function that reports, as the component "driver", the CPU time it spent
// since and its peak memory so far.
func MeterSelf() func() results.Component {
	cpu0, _ := selfUsage()
	return func() results.Component {
		cpu1, peak := selfUsage()
		return results.Component{Name: "driver", CPUSeconds: cpu1 - cpu0, PeakRSS: peak}
	}
}

// listen reserves a free loopback port. The listener is closed just before
// the component that binds the port starts, which keeps the window in
// which another process could take it short.
func listen() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

// waitReady polls p's readiness check until it answers, p exits, ctx ends
// or timeout passes.
func waitReady(ctx context.Context, p *proc, timeout time.Duration) error {
	sp := p.spec
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		if ready(ctx, client, sp.ready, sp.readyAddr) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v (see %s)", sp.name, p.err, sp.logPath)
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", sp.name, ctx.Err())
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s within %s (see %s)", sp.name, sp.readyAddr, timeout, sp.logPath)
		}
	}
}

func ready(ctx context.Context, client *http.Client, check Check, addr string) bool {
	if check == CheckTCP {
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		c, err := d.DialContext(dctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// procName is the process name of instance i of n of component c in
// variant v.
func procName(v, c string, i, n int) string {
	name := v + "-" + c
	if n > 1 {
		name += "-" + fmt.Sprint(i)
	}
	return name
}

// hopName is the hop of instance i of a component routed through hop.
func hopName(hop string, i int) string {
	if i == 0 {
		return hop
	}
	return hop + "-" + fmt.Sprint(i)
}
