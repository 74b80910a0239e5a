package report

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/chatbench/chatbench/bench/report/chart"
	"github.com/chatbench/chatbench/bench/results"
)

// A sweep document (`chatbench sweep`, results.Sweep) is rendered as: a
// verdict paragraph an architecture review can quote, every number in it
// naming (and in HTML linking to) the step it came from; the knees with
// the capacity per core; the CPU per message per component; the cost at
// the sweep's volume; every step; and then the usual tables of the paths
// at their knees (where the time went, hop by hop). The HTML report adds
// latency against offered load per class, log-log, knees marked.

// cell is one cell of a sweep table: text, and optionally the step it
// came from (Ref, its label; Href, its anchor in the HTML report).
type cell struct {
	Text, Ref, Href string
}

// String is the cell as plain text: "3000 [direct·7]".
func (c cell) String() string {
	if c.Ref == "" {
		return c.Text
	}
	if c.Text == "" {
		return "[" + c.Ref + "]"
	}
	return c.Text + " [" + c.Ref + "]"
}

// sweepTable is one table of a sweep: rows of cells, each row optionally
// an anchor (the steps table's rows are what the references link to).
type sweepTable struct {
	Title  string
	Header []string
	Rows   [][]cell
	IDs    []string
	// Note follows the table (what its figures mean).
	Note string
}

// section is the table as plain text, for the text and Markdown renderers.
func (t sweepTable) section() section {
	s := section{title: t.Title, header: t.Header}
	for _, r := range t.Rows {
		s.rows = append(s.rows, cellTexts(r))
	}
	return s
}

// sweepView is what the renderers of a sweep draw from.
type sweepView struct {
	run     *results.Run
	sw      *results.Sweep
	verdict []cell // the verdict paragraph: text with references
	tables  []sweepTable
	paces   int // distinct paces swept
}

// newSweepView derives the verdict and the tables of run's sweep.
func newSweepView(run *results.Run) *sweepView {
	v := &sweepView{run: run, sw: run.Sweep}
	seen := map[float64]bool{}
	for _, s := range v.sw.Series {
		seen[s.Pace] = true
	}
	v.paces = len(seen)
	v.verdict = v.buildVerdict()
	v.tables = []sweepTable{v.kneeTable(), v.cpuTable(), v.costTable(), v.stepsTable()}
	return v
}

// ref names step i of series s: "direct·3", or "direct@pace5·3" when the
// sweep has several paces.
func (v *sweepView) ref(s *results.SweepSeries, i int) cell {
	name := s.Path
	if v.paces > 1 {
		name = s.ID()
	}
	n := i + 1
	if i >= 0 && i < len(s.Steps) {
		n = s.Steps[i].N
	}
	return cell{Ref: name + "·" + strconv.Itoa(n), Href: "#" + anchor(s, n)}
}

// anchor is the HTML id of step n of s.
func anchor(s *results.SweepSeries, n int) string {
	return fmt.Sprintf("step-%s-%s-%d", s.Path, strconv.FormatFloat(s.Pace, 'g', -1, 64), n)
}

// mainSeries are the series at the sweep's first pace, the echo floor
// left out: those the verdict is about.
func (v *sweepView) mainSeries() []*results.SweepSeries {
	var out []*results.SweepSeries
	for _, s := range v.sw.Series {
		if s.Pace == v.sw.Series[0].Pace && s.Path != "echo" {
			out = append(out, s)
		}
	}
	return out
}

// kneeRate is s's knee, msgs/s (0 without one).
func kneeRate(s *results.SweepSeries) float64 {
	if k := s.KneeStep(); k != nil {
		return k.Offered
	}
	return 0
}

// kneeText formats s's knee: "3000", "≥ 4500" for a lower bound, or "none".
func kneeText(s *results.SweepSeries) string {
	k := s.KneeStep()
	switch {
	case k == nil:
		return "none"
	case s.KneeExact():
		return rateText(k.Offered)
	}
	return "≥ " + rateText(k.Offered)
}

