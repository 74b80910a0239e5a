//go:build linux

package driver

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// rawSocket is a connection's socket taken off the Go runtime's network
// poller (detach): the poller waits for its bytes in its own epoll set, and
// the runtime's would otherwise report every one of them too, to no
// goroutine, waking an idle thread each time (14 % of the driver's CPU in a
// sweep step's profile). Writes go straight to the socket and wait in
// poll(2) only when its send buffer is full.
type rawSocket struct {
	mu       sync.RWMutex // held for reading by every call on fd, for writing by Close
	fd       int          // -1 once closed
	deadline atomic.Int64 // of writes, Unix ns; 0 = none
}

// detach moves hc's socket off the runtime's poller: it duplicates the
// descriptor and closes the original (which leaves the runtime's epoll set;
// the socket stays open through the duplicate). It returns the socket, which
// hc then uses for everything.
func detach(hc *handshakeConn) (*rawSocket, error) {
	rc, err := hc.tcp.SyscallConn()
	if err != nil {
		return nil, err
	}
	dup := -1
	var dupErr error
	if err := rc.Control(func(fd uintptr) {
		dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, os.NewSyscallError("fcntl", dupErr)
	}
	_ = hc.tcp.Close()
	rs := &rawSocket{fd: dup}
	hc.off = rs
	return rs, nil
}

// read reads what the socket holds into b, without waiting.
func (r *rawSocket) read(b []byte) (int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.fd < 0 {
		return 0, net.ErrClosed
	}
	for {
		n, err := unix.Read(r.fd, b)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

// control runs f on the descriptor unless it was closed.
func (r *rawSocket) control(f func(fd int) error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.fd < 0 {
		return net.ErrClosed
	}
	return f(r.fd)
}

func (r *rawSocket) Write(b []byte) (int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.fd < 0 {
		return 0, net.ErrClosed
	}
	n := 0
	for n < len(b) {
		m, err := unix.Write(r.fd, b[n:])
		if m > 0 {
			n += m
		}
		switch err {
		case nil, unix.EINTR:
		case unix.EAGAIN:
			if err := r.writable(); err != nil {
				return n, err
			}
		default:
			return n, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", err)}
		}
	}
	return n, nil
}

// writable waits until the socket takes more, or the write deadline.
func (r *rawSocket) writable() error {
	for {
		timeout := -1
		if d := r.deadline.Load(); d != 0 {
			left := time.Until(time.Unix(0, d))
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			timeout = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, timeout)
		switch {
		case err == unix.EINTR:
		case err != nil:
			return os.NewSyscallError("poll", err)
		case n > 0:
			return nil // writable, or failed: the next write says which
		}
	}
}

func (r *rawSocket) SetWriteDeadline(t time.Time) error {
	if t.IsZero() {
		r.deadline.Store(0)
	} else {
		r.deadline.Store(t.UnixNano())
	}
	return nil
}

// CloseRead shuts the socket's reading side: the poller's next read finds
// its end.
func (r *rawSocket) CloseRead() error {
	return r.control(func(fd int) error { return unix.Shutdown(fd, unix.SHUT_RD) })
}

// Close closes the socket once no call is using it (a write waits at most
// until its deadline).
func (r *rawSocket) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fd < 0 {
		return net.ErrClosed
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}
