//go:build !linux

package driver

import (
	"errors"
	"log/slog"
)

// poller is Linux's (poll_linux.go); elsewhere every connection has a
// goroutine reader.
type poller struct{}

func newPoller(frameFunc, func(), *slog.Logger) (*poller, error) {
	return nil, errors.New("the driver's poller is Linux-only")
}

func (*poller) add(*peer) bool                 { return false }
func (*poller) run(func(*peer, error, string)) {}
func (*poller) stop()                          {}
