package sweep

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/chatbench/chatbench/bench/results"
)

// minCostMessages is the fewest messages a step must have sent for its SQS
// requests per message to price a volume: fewer, and a long poll or two
// more or less moves the figure.
const minCostMessages = 100

// analyze derives each series' capacity at its knee and its cost at the
// sweep's volume from its steps.
func analyze(sw *results.Sweep) {
	for _, s := range sw.Series {
		if s.KneeStep() == nil {
			continue
		}
		s.Capacity = capacity(sw.Reference, s)
		c := cost(sw, s).At(sw.Volume, sw.Prices)
		s.Cost = &c
	}
}

// component is a process's component name: its name without the variant
// and the instance ("direct-server-1" → "server").
func component(variant, process string) string {
	c := strings.TrimPrefix(process, variant+"-")
	if i := strings.LastIndexByte(c, '-'); i > 0 {
		if _, err := strconv.Atoi(c[i+1:]); err == nil {
			c = c[:i]
		}
	}
	return c
}

// standIns are the components that stand in for what a deployment buys
// (the hosted models, SQS): their CPU is not the design's server cores.
var standIns = []string{"ml", "sqs"}

// capacity is s's capacity at its knee step.
func capacity(ref results.Reference, s *results.SweepSeries) *results.Capacity {
	k := s.KneeStep()
	p := k.Path
	c := &results.Capacity{Step: s.Knee, Rate: k.Offered, CPUMillisPerMessage: map[string]float64{}}
	sent := float64(p.Messages.Sent)
	_, drv := p.CPUSplit()
	server := 0.0 // the path's own servers: not the driver, not the stand-ins
	for _, comp := range p.Components {
		if sent > 0 {
			c.CPUMillisPerMessage[comp.Name] += comp.CPUSeconds * 1000 / sent
		}
		if name := component(s.Path, comp.Name); comp.Name != "driver" && !slices.Contains(standIns, name) {
			server += comp.CPUSeconds
		}
	}
	span := k.WallSeconds
	if n := p.Noise; n != nil && n.CPU != nil && n.CPU.SpanSeconds > 0 {
		span = n.CPU.SpanSeconds
		if cap := span * float64(n.CPU.Cores); cap > 0 {
			busy := n.CPU.BusySeconds / cap
			c.MachineBusy = &busy
		}
	}
	if span > 0 {
		c.ServerCores, c.DriverCores = server/span, drv/span
	}
	delivered := 0.0
	if l := p.Ledger["all"]; l != nil {
		delivered = float64(l.Delivered)
	}
	if server > 0 {
		c.PerCore, c.EventsPerCore = sent/server, delivered/server
	}
	if sent > 0 {
		c.EventsPerSecond = k.Offered * delivered / sent
	}
	if ref.PeakRate > 0 {
		c.Headroom = k.Offered / ref.PeakRate
	}
	return c
}

// marginalRatio is how many times the messages of the step with the
// fewest the knee step must have sent for the marginal CPU per message
// between them to be read (cost).
const marginalRatio = 4

// fewest is the index of s's measured step that sent the fewest messages
// (-1 when none did).
func fewest(s *results.SweepSeries) int {
	best := -1
	for i, st := range s.Steps {
		if st.Path == nil || st.Error != "" || st.Path.Messages.Sent == 0 {
			continue
		}
		if best < 0 || st.Path.Messages.Sent < s.Steps[best].Path.Messages.Sent {
			best = i
		}
	}
	return best
}

// cpuPerMessage is the CPU-ms per message of each component (the driver
// left out) of step k: its CPU ÷ its messages, or with base the marginal
// cost, (k's CPU − base's) ÷ (k's messages − base's), not below 0.
func cpuPerMessage(variant string, k, base *results.Step) map[string]float64 {
	cpu := func(st *results.Step) map[string]float64 {
		out := map[string]float64{}
		for _, comp := range st.Path.Components {
			if comp.Name != "driver" {
				out[component(variant, comp.Name)] += comp.CPUSeconds
			}
		}
		return out
	}
	out := map[string]float64{}
	sent := float64(k.Path.Messages.Sent)
	kc := cpu(k)
	var bc map[string]float64
	if base != nil {
		sent -= float64(base.Path.Messages.Sent)
		bc = cpu(base)
	}
	if sent <= 0 {
		return out
	}
	for name, sec := range kc {
		out[name] = max(sec-bc[name], 0) * 1000 / sent
	}
	return out
}

// perMessage reports whether an SQS action's requests grow with messages
// (the rest recur with time, or happen once at start-up).
func perMessage(action string) bool {
	for _, p := range []string{"Send", "Receive", "Delete", "ChangeMessageVisibility"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// recurring reports whether an SQS action recurs with time rather than
// with messages (the worker's reading of the dead-letter queue's depth);
// the others that are not per message happen once at start-up
// (CreateQueue, GetQueueUrl, SetQueueAttributes) and are not priced.
func recurring(action string) bool { return action == "GetQueueAttributes" }

// cost is s's per-message cost figures (not yet evaluated at a volume).
func cost(sw *results.Sweep, s *results.SweepSeries) results.Cost {
	c := results.Cost{SQSStep: s.Knee, CPUStep: s.Knee, CPUMillisPerMessage: map[string]float64{}}
	k := s.KneeStep()
	c.CPUMillisPerMessage = cpuPerMessage(s.Path, k, nil)
	// Marginal CPU per message, from the knee step and the step that sent
	// the fewest messages: each step pays start-up and connecting, which
	// over a thin step's few messages swamp what a message costs, and
	// which a deployment pays once, not per message.
	if base := fewest(s); base >= 0 && base != s.Knee && k.Path.Messages.Sent >= marginalRatio*s.Steps[base].Path.Messages.Sent {
		c.CPUMillisPerMessage = cpuPerMessage(s.Path, k, s.Steps[base])
		c.CPUMarginal, c.CPUBaseStep = true, base
	}
	// The SQS figures: the step that held nearest the volume's peak rate,
	// with enough messages to count.
	want := sw.Reference.PeakAt(sw.Volume)
	best := math.Inf(1)
	for i, st := range s.Steps {
		if !st.Held() || st.Path.Messages.Sent < minCostMessages || len(st.SQS) == 0 {
			continue
		}
		if d := math.Abs(math.Log(st.Offered / want)); d < best {
			best, c.SQSStep = d, i
		}
	}
	st := s.Steps[c.SQSStep]
	if len(st.SQS) == 0 {
		return c
	}
	sent := float64(st.Path.Messages.Sent)
	c.RequestsPerMessage = map[string]float64{}
	var fifo, standard int64
	pollers, wait := 0, int64(0)
	for _, other := range s.Steps {
		for _, n := range other.SQS {
			if n.Action == "ReceiveMessage" {
				pollers, wait = max(pollers, n.Pollers), max(wait, n.WaitUS)
			}
		}
	}
	for _, n := range st.SQS {
		switch {
		case perMessage(n.Action):
			billed := n.Billed
			if n.Action == "ReceiveMessage" {
				billed -= n.Empty
			}
			if sent > 0 {
				c.RequestsPerMessage[n.Action] += float64(billed) / sent
			}
			if n.Queue == "fifo" {
				fifo += billed
			} else {
				standard += billed
			}
		case recurring(n.Action):
			c.Periodic += n.PollRate(st.WallSeconds) * results.MonthSeconds
		}
	}
	c.FIFO = fifo > standard
	if wait > 0 {
		c.IdlePolls = float64(pollers) * results.MonthSeconds / (float64(wait) / 1e6)
	}
	return c
}
