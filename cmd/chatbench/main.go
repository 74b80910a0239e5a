// Command chatbench measures two architectures of a telehealth chat
// backend — an SQS job queue and direct WebSocket handlers — side by side.
// Each subcommand lives in its own file and only turns flags into a config
// for the packages that do the work.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile(os.Args[1:])
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	stop()
	os.Exit(code)
}