// rateText formats msgs/s: three significant digits, thousands separated.
func rateText(f float64) string {
	switch {
	case f >= 1000:
		return thousands(int(math.Round(f)))
	case f >= 100:
		return strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	case f >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	case f >= 1:
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	return strconv.FormatFloat(f, 'g', 2, 64)
}

// perDayText formats messages a day.
func perDayText(f float64) string {
	switch {
	case f >= 1e9:
		return strconv.FormatFloat(f/1e9, 'g', 3, 64) + " billion"
	case f >= 1e7:
		return strconv.FormatFloat(f/1e6, 'g', 3, 64) + " million"
	}
	return thousands(int(math.Round(f)))
}

// dollars formats a monthly amount.
func dollars(f float64) string {
	switch {
	case f >= 100:
		return "$" + thousands(int(math.Round(f)))
	case f >= 0.01 || f == 0:
		return fmt.Sprintf("$%.2f", f)
	}
	return "< $0.01"
}

// volumeKneeDay is the messages a day, shaped like the reference, whose
// peak hour reaches rate msgs/s.
func volumeKneeDay(ref results.Reference, rate float64) float64 {
	return rate * 86400 / ref.PeakFactor()
}

// buildVerdict writes the paragraph at the top (docs/results.md, "Sweep").
func (v *sweepView) buildVerdict() []cell {
	sw := v.sw
	var out []cell
	say := func(format string, args ...any) { out = append(out, cell{Text: fmt.Sprintf(format, args...)}) }
	refer := func(c cell) { out = append(out, c) }
	vol := sw.Volume
	peak := sw.Reference.PeakAt(vol)
	whose := "the reference workload's"
	if math.Abs(vol-sw.Reference.PerDay()) > 0.5 {
		whose = "the volume asked for"
	}
	m := v.run.Meta
	say("At %s messages a day (%s; its busiest hour %s msgs/s, shaped like %s), on this machine (%s, %d cores), ",
		perDayText(vol), whose, rateText(peak), sw.Reference.TraceName, cmp.Or(m.CPUModel, "unknown CPU"), m.Cores)
	var hold, fail []*results.SweepSeries
	for _, s := range v.mainSeries() {
		if kneeRate(s) >= peak && s.KneeStep() != nil {
			hold = append(hold, s)
		} else {
			fail = append(fail, s)
		}
	}
	list := func(ss []*results.SweepSeries) {
		for i, s := range ss {
			if i > 0 {
				say("%s", map[bool]string{true: " and ", false: ", "}[i == len(ss)-1])
			}
			if s.KneeStep() == nil {
				say("%s (no step held: ", s.Path)
				if s.StopStep >= 0 {
					say("it broke at")
					refer(v.ref(s, s.StopStep))
				} else {
					say("it stopped before a step")
				}
				say(")")
				continue
			}
			say("%s (knee %s msgs/s", s.Path, kneeText(s))
			refer(v.ref(s, s.Knee))
			say(")")
		}
	}
	switch {
	case len(hold) == 0:
		say("no path holds the SLO")
	default:
		list(hold)
		say("%s the SLO", map[bool]string{true: " holds", false: " hold"}[len(hold) == 1])
	}
	if len(fail) > 0 {
		say("; ")
		list(fail)
		say("%s", map[bool]string{true: " does not", false: " do not"}[len(fail) == 1])
	}
	say(". ")
	// The cheapest of those that hold.
	costed := slices.DeleteFunc(slices.Clone(hold), func(s *results.SweepSeries) bool { return s.Cost == nil })
	slices.SortStableFunc(costed, func(a, b *results.SweepSeries) int { return cmp.Compare(a.Cost.Total, b.Cost.Total) })
	if len(costed) > 0 {
		c := costed[0]
		say("Of those, %s costs least: %s a month", c.Path, costText(c.Cost))
		refer(v.ref(c, c.Cost.SQSStep))
		for i, o := range costed[1:] {
			if i == 0 {
				say(", against ")
			} else {
				say(", ")
			}
			say("%s %s", o.Path, costText(o.Cost))
			refer(v.ref(o, o.Cost.SQSStep))
		}
		say(". ")
	}
	if len(hold) > 0 {
		say("Before its knee on this machine, ")
		for i, s := range hold {
			if i > 0 {
				say(", ")
			}
			k := kneeRate(s)
			bound := ""
			if !s.KneeExact() {
				bound = "at least "
			}
			say("%s can grow %s%s× (to %s messages a day", s.Path, bound, growText(k/peak), perDayText(volumeKneeDay(sw.Reference, k)))
			refer(v.ref(s, s.Knee))
			say(")")
		}
		say(". ")
	}
	if ch := v.crossovers(hold); ch != "" {
		say("%s ", ch)
	}
	var bounds []string
	for _, s := range v.mainSeries() {
		if s.KneeStep() != nil && !s.KneeExact() {
			bounds = append(bounds, fmt.Sprintf("%s's (%s)", s.Path, stopWhy(s.Stop)))
		}
	}
	if len(bounds) > 0 {
		say("Knees marked ≥ are lower bounds, where the sweep stopped before the SLO broke: %s. ", strings.Join(bounds, ", "))
	}
	if v.paces > 1 {
		say("%s ", v.otherPaces())
	}
	say("It assumes %s.", v.assumptions())
	return out
}

// costText formats a cost: "$1.10 (SQS $1.05, CPU $0.05 for 0.9 core-hours)".
func costText(c *results.Cost) string {
	hours := 0.0
	for name, h := range c.CoreHours {
		if name != "sqs" && name != "ml" {
			hours += h
		}
	}
	return fmt.Sprintf("%s (SQS %s, CPU %s for %s core-hours)", dollars(c.Total), dollars(c.SQSDollars), dollars(c.CPUDollars), num3(hours))
}

// growText formats a growth factor.
func growText(f float64) string {
	if f >= 100 {
		return thousands(int(math.Round(f)))
	}
	return strconv.FormatFloat(f, 'g', 2, 64)
}

// num3 formats with three significant digits.
func num3(f float64) string {
	if f >= 1000 {
		return thousands(int(math.Round(f)))
	}
	return strconv.FormatFloat(f, 'g', 3, 64)
}

// stopWhy says in words why a series stopped.
func stopWhy(stop string) string {
	switch stop {
	case results.StopSLO:
		return "the SLO broke"
	case results.StopLag:
		return "the driver's lag"
	case results.StopConnections:
		return "the connections this process may open"
	case results.StopLimit:
		return "the sweep's highest step"
	case results.StopError:
		return "a step failed"
	case results.StopCanceled:
		return "interrupted"
	}
	return stop
}

// crossovers says at which volume the cheapest path that holds the SLO
// changes, up to the highest knee: where the cheapest's knee is passed,
// or where two costs cross.
func (v *sweepView) crossovers(hold []*results.SweepSeries) string {
	sw := v.sw
	var cands []*results.SweepSeries
	top := 0.0
	for _, s := range v.mainSeries() {
		if s.Cost != nil && s.KneeStep() != nil {
			cands = append(cands, s)
			top = max(top, volumeKneeDay(sw.Reference, kneeRate(s)))
		}
	}
	if len(hold) == 0 || len(cands) == 0 || top <= sw.Volume {
		return ""
	}
	cheapest := func(vol float64) *results.SweepSeries {
		var best *results.SweepSeries
		bestCost := math.Inf(1)
		for _, s := range cands {
			if volumeKneeDay(sw.Reference, kneeRate(s)) < vol {
				continue
			}
			if c := s.Cost.At(vol, sw.Prices).Total; c < bestCost {
				best, bestCost = s, c
			}
		}
		return best
	}
	const points = 400
	lo, hi := math.Log(sw.Volume), math.Log(top)
	var changes []string
	prev := cheapest(sw.Volume)
	for i := 1; i <= points; i++ {
		vol := math.Exp(lo + (hi-lo)*float64(i)/points)
		cur := cheapest(vol)
		if cur == prev {
			continue
		}
		if cur == nil {
			// Past the last knee no path measured holds: that is the end
			// of what the sweep can say, not a change of choice.
			break
		}
		// Bisect the change between the previous point and this one.
		a, b := math.Exp(lo+(hi-lo)*float64(i-1)/points), vol
		for range 40 {
			mid := math.Sqrt(a * b)
			if cheapest(mid) == prev {
				a = mid
			} else {
				b = mid
			}
		}
		from, to := "no path", "no path"
		if prev != nil {
			from = prev.Path
		}
		if cur != nil {
			to = cur.Path
		}
		why := "where their costs cross"
		if prev != nil && volumeKneeDay(sw.Reference, kneeRate(prev)) < b*1.0001 {
			why = "past " + from + "'s knee"
		}
		changes = append(changes, fmt.Sprintf("at %s messages a day from %s to %s (%s)", perDayText(b), from, to, why))
		prev = cur
		if len(changes) == 3 {
			break
		}
	}
	if len(changes) == 0 {
		return fmt.Sprintf("The cheapest choice does not change up to %s messages a day, the highest knee measured.", perDayText(top))
	}
	return "The cheapest choice changes " + strings.Join(changes, "; then ") + "."
}

// otherPaces lists each path's knee at every pace, for a sweep of several.
func (v *sweepView) otherPaces() string {
	var parts []string
	var paths []string
	for _, s := range v.sw.Series {
		if !slices.Contains(paths, s.Path) {
			paths = append(paths, s.Path)
		}
	}
	for _, p := range paths {
		var ks []string
		for _, s := range v.sw.Series {
			if s.Path == p {
				ks = append(ks, fmt.Sprintf("%s at pace %g", kneeText(s), s.Pace))
			}
		}
		parts = append(parts, p+" "+strings.Join(ks, ", "))
	}
	return "Knees by pace, msgs/s: " + strings.Join(parts, "; ") + " (a knee that falls as the pace rises is a limit per conversation)."
}

// assumptions states what the verdict assumes.
func (v *sweepView) assumptions() string {
	sw, cfg := v.sw, v.run.Meta.Config
	p := sw.Prices
	lat := cfg["sqs_latency"]
	if prof := cfg["sqs_latency_profile"]; prof != "" && prof != lat {
		lat += " (" + prof + ")"
	}
	paces := cfg["paces"]
	if paces == "" && len(sw.Series) > 0 {
		paces = strconv.FormatFloat(sw.Series[0].Pace, 'g', -1, 64)
	}
	return fmt.Sprintf("SQS at $%.2f per million FIFO and $%.2f per million standard requests with %s free a month, "+
		"each started 64 KiB billed as one request (%s); CPU at $%.2f a core-hour, priced for the path's own servers (not the ML stand-in or the embedded SQS endpoint); "+
		"the SQS latency profile %s on every SQS call; the ML profile %s; conversations at pace %s (each %s times faster than real), load raised by more of them at once; "+
		"one machine for the driver and every server, so they share its cores; a 30-day month",
		p.FIFOPerMillion, p.StandardPerMillion, perDayText(p.FreeRequests), p.Source, p.CoreHour, cmp.Or(lat, "none"), cmp.Or(cfg["ml_profile"], "default"),
		paces, strings.ReplaceAll(paces, ",", " or "))
}

// kneeTable is the knees with the capacity per core.
func (v *sweepView) kneeTable() sweepTable {
	t := sweepTable{
		Title: "Knees and capacity per core, at the knee step",
		Header: []string{"path", "pace", "knee, msgs/s", "stopped", "events/s", "server cores", "driver cores", "machine busy",
			"msgs/s per core", "events/s per core", "headroom"},
		Note: "knee: the highest offered load at which the SLO held on a step the driver kept to its schedule (≥: a lower bound, the sweep stopped first). " +
			"server cores: the CPU of the path's own servers over the step (not the ML service or the embedded SQS endpoint), driver cores the driver's (one machine: they share its cores). " +
			"per core: messages (events) per CPU-second of the path's servers. headroom: the knee ÷ the reference day's busiest hour. SLO: " + strings.Join(v.sw.SLO, ", "),
	}
	for _, s := range v.sw.Series {
		row := []cell{{Text: s.Path}, {Text: strconv.FormatFloat(s.Pace, 'g', -1, 64)}}
		k := cell{Text: kneeText(s)}
		if s.KneeStep() != nil {
			kr := v.ref(s, s.Knee)
			k.Ref, k.Href = kr.Ref, kr.Href
		}
		stop := cell{Text: stopWhy(s.Stop)}
		if s.StopStep >= 0 {
			r := v.ref(s, s.StopStep)
			stop.Ref, stop.Href = r.Ref, r.Href
		}
		row = append(row, k, stop)
		c := s.Capacity
		if c == nil {
			for range t.Header[len(row):] {
				row = append(row, cell{Text: dash})
			}
		} else {
			busy := dash
			if c.MachineBusy != nil {
				busy = pctCell(*c.MachineBusy)
			}
			row = append(row, cell{Text: num3(c.EventsPerSecond)}, cell{Text: fmt.Sprintf("%.2f", c.ServerCores)}, cell{Text: fmt.Sprintf("%.2f", c.DriverCores)},
				cell{Text: busy}, cell{Text: num3(c.PerCore)}, cell{Text: num3(c.EventsPerCore)}, cell{Text: growText(c.Headroom) + "×"})
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// cpuTable is each component's CPU per message at each series' knee.
func (v *sweepView) cpuTable() sweepTable {
	var comps []string
	for _, s := range v.sw.Series {
		if s.Cost == nil {
			continue
		}
		for c := range s.Cost.CPUMillisPerMessage {
			if !slices.Contains(comps, c) {
				comps = append(comps, c)
			}
		}
	}
	slices.Sort(comps)
	t := sweepTable{Title: "CPU per message at the knee, ms", Header: append([]string{"path", "pace"}, append(comps, "driver", "steps")...),
		Note: "CPU time (user + system, from each process's rusage) per message sent: marginal between the step that sent the fewest messages and the knee step " +
			"when the knee sent 4× as many or more — (CPU − its CPU) ÷ (messages − its messages), leaving out each step's start-up and connecting — " +
			"otherwise over the whole knee step, start-up included (marked *). The driver's is over the knee step; the cost below uses these figures."}
	for _, s := range v.sw.Series {
		if s.Cost == nil || s.Capacity == nil {
			continue
		}
		row := []cell{{Text: s.Path}, {Text: strconv.FormatFloat(s.Pace, 'g', -1, 64)}}
		for _, c := range comps {
			if ms, ok := s.Cost.CPUMillisPerMessage[c]; ok {
				row = append(row, cell{Text: num3(ms)})
			} else {
				row = append(row, cell{Text: dash})
			}
		}
		from := v.ref(s, s.Knee)
		if s.Cost.CPUMarginal {
			from.Ref = v.ref(s, s.Cost.CPUBaseStep).Ref + " → " + from.Ref
		} else {
			from.Ref += " *"
		}
		row = append(row, cell{Text: num3(s.Capacity.CPUMillisPerMessage["driver"])}, from)
		t.Rows = append(t.Rows, row)
	}
	return t
}

// costTable is each series' cost at the sweep's volume.
func (v *sweepView) costTable() sweepTable {
	sw := v.sw
	t := sweepTable{
		Title:  fmt.Sprintf("Cost at %s messages a day, a 30-day month", perDayText(sw.Volume)),
		Header: []string{"path", "pace", "SQS requests per message", "SQS requests a month", "SQS $", "core-hours (priced)", "CPU $", "total $", "from steps"},
		Note: "SQS requests: billed (each started 64 KiB one request), counted on the wire at the step nearest the volume's busiest hour; " +
			"a month adds the empty long polls of an idle consumer (pollers × a month ÷ the long-poll wait, an upper bound) and the recurring reads of the dead-letter queue. " +
			"Core-hours: CPU per message at the knee × the month's messages, for the path's own servers. Prices: " + sw.Prices.Source + ".",
	}
	for _, s := range sw.Series {
		if s.Cost == nil {
			continue
		}
		c := s.Cost
		var req []string
		actions := make([]string, 0, len(c.RequestsPerMessage))
		total := 0.0
		for a, n := range c.RequestsPerMessage {
			actions = append(actions, a)
			total += n
		}
		slices.Sort(actions)
		for _, a := range actions {
			req = append(req, fmt.Sprintf("%s %s", strings.TrimSuffix(a, "Message"), num3(c.RequestsPerMessage[a])))
		}
		reqText := dash
		if len(req) > 0 {
			kind := "standard"
			if c.FIFO {
				kind = "FIFO"
			}
			reqText = fmt.Sprintf("%s %s (%s)", kind, num3(total), strings.Join(req, ", "))
		}
		hours := 0.0
		for name, h := range c.CoreHours {
			if name != "sqs" && name != "ml" {
				hours += h
			}
		}
		sqsReq := dash
		if len(req) > 0 {
			sqsReq = perDayText(c.Requests)
		}
		from := v.ref(s, c.SQSStep)
		if c.CPUStep != c.SQSStep {
			from.Ref += ", " + v.ref(s, c.CPUStep).Ref
		}
		t.Rows = append(t.Rows, []cell{{Text: s.Path}, {Text: strconv.FormatFloat(s.Pace, 'g', -1, 64)}, {Text: reqText}, {Text: sqsReq},
			{Text: dollars(c.SQSDollars)}, {Text: num3(hours)}, {Text: dollars(c.CPUDollars)}, {Text: dollars(c.Total)}, from})
	}
	return t
}

// stepsTable is every step of every series.
func (v *sweepView) stepsTable() sweepTable {
	t := sweepTable{
		Title: "Steps",
		Header: []string{"step", "offered msgs/s", "open visits", "connections", "sync p50 / p99, ms", "ml p50 / p99, ms", "all p99, ms",
			"lost", "lag p99 / limit, ms", "cores: path / driver", "steady", "noise", "verdict"},
		Note: "offered: the messages the step's trace scheduled in its measured window ÷ the window (visits arrive at random, so it differs from the target). " +
			"A step's latency is from the scheduled send; lag is the driver's; a step the driver could not keep to its schedule is not trusted. " +
			"steady: whether the step's latency kept rising or deliveries kept coming after its sends (backing up).",
	}
	for _, s := range v.sw.Series {
		for i, st := range s.Steps {
			r := v.ref(s, i)
			t.IDs = append(t.IDs, strings.TrimPrefix(r.Href, "#"))
			row := []cell{{Text: r.Ref}, {Text: rateText(st.Offered) + " (" + rateText(st.Target) + ")"},
				{Text: num3(st.Open)}, {Text: thousands(st.Users)}}
			p := st.Path
			if p == nil {
				row = append(row, cell{Text: dash}, cell{Text: dash}, cell{Text: dash}, cell{Text: dash}, cell{Text: dash}, cell{Text: dash}, cell{Text: dash}, cell{Text: dash},
					cell{Text: "error: " + st.Error})
				t.Rows = append(t.Rows, row)
				continue
			}
			lat := func(g string) string {
				if h := p.FromScheduled[g]; h != nil && h.Count > 0 {
					return ms(h.P50) + " / " + ms(h.P99)
				}
				return dash
			}
			all := dash
			if h := p.FromScheduled["all"]; h != nil && h.Count > 0 {
				all = fmt.Sprintf("%s of %s", ms(h.P99), thousands(int(h.Count)))
			}
			lost := dash
			if l := p.Ledger["all"]; l != nil {
				lost = strconv.Itoa(l.Lost)
			}
			cores := dash
			if span := stepSpan(st); span > 0 {
				own, drv := p.CPUSplit()
				cores = fmt.Sprintf("%.2f / %.2f", own/span, drv/span)
			}
			steady := dash
			if p.Steady != nil {
				steady = "yes"
				if !p.Steady.Steady {
					steady = "backing up"
				}
			}
			noise := dash
			if n := p.Noise; n != nil && n.CPU != nil {
				noise = pctCell(n.CPU.Share)
				if n.Noisy {
					noise += " NOISY"
				}
			}
			row = append(row, cell{Text: lat("class:sync")}, cell{Text: lat("class:ml")}, cell{Text: all}, cell{Text: lost},
				cell{Text: ms(st.LagP99) + " / " + ms(st.LagLimit)}, cell{Text: cores}, cell{Text: steady}, cell{Text: noise}, cell{Text: stepVerdict(s, i)})
			t.Rows = append(t.Rows, row)
		}
	}
	return t
}

// stepSpan is the wall time a step's CPU figures cover, s.
func stepSpan(st *results.Step) float64 {
	if p := st.Path; p != nil && p.Noise != nil && p.Noise.CPU != nil && p.Noise.CPU.SpanSeconds > 0 {
		return p.Noise.CPU.SpanSeconds
	}
	return st.WallSeconds
}

// stepVerdict says what step i of s found.
func stepVerdict(s *results.SweepSeries, i int) string {
	st := s.Steps[i]
	var out string
	switch {
	case st.Error != "":
		out = "error: " + st.Error
	case !st.Trusted && !st.Broke():
		out = fmt.Sprintf("not trusted: the driver's lag p99 %s ms exceeds %s ms", ms(st.LagP99), ms(st.LagLimit))
		if !st.Retry {
			out += "; run again"
		}
	case st.Pass:
		out = "held"
	default:
		var broke []string
		for _, c := range st.Checks {
			if c.Measured && !c.Pass {
				broke = append(broke, c.Rule)
			}
		}
		out = "broke " + strings.Join(broke, ", ")
		if !st.Trusted {
			out += fmt.Sprintf(" (by more than the driver's lag p99 %s ms, above its limit)", ms(st.LagP99))
		}
	}
	if st.Retry {
		out = "retry: " + out
	}
	if i == s.Knee {
		out += " (knee)"
	}
	return out
}

// sweepText writes the sweep's verdict and tables as text, then the
// tables of the paths at their knees.
func sweepText(w io.Writer, run *results.Run) error {
	v := newSweepView(run)
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "chatbench sweep: %s\n%s\n", sweepSummary(run), v.scope())
	for _, n := range allNotes(run) {
		fmt.Fprintln(ew, n)
	}
	fmt.Fprintf(ew, "\nVerdict\n%s\n", wrap(joinCells(v.verdict), 100))
	for _, t := range v.tables {
		if err := t.section().writeText(ew); err != nil {
			return err
		}
		if t.Note != "" {
			fmt.Fprintln(ew, wrap(t.Note, 100))
		}
	}
	if len(run.Paths) > 0 {
		fmt.Fprintf(ew, "\nAt each path's knee (its lowest step when none held): the figures of that step\n")
		for _, s := range sections(run) {
			if err := s.writeText(ew); err != nil {
				return err
			}
		}
	}
	return ew.err
}

// sweepMarkdown writes the sweep as Markdown: the verdict, the knee, CPU
// and cost tables, and the steps folded.
func sweepMarkdown(w io.Writer, run *results.Run) error {
	v := newSweepView(run)
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "### chatbench sweep\n\n%s\n\n%s\n", sweepSummary(run), v.scope())
	for _, n := range allNotes(run) {
		fmt.Fprintf(ew, "\n> %s\n", n)
	}
	fmt.Fprintf(ew, "\n**Verdict.** %s\n", joinCells(v.verdict))
	for _, t := range v.tables {
		t.section().writeMarkdown(ew, t.Title == "Steps", t.Note)
	}
	return ew.err
}

// sweepSummary is the sweep's one-line description: the build and the
// machine (summary's, without the trace, which scope describes).
func sweepSummary(run *results.Run) string {
	m := run.Meta
	s := fmt.Sprintf("chatbench %s (%s), %s, %s, %d cores", cmp.Or(m.Version, "?"), revision(m), cmp.Or(m.GoVersion, "?"), cmp.Or(m.CPUModel, "unknown CPU"), m.Cores)
	if !m.Started.IsZero() {
		s += ", started " + m.Started.UTC().Format("2006-01-02T15:04:05Z")
	}
	return s
}

// scope says what the steps were built from and how they ran.
func (v *sweepView) scope() string {
	sw := v.sw
	r := sw.Reference
	quick := ""
	if sw.Quick {
		quick = " (--quick: shorter steps, fewer bisections)"
	}
	return fmt.Sprintf("Reference: %s, %s messages a day (%s msgs/s on average, %s in its busiest hour) in visits of %.0f messages and %.0f participants over %.1f minutes; "+
		"each step resamples its visits at the step's rate, on fresh processes, %s of warm-up then %s measured%s; steps ×%g until the SLO breaks, then %d bisection(s).",
		r.TraceName, perDayText(r.PerDay()), rateText(r.MeanRate), rateText(r.PeakRate), r.MsgsPerVisit, r.UsersPerVisit, r.VisitSeconds/60,
		durText(sw.WarmupUS), durText(sw.WindowUS), quick, sw.Factor, sw.Refine)
}

// durText formats µs as seconds.
func durText(us int64) string { return strconv.FormatFloat(float64(us)/1e6, 'g', -1, 64) + " s" }

// joinCells writes cells as plain text.
func joinCells(cs []cell) string {
	var b strings.Builder
	for _, c := range cs {
		if c.Ref != "" {
			if c.Text != "" {
				b.WriteString(c.Text)
			}
			b.WriteString(" [" + c.Ref + "]")
			continue
		}
		b.WriteString(c.Text)
	}
	return b.String()
}

// cellTexts is a row as plain text.
func cellTexts(r []cell) []string {
	out := make([]string, len(r))
	for i, c := range r {
		out[i] = c.String()
	}
	return out
}

// wrap breaks s into lines of at most width runes at spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		l := len([]rune(word))
		if i > 0 {
			if n+1+l > width {
				b.WriteByte('\n')
				n = 0
			} else {
				b.WriteByte(' ')
				n++
			}
		}
		b.WriteString(word)
		n += l
	}
	return b.String()
}

