// Package driver replays a trace against a chat server over WebSockets,
// open loop: each message is sent at its scheduled, time-compressed instant
// whatever the server does, and every frame that comes back goes to the
// delivery ledger (package ledger). Run returns the path's results.
//
// The files follow a replay: config.go (Config and its defaults),
// schedule.go (each record's instant, the plan), dial.go (connections),
// scheduler.go (the replay's shared state), sender.go (sending on time),
// hold.go (leaves held back, and what waits behind them), read.go (frames
// coming back), refuse.go (frames the server refuses with a close),
// resend.go and retry.go (the client's resend protocol), progress.go, and
// run.go, which puts them together. runtime.go says what the program running a replay
// must set, which Run leaves alone.
package driver

// Paths the driver knows. Only PathEcho changes what is expected.
const (
	PathDirect = "direct"
	PathQueue  = "queue"
	PathEcho   = "echo"
)
