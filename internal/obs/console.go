package obs

import (
	"bytes"
	"io"
	"os"
	"sync"

	"golang.org/x/term"
)

// Console is a stream — a command's standard error — shared by log
// records and one status line kept below them, such as a progress bar.
// Write puts its bytes above the status line and then draws the status
// line again, so a record never lands inside the bar; SetStatus replaces
// the status line. With no status line Write passes its bytes through
// unchanged, which is all a console that is not a terminal ever does
// (nobody should call SetStatus on it: a log file has no lines to redraw).
// Safe for concurrent use.
type Console struct {
	mu      sync.Mutex
	w       io.Writer
	fd      int    // the terminal's file descriptor, or -1
	status  string // the status line as last set ("" = none)
	partial bool   // the last Write left a line open: the status waits for its end
}

// clearLine returns the cursor to the start of the line and erases it.
const clearLine = "\r\x1b[K"

// NewConsole returns a console writing to w.
func NewConsole(w io.Writer) *Console {
	c := &Console{w: w, fd: -1}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		c.fd = int(f.Fd())
	}
	return c
}

// Terminal reports whether the console writes to a terminal, where a
// status line can be redrawn.
func (c *Console) Terminal() bool { return c.fd >= 0 }

// Write writes p above the status line (slog handlers write one whole
// record per call).
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == "" {
		c.partial = len(p) > 0 && p[len(p)-1] != '\n'
		return c.w.Write(p)
	}
	var b bytes.Buffer
	if !c.partial {
		b.WriteString(clearLine)
	}
	b.Write(p)
	c.partial = len(p) > 0 && p[len(p)-1] != '\n'
	if !c.partial {
		b.WriteString(c.fit(c.status))
	}
	if _, err := c.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// SetStatus replaces the status line with line ("" removes it). A line
// wider than the terminal is cut to fit, so it never wraps into two lines
// that the next redraw could not erase.
func (c *Console) SetStatus(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if line == c.status {
		return
	}
	had := c.status != ""
	c.status = line
	if c.partial {
		return // drawn when the open line ends
	}
	switch {
	case line != "":
		_, _ = io.WriteString(c.w, clearLine+c.fit(line))
	case had:
		_, _ = io.WriteString(c.w, clearLine)
	}
}

// fit cuts line to one column less than the terminal's width (the cursor
// sits after it).
func (c *Console) fit(line string) string {
	if c.fd < 0 {
		return line
	}
	width, _, err := term.GetSize(c.fd)
	if err != nil || width <= 1 {
		return line
	}
	r := []rune(line)
	if len(r) < width {
		return line
	}
	return string(r[:width-1])
}