// sweepCharts plots latency against offered load for each class, one line
// pair (p50 dashed, p99 solid) per series, log-log, each series' knee
// marked and the SLO's threshold for the class drawn.
func (v *sweepView) sweepCharts() template.HTML {
	var b strings.Builder
	for _, class := range []string{"sync", "ml", "echo"} {
		g := "class:" + class
		var lines []chart.Line
		var marks []chart.Mark
		lo, hi := math.Inf(1), 0.0
		for i, s := range v.sw.Series {
			name := s.Path
			if v.paces > 1 {
				name = s.ID()
			}
			color := seriesColor(v.sw.Series, i)
			p50 := chart.Line{Name: name + " p50", Color: color, Dashed: true}
			p99 := chart.Line{Name: name + " p99", Color: color}
			steps := slices.Clone(s.Steps)
			slices.SortStableFunc(steps, func(a, b *results.Step) int { return cmp.Compare(a.Offered, b.Offered) })
			for _, st := range steps {
				if st.Path == nil {
					continue
				}
				h := st.Path.FromScheduled[g]
				if h == nil || h.Count == 0 || !(st.Offered > 0) {
					continue
				}
				p50.Points = append(p50.Points, chart.Point{X: st.Offered, Y: math.Max(float64(h.P50)/1000, 0.001)})
				p99.Points = append(p99.Points, chart.Point{X: st.Offered, Y: math.Max(float64(h.P99)/1000, 0.001)})
				lo, hi = math.Min(lo, st.Offered), math.Max(hi, st.Offered)
			}
			if len(p99.Points) == 0 {
				continue
			}
			lines = append(lines, p50, p99)
			if k := s.KneeStep(); k != nil && k.Path != nil {
				if h := k.Path.FromScheduled[g]; h != nil && h.Count > 0 {
					marks = append(marks, chart.Mark{X: k.Offered, Y: math.Max(float64(h.P99)/1000, 0.001), Color: color,
						Label: fmt.Sprintf("%s knee %s", name, kneeText(s))})
				}
			}
		}
		if len(lines) == 0 {
			continue
		}
		if th := v.threshold(class); th > 0 && hi > 0 {
			lines = append(lines, chart.Line{Name: fmt.Sprintf("SLO p99 < %s ms", num3(th)), Color: "#555", Dashed: true,
				Points: []chart.Point{{X: lo, Y: th}, {X: hi, Y: th}}})
		}
		fmt.Fprintf(&b, "<h3>class %s</h3>", template.HTMLEscapeString(class))
		b.WriteString(string(chart.LineChart{
			Label: "latency against offered load, class " + class,
			X:     chart.Axis{Title: "offered load, msgs/s", Scale: chart.Log},
			Y:     chart.Axis{Title: "latency from scheduled send, ms", Scale: chart.Log},
			Lines: lines, Marks: marks,
		}.HTML()))
	}
	return template.HTML(b.String()) //nolint:gosec // rendered by package chart
}

