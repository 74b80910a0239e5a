//go:build !linux

package socket

import "net"

// sendQueueProbe is nil where the kernel's send queue cannot be read: every
// frame then goes through the connection's writer goroutine.
func sendQueueProbe(net.Conn) func(n int) bool { return nil }
