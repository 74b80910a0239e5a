package main

import (
	"os"
	"runtime"
	"runtime/debug"

	"github.com/chatbench/chatbench/bench/driver"
)

// tuneRuntimeForDriver gives this process the runtime settings the replay
// driver asks of the program running it (bench/driver/runtime.go), for a
// command that runs replays in its own process with senders senders
// (driver.Config.Senders; 0 = its default): GOMAXPROCS raised to
// driver.Procs, and the garbage collector at driver.GCPercent unless GOGC
// is set in the environment, which then stands. The library leaves them
// alone (process-wide settings are main's); without them the driver's
// schedule lag grows (docs/performance.md). It returns a func that puts
// both back: call it once the command's replays are over.
func tuneRuntimeForDriver(senders int) (restore func()) {
	procs := runtime.GOMAXPROCS(driver.Procs(runtime.GOMAXPROCS(0), senders))
	if os.Getenv("GOGC") != "" {
		return func() { runtime.GOMAXPROCS(procs) }
	}
	gc := debug.SetGCPercent(driver.GCPercent)
	return func() {
		runtime.GOMAXPROCS(procs)
		debug.SetGCPercent(gc)
	}
}
