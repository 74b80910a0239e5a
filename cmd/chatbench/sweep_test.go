package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSweepFlagsValidated checks that sweep refuses bad values before
// starting anything, naming the flag and the fix.
func TestSweepFlagsValidated(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--factor", "1"}, "--factor 1: must be above 1.05"},
		{[]string{"--factor", "0"}, "--factor 0: must be > 0"},
		{[]string{"--paths", "direct,qeueu"}, `--paths: unknown path "qeueu"`},
		{[]string{"--pace", "-1"}, "--pace -1: must be > 0"},
		{[]string{"--from", "10", "--to", "5"}, "--to 5: below --from 10"},
		{[]string{"--max-conns", "0"}, "--max-conns 0: must be > 0"},
		{[]string{"--lag-fraction", "2"}, "--lag-fraction 2: must be between 0 and 1"},
		{[]string{"--slo", "p50 regression < 10%"}, "a regression compares two runs"},
		{[]string{"--slo", "knee > 5"}, "the knee is what the sweep finds"},
		{[]string{"--slo", "p99{klass=ml} < 2s"}, `unknown selector key "klass"`},
		{[]string{"--price-fifo", "-1"}, "--price-fifo -1: must be ≥ 0"},
		{[]string{"--trace", "../../bench/trace/testdata/duplicate-id.jsonl"}, "line 5"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		_, err := run(t, append(append([]string{"sweep"}, tc.args...), "--out", out)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("chatbench sweep %s: error %v, want %q", strings.Join(tc.args, " "), err, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("chatbench sweep %s: wrote %s before refusing", strings.Join(tc.args, " "), out)
		}
	}
}
