package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
)

// profileEnv names a folder into which every chatbench process — compare's
// components too, which inherit the environment — writes a CPU profile of
// its whole life, cpu-<subcommand>-<pid>.pprof: how docs/performance.md's
// profiles of the servers under load were taken. Unset, nothing is
// profiled.
const profileEnv = "CHATBENCH_CPU_PROFILE_DIR"

// startProfile starts the CPU profile profileEnv asks for and returns the
// function that ends it; it warns on stderr and carries on when it cannot.
func startProfile(args []string) (stop func()) {
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return func() {}
	}
	name := "chatbench"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name = strings.Join(args[:min(2, len(args))], "-")
		if len(args) > 1 && strings.HasPrefix(args[1], "-") {
			name = args[0]
		}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%s-%d.pprof", name, os.Getpid())))
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "chatbench: %s=%s: no CPU profile: %v\n", profileEnv, dir, err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
