// Package report renders a results document (bench/results) for people: a
// side-by-side terminal table, a compact Markdown version for a
// pull-request comment, and a self-contained HTML report with plots (inline
// CSS and SVG, no external resources, works offline).
package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

// classOrder is the order classes are listed in; others follow by name.
var classOrder = []string{"sync", "ml", "relay", "echo"}

// section is one block of the side-by-side table: a title, a header (the
// row label column, then one column per path) and rows of cells.
type section struct {
	title  string
	header []string
	rows   [][]string
}

// columns returns the run's paths in display order: the measured paths as
// they appear, then the echo floor.
func columns(run *results.Run) []*results.Path {
	var out, echo []*results.Path
	for _, p := range run.Paths {
		if p == nil {
			continue
		}
		if p.Name == "echo" {
			echo = append(echo, p)
		} else {
			out = append(out, p)
		}
	}
	return append(out, echo...)
}

// colName is a path's column title.
func colName(p *results.Path) string {
	name := p.Name
	if p.Name == "echo" {
		name = "echo (floor)"
	}
	if p.Fault != "" {
		name += " · " + p.Fault
	}
	if noisy(p) {
		name += " (noisy)"
	}
	if backingUp(p) {
		name += " (backing up)"
	}
	return name
}

// groups returns the union of the paths' group keys in display order: all,
// the classes (sync, ml, relay, echo, then others), then the jobs by name.
func groups(paths []*results.Path) []string {
	seen := map[string]bool{}
	for _, p := range paths {
		for g := range p.FromScheduled {
			seen[g] = true
		}
		for g := range p.Ledger {
			seen[g] = true
		}
	}
	var gs []string
	for g := range seen {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b string) int { return cmp.Compare(groupRank(a), groupRank(b)) })
	return gs
}

// groupRank sorts group keys.
func groupRank(g string) string {
	if g == "all" {
		return "0"
	}
	if c, ok := strings.CutPrefix(g, "class:"); ok {
		if i := slices.Index(classOrder, c); i >= 0 {
			return fmt.Sprintf("1%d", i)
		}
		return "19" + c
	}
	return "2" + g
}

// groupLabel is a group's row label.
func groupLabel(g string) string {
	if c, ok := strings.CutPrefix(g, "class:"); ok {
		return "class " + c
	}
	if j, ok := strings.CutPrefix(g, "job:"); ok {
		return "  job " + j
	}
	return g
}

// hopClasses returns the hop classes of the paths in display order.
func hopClasses(paths []*results.Path) []string {
	seen := map[string]bool{}
	for _, p := range paths {
		for c := range p.Hops {
			seen[c] = true
		}
	}
	var cs []string
	for c := range seen {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b string) int { return cmp.Compare(groupRank(a), groupRank(b)) })
	return cs
}

