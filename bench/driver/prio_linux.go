//go:build linux

package driver

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

// prSetTimerSlack is prctl's PR_SET_TIMERSLACK.
const prSetTimerSlack = 29

// senderNice is the nice value a sender thread asks for. On a machine the
// driver shares with the servers it measures, a sender thread at the
// default priority waited in the kernel's run queue for about a third of
// the replay at 20,000 messages/s (docs/performance.md); at -10 it wakes
// when its message is due. It only ever runs to send, so it takes no more
// CPU than it would at nice 0 — it takes it on time.
const senderNice = -10

// pinThread locks the calling goroutine to its OS thread, lowers that
// thread's timer slack to 10 µs so preciseSleep wakes on time, and raises
// its priority to senderNice if the process may (root, or CAP_SYS_NICE). It
// returns the thread's nice value. The goroutine must end without
// unlocking: the runtime then retires the thread, so its slack and priority
// never pass to other goroutines.
func pinThread() int {
	runtime.LockOSThread()
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 10_000, 0)
	if syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), senderNice) != nil {
		return 0 // not permitted: run at the default priority
	}
	return senderNice
}

// preciseSleep sleeps the calling OS thread for d with a nanosleep system
// call. The runtime's own timers wake up to a millisecond late when the
// process is otherwise idle (the network poller waits in whole
// milliseconds).
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}

// threadTimes returns the calling thread's CPU time and the time it spent
// runnable in the kernel's run queue, waiting for a CPU
// (/proc/thread-self/schedstat); ok is false where the kernel does not say.
func threadTimes() (cpu, wait time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return 0, 0, false
	}
	var c, w, slices int64
	if _, err := fmt.Sscan(string(b), &c, &w, &slices); err != nil {
		return 0, 0, false
	}
	return time.Duration(c), time.Duration(w), true
}
