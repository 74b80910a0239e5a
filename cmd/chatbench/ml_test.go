package main

import (
	"strings"
	"testing"
)

// TestMLFlagsRejectBadValues checks that bad ML and token flags fail before
// anything starts, with an error naming the flag as the user typed it.
func TestMLFlagsRejectBadValues(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"ml", "--addr", "127.0.0.1:0", "--seed", "-1"}, []string{"--seed -1", "≥ 0"}},
		{[]string{"ml", "--addr", "127.0.0.1:0", "--profile", "triag=median:1ms"}, []string{"--profile", `unknown model "triag"`}},
		{[]string{"ml", "--addr", "127.0.0.1:0", "--profile", "triage=median:-1ms"}, []string{"--profile", "negative"}},
		{[]string{"serve", "direct", "--addr", "127.0.0.1:0", "--ml-seed", "-2"}, []string{"--ml-seed -2"}},
		{[]string{"serve", "direct", "--addr", "127.0.0.1:0", "--ml-timeout", "-1s"}, []string{"--ml-timeout -1s", "≥ 0"}},
		{[]string{"token", "--user", "p1", "--ttl", "-1h"}, []string{"--ttl -1h0m0s", "> 0"}},
		{[]string{"token", "--user", "p1", "--secret", "short"}, []string{"--secret", "at least 16"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := run(t, tc.args...)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
