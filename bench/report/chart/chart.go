// Package chart draws the charts of chatbench's HTML reports: horizontal bar
// charts and line charts on linear or logarithmic axes, as static HTML with
// inline SVG for the marks, styled by CSS (no scripts, no external
// resources, works offline).
//
// The browser lays out every piece of text: tick labels, bar labels, values,
// legends and axis titles are HTML positioned in percent of the plot, and
// only the marks (lines, grid lines) are SVG, stretched to the plot's box.
// So text keeps its size at a phone's width, where a scaled-down SVG would
// shrink it to a few pixels, and no label can be cut off by a width guessed
// on the server. A page that shows charts must include CSS once in a style
// element.
//
// The API is small on purpose: a BarChart (groups of bars, optionally
// stacked, on one shared value axis) and a LineChart (lines and labelled
// marks on two axes), each rendered with HTML, and Legend for a legend of
// its own. An Axis with Scale Auto turns logarithmic when its data span two
// decades or more, and then says so in its title.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
)

// CSS styles the charts; include it once per page, inside <style>.
const CSS template.CSS = `
.cb-chart{margin:.75em 0 1.5em;font-size:12px;line-height:1.3;font-variant-numeric:tabular-nums;color:#333}
.cb-chart .tick{position:absolute;white-space:nowrap;color:#555}
.cb-atitle{color:#222;white-space:normal}
.cb-bars{display:grid;grid-template-columns:max-content minmax(0,1fr) max-content;column-gap:8px;row-gap:3px;align-items:center}
.cb-group{grid-column:1/-1;font-weight:600;padding-top:.5em;overflow-wrap:anywhere;position:relative;z-index:1;background:#fff}
.cb-label{white-space:nowrap}
.cb-value{white-space:nowrap}
.cb-track{position:relative;height:14px;z-index:1}
.cb-seg{position:absolute;top:0;bottom:0}
.cb-grid{grid-column:2;position:relative;align-self:stretch;border-left:1px solid #bbb}
.cb-grid span{position:absolute;top:0;bottom:0;border-left:1px solid #e4e4e4}
.cb-axis{grid-column:2;position:relative;height:1.3em}
.cb-lc{display:grid;grid-template-columns:max-content minmax(0,1fr);grid-template-rows:auto 220px auto auto;column-gap:6px}
.cb-lc .cb-ytitle{grid-column:1/-1;margin-bottom:1em}
.cb-yticks{position:relative}
.cb-yticks .cb-sizer{visibility:hidden;white-space:nowrap}
.cb-plot{position:relative;background:#fafafa;border:1px solid #ccc}
.cb-plot svg{position:absolute;left:0;top:0;width:100%;height:100%;overflow:visible}
.cb-plot .cb-gl{stroke:#e4e4e4;stroke-width:1}
.cb-xticks{grid-column:2;position:relative;height:1.4em;margin-top:2px}
.cb-lc .cb-xtitle{grid-column:2;text-align:center}
.cb-mark{position:absolute;width:9px;height:9px;margin:-5.5px 0 0 -5.5px;border-radius:50%;border:1px solid #fff;box-sizing:content-box}
.cb-mlabel{position:absolute;white-space:nowrap;background:rgba(255,255,255,.85);padding:0 2px;font-weight:600}
.cb-legend{display:flex;flex-wrap:wrap;gap:.25em 1.25em;list-style:none;margin:.5em 0 0;padding:0}
.cb-legend li{display:flex;align-items:center;gap:.4em;white-space:nowrap}
.cb-swatch{display:inline-block;width:12px;height:12px;flex:none}
.cb-legend svg{width:20px;height:10px;flex:none}
@media (max-width:640px){.cb-chart .tick.minor{display:none}.cb-lc{grid-template-rows:auto 180px auto auto}}
`

// Scale is how an axis maps values to positions.
type Scale int

const (
	// Auto is logarithmic when the axis's positive values span two decades
	// or more (a ratio of 100), linear otherwise.
	Auto Scale = iota
	// Linear maps values proportionally, from zero for bars.
	Linear
	// Log maps values by their logarithm; each decade is one grid step.
	Log
)

// Axis describes a value axis.
type Axis struct {
	// Title names the quantity and its unit ("p99 latency, ms"); " (log
	// scale)" is added when the axis is logarithmic.
	Title string
	// Scale is Auto, Linear or Log.
	Scale Scale
	// Min and Max bound the axis; zero means from the data (rounded out to
	// decades on a log axis, to a round step on a linear one, which starts at
	// zero unless the data are negative).
	Min, Max float64
	// Format writes a tick label; nil writes plain numbers with k and M for
	// thousands and millions.
	Format func(float64) string
}

