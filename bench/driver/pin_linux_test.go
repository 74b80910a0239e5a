//go:build linux

package driver_test

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lastCPU returns the highest CPU this process may run on and the set of
// the others.
func lastCPU() (int, unix.CPUSet, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0, set, err
	}
	if set.Count() < 2 {
		return 0, set, errors.New("only one CPU available")
	}
	last := -1
	for c := range len(set) * 64 {
		if set.IsSet(c) {
			last = c
		}
	}
	set.Clear(last)
	return last, set, nil
}

// startOnLastCPU starts cmd confined to the last CPU: it forks from a
// thread pinned there for the purpose, and a child inherits the affinity
// of the thread that forks it.
func startOnLastCPU(cmd *exec.Cmd) error {
	last, _, err := lastCPU()
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the pinned thread ends with this goroutine.
		runtime.LockOSThread()
		var one unix.CPUSet
		one.Set(last)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			errc <- err
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// pinProcessAwayFromLastCPU confines every thread of this process to the
// CPUs but the last, and sets GOMAXPROCS to their number; the returned
// func undoes both. Threads created later inherit the affinity of the
// thread creating them; a second pass catches any created during the
// first.
func pinProcessAwayFromLastCPU() (restore func(), err error) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return nil, err
	}
	_, others, err := lastCPU()
	if err != nil {
		return nil, err
	}
	if err := setProcessAffinity(&others); err != nil {
		return nil, err
	}
	procs := runtime.GOMAXPROCS(others.Count())
	return func() {
		_ = setProcessAffinity(&all)
		runtime.GOMAXPROCS(procs)
	}, nil
}

// setProcessAffinity sets the affinity of every thread of this process.
func setProcessAffinity(set *unix.CPUSet) error {
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
		}
	}
	return nil
}

// processCPU returns the CPU time (user and system) this process has used
// so far, or zero where the kernel does not say.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
