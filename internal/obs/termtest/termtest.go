// Package termtest plays a stream written to a terminal the way a
// terminal shows it, for tests of output that redraws a line in place (a
// progress bar, obs.Console): carriage returns, erasures and overwritten
// text are applied, and what is left on screen is returned.
package termtest

import (
	"bytes"
	"strings"
	"sync"
)

// Screen returns the lines a terminal shows after out was written to it:
// every line ended by a newline, then the line the cursor is on if it is
// not empty. It understands what chatbench writes: "\r" (to the start of
// the line), "\n", and the CSI sequence "ESC [ n K" (erase to the end of
// the line); other CSI sequences are dropped, other bytes printed.
func Screen(out string) []string {
	var lines []string
	var line []rune
	col := 0
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '\r':
			col = 0
		case '\n':
			lines = append(lines, strings.TrimRight(string(line), " "))
			line, col = nil, 0
		case 0x1b:
			j := i + 1
			if j < len(rs) && rs[j] == '[' {
				for j++; j < len(rs) && (rs[j] < 0x40 || rs[j] > 0x7e); j++ {
				}
				if j < len(rs) && rs[j] == 'K' && col < len(line) {
					line = line[:col]
				}
			}
			i = j
		default:
			for len(line) <= col {
				line = append(line, ' ')
			}
			line[col] = r
			col++
		}
	}
	if s := strings.TrimRight(string(line), " "); s != "" {
		lines = append(lines, s)
	}
	return lines
}

// Buffer collects what is written to it, from any number of goroutines:
// the stream a test hands to a console or a replay's progress.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
