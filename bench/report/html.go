package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/chatbench/chatbench/bench/report/chart"
	"github.com/chatbench/chatbench/bench/results"
)

// pathColors are the paths' plot colours; other paths cycle through extra.
var (
	pathColors = map[string]string{"direct": "#1f77b4", "queue": "#d62728", "echo": "#7f7f7f"}
	extra      = []string{"#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}
	hopColors  = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"}
)

// colorOf returns path i's colour: its own for a known path the first time
// it appears, else one of extra (a chaos run has each path once per fault).
func colorOf(paths []*results.Path, i int) string {
	if c, ok := pathColors[paths[i].Name]; ok && !slices.ContainsFunc(paths[:i], func(p *results.Path) bool { return p.Name == paths[i].Name }) {
		return c
	}
	return extra[i%len(extra)]
}

// cdfQuantiles are the percentiles a CDF is drawn through: every
// percentile, then finer steps into the tail.
func cdfQuantiles() []float64 {
	var qs []float64
	for q := 0.0; q < 99; q++ {
		qs = append(qs, q)
	}
	for _, step := range []float64{0.1, 0.01} {
		for q := 100 - 10*step; q < 100-step/2; q += step {
			qs = append(qs, math.Round(q*1000)/1000)
		}
	}
	return append(qs, 100)
}

// latencyMS is the title of the report's latency axes.
const latencyMS = "latency from scheduled send, ms"

// cdfChart plots each path's latency CDF (group "all", from the scheduled
// send) from its decoded HdrHistogram.
func cdfChart(paths []*results.Path) (template.HTML, error) {
	var lines []chart.Line
	for i, p := range paths {
		h, err := p.FromScheduled["all"].HDR()
		if err != nil {
			return "", fmt.Errorf("path %s: %w", p.Name, err)
		}
		if h.TotalCount() == 0 {
			continue
		}
		l := chart.Line{Name: colName(p), Color: colorOf(paths, i)}
		for _, q := range cdfQuantiles() {
			v := math.Max(float64(h.ValueAtQuantile(q))/1000, 0.001)
			l.Points = append(l.Points, chart.Point{X: v, Y: q})
		}
		lines = append(lines, l)
	}
	return chart.LineChart{
		Label: "latency CDF per path",
		X:     chart.Axis{Title: latencyMS},
		Y:     chart.Axis{Title: "percentile of deliveries", Scale: chart.Linear, Min: 0, Max: 100},
		Lines: lines,
	}.HTML(), nil
}

// seriesChart plots each path's per-second p50 (dashed) and p99.
func seriesChart(paths []*results.Path) template.HTML {
	var lines []chart.Line
	for i, p := range paths {
		if len(p.Series) == 0 {
			continue
		}
		p50 := chart.Line{Name: colName(p) + " p50", Color: colorOf(paths, i), Dashed: true}
		p99 := chart.Line{Name: colName(p) + " p99", Color: colorOf(paths, i)}
		for _, s := range p.Series {
			if s.P50 <= 0 && s.P99 <= 0 {
				continue
			}
			t := float64(s.T)
			p50.Points = append(p50.Points, chart.Point{X: t, Y: math.Max(float64(s.P50)/1000, 0.001)})
			p99.Points = append(p99.Points, chart.Point{X: t, Y: math.Max(float64(s.P99)/1000, 0.001)})
		}
		lines = append(lines, p50, p99)
	}
	return chart.LineChart{
		Label: "latency over time per path",
		X:     chart.Axis{Title: "seconds into the measured replay", Scale: chart.Linear},
		Y:     chart.Axis{Title: latencyMS},
		Lines: lines,
	}.HTML()
}

// hopCharts draws, per class, one bar per path stacked by hop medians. The
// paths of a class share one linear axis (stacked segments need one);
// each class has its own, since an ML job's hops take a hundred times a
// sync job's. One legend of the hops follows the charts.
func hopCharts(paths []*results.Path) template.HTML {
	var b strings.Builder
	used := map[string]bool{}
	for _, c := range hopClasses(paths) {
		var bars []chart.Bar
		for _, p := range paths {
			hops := p.Hops[c]
			if len(hops) == 0 {
				continue
			}
			br := chart.Bar{Label: colName(p)}
			sum := int64(0)
			for i, name := range results.HopNames {
				if h := hops[name]; h != nil && h.Count > 0 {
					br.Segments = append(br.Segments, chart.Segment{Name: fmt.Sprintf("%s: median %s ms", name, ms(h.P50)), Color: hopColors[i%len(hopColors)], V: float64(h.P50) / 1000})
					sum += h.P50
					used[name] = true
				}
			}
			br.Value = ms(sum) + " ms"
			bars = append(bars, br)
		}
		class := "class " + strings.TrimPrefix(c, "class:")
		b.WriteString(string(chart.BarChart{
			Label:  "hop breakdown of " + class,
			Axis:   chart.Axis{Title: "sum of hop medians, ms", Scale: chart.Linear},
			Groups: []chart.BarGroup{{Title: class, Bars: bars}},
		}.HTML()))
	}
	if b.Len() == 0 {
		return ""
	}
	var keys []chart.Key
	for i, name := range results.HopNames {
		if used[name] {
			keys = append(keys, chart.Key{Name: name, Color: hopColors[i%len(hopColors)]})
		}
	}
	b.WriteString(string(chart.Legend(keys)))
	return template.HTML(b.String()) //nolint:gosec // rendered by package chart
}

// jobChart draws each job's p99 per path, all on one axis (logarithmic
// when the p99s span two decades, as they do when ML jobs are beside sync
// ones).
func jobChart(paths []*results.Path) template.HTML {
	var out []chart.BarGroup
	for _, g := range groups(paths) {
		j, ok := strings.CutPrefix(g, "job:")
		if !ok {
			continue
		}
		bg := chart.BarGroup{Title: j}
		for i, p := range paths {
			if h := p.FromScheduled[g]; h != nil && h.Count > 0 {
				bg.Bars = append(bg.Bars, chart.Bar{Label: colName(p), Value: ms(h.P99) + " ms",
					Segments: []chart.Segment{{Name: j + " · " + colName(p) + ": p99 " + ms(h.P99) + " ms", Color: colorOf(paths, i), V: float64(h.P99) / 1000}}})
			}
		}
		if len(bg.Bars) > 0 {
			out = append(out, bg)
		}
	}
	return chart.BarChart{
		Label:  "p99 latency per job and path",
		Axis:   chart.Axis{Title: "p99 " + latencyMS},
		Groups: out,
	}.HTML()
}

// htmlData feeds the page template.
type htmlData struct {
	Title    string
	Scope    string
	Summary  string
	ChartCSS template.CSS
	Notes    []string
	Sweep    template.HTML // a sweep's verdict, charts and tables (sweep.go)
	CDF      template.HTML
	Series   template.HTML
	Hops     template.HTML
	Jobs     template.HTML
	Sections []section
	Meta     [][2]string
}

// Header returns the section's header, for the template.
func (s section) Header() []string { return s.header }

// Rows returns the section's rows.
func (s section) Rows() [][]string { return s.rows }

// Title returns the section's title.
func (s section) Title() string { return s.title }

// meta lists the run metadata as label/value pairs.
func meta(run *results.Run) [][2]string {
	m := run.Meta
	kv := [][2]string{
		{"chatbench version", m.Version}, {"git revision", m.Revision}, {"Go version", m.GoVersion},
		{"OS / arch", m.OS + "/" + m.Arch}, {"CPU", m.CPUModel}, {"cores", fmt.Sprint(m.Cores)}, {"host", m.Hostname},
		{"started", ""}, {"trace", m.TraceName}, {"trace sha256", m.TraceDigest}, {"trace messages", fmt.Sprint(m.TraceMsgs)},
		{"speed", fmt.Sprintf("%g×", m.Speed)}, {"clock", m.Clock}, {"shards", fmt.Sprint(m.Shards)},
	}
	if !m.Started.IsZero() {
		kv[7][1] = m.Started.UTC().Format("2006-01-02 15:04:05 MST")
	}
	keys := make([]string, 0, len(m.Config))
	for k := range m.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		kv = append(kv, [2]string{"config " + k, m.Config[k]})
	}
	for _, p := range run.Paths {
		if p != nil {
			kv = append(kv, [2]string{"path " + p.Name, fmt.Sprintf("%s, %s to %s", p.Target, p.Start.UTC().Format("15:04:05"), p.End.UTC().Format("15:04:05"))})
		}
	}
	return kv
}