// ms formats µs as milliseconds with a precision that suits the size.
func ms(us int64) string {
	v := float64(us) / 1000
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f", v)
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// dash marks a cell without data.
const dash = "—"

// sections builds the side-by-side table.
func sections(run *results.Run) []section {
	paths := columns(run)
	head := func(first string) []string {
		h := []string{first}
		for _, p := range paths {
			h = append(h, colName(p))
		}
		return h
	}
	gs := groups(paths)
	lat := section{title: "Latency from scheduled send, ms: p50 / p99 / p99.9", header: head("group")}
	led := section{title: "Ledger: delivered / lost / dup / reordered / errored", header: head("group")}
	for _, g := range gs {
		lrow, crow := []string{groupLabel(g)}, []string{groupLabel(g)}
		for _, p := range paths {
			if h := p.FromScheduled[g]; h != nil && h.Count > 0 {
				lrow = append(lrow, ms(h.P50)+" / "+ms(h.P99)+" / "+ms(h.P999)+lagMarked(p, g))
			} else {
				lrow = append(lrow, dash)
			}
			if c := p.Ledger[g]; c != nil {
				crow = append(crow, fmt.Sprintf("%d / %d / %d / %d / %d", c.Delivered, c.Lost, c.Duplicates, c.Reordered, c.Errored))
			} else {
				crow = append(crow, dash)
			}
		}
		lat.rows = append(lat.rows, lrow)
		led.rows = append(led.rows, crow)
	}
	res := section{title: "Throughput and resources", header: head("")}
	add := func(label string, f func(p *results.Path) string) {
		row := []string{label}
		for _, p := range paths {
			row = append(row, f(p))
		}
		res.rows = append(res.rows, row)
	}
	add("msgs/s", func(p *results.Path) string { return fmt.Sprintf("%.1f", p.Messages.PerSecond) })
	add("messages sent", func(p *results.Path) string { return fmt.Sprint(p.Messages.Sent) })
	add("CPU s", func(p *results.Path) string {
		var s float64
		for _, c := range p.Components {
			s += c.CPUSeconds
		}
		return fmt.Sprintf("%.1f", s)
	})
	add("peak MB", func(p *results.Path) string {
		var s int64
		for _, c := range p.Components {
			s += c.PeakRSS
		}
		return fmt.Sprintf("%.0f", float64(s)/(1<<20))
	})
	add("schedule lag p99, ms", func(p *results.Path) string {
		if p.ScheduleLag == nil || p.ScheduleLag.Count == 0 {
			return dash
		}
		return ms(p.ScheduleLag.P99)
	})
	// A run without replays (a soak) has no latency or ledger rows.
	out := withRepeats(slices.DeleteFunc([]section{lat, led, res}, func(s section) bool { return len(s.rows) == 0 }), paths)
	out = withNoise(out, paths)
	if ss, ok := soakSection(run); ok {
		out = append([]section{ss}, out...)
	}
	if fs, ok := faultSection(run); ok {
		out = append([]section{fs}, out...)
	}
	if fs, ok := findingsSection(paths); ok {
		out = append([]section{fs}, out...)
	}
	if ps, ok := pathsSection(paths); ok {
		out = append([]section{ps}, out...)
	}
	if cs := hopClasses(paths); len(cs) > 0 {
		paths := slices.DeleteFunc(slices.Clone(paths), func(p *results.Path) bool { return len(p.Hops) == 0 })
		hop := section{title: "Hop breakdown, ms: median / p99", header: []string{"class / hop"}}
		for _, p := range paths {
			hop.header = append(hop.header, colName(p))
		}
		for _, c := range cs {
			for _, name := range results.HopNames {
				row := []string{groupLabel(c) + " " + name}
				any := false
				for _, p := range paths {
					if h := p.Hops[c][name]; h != nil && h.Count > 0 {
						row = append(row, ms(h.P50)+" / "+ms(h.P99))
						any = true
					} else {
						row = append(row, dash)
					}
				}
				if any {
					hop.rows = append(hop.rows, row)
				}
			}
		}
		out = append(out, hop)
	}
	return out
}

// summary is the run's one-line description.
func summary(run *results.Run) string {
	m := run.Meta
	digest := m.TraceDigest
	if len(digest) > 12 {
		digest = digest[:12]
	}
	tr := fmt.Sprintf("trace %s (sha256 %s, %s messages) at %g×", cmp.Or(m.TraceName, "?"), cmp.Or(digest, "?"), thousands(m.TraceMsgs), m.Speed)
	if m.TraceName == "" && m.TraceDigest == "" && m.TraceMsgs == 0 {
		tr = "no trace replayed" // a soak
	}
	s := fmt.Sprintf("%s, chatbench %s (%s), %s, %s, %d cores",
		tr, cmp.Or(m.Version, "?"), revision(m), cmp.Or(m.GoVersion, "?"), cmp.Or(m.CPUModel, "unknown CPU"), m.Cores)
	if m.Shards > 1 {
		s += fmt.Sprintf(", %d shards merged", m.Shards)
	}
	if n := maxRepeats(run.Paths); n > 0 {
		s += fmt.Sprintf(", %d repeats", n)
	}
	if !m.Started.IsZero() {
		s += ", started " + m.Started.UTC().Format(time.RFC3339)
	}
	return s
}

// scope says what part of the trace the run replayed, for the headers: the
// cut (--limit, --duration, from the run's configuration) and the messages
// each path scheduled. A run's trace_messages is the whole trace's size, so
// without this a `--limit 1500` run would read as a run of the whole day.
func scope(run *results.Run) string {
	m := run.Meta
	var cuts []string
	if l, err := strconv.Atoi(m.Config["limit"]); err == nil && l > 0 {
		cuts = append(cuts, "--limit "+m.Config["limit"])
	}
	if d, err := time.ParseDuration(m.Config["duration"]); err == nil && d > 0 {
		cuts = append(cuts, "--duration "+m.Config["duration"])
	}
	var sched []string
	same, first := true, -1
	for _, p := range columns(run) {
		n := p.Messages.Scheduled
		if len(p.Repeats) > 0 {
			n = p.Repeats[0].Messages.Scheduled // each repeat replays the same cut; the pooled path sums them
		}
		if first >= 0 && n != first {
			same = false
		}
		if first < 0 {
			first = n
		}
		sched = append(sched, colName(p)+" "+thousands(n))
	}
	var s string
	switch {
	case len(cuts) == 0 && (first < 0 || first == m.TraceMsgs && same):
		s = fmt.Sprintf("the whole trace, %s messages", thousands(m.TraceMsgs))
	case len(cuts) == 0:
		s = fmt.Sprintf("part of the trace's %s messages", thousands(m.TraceMsgs))
	default:
		s = fmt.Sprintf("a subset of the trace's %s messages (%s)", thousands(m.TraceMsgs), strings.Join(cuts, ", "))
	}
	switch {
	case first < 0:
	case same && len(sched) > 1:
		s += fmt.Sprintf("; %s scheduled on each path", thousands(first))
	case same:
		s += fmt.Sprintf("; %s scheduled", thousands(first))
	default:
		s += "; scheduled: " + strings.Join(sched, ", ")
	}
	return s
}

// thousands writes n with thin thousands separators (14,700).
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// short shortens a git revision.
func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return cmp.Or(rev, "?")
}

