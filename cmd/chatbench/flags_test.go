package main

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/echo"
)

// TestBadFlagsNamed checks that a bad value of a flag of bench, trace gen
// or the global flags is refused before anything starts, with an error
// naming the flag.
func TestBadFlagsNamed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		flag string // named in the error
	}{
		{[]string{"bench", "--drain", "-1s"}, "--drain"},
		{[]string{"bench", "--duration", "-1s"}, "--duration"},
		{[]string{"bench", "--limit", "-5"}, "--limit"},
		{[]string{"bench", "--speed", "-1"}, "--speed"},
		{[]string{"bench", "--speed", "NaN"}, "--speed"},
		{[]string{"bench", "--pace", "-1"}, "--pace"},
		{[]string{"bench", "--pace", "+Inf"}, "--pace"},
		{[]string{"bench", "--secret", "short"}, "--secret"},
		{[]string{"bench", "--target", "http://127.0.0.1:1/ws"}, "--target"},
		{[]string{"bench", "--target", ""}, "--target"},
		{[]string{"bench", "--path", "fax"}, "--path"},
		{[]string{"trace", "gen", "--days", "-1"}, "--days"},
		{[]string{"trace", "gen", "--days", "400"}, "--days"},
		{[]string{"trace", "gen", "--days", "NaN"}, "--days"},
		{[]string{"trace", "gen", "--rate", "-2"}, "--rate"},
		{[]string{"trace", "gen", "--conversations", "-1"}, "--conversations"},
		{[]string{"trace", "gen", "--attachment-rate", "-0.1"}, "--attachment-rate"},
		{[]string{"trace", "gen", "--form-rate", "2"}, "--form-rate"},
		{[]string{"trace", "gen", "--wait-rate", "NaN"}, "--wait-rate"},
		{[]string{"version", "--log-level", "loud"}, "--log-level"},
		{[]string{"version", "--log-format", "xml"}, "--log-format"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := run(t, tc.args...)
			if err == nil || !strings.HasPrefix(err.Error(), tc.flag) {
				t.Fatalf("err %v, want one starting with %s", err, tc.flag)
			}
		})
	}
}

// TestZeroFlagsMeanDefaults checks that zero values, which the flags
// document as their defaults, are accepted: a trace generated with zero
// rates and counts, and a replay of it with zero drain, duration, limit,
// warm-up, quantum and pace through the echo floor. The replay leaves the
// process's runtime settings as it found them.
func TestZeroFlagsMeanDefaults(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/t.jsonl"
	if _, err := run(t, "trace", "gen", "--days", "0.002", "--rate", "0", "--conversations", "0",
		"--attachment-rate", "0", "--form-rate", "0", "--wait-rate", "0", "--out", file); err != nil {
		t.Fatal(err)
	}
	srv, err := echo.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(context.Background()) }()
	procs, gc := runtime.GOMAXPROCS(0), gcPercent()
	out, err := run(t, "bench", "--target", srv.URL(), "--path", "echo", "--trace", file, "--speed", "2880",
		"--pace", "0", "--drain", "0", "--duration", "0", "--limit", "0", "--warmup", "0", "--send-quantum", "0",
		"--progress", "none", "--log-level", "error")
	if err != nil || !strings.Contains(out, "echo "+srv.URL()+": sent ") {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	if runtime.GOMAXPROCS(0) != procs || gcPercent() != gc {
		t.Fatalf("after bench GOMAXPROCS %d GC %d%%, before %d and %d%%", runtime.GOMAXPROCS(0), gcPercent(), procs, gc)
	}
}

// TestTuneRuntimeForDriver checks the settings applied for a replay and
// their undo, and that a GOGC in the environment is left standing.
func TestTuneRuntimeForDriver(t *testing.T) {
	for _, gogc := range []string{"", "150"} {
		t.Run("GOGC="+gogc, func(t *testing.T) {
			t.Setenv("GOGC", gogc)
			procs, gc := runtime.GOMAXPROCS(0), gcPercent()
			restore := tuneRuntimeForDriver(2)
			gotProcs, gotGC := runtime.GOMAXPROCS(0), gcPercent()
			restore()
			if gotProcs != driver.Procs(procs, 2) {
				t.Errorf("GOMAXPROCS %d during the replay, want %d", gotProcs, driver.Procs(procs, 2))
			}
			wantGC := driver.GCPercent
			if os.Getenv("GOGC") != "" {
				wantGC = gc // the user's choice stands
			}
			if gotGC != wantGC {
				t.Errorf("GC percent %d during the replay, want %d", gotGC, wantGC)
			}
			if runtime.GOMAXPROCS(0) != procs || gcPercent() != gc {
				t.Errorf("not restored: GOMAXPROCS %d GC %d%%, want %d and %d%%", runtime.GOMAXPROCS(0), gcPercent(), procs, gc)
			}
		})
	}
}

// gcPercent returns the collector's current percent.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}
