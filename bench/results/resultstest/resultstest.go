// Package resultstest builds deterministic, realistic results documents for
// the tests of the packages that read them (report, gate, the CLI).
package resultstest

import (
	"fmt"
	"math"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

// Job is one job of the fixture: its class and how many deliveries it has.
type Job struct {
	Name  string
	Class string
	N     int
}

// Jobs are the fixture's jobs, by class.
var Jobs = []Job{
	{"wait_time", "sync", 400},
	{"read_receipt", "sync", 600},
	{"triage", "ml", 300},
	{"summarize", "ml", 150},
	{"text", "relay", 1200},
	{"typing", "relay", 800},
}

// medians are each path's median latency per class, µs.
var medians = map[string]map[string]float64{
	"direct": {"sync": 1800, "ml": 420_000, "relay": 1500},
	"queue":  {"sync": 46_000, "ml": 910_000, "relay": 41_000},
	"echo":   {"echo": 310},
}

// Values returns n deterministic latencies, µs, log-logistically spread
// around median (spread 0 gives n copies of median).
func Values(n int, median, spread float64) []int64 {
	out := make([]int64, n)
	for i := range out {
		u := (float64(i) + 0.5) / float64(n)
		v := median * math.Pow(u/(1-u), spread)
		out[i] = max(1, int64(math.Round(v)))
	}
	return out
}

// Hist builds a results histogram of vals.
func Hist(vals []int64) *results.Histogram {
	h := results.NewHDR()
	for _, v := range vals {
		if err := h.RecordValue(v); err != nil {
			panic(err)
		}
	}
	x, err := results.FromHDR(h)
	if err != nil {
		panic(err)
	}
	return x
}

// hopShare is each hop's share of a class's latency on each path.
var hopShare = map[string]map[string]float64{
	"direct": {"ingress": 0.1, "dispatch": 0.05, "ml": 0.6, "handler": 0.15, "emit": 0.05, "egress": 0.05},
	"queue":  {"ingress": 0.03, "queue_send": 0.12, "queue_wait": 0.3, "dispatch": 0.05, "ml": 0.3, "handler": 0.05, "callback": 0.1, "emit": 0.02, "egress": 0.03},
}

// Run returns the fixture: the direct and queue paths and the echo floor
// replaying one trace, every latency multiplied by slow (1 for the
// reference run). The queue path loses 2 ml deliveries and duplicates 1.
func Run(slow float64) *results.Run {
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	run := &results.Run{
		Schema: results.SchemaVersion,
		Meta: results.Meta{
			Version: "v0.4.0", Revision: "0123456789abcdef0123456789abcdef01234567", GoVersion: "go1.26.8",
			OS: "linux", Arch: "amd64", CPUModel: "Example CPU @ 2.40GHz", Cores: 2, Hostname: "bench-1",
			Started: start, TraceName: "day", TraceDigest: "9f2c5e0d1a7b4c3e8f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e",
			TraceMsgs: 14700, Speed: 1440, Clock: "shared",
			Config: map[string]string{"ml-profile": "realistic", "sqs-latency": "aws", "workers": "4"},
			Shards: 1,
		},
	}
	for pi, name := range []string{"direct", "queue", "echo"} {
		p := &results.Path{
			Name: name, Target: fmt.Sprintf("ws://127.0.0.1:%d/ws", 8081+pi),
			Start:         start.Add(time.Duration(pi) * 2 * time.Minute),
			FromScheduled: map[string]*results.Histogram{}, FromSent: map[string]*results.Histogram{},
			Ledger: map[string]*results.Counts{}, Hops: map[string]map[string]*results.Histogram{},
		}
		p.End = p.Start.Add(60 * time.Second)
		jobs := Jobs
		if name == "echo" {
			jobs = []Job{{"echo", "echo", 2000}}
		}
		var all, allSent []int64
		byClass := map[string][]int64{}
		byClassSent := map[string][]int64{}
		var classes []string
		for _, j := range jobs {
			med := medians[name][j.Class] * slow
			vals := Values(j.N, med*(1+0.1*float64(len(j.Name)%3)), 0.25)
			sent := Values(j.N, med*0.95, 0.25)
			c := &results.Counts{Expected: j.N, Delivered: j.N}
			if name == "queue" && j.Name == "triage" {
				c.Delivered -= 2
				c.Lost = 2
				c.Duplicates = 1
				vals, sent = vals[:j.N-2], sent[:j.N-2]
			}
			if name == "queue" && j.Class == "relay" {
				c.Reordered = 3
			}
			p.FromScheduled["job:"+j.Name] = Hist(vals)
			p.FromSent["job:"+j.Name] = Hist(sent)
			p.Ledger["job:"+j.Name] = c
			add(p.Ledger, "class:"+j.Class, c)
			add(p.Ledger, "all", c)
			if _, ok := byClass[j.Class]; !ok {
				classes = append(classes, j.Class)
			}
			byClass[j.Class] = append(byClass[j.Class], vals...)
			byClassSent[j.Class] = append(byClassSent[j.Class], sent...)
			all = append(all, vals...)
			allSent = append(allSent, sent...)
		}
		for _, class := range classes {
			p.FromScheduled["class:"+class] = Hist(byClass[class])
			p.FromSent["class:"+class] = Hist(byClassSent[class])
			if shares, ok := hopShare[name]; ok {
				hops := map[string]*results.Histogram{}
				for hop, share := range shares {
					if hop == "ml" && class != "ml" {
						continue
					}
					hops[hop] = Hist(Values(200, medians[name][class]*slow*share, 0.3))
				}
				p.Hops["class:"+class] = hops
			}
		}
		p.FromScheduled["all"] = Hist(all)
		p.FromSent["all"] = Hist(allSent)
		p.ScheduleLag = Hist(Values(1000, 40, 0.5))
		p.Connect = Hist(Values(120, 900, 0.3))
		total := 0
		for t := range 60 {
			sent := 40 + (t*37)%41
			total += sent
			f := 1 + float64(t%10)/20
			base := p.FromScheduled["all"]
			p.Series = append(p.Series, results.Second{
				T: t, Sent: sent, Delivered: sent * 3, Lost: boolInt(name == "queue" && t == 31),
				P50: int64(float64(base.P50) * f), P99: int64(float64(base.P99) * f), Max: int64(float64(base.Max) * f),
			})
		}
		p.Messages = results.Messages{Scheduled: total, Sent: total, Acked: total, Warmup: 150, PerSecond: float64(total) / 60}
		if name == "queue" {
			p.Messages.Acked -= 1
			p.Messages.Rejected = map[string]int{"rate_limited": 1}
		}
		switch name {
		case "direct":
			p.Components = []results.Component{comp("server", 11.5*slow, 96<<20), comp("ml", 2.25, 41<<20), comp("driver", 6.5, 70<<20)}
		case "queue":
			p.Components = []results.Component{comp("gateway", 9.75*slow, 88<<20), comp("worker", 7.5, 64<<20), comp("sqs", 5.25, 120<<20), comp("ml", 2.25, 41<<20), comp("driver", 6.5, 70<<20)}
		case "echo":
			p.Components = []results.Component{comp("echo", 3.5, 30<<20), comp("driver", 5, 66<<20)}
		}
		run.Paths = append(run.Paths, p)
	}
	return run
}

func add(m map[string]*results.Counts, k string, c *results.Counts) {
	if m[k] == nil {
		m[k] = &results.Counts{}
	}
	m[k].Add(c)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func comp(name string, cpu float64, rss int64) results.Component {
	return results.Component{Name: name, CPUSeconds: cpu, PeakRSS: rss}
}

// Repeats returns a run whose paths each hold one repeat per entry of slow
// (results.PoolRepeats): repeat i is Run(slow[i])'s path, started a minute
// 7 minutes after repeat i-1 (after the other paths, as interleaved repeats are), so that the statistics
// across repeats see one figure per slow factor.
func Repeats(slow ...float64) *results.Run {
	if len(slow) == 0 {
		panic("resultstest.Repeats: no slow factors")
	}
	var run *results.Run
	var reps [][]*results.Path
	for i, s := range slow {
		r := Run(s)
		if i == 0 {
			run = &results.Run{Schema: r.Schema, Meta: r.Meta, Paths: make([]*results.Path, len(r.Paths))}
			reps = make([][]*results.Path, len(r.Paths))
		}
		for pi, p := range r.Paths {
			shift := time.Duration(i) * 7 * time.Minute
			p.Start, p.End = p.Start.Add(shift), p.End.Add(shift)
			reps[pi] = append(reps[pi], p)
		}
	}
	for pi := range run.Paths {
		pooled, err := results.PoolRepeats(reps[pi])
		if err != nil {
			panic(err)
		}
		run.Paths[pi] = pooled
	}
	return run
}
