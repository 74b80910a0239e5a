package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/chatbench/chatbench/bench/results"
)

// pathColors are the paths' plot colours; other paths cycle through extra.
var (
	pathColors = map[string]string{"direct": "#1f77b4", "queue": "#d62728", "echo": "#7f7f7f"}
	extra      = []string{"#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}
	hopColors  = []string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"}
)

// colorOf returns path i's colour.
func colorOf(paths []*results.Path, i int) string {
	if c, ok := pathColors[paths[i].Name]; ok {
		return c
	}
	return extra[i%len(extra)]
}

// line is one plotted line.
type line struct {
	name, color string
	dashed      bool
	pts         [][2]float64
}

// axis maps data to pixels, linearly or logarithmically.
type axis struct {
	lo, hi float64
	log    bool
}

func (a axis) frac(v float64) float64 {
	if a.log {
		v, lo, hi := math.Log10(math.Max(v, a.lo)), math.Log10(a.lo), math.Log10(a.hi)
		return (v - lo) / (hi - lo)
	}
	return (v - a.lo) / (a.hi - a.lo)
}

// ticks returns tick values: decades on a log axis, about 5 round values
// otherwise.
func (a axis) ticks() []float64 {
	var t []float64
	if a.log {
		for v := math.Pow(10, math.Floor(math.Log10(a.lo))); v <= a.hi*1.0001; v *= 10 {
			if v >= a.lo*0.9999 {
				t = append(t, v)
			}
		}
		return t
	}
	step := math.Pow(10, math.Floor(math.Log10((a.hi-a.lo)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (a.hi-a.lo)/(step*m) <= 6 {
			step *= m
			break
		}
	}
	for v := math.Ceil(a.lo/step) * step; v <= a.hi*1.0001; v += step {
		t = append(t, v)
	}
	return t
}

// num formats a tick label.
func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%g", math.Round(v*100)/100)
	default:
		return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
	}
}

// esc escapes text for SVG.
func esc(s string) string { return template.HTMLEscapeString(s) }

// chart dimensions.
const (
	cw, ch           = 640, 300
	ml, mr, mt, mb   = 60, 130, 20, 40
	plotW, plotH     = cw - ml - mr, ch - mt - mb
	barH, barGap     = 16, 4
	barLabelW, barMR = 150, 90
)

// lineChart draws lines on x and y axes with a legend.
func lineChart(label string, lines []line, x, y axis, xTitle, yTitle string) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, cw, ch, cw, ch, esc(label))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="plot"/>`, ml, mt, plotW, plotH)
	for _, t := range x.ticks() {
		px := float64(ml) + x.frac(t)*plotW
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="grid"/><text x="%.1f" y="%d" class="tick" text-anchor="middle">%s</text>`, px, mt, px, mt+plotH, px, mt+plotH+14, num(t))
	}
	for _, t := range y.ticks() {
		py := float64(mt+plotH) - y.frac(t)*plotH
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="tick" text-anchor="end">%s</text>`, ml, py, ml+plotW, py, ml-4, py+4, num(t))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" class="axis" text-anchor="middle">%s</text>`, ml+plotW/2, ch-6, esc(xTitle))
	fmt.Fprintf(&b, `<text x="14" y="%d" class="axis" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>`, mt+plotH/2, mt+plotH/2, esc(yTitle))
	for i, l := range lines {
		if len(l.pts) == 0 {
			continue
		}
		var pts []string
		for _, p := range l.pts {
			px := float64(ml) + math.Max(0, math.Min(1, x.frac(p[0])))*plotW
			py := float64(mt+plotH) - math.Max(0, math.Min(1, y.frac(p[1])))*plotH
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
		}
		dash := ""
		if l.dashed {
			dash = ` stroke-dasharray="5 3"`
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.8"%s/>`, strings.Join(pts, " "), l.color, dash)
		ly := mt + 8 + i*16
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/><text x="%d" y="%d" class="tick">%s</text>`, ml+plotW+8, ly, ml+plotW+26, ly, l.color, dash, ml+plotW+30, ly+4, esc(l.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped text and numbers
}

// bar is one horizontal bar: stacked segments, a label and a value label.
type bar struct {
	label, value string
	segs         []seg
}

// seg is one segment of a bar.
type seg struct {
	name, color string
	v           float64
}

// barChart draws horizontal bars in groups, each group scaled to its own
// longest bar (groups compare paths, not each other), with an optional
// legend of segment colours.
func barChart(label string, groups [][]bar, legend []seg) template.HTML {
	n := 0
	for _, g := range groups {
		n += len(g) + 1
	}
	h := n*(barH+barGap) + 10
	if len(legend) > 0 {
		h += 24
	}
	w := cw
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, w, h, w, h, esc(label))
	y := 4
	span := float64(w - barLabelW - barMR)
	for _, g := range groups {
		top := 0.0
		for _, br := range g {
			top = math.Max(top, total(br.segs))
		}
		for _, br := range g {
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="tick" text-anchor="end">%s</text>`, barLabelW-6, y+barH-4, esc(br.label))
			x := float64(barLabelW)
			for _, s := range br.segs {
				if top <= 0 || s.v <= 0 {
					continue
				}
				sw := s.v / top * span
				fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`, x, y, sw, barH, s.color, esc(s.name))
				x += sw
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="tick">%s</text>`, x+4, y+barH-4, esc(br.value))
			y += barH + barGap
		}
		y += barH + barGap
	}
	x := 8
	for _, s := range legend {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" class="tick">%s</text>`, x, y, s.color, x+14, y+9, esc(s.name))
		x += 24 + 7*len(s.name)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped text and numbers
}

