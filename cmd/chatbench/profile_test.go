package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestCPUProfileNamesTheSubcommand: with CHATBENCH_CPU_PROFILE_DIR set, a
// process writes a non-empty profile named after its subcommand and pid;
// without it, nothing.
func TestCPUProfileNamesTheSubcommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(profileEnv, dir)
	startProfile([]string{"serve", "queue", "--addr", "127.0.0.1:0"})()
	startProfile([]string{"worker", "--workers", "2"})()
	for _, name := range []string{"serve-queue", "worker"} {
		fi, err := os.Stat(filepath.Join(dir, fmt.Sprintf("cpu-%s-%d.pprof", name, os.Getpid())))
		if err != nil || fi.Size() == 0 {
			t.Errorf("%s: no profile written: %v", name, err)
		}
	}
	t.Setenv(profileEnv, filepath.Join(dir, "missing", "folder"))
	startProfile([]string{"sqs"})() // warns and carries on
	t.Setenv(profileEnv, "")
	startProfile([]string{"ml"})()
	if m, _ := filepath.Glob(filepath.Join(dir, "cpu-*")); len(m) != 2 {
		t.Errorf("profiles written: %v; want the two asked for", m)
	}
}
