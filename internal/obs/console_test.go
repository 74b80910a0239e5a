package obs_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/internal/obs/termtest"
)

// TestConsoleKeepsLogsAboveStatus writes log records from a logger and
// redraws a status line from another goroutine at the same time, then
// plays the output as a terminal shows it: every record is a whole line of
// its own, no status text is left inside one, and the last status is on
// the bottom line.
func TestConsoleKeepsLogsAboveStatus(t *testing.T) {
	var out termtest.Buffer
	c := obs.NewConsole(&out)
	log, err := obs.NewLogger(c, "text", "info")
	if err != nil {
		t.Fatal(err)
	}
	const records, frames = 200, 200
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range records {
			log.Info("record", "i", i)
		}
	})
	wg.Go(func() {
		for i := range frames {
			c.SetStatus(fmt.Sprintf("[%s>%s] frame %d", strings.Repeat("=", i%30), strings.Repeat(" ", 30-i%30), i))
		}
	})
	wg.Wait()
	c.SetStatus("[done] frame last")

	screen := termtest.Screen(out.String())
	if len(screen) != records+1 {
		t.Fatalf("%d lines on screen, want %d records and the status:\n%s", len(screen), records, strings.Join(screen, "\n"))
	}
	for i, l := range screen[:records] {
		if !strings.HasPrefix(l, "time=") || !strings.HasSuffix(l, fmt.Sprintf("msg=record i=%d", i)) || strings.Contains(l, "frame") {
			t.Fatalf("line %d is not record %d alone: %q", i, i, l)
		}
	}
	if got := screen[records]; got != "[done] frame last" {
		t.Fatalf("bottom line %q, want the last status", got)
	}
	c.SetStatus("")
	if screen := termtest.Screen(out.String()); len(screen) != records {
		t.Fatalf("status not removed: bottom line %q", screen[len(screen)-1])
	}
}

// TestConsoleWithoutStatus checks a console with no status line passes
// writes through unchanged (what a log file or pipe receives).
func TestConsoleWithoutStatus(t *testing.T) {
	var out bytes.Buffer
	c := obs.NewConsole(&out)
	if c.Terminal() {
		t.Fatal("a buffer is not a terminal")
	}
	fmt.Fprint(c, "one\n")
	fmt.Fprint(c, "two ")
	fmt.Fprint(c, "halves\n")
	if out.String() != "one\ntwo halves\n" {
		t.Fatalf("%q", out.String())
	}
}

// TestConsolePartialLine checks a status set while a line is open waits
// for the line's end instead of being drawn into it.
func TestConsolePartialLine(t *testing.T) {
	var out bytes.Buffer
	c := obs.NewConsole(&out)
	c.SetStatus("bar 1")
	fmt.Fprint(c, "a line ")
	c.SetStatus("bar 2")
	fmt.Fprint(c, "in two writes\n")
	if screen := termtest.Screen(out.String()); len(screen) != 2 || screen[0] != "a line in two writes" || screen[1] != "bar 2" {
		t.Fatalf("screen %q", screen)
	}
}
