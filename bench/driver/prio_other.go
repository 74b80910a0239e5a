//go:build !linux

package driver

import (
	"runtime"
	"time"
)

// pinThread locks the calling goroutine to its OS thread (the goroutine
// ends without unlocking it) and returns its nice value, which it leaves
// alone on this platform.
func pinThread() int {
	runtime.LockOSThread()
	return 0
}

// preciseSleep sleeps for d.
func preciseSleep(d time.Duration) { time.Sleep(d) }

// threadTimes reports nothing on this platform (ok is false).
func threadTimes() (cpu, wait time.Duration, ok bool) { return 0, 0, false }
