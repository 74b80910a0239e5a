package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/internal/obs"
)

// --progress of the commands that replay a trace (bench, compare, chaos):
// how the replay's progress is shown on standard error.
const (
	progressAuto  = "auto"  // a bar on a terminal, else lines
	progressBar   = "bar"   // a bar, redrawn in place, with log lines above it
	progressLines = "lines" // a line every few seconds and at each phase
	progressOff   = "off"   // nothing
)

// addProgress registers --progress on cmd. bench's old names, plain and
// none, are still accepted.
func addProgress(cmd *cobra.Command, p *string) {
	modes := []string{progressAuto, progressBar, progressLines, progressOff}
	addChoice(cmd, p, "progress", progressAuto, modes,
		"progress on stderr: auto (a bar on a terminal, else lines), bar, lines or off").
		alias("plain", progressLines).alias("none", progressOff)
}

// progressOut returns where cmd's replay shows its progress (nil: off)
// and whether as a bar, from its --progress flag (auto without one). The
// writer is the command's console, so log lines land above the bar.
func progressOut(cmd *cobra.Command) (w io.Writer, bar bool) {
	mode := progressAuto
	if f := cmd.Flags().Lookup("progress"); f != nil {
		mode = f.Value.String()
	}
	out := cmd.ErrOrStderr()
	switch mode {
	case progressOff:
		return nil, false
	case progressLines:
		return out, false
	case progressBar:
		return out, true
	}
	c, ok := out.(*obs.Console)
	return out, ok && c.Terminal()
}
