package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestServeDirectRefusesNegativeSendQueue: `serve direct --send-queue -1`
// used to start and then panic on every connection (make(chan, -1)). It
// must exit before starting anything, naming the flag and the fix.
func TestServeDirectRefusesNegativeSendQueue(t *testing.T) {
	out, err := run(t, "serve", "direct", "--addr", "127.0.0.1:0", "--send-queue", "-1", "--log-level", "error")
	if err == nil || err.Error() != "--send-queue -1: must be ≥ 0 (0 = 256)" {
		t.Fatalf("serve direct --send-queue -1: err %v", err)
	}
	if out != "" {
		t.Errorf("it started anyway: %q", out)
	}
	// The environment's value is checked the same way.
	t.Setenv("CHATBENCH_SEND_QUEUE", "-5")
	if _, err := run(t, "serve", "direct", "--addr", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "--send-queue -5: must be ≥ 0") {
		t.Fatalf("CHATBENCH_SEND_QUEUE=-5: err %v", err)
	}
}

// serverCommands are the commands whose numeric flags configure servers and
// queues: each must refuse negative values it has no meaning for.
var serverCommands = [][]string{{"serve", "direct"}, {"serve", "queue"}, {"worker"}, {"queue", "setup"}, {"sqs"}}

// TestNumericFlags checks, for every numeric flag of the server commands,
// that a negative value is either refused before the command starts, with
// an error naming the flag and what 0 means, or documented in the flag's
// help as meaning something ("negative = …").
func TestNumericFlags(t *testing.T) {
	refused := 0
	for _, path := range serverCommands {
		cmd, _, err := newRootCmd().Find(path)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !numeric(f) || f.Name == "ml-seed" { // any seed is a seed
				return
			}
			name := strings.Join(path, " ") + " --" + f.Name
			_, marked := f.Annotations[zeroMeans]
			documented := strings.Contains(f.Usage, "negative")
			switch {
			case marked && documented:
				t.Errorf("%s refuses negative values but its help gives them a meaning", name)
			case !marked && !documented:
				t.Errorf("%s takes negative values silently: refuse them (refuseNegative) or document what they mean", name)
			case marked:
				bad := "-1"
				if f.Value.Type() == "duration" {
					bad = "-1s"
				}
				args := append(append([]string{}, path...), "--"+f.Name+"="+bad, "--addr", "127.0.0.1:0")
				if cmd.Flags().Lookup("addr") == nil {
					args = args[:len(args)-2]
				}
				_, err := run(t, args...)
				if want := "--" + f.Name + " " + bad + ": must be ≥ 0 (0 = "; err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Errorf("%s=%s: err %v, want it to start with %q", name, bad, err, want)
				}
				refused++
			}
		})
	}
	t.Logf("%d flags refuse negative values", refused)
}

func numeric(f *pflag.Flag) bool {
	switch f.Value.Type() {
	case "int", "int32", "int64", "uint", "float32", "float64", "duration":
		return true
	}
	return false
}