// BarChart is horizontal bars in titled groups, all on one value axis, so
// every bar can be compared with every other.
type BarChart struct {
	// Label is the chart's accessible name.
	Label  string
	Axis   Axis
	Groups []BarGroup
	// Legend, if any, is drawn under the chart (for stacked segments).
	Legend []Key
}

// BarGroup is a titled group of bars (a job, a class); an empty Title draws
// no heading.
type BarGroup struct {
	Title string
	Bars  []Bar
}

// Bar is one bar: its label on the left, its value text on the right, and
// its segments stacked from the axis's start. On a log axis each segment
// ends at its cumulative value, so use one segment per bar there.
type Bar struct {
	Label, Value string
	Segments     []Segment
}

// Segment is one part of a bar; Name is shown when the reader hovers it.
type Segment struct {
	Name, Color string
	V           float64
}

// Key is one legend entry: a colour swatch, or a line (dashed or not).
type Key struct {
	Name, Color string
	Line        bool
	Dashed      bool
}

// LineChart is lines over an x and a y axis, with optional labelled marks
// (a knee, a limit).
type LineChart struct {
	// Label is the chart's accessible name.
	Label string
	X, Y  Axis
	Lines []Line
	Marks []Mark
}

// Line is one plotted line, named in the legend.
type Line struct {
	Name, Color string
	Dashed      bool
	Points      []Point
}

// Point is one data point.
type Point struct{ X, Y float64 }

// Mark is a labelled point drawn over the lines.
type Mark struct {
	X, Y         float64
	Label, Color string
}

// scale is an Axis resolved against its data.
type scale struct {
	lo, hi float64
	log    bool
	title  string
	format func(float64) string
}

// resolve fits a to vals.
func resolve(a Axis, vals []float64) scale {
	minPos, lo, hi := math.Inf(1), math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
		if v > 0 {
			minPos = math.Min(minPos, v)
		}
	}
	s := scale{title: a.Title, format: a.Format}
	if s.format == nil {
		s.format = Num
	}
	s.log = a.Scale == Log || (a.Scale == Auto && !math.IsInf(minPos, 1) && hi/minPos >= 100)
	if s.log {
		if math.IsInf(minPos, 1) {
			minPos, hi = 1, 10
		}
		s.lo, s.hi = math.Pow(10, math.Floor(math.Log10(minPos))), math.Pow(10, math.Ceil(math.Log10(hi)))
		if a.Min > 0 {
			s.lo = a.Min
		}
		if a.Max > 0 {
			s.hi = a.Max
		}
		if s.hi <= s.lo {
			s.hi = s.lo * 10
		}
		if s.title != "" {
			s.title += " (log scale)"
		}
		return s
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	s.lo, s.hi = math.Min(0, lo), hi
	if a.Min != 0 || a.Max != 0 {
		s.lo, s.hi = a.Min, a.Max
	}
	if s.hi <= s.lo {
		s.hi = s.lo + 1
	}
	if a.Max == 0 {
		step := linStep(s.lo, s.hi)
		s.hi = math.Ceil(s.hi/step-1e-9) * step
		if a.Min == 0 {
			s.lo = math.Floor(s.lo/step+1e-9) * step
		}
	}
	return s
}

// linStep is a round tick step giving 4 to 6 ticks over lo..hi.
func linStep(lo, hi float64) float64 {
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(step*m) <= 6 {
			return step * m
		}
	}
	return step * 10
}

// frac is v's position on s, 0 to 1, clamped.
func (s scale) frac(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	var f float64
	if s.log {
		if v <= 0 {
			return 0
		}
		f = (math.Log10(v) - math.Log10(s.lo)) / (math.Log10(s.hi) - math.Log10(s.lo))
	} else {
		f = (v - s.lo) / (s.hi - s.lo)
	}
	return math.Max(0, math.Min(1, f))
}

// ticks are the axis's tick values: decades on a log axis (every second or
// third when there are many), round steps on a linear one.
func (s scale) ticks() []float64 {
	var t []float64
	if s.log {
		a, b := math.Ceil(math.Log10(s.lo)-1e-9), math.Floor(math.Log10(s.hi)+1e-9)
		every := math.Ceil((b - a + 1) / 8)
		for e := a; e <= b; e += every {
			t = append(t, math.Pow(10, e))
		}
		return t
	}
	step := linStep(s.lo, s.hi)
	for v := math.Ceil(s.lo/step-1e-9) * step; v <= s.hi+step*1e-9; v += step {
		t = append(t, math.Round(v/step)*step)
	}
	return t
}

// Num formats a tick value: k and M for thousands and millions, and no more
// digits than it needs.
func Num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	default:
		return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64)
	}
}

// pct formats a fraction as a CSS percentage.
func pct(f float64) string { return strconv.FormatFloat(math.Round(f*1e5)/1e3, 'f', -1, 64) + "%" }

