package socket

import (
	"net"
	"syscall"
	"unsafe"
)

// sendQueueProbe returns a function that reports whether a frame of n
// bytes written to nc now goes into its kernel send buffer at once: the
// buffer holds nothing not yet acknowledged by the peer (SIOCOUTQ is 0),
// and n is at most half its size. It returns nil when nc is not a socket
// it can ask (a TLS connection is asked through the TCP connection under
// it). The function is not safe for concurrent use.
func sendQueueProbe(nc net.Conn) func(n int) bool {
	if u, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = u.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	// The size the buffer starts with; Linux may grow it, never below.
	sndbuf := 0
	if rc.Control(func(fd uintptr) { sndbuf, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF) }) != nil || err != nil {
		return nil
	}
	var queued int32
	var errno syscall.Errno
	ask := func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&queued)))
	}
	return func(n int) bool {
		return n <= sndbuf/2 && rc.Control(ask) == nil && errno == 0 && queued == 0
	}
}