// threshold is the SLO's p99 threshold for class, ms (0 without one).
func (v *sweepView) threshold(class string) float64 {
	for _, text := range v.sw.SLO {
		t := strings.ReplaceAll(text, " ", "")
		if !strings.HasPrefix(t, "p99{") || !strings.Contains(t, "class="+class) {
			continue
		}
		if i := strings.IndexByte(t, '<'); i >= 0 {
			if d, err := parseMillis(strings.TrimPrefix(t[i+1:], "=")); err == nil {
				return d
			}
		}
	}
	if class == "echo" {
		for _, text := range v.sw.SLO {
			t := strings.ReplaceAll(text, " ", "")
			if strings.HasPrefix(t, "p99{path=echo}<") {
				if d, err := parseMillis(strings.TrimPrefix(t, "p99{path=echo}<")); err == nil {
					return d
				}
			}
		}
	}
	return 0
}

// parseMillis parses "100ms", "3s" or "850us" into ms.
func parseMillis(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		scale  float64
	}{{"ms", 1}, {"us", 0.001}, {"µs", 0.001}, {"s", 1000}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(rest, 64)
			return f * u.scale, err
		}
	}
	return 0, fmt.Errorf("no unit in %q", s)
}

// seriesColor is series i's colour: its path's, the first time the path
// appears, else one of extra.
func seriesColor(ss []*results.SweepSeries, i int) string {
	if c, ok := pathColors[ss[i].Path]; ok && !slices.ContainsFunc(ss[:i], func(s *results.SweepSeries) bool { return s.Path == ss[i].Path }) {
		return c
	}
	return extra[i%len(extra)]
}

