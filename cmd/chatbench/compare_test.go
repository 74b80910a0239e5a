package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStackFlagsValidated checks that compare, chaos and soak refuse bad
// values before starting anything, naming the flag.
func TestStackFlagsValidated(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", "--workers", "-1"}, "--workers -1: must be > 0"},
		{[]string{"compare", "--speed", "0"}, "--speed 0: must be > 0 (default 2880)"},
		{[]string{"compare", "--drain", "-5s"}, "--drain -5s: must be ≥ 0s"},
		{[]string{"compare", "--limit", "-1"}, "--limit -1: must be ≥ 0"},
		{[]string{"compare", "--max-tasks", "-1"}, "--max-tasks -1"},
		{[]string{"compare", "--paths", "direct,qeueu"}, `--paths: unknown path "qeueu"`},
		{[]string{"compare", "--repeat", "0"}, "--repeat 0: must be > 0 (default 1)"},
		{[]string{"compare", "--sqs-latency", "regoin"}, `--sqs-latency: latency profile "regoin"`},
		{[]string{"compare", "--noise-threshold", "1.5"}, "--noise-threshold 1.5: must be between 0 and 1"},
		{[]string{"chaos", "--pace", "-2"}, "--pace -2: must be > 0"},
		{[]string{"chaos", "--duration", "-1s"}, "--duration -1s: must be ≥ 0s"},
		{[]string{"chaos", "--fault-at", "1.5"}, "--fault-at 1.5: must be between 0 and 1"},
		{[]string{"chaos", "--scenarios", "worker-kil"}, `unknown scenario "worker-kil"`},
		{[]string{"soak", "--duration", "0s"}, "--duration 0s: must be > 0"},
		{[]string{"soak", "--conns", "10", "--active", "12"}, "--active 12: must be between 0 and --conns (10)"},
		{[]string{"soak", "--conns", "10", "--held-fraction", "2"}, "--held-fraction 2"},
		// The whole trace is checked before any component starts.
		{[]string{"compare", "--trace", "../../bench/trace/testdata/duplicate-id.jsonl"}, "line 5"},
		{[]string{"chaos", "--trace", "../../bench/trace/testdata/oversize-frame.jsonl"}, "--max-frame-bytes"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		_, err := run(t, append(tc.args, "--out", out)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("chatbench %s: error %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("chatbench %s: wrote %s before refusing", strings.Join(tc.args, " "), out)
		}
	}
}