var page = withNotes(template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;color:#222}
h1{font-size:1.5em;overflow-wrap:anywhere}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
p{overflow-wrap:anywhere}
.summary{color:#555}.scope{font-weight:600}
.scroll{overflow-x:auto;max-width:100%}
.scroll:focus{outline:1px dotted #888}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
th,td{padding:2px 10px;border-bottom:1px solid #eee;text-align:right;white-space:pre}
th:first-child,td:first-child{text-align:left;position:sticky;left:0;background:#fff}
table.meta td{white-space:normal;text-align:left;vertical-align:top}
table.meta td:last-child{overflow-wrap:anywhere;min-width:12em}
table.meta td:first-child{white-space:nowrap}
{{.ChartCSS}}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{if .Sweep}}<p class="summary">{{.Summary}}</p>{{template "notes" .Notes}}
{{.Sweep}}
<h2>At each path's knee</h2>
<p>The charts and tables below are each path's knee step (its lowest step when none held), as compare reports a path.</p>
{{else}}<p class="scope">Replayed {{.Scope}}.</p>
<p class="summary">{{.Summary}}</p>{{template "notes" .Notes}}{{end}}
{{if .CDF}}<h2>Latency CDF per path</h2>
<p>Share of deliveries (all groups) at or below each latency, from the scheduled send, from the decoded HdrHistograms.</p>
{{.CDF}}{{end}}
{{if .Series}}<h2>Latency over time</h2>
<p>Per second of the measured replay: p99 solid, p50 dashed.</p>
{{.Series}}{{end}}
{{if .Hops}}<h2>Hop breakdown</h2>
<p>Median duration of each hop, stacked, per class. The paths of a class share one linear scale; each class has its own, since an ML job's hops take a hundred times a sync job's. The table “Hop breakdown, ms” below gives each hop's figures; hovering a segment names it.</p>
{{.Hops}}{{end}}
{{if .Jobs}}<h2>p99 per job</h2>
<p>Every job and path on one shared scale, so any two bars compare. Where the p99s span two decades or more the scale is logarithmic (the axis says so): each grid line is ten times the one before it, and bars start at the axis' left end, not at zero.</p>
{{.Jobs}}{{end}}
{{range .Sections}}<h2>{{.Title}}</h2>
<div class="scroll" role="region" aria-label="{{.Title}}" tabindex="0"><table><thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table></div>
{{end}}
<h2>Run</h2>
<div class="scroll" role="region" aria-label="run metadata" tabindex="0"><table class="meta"><tbody>{{range .Meta}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>
{{end}}</tbody></table></div>
</body>
</html>
`)))

// HTML writes a self-contained HTML report of run (inline CSS and SVG, no
// scripts or external resources): what part of the trace was replayed, the
// latency CDF per path, latency over time, the hop breakdown as stacked
// bars, p99 per job on one shared axis, the tables of Table (latency,
// ledger, resources, hops; each scrolls sideways on a narrow screen) and the
// run metadata. The charts are package chart's: the browser lays out their
// text, so nothing is clipped at a laptop's or a phone's width.
func HTML(w io.Writer, run *results.Run) error {
	paths := columns(run)
	cdf, err := cdfChart(paths)
	if err != nil {
		return err
	}
	d := htmlData{
		Title:    "chatbench: " + strings.Join(pathNames(paths), " vs "),
		Scope:    scope(run),
		Summary:  summary(run),
		ChartCSS: chart.CSS,
		Notes:    allNotes(run),
		CDF:      cdf,
		Series:   seriesChart(paths),
		Hops:     hopCharts(paths),
		Jobs:     jobChart(paths),
		Sections: sections(run),
		Meta:     meta(run),
	}
	if run.Sweep != nil {
		if d.Sweep, err = sweepHTML(run); err != nil {
			return err
		}
		d.Title = "chatbench sweep: " + strings.Join(pathNames(paths), ", ")
		d.Summary = sweepSummary(run)
	}
	return page.Execute(w, d)
}

// pathNames lists the paths' names once each (a chaos run has each path
// once per fault).
func pathNames(paths []*results.Path) []string {
	var n []string
	for _, p := range paths {
		if !slices.Contains(n, p.Name) {
			n = append(n, p.Name)
		}
	}
	return n
}