func total(ss []seg) float64 {
	t := 0.0
	for _, s := range ss {
		t += s.v
	}
	return t
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

// cdfChart plots each path's latency CDF (group "all", from the scheduled
// send) from its decoded HdrHistogram, log x.
func cdfChart(paths []*results.Path) (template.HTML, error) {
	var lines []line
	lo, hi := math.Inf(1), 0.0
	for i, p := range paths {
		h, err := p.FromScheduled["all"].HDR()
		if err != nil {
			return "", fmt.Errorf("path %s: %w", p.Name, err)
		}
		if h.TotalCount() == 0 {
			continue
		}
		l := line{name: p.Name, color: colorOf(paths, i)}
		for _, q := range cdfQuantiles() {
			v := math.Max(float64(h.ValueAtQuantile(q))/1000, 0.001)
			l.pts = append(l.pts, [2]float64{v, q})
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return "", nil
	}
	x := axis{lo: math.Pow(10, math.Floor(math.Log10(lo))), hi: math.Pow(10, math.Ceil(math.Log10(hi))), log: true}
	if x.hi <= x.lo {
		x.hi = x.lo * 10
	}
	return lineChart("latency CDF per path", lines, x, axis{lo: 0, hi: 100}, "latency from scheduled send, ms (log)", "percentile"), nil
}

// seriesChart plots each path's per-second p50 (dashed) and p99, log y.
func seriesChart(paths []*results.Path) template.HTML {
	var lines []line
	lo, hi, tmax := math.Inf(1), 0.0, 1.0
	for i, p := range paths {
		if len(p.Series) == 0 {
			continue
		}
		p50 := line{name: p.Name + " p50", color: colorOf(paths, i), dashed: true}
		p99 := line{name: p.Name + " p99", color: colorOf(paths, i)}
		for _, s := range p.Series {
			if s.P50 <= 0 && s.P99 <= 0 {
				continue
			}
			a, b := math.Max(float64(s.P50)/1000, 0.001), math.Max(float64(s.P99)/1000, 0.001)
			p50.pts = append(p50.pts, [2]float64{float64(s.T), a})
			p99.pts = append(p99.pts, [2]float64{float64(s.T), b})
			lo, hi, tmax = math.Min(lo, a), math.Max(hi, b), math.Max(tmax, float64(s.T))
		}
		lines = append(lines, p50, p99)
	}
	if hi == 0 {
		return ""
	}
	y := axis{lo: math.Pow(10, math.Floor(math.Log10(lo))), hi: math.Pow(10, math.Ceil(math.Log10(hi))), log: true}
	if y.hi <= y.lo {
		y.hi = y.lo * 10
	}
	return lineChart("latency over time per path", lines, axis{lo: 0, hi: tmax}, y, "seconds into the measured replay", "latency, ms (log)")
}

// hopChart draws, per class, one bar per path stacked by hop medians.
func hopChart(paths []*results.Path) template.HTML {
	var groups [][]bar
	used := map[string]bool{}
	for _, c := range hopClasses(paths) {
		var g []bar
		for _, p := range paths {
			hops := p.Hops[c]
			if len(hops) == 0 {
				continue
			}
			br := bar{label: p.Name + " · " + strings.TrimPrefix(c, "class:")}
			for i, name := range results.HopNames {
				if h := hops[name]; h != nil && h.Count > 0 {
					br.segs = append(br.segs, seg{name: fmt.Sprintf("%s: median %s ms", name, ms(h.P50)), color: hopColors[i%len(hopColors)], v: float64(h.P50)})
					used[name] = true
				}
			}
			br.value = ms(int64(total(br.segs))) + " ms"
			g = append(g, br)
		}
		if len(g) > 0 {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return ""
	}
	var legend []seg
	for i, name := range results.HopNames {
		if used[name] {
			legend = append(legend, seg{name: name, color: hopColors[i%len(hopColors)]})
		}
	}
	return barChart("hop breakdown: median per hop, stacked, per class and path", groups, legend)
}

// jobChart draws each job's p99 per path.
func jobChart(paths []*results.Path) template.HTML {
	var out [][]bar
	for _, g := range groups(paths) {
		j, ok := strings.CutPrefix(g, "job:")
		if !ok {
			continue
		}
		var bs []bar
		for i, p := range paths {
			if h := p.FromScheduled[g]; h != nil && h.Count > 0 {
				bs = append(bs, bar{label: j + " · " + p.Name, value: ms(h.P99) + " ms", segs: []seg{{name: "p99 " + ms(h.P99) + " ms", color: colorOf(paths, i), v: float64(h.P99)}}})
			}
		}
		if len(bs) > 0 {
			out = append(out, bs)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return barChart("p99 latency per job and path", out, nil)
}

// htmlData feeds the page template.
type htmlData struct {
	Title    string
	Summary  string
	Notes    []string
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
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}
th,td{padding:2px 10px;border-bottom:1px solid #eee;text-align:right;white-space:pre}
th:first-child,td:first-child{text-align:left}
svg{max-width:100%;height:auto}
svg .plot{fill:#fafafa;stroke:#ccc}svg .grid{stroke:#e4e4e4}
svg .tick{font-size:11px;fill:#444}svg .axis{font-size:12px;fill:#222}
.summary{color:#555}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="summary">{{.Summary}}</p>{{template "notes" .Notes}}
{{if .CDF}}<h2>Latency CDF per path</h2>
<p>Share of deliveries (all groups) at or below each latency, from the scheduled send, from the decoded HdrHistograms.</p>
{{.CDF}}{{end}}
{{if .Series}}<h2>Latency over time</h2>
<p>Per second of the measured replay: p99 solid, p50 dashed.</p>
{{.Series}}{{end}}
{{if .Hops}}<h2>Hop breakdown</h2>
<p>Median duration of each hop, stacked, per class and path (each class to its own scale).</p>
{{.Hops}}{{end}}
{{if .Jobs}}<h2>p99 per job</h2>
{{.Jobs}}{{end}}
{{range .Sections}}<h2>{{.Title}}</h2>
<table><thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table>
{{end}}
<h2>Run</h2>
<table><tbody>{{range .Meta}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>
{{end}}</tbody></table>
</body>
</html>
`)))

// HTML writes a self-contained HTML report of run (inline CSS and SVG, no
// scripts or external resources): the latency CDF per path, latency over
// time, the hop breakdown as stacked bars, p99 per job, the tables of
// Table (latency, ledger, resources, hops) and the run metadata.
func HTML(w io.Writer, run *results.Run) error {
	paths := columns(run)
	cdf, err := cdfChart(paths)
	if err != nil {
		return err
	}
	d := htmlData{
		Title:    "chatbench: " + strings.Join(pathNames(paths), " vs "),
		Summary:  summary(run),
		Notes:    notes(run),
		CDF:      cdf,
		Series:   seriesChart(paths),
		Hops:     hopChart(paths),
		Jobs:     jobChart(paths),
		Sections: sections(run),
		Meta:     meta(run),
	}
	return page.Execute(w, d)
}

func pathNames(paths []*results.Path) []string {
	var n []string
	for _, p := range paths {
		n = append(n, p.Name)
	}
	return n
}
