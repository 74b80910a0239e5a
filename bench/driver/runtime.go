package driver

// Run changes no process-wide setting: that is the choice of the program
// that imports it. What the driver needs from that program to keep its
// schedule, measured in docs/performance.md ("Waiting for the Go
// runtime"), is GOMAXPROCS of at least Procs and a garbage collector at
// GCPercent, for as long as replays run. The chatbench commands that run
// the driver in their own process set both (cmd/chatbench/runtime.go), and
// so do this package's benchmarks.

// GCPercent is the garbage collector's percent (debug.SetGCPercent, or
// GOGC) a program should run replays with. A collection pauses the
// senders' goroutines, which shows up as schedule lag; at 800 the heap
// grows to nine times what is live before the next collection instead of
// twice, so the driver, whose live heap is small, collects several times
// less often (turning the collector off altogether gained nothing more).
const GCPercent = 800

// Procs returns the GOMAXPROCS a program that runs with procs should give
// a replay with senders senders (Config.Senders; 0 means AutoSenders):
// one P more per sender. Each sender sleeps in a system call between
// messages; with a P of its own it returns without queueing behind the
// readers, which otherwise had the runtime preempt it every 10 ms or so,
// for up to several ms.
func Procs(procs, senders int) int { return procs + max(1, sendersOr(senders)) }