// esc escapes text for HTML.
func esc(s string) string { return template.HTMLEscapeString(s) }

// tickClass marks every other label of a long axis "minor", hidden at a
// phone's width (the grid lines stay), so the labels left are evenly spaced.
func tickClass(i, n int) string {
	if n > 5 && i%2 == 1 {
		return "tick minor"
	}
	return "tick"
}

// xTicks writes s's tick labels along a horizontal axis; the first and last
// labels are aligned inwards so they stay inside the plot's width.
func xTicks(b *strings.Builder, s scale) {
	ts := s.ticks()
	for i, t := range ts {
		f := s.frac(t)
		shift := "-50%"
		switch {
		case f < 0.02:
			shift = "0"
		case f > 0.98:
			shift = "-100%"
		}
		fmt.Fprintf(b, `<span class="%s" style="left:%s;transform:translateX(%s)">%s</span>`, tickClass(i, len(ts)), pct(f), shift, esc(s.format(t)))
	}
}

// HTML renders the bar chart.
func (c BarChart) HTML() template.HTML {
	var vals []float64
	for _, g := range c.Groups {
		for _, br := range g.Bars {
			cum := 0.0
			for _, sg := range br.Segments {
				if sg.V > 0 && !math.IsInf(sg.V, 1) {
					cum += sg.V
					vals = append(vals, cum)
				}
			}
		}
	}
	if len(vals) == 0 {
		return ""
	}
	s := resolve(c.Axis, vals)
	if s.log && c.Axis.Min == 0 {
		// A bar at the axis' start has no length: give the shortest bar at
		// least a third of a decade.
		minV := slices.Min(vals)
		if minV/s.lo < 2 {
			s.lo /= 10
		}
	}
	var rows strings.Builder
	row := 1
	nbars := 0
	for _, g := range c.Groups {
		nbars += len(g.Bars)
	}
	top := nbars > 12 // a tall chart repeats its axis above the bars
	if top {
		fmt.Fprintf(&rows, `<div class="cb-atitle" style="grid-row:1;grid-column:2">%s</div><div class="cb-axis" style="grid-row:2" aria-hidden="true">`, esc(s.title))
		xTicks(&rows, s)
		rows.WriteString(`</div>`)
		row += 2
	}
	first := row
	for _, g := range c.Groups {
		if len(g.Bars) == 0 {
			continue
		}
		if g.Title != "" {
			fmt.Fprintf(&rows, `<div class="cb-group" style="grid-row:%d">%s</div>`, row, esc(g.Title))
			row++
		}
		for _, br := range g.Bars {
			fmt.Fprintf(&rows, `<div class="cb-label" style="grid-row:%d">%s</div><div class="cb-track" style="grid-row:%d;grid-column:2">`, row, esc(br.Label), row)
			cum := 0.0
			for _, sg := range br.Segments {
				if !(sg.V > 0) || math.IsInf(sg.V, 1) {
					continue // nothing to draw (NaN, ≤ 0, or no end)
				}
				a := s.frac(cum)
				if cum == 0 {
					a = 0
				}
				cum += sg.V
				if w := s.frac(cum) - a; w > 0 {
					fmt.Fprintf(&rows, `<span class="cb-seg" style="left:%s;width:%s;background:%s" title="%s"></span>`, pct(a), pct(w), esc(sg.Color), esc(sg.Name))
				}
			}
			fmt.Fprintf(&rows, `</div><div class="cb-value" style="grid-row:%d;grid-column:3">%s</div>`, row, esc(br.Value))
			row++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="cb-chart cb-bar" aria-label="%s"><div class="cb-bars">`, esc(c.Label))
	fmt.Fprintf(&b, `<div class="cb-grid" style="grid-row:%d/%d" aria-hidden="true">`, first, row)
	for _, t := range s.ticks() {
		fmt.Fprintf(&b, `<span style="left:%s"></span>`, pct(s.frac(t)))
	}
	b.WriteString(`</div>`)
	b.WriteString(rows.String())
	fmt.Fprintf(&b, `<div class="cb-axis" style="grid-row:%d" aria-hidden="true">`, row)
	xTicks(&b, s)
	fmt.Fprintf(&b, `</div><div class="cb-atitle" style="grid-row:%d;grid-column:2">%s</div></div>`, row+1, esc(s.title))
	b.WriteString(string(Legend(c.Legend)))
	b.WriteString(`</figure>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped text and numbers
}

// Legend renders keys as a wrapping list (empty for no keys).
func Legend(keys []Key) template.HTML {
	if len(keys) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(`<ul class="cb-legend">`)
	for _, k := range keys {
		if k.Line {
			fmt.Fprintf(&b, `<li><svg viewBox="0 0 20 10" aria-hidden="true"><line x1="0" y1="5" x2="20" y2="5" stroke="%s" stroke-width="2"%s/></svg>%s</li>`, esc(k.Color), dashAttr(k.Dashed), esc(k.Name))
		} else {
			fmt.Fprintf(&b, `<li><span class="cb-swatch" style="background:%s"></span>%s</li>`, esc(k.Color), esc(k.Name))
		}
	}
	b.WriteString(`</ul>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped text
}

func dashAttr(dashed bool) string {
	if dashed {
		return ` stroke-dasharray="5 3"`
	}
	return ""
}

// plotSize is the SVG user space of a line chart's plot: 0..plotSize on both
// axes, stretched to the plot's box.
const plotSize = 1000

// HTML renders the line chart.
func (c LineChart) HTML() template.HTML {
	var xs, ys []float64
	for _, l := range c.Lines {
		for _, p := range l.Points {
			xs, ys = append(xs, p.X), append(ys, p.Y)
		}
	}
	if len(xs) == 0 {
		return ""
	}
	for _, m := range c.Marks {
		xs, ys = append(xs, m.X), append(ys, m.Y)
	}
	x, y := resolve(c.X, xs), resolve(c.Y, ys)
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="cb-chart cb-line" aria-label="%s"><div class="cb-lc">`, esc(c.Label))
	fmt.Fprintf(&b, `<div class="cb-atitle cb-ytitle">%s</div>`, esc(y.title))

	// y tick labels; the hidden sizer gives the column the width of the
	// longest label, since the positioned labels take none.
	yt := y.ticks()
	longest := ""
	for _, t := range yt {
		if l := y.format(t); len(l) > len(longest) {
			longest = l
		}
	}
	fmt.Fprintf(&b, `<div class="cb-yticks" aria-hidden="true"><span class="cb-sizer">%s</span>`, esc(longest))
	for _, t := range yt {
		fmt.Fprintf(&b, `<span class="tick" style="right:0;top:%s;transform:translateY(-50%%)">%s</span>`, pct(1-y.frac(t)), esc(y.format(t)))
	}
	b.WriteString(`</div>`)

	fmt.Fprintf(&b, `<div class="cb-plot"><svg viewBox="0 0 %d %d" preserveAspectRatio="none" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">`, plotSize, plotSize)
	for _, t := range x.ticks() {
		px := x.frac(t) * plotSize
		fmt.Fprintf(&b, `<line x1="%.1f" y1="0" x2="%.1f" y2="%d" class="cb-gl" vector-effect="non-scaling-stroke"/>`, px, px, plotSize)
	}
	for _, t := range yt {
		py := (1 - y.frac(t)) * plotSize
		fmt.Fprintf(&b, `<line x1="0" y1="%.1f" x2="%d" y2="%.1f" class="cb-gl" vector-effect="non-scaling-stroke"/>`, py, plotSize, py)
	}
	var keys []Key
	for _, l := range c.Lines {
		if len(l.Points) == 0 {
			continue
		}
		pts := make([]string, 0, len(l.Points))
		for _, p := range l.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x.frac(p.X)*plotSize, (1-y.frac(p.Y))*plotSize))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.8"%s vector-effect="non-scaling-stroke"><title>%s</title></polyline>`,
			strings.Join(pts, " "), esc(l.Color), dashAttr(l.Dashed), esc(l.Name))
		keys = append(keys, Key{Name: l.Name, Color: l.Color, Line: true, Dashed: l.Dashed})
	}
	b.WriteString(`</svg>`)
	for _, m := range c.Marks {
		fx, fy := x.frac(m.X), 1-y.frac(m.Y)
		fmt.Fprintf(&b, `<span class="cb-mark" style="left:%s;top:%s;background:%s" title="%s"></span>`, pct(fx), pct(fy), esc(m.Color), esc(m.Label))
		// The label sits beside the mark, on the side with room.
		h, v := "left:calc("+pct(fx)+" + 8px)", "top:calc("+pct(fy)+" + 4px)"
		if fx > 0.6 {
			h = "right:calc(" + pct(1-fx) + " + 8px)"
		}
		if fy > 0.8 {
			v = "bottom:calc(" + pct(1-fy) + " + 4px)"
		}
		fmt.Fprintf(&b, `<span class="cb-mlabel" style="%s;%s">%s</span>`, h, v, esc(m.Label))
	}
	b.WriteString(`</div><div class="cb-xticks" aria-hidden="true">`)
	xTicks(&b, x)
	fmt.Fprintf(&b, `</div><div class="cb-atitle cb-xtitle">%s</div></div>`, esc(x.title))
	b.WriteString(string(Legend(keys)))
	b.WriteString(`</figure>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped text and numbers
}
