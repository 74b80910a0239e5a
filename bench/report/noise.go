package report

import (
	"fmt"
	"html/template"
	"slices"
	"strings"

	"github.com/chatbench/chatbench/bench/results"
)

// noisy reports whether p is flagged noisy.
func noisy(p *results.Path) bool { return p.Noise != nil && p.Noise.Noisy }

// withNoise appends to the sections the noise table, when any path knows
// something about its noise: per path the share of the machine's CPU other
// processes and steal took while it ran, the CPU seconds behind it, the
// echo floor's drift across repeats, noisy repeats, and the flag.
func withNoise(out []section, paths []*results.Path) []section {
	var threshold float64
	drift, repeats, known := false, false, false
	for _, p := range paths {
		if n := p.Noise; n != nil {
			known = true
			drift = drift || n.FloorDrift != nil
			repeats = repeats || n.Repeats > 0
			if n.CPU != nil && threshold == 0 {
				threshold = n.CPU.Threshold
			}
		}
	}
	if !known {
		return out
	}
	title := "Noise: the machine's CPU outside the run"
	if threshold > 0 {
		title += fmt.Sprintf(" (noisy above %s)", pctCell(threshold))
	}
	s := section{title: title, header: []string{""}}
	for _, p := range paths {
		s.header = append(s.header, colName(p))
	}
	add := func(label string, f func(n *results.Noise) string) {
		row := []string{label}
		for _, p := range paths {
			if p.Noise == nil {
				row = append(row, "unknown")
				continue
			}
			row = append(row, f(p.Noise))
		}
		s.rows = append(s.rows, row)
	}
	cpu := func(f func(c *results.CPUNoise) string) func(n *results.Noise) string {
		return func(n *results.Noise) string {
			if n.CPU == nil {
				return "unknown"
			}
			return f(n.CPU)
		}
	}
	add("other processes + steal, share of CPU", cpu(func(c *results.CPUNoise) string { return pctCell(c.Share) }))
	add("other processes, CPU s of capacity", cpu(func(c *results.CPUNoise) string {
		return fmt.Sprintf("%.1f of %.0f", c.OtherSeconds, c.SpanSeconds*float64(c.Cores))
	}))
	add("steal, CPU s", cpu(func(c *results.CPUNoise) string {
		if c.StealSeconds == nil {
			return "not reported"
		}
		return fmt.Sprintf("%.1f", *c.StealSeconds)
	}))
	if drift {
		add("echo floor drift across repeats", func(n *results.Noise) string {
			if n.FloorDrift == nil {
				return dash
			}
			return pctCell(*n.FloorDrift)
		})
	}
	if repeats {
		add("noisy repeats", func(n *results.Noise) string {
			if n.CPU == nil {
				return "unknown"
			}
			return fmt.Sprintf("%d of %d", n.NoisyRepeats, n.Repeats)
		})
	}
	add("noisy", func(n *results.Noise) string {
		if n.Noisy {
			return "NOISY"
		}
		return "no"
	})
	return append(out, s)
}

// pctCell formats a fraction as a percentage for a cell.
func pctCell(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

// notes are what a reader must know before reading the figures, printed
// under the summary: the SQS latency assumed for the paths that use SQS,
// and why each noisy path is.
func notes(run *results.Run) []string {
	var out []string
	if n := sqsNote(run); n != "" {
		out = append(out, n)
	}
	for _, p := range columns(run) {
		if noisy(p) {
			out = append(out, fmt.Sprintf("NOISY: path %s: %s. Its figures are not comparable with a quiet run's; re-run it on a quieter machine (docs/results.md, \"Noise\").", p.Name, p.Noise.Reason))
		}
	}
	return append(out, trustNotes(run)...)
}

// sqsNote states the SQS latency profile the run's SQS paths faced, as
// compare recorded it (meta.config sqs_latency, sqs_latency_profile and
// sqs_latency_paths); "" when the run says nothing of it or has no such
// path.
func sqsNote(run *results.Run) string {
	cfg := run.Meta.Config
	list, ok := cfg["sqs_latency_paths"]
	if !ok {
		return ""
	}
	var paths []string
	for _, name := range strings.Split(list, ",") {
		if name != "" && run.Path(name) != nil {
			paths = append(paths, name)
		}
	}
	if len(paths) == 0 {
		return ""
	}
	slices.Sort(paths)
	which := "path " + paths[0]
	if len(paths) > 1 {
		which = "paths " + strings.Join(paths, ", ")
	}
	name, profile := cfg["sqs_latency"], cfg["sqs_latency_profile"]
	if name == "" || name == "none" || profile == "none" {
		return fmt.Sprintf("SQS latency: none. %s used the embedded SQS endpoint on loopback (about 0.3 ms a call), faster than any region: its latency is flattered (docs/methodology.md, \"SQS latency\").", capital(which))
	}
	desc := name
	if profile != "" && profile != name {
		desc += " (" + profile + ")"
	}
	return fmt.Sprintf("Assumption: every SQS call of %s took the %s latency profile, standing in for a same-region round trip (docs/methodology.md, \"SQS latency\"); --sqs-latency none shows the bare endpoint.", which, desc)
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// notesHTML is the page's template section for the notes, under the
// summary.
const notesHTML = `{{define "notes"}}{{range .}}
<p class="note" style="background:#fff4e5;padding:.4em .6em">{{.}}</p>{{end}}{{end}}`

// withNotes adds the notes section to the page template.
func withNotes(t *template.Template) *template.Template {
	return template.Must(t.Parse(notesHTML))
}
