//go:build !linux

package driver

import (
	"runtime"
	"time"
)

// pinThread locks the calling goroutine to its OS thread; the goroutine
// ends without unlocking it.
func pinThread() { runtime.LockOSThread() }

// preciseSleep sleeps for d.
func preciseSleep(d time.Duration) { time.Sleep(d) }
