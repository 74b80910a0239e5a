package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSoakRetiredRSSFlags checks that the flags of the RSS check, which the
// held-memory check replaced, are refused before anything starts, naming
// their replacement, rather than silently ignored.
func TestSoakRetiredRSSFlags(t *testing.T) {
	for _, tc := range []struct{ flag, value, replacement string }{
		{"--rss-margin", "-1", "--held-margin"},
		{"--rss-fraction", "0.5", "--held-fraction"},
	} {
		_, err := run(t, "soak", tc.flag, tc.value)
		if err == nil || !strings.HasPrefix(err.Error(), tc.flag) || !strings.Contains(err.Error(), tc.replacement) {
			t.Errorf("soak %s %s: %v, want an error naming it and %s", tc.flag, tc.value, err, tc.replacement)
		}
	}
}

// TestSoakHeldFlags checks that the held-memory thresholds are checked
// before anything starts or is written, naming the flag.
func TestSoakHeldFlags(t *testing.T) {
	for _, tc := range []struct{ args []string }{
		{[]string{"--held-fraction", "2"}},
		{[]string{"--held-fraction", "-0.1"}},
	} {
		out := filepath.Join(t.TempDir(), "out")
		_, err := run(t, append(append([]string{"soak", "--conns", "10"}, tc.args...), "--out", out)...)
		if want := strings.Join(tc.args, " "); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("soak %s: %v, want an error starting with %q", want, err, want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("soak %s: wrote %s before refusing", strings.Join(tc.args, " "), out)
		}
	}
}
