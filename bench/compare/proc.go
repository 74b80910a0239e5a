package compare

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

// proc is one component running as its own process, so a kill is a real
// kill and its CPU time and peak memory are its own (from wait4's rusage).
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when Wait returned
	err  error

	// exe, args and readyURL start the component again (Stack.Restart).
	exe      string
	args     []string
	readyURL string
}

// startProc runs exe with args, its output going to logDir/name.log.
func startProc(name, exe string, args []string, logDir string) (*proc, error) {
	f, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	return startProcLog(name, exe, args, f)
}

// startProcLog runs exe with args, its output going to f (which it owns).
func startProcLog(name, exe string, args []string, f *os.File) (*proc, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Components read their configuration from flags only.
	cmd.Env = append(os.Environ(), "CHATBENCH_LOG_FORMAT=text")
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: f, done: make(chan struct{}), exe: exe, args: args}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM, waits up to grace for a graceful exit, then kills,
// and reports the process's CPU time and peak memory.
func (p *proc) stop(grace time.Duration) (results.Component, error) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		err = fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.name, grace)
	}
	p.log.Close()
	c := results.Component{Name: p.name}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		c.CPUSeconds = tv(ru.Utime) + tv(ru.Stime)
		c.PeakRSS = ru.Maxrss * 1024 // Linux reports KiB
	}
	if err == nil && p.err != nil && !exitedOnSignal(p.err) {
		err = fmt.Errorf("%s: %w (see %s)", p.name, p.err, p.log.Name())
	}
	return c, err
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

// freeAddr returns a loopback address with a port that was free a moment
// ago (the child binds it right after).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls url (an HTTP /healthz, or tcp://host:port for a plain
// port) until it answers, p exits, or timeout passes.
func waitReady(ctx context.Context, p *proc, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		if ready(client, url) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready: %v (see %s)", p.name, p.err, p.log.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s within %s (see %s)", p.name, url, timeout, p.log.Name())
		}
	}
}

func ready(client *http.Client, url string) bool {
	if addr, ok := strings.CutPrefix(url, "tcp://"); ok {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