// sweepHTML is the sweep's part of the HTML report: the verdict with
// links to its steps, the charts and the tables.
func sweepHTML(run *results.Run) (template.HTML, error) {
	v := newSweepView(run)
	var b strings.Builder
	err := sweepPage.Execute(&b, struct {
		Scope   string
		Verdict []cell
		Charts  template.HTML
		Tables  []sweepTable
	}{v.scope(), v.verdict, v.sweepCharts(), v.tables})
	return template.HTML(b.String()), err //nolint:gosec // executed by html/template
}

var sweepPage = template.Must(template.New("sweep").Funcs(template.FuncMap{
	// rowID is row i's anchor, if it has one.
	"rowID": func(ids []string, i int) string {
		if i < len(ids) {
			return ids[i]
		}
		return ""
	},
}).Parse(`<p class="scope">{{.Scope}}</p>
<h2>Verdict</h2>
<p class="verdict">{{range .Verdict}}{{if .Href}}{{.Text}} <a href="{{.Href}}">[{{.Ref}}]</a>{{else}}{{.Text}}{{end}}{{end}}</p>
{{if .Charts}}<h2>Latency against offered load</h2>
<p>Each step's p99 (solid) and p50 (dashed) from the scheduled send, per class, against the load it offered; both axes logarithmic. Dots mark each path's knee; the grey dashed line is the SLO's threshold.</p>
{{.Charts}}{{end}}
{{range .Tables}}<h2>{{.Title}}</h2>
<div class="scroll" role="region" aria-label="{{.Title}}" tabindex="0"><table><thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{$ids := .IDs}}{{range $i, $r := .Rows}}<tr{{with rowID $ids $i}} id="{{.}}"{{end}}>{{range $r}}<td>{{if .Href}}{{.Text}} <a href="{{.Href}}">[{{.Ref}}]</a>{{else}}{{.Text}}{{end}}</td>{{end}}</tr>
{{end}}</tbody></table></div>
{{if .Note}}<p class="note-small">{{.Note}}</p>{{end}}
{{end}}`))

// allNotes are the notes above a report's figures: notes' (the SQS
// latency, noisy paths) and a warning for each path that was still backing
// up, whose figures measure queueing.
func allNotes(run *results.Run) []string {
	out := notes(run)
	for _, p := range columns(run) {
		if backingUp(p) {
			out = append(out, fmt.Sprintf("BACKING UP: path %s had not reached a steady state: %s. This figure measures queueing; see `chatbench sweep` for the load at which it stops (docs/results.md, \"Steady state\").", p.Name, p.Steady.Reason))
		}
	}
	return out
}

// backingUp reports whether p was judged still backing up.
func backingUp(p *results.Path) bool { return p.Steady != nil && !p.Steady.Steady }
