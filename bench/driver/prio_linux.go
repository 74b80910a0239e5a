//go:build linux

package driver

import (
	"runtime"
	"syscall"
	"time"
)

// prSetTimerSlack is prctl's PR_SET_TIMERSLACK.
const prSetTimerSlack = 29

// pinThread locks the calling goroutine to its OS thread and lowers that
// thread's timer slack to 10 µs, so preciseSleep wakes on time. The
// goroutine must end without unlocking: the runtime then retires the
// thread, so its slack never affects other goroutines. (Raising the thread's priority was
// tried: it halved the median schedule lag but took CPU from the server
// under test, so it is not done.)
func pinThread() {
	runtime.LockOSThread()
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 10_000, 0)
}

// preciseSleep sleeps the calling OS thread for d with a nanosleep system
// call. The runtime's own timers wake up to a millisecond late when the
// process is otherwise idle (the network poller waits in whole
// milliseconds).
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