// Table writes the side-by-side terminal table of run: per class then per
// job, one column per path (the echo floor last): latency from the
// scheduled send, the ledger, throughput, CPU and memory (summed over the
// path's components), and the hop breakdown.
func Table(w io.Writer, run *results.Run) error {
	if run.Sweep != nil {
		return sweepText(w, run)
	}
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "chatbench results: %s\nreplayed: %s\n", summary(run), scope(run))
	for _, n := range allNotes(run) {
		fmt.Fprintln(ew, n)
	}
	for _, s := range sections(run) {
		if err := s.writeText(ew); err != nil {
			return err
		}
	}
	return ew.err
}

// writeText writes s as a titled terminal table with aligned columns.
func (s section) writeText(w io.Writer) error {
	fmt.Fprintf(w, "\n%s\n", s.title)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(s.header, "\t"))
	for _, r := range s.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// Markdown writes the table as GitHub-flavoured Markdown, compact enough
// for a pull-request comment: the latency, ledger and resource tables, and
// the hop breakdown folded in a details element.
func Markdown(w io.Writer, run *results.Run) error {
	if run.Sweep != nil {
		return sweepMarkdown(w, run)
	}
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "### chatbench results\n\n%s\n\n**Replayed:** %s\n", summary(run), scope(run))
	for _, n := range allNotes(run) {
		fmt.Fprintf(ew, "\n> %s\n", n)
	}
	for _, s := range sections(run) {
		s.writeMarkdown(ew, strings.HasPrefix(s.title, "Hop"), "")
	}
	return ew.err
}

// writeMarkdown writes the section as a Markdown table, folded in a
// details element when fold, followed by note when not empty.
func (s section) writeMarkdown(w io.Writer, fold bool, note string) {
	if fold {
		fmt.Fprintf(w, "\n<details><summary>%s</summary>\n\n", s.title)
	} else {
		fmt.Fprintf(w, "\n**%s**\n\n", s.title)
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(s.header, " | "), strings.Repeat(" --- |", len(s.header)))
	for _, r := range s.rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = strings.ReplaceAll(strings.TrimSpace(c), "|", `\|`)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	if note != "" {
		fmt.Fprintf(w, "\n%s\n", note)
	}
	if fold {
		fmt.Fprintln(w, "\n</details>")
	}
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// pathsSection lists what each path's variant stands for and which claim
// of the story it tests (results.Path.Desc and Claim), when the results
// say: the key to reading the columns that follow.
func pathsSection(paths []*results.Path) (section, bool) {
	s := section{title: "Paths: what each stands for, and the claim it tests", header: []string{"path", "stands for", "tests"}}
	seen := map[string]bool{}
	for _, p := range paths {
		if p.Desc == "" || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		s.rows = append(s.rows, []string{p.Name, p.Desc, cmp.Or(p.Claim, dash)})
	}
	return s, len(s.rows) > 0
}

// findingsSection lists what the paths left undone when they were
// stopped — each component's backlog, read just before it was asked to
// stop — and the components killed because they outlived their stop
// grace: the findings of an overloaded path, which its figures alone do
// not show (docs/results.md, "Findings").
func findingsSection(paths []*results.Path) (section, bool) {
	s := section{title: "Findings: work left when each component was asked to stop, and kills after the stop grace",
		header: []string{"path", "finding"}}
	for _, p := range paths {
		var found []string
		for _, c := range p.Components {
			var f []string
			if c.Backlog != nil && *c.Backlog > 0 {
				f = append(f, fmt.Sprintf("still held %s when asked to stop", thousands(int(*c.Backlog))))
			}
			if c.Killed {
				f = append(f, "did not exit within its stop grace and was killed")
			}
			if len(f) > 0 {
				found = append(found, c.Name+" "+strings.Join(f, "; "))
			}
		}
		if len(found) > 0 {
			s.rows = append(s.rows, []string{colName(p), strings.Join(found, "; ")})
		}
	}
	return s, len(s.rows) > 0
}
