package main

import (
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
