package report

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

// soakSection is the soak figures of run's paths carrying a Soak (one
// column per path), or false if none does.
func soakSection(run *results.Run) (section, bool) {
	var paths []*results.Path
	for _, p := range run.Paths {
		if p != nil && p.Soak != nil {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return section{}, false
	}
	s := section{title: "Soak: the server before, while and after holding the connections", header: []string{""}}
	for _, p := range paths {
		s.header = append(s.header, p.Name)
	}
	add := func(label string, f func(p *results.Path, k *results.Soak) string) {
		row := []string{label}
		for _, p := range paths {
			row = append(row, f(p, p.Soak))
		}
		s.rows = append(s.rows, row)
	}
	add("connections held", func(_ *results.Path, k *results.Soak) string {
		return fmt.Sprintf("%d (%d active), %s", k.Opened, k.Active, us(k.HeldUS).Round(time.Second))
	})
	add("goroutines: baseline / peak / after", func(_ *results.Path, k *results.Soak) string {
		return fmt.Sprintf("%d / %d / %d", k.Baseline.Goroutines, k.Peak.Goroutines, k.After.Goroutines)
	})
	add("heap+stacks MiB: baseline / peak / after", func(_ *results.Path, k *results.Soak) string {
		if k.Baseline.Held() == 0 {
			return dash // written before held memory was sampled
		}
		return mibs(k.Baseline.Held()) + " / " + mibs(k.Peak.Held()) + " / " + mibs(k.After.Held())
	})
	add("RSS MiB: baseline / peak / after", func(_ *results.Path, k *results.Soak) string {
		return mibs(k.Baseline.RSS) + " / " + mibs(k.Peak.RSS) + " / " + mibs(k.After.RSS)
	})
	add("server goroutines per connection", func(_ *results.Path, k *results.Soak) string {
		return fmt.Sprintf("%.2f", k.ServerGoroutinesPerConn())
	})
	add("server heap+stacks per connection", func(_ *results.Path, k *results.Soak) string {
		if k.Baseline.Held() == 0 {
			return dash
		}
		return fmt.Sprintf("%.1f KiB", k.ServerHeldPerConn()/1024)
	})
	add("server RSS per connection", func(_ *results.Path, k *results.Soak) string {
		return fmt.Sprintf("%.1f KiB", k.ServerBytesPerConn()/1024)
	})
	add("driver heap+stack per connection", func(_ *results.Path, k *results.Soak) string {
		return fmt.Sprintf("%.1f KiB", k.DriverBytesPerConn/1024)
	})
	add("server CPU (its /metrics)", func(_ *results.Path, k *results.Soak) string {
		return fmt.Sprintf("%.1f s", k.ServerCPUSeconds)
	})
	for _, name := range componentNames(paths) {
		add("CPU s / peak MiB: "+name, func(p *results.Path, _ *results.Soak) string {
			i := slices.IndexFunc(p.Components, func(c results.Component) bool { return c.Name == name })
			if i < 0 {
				return dash
			}
			c := p.Components[i]
			return fmt.Sprintf("%.1f / %s", c.CPUSeconds, mibs(c.PeakRSS))
		})
	}
	add("frames sent / received", func(_ *results.Path, k *results.Soak) string {
		return fmt.Sprintf("%d / %d", k.Sent, k.Received)
	})
	add("errors / disconnects", func(_ *results.Path, k *results.Soak) string {
		return fmt.Sprintf("%d / %d", k.Errors, k.Disconnects)
	})
	add("failed samples", func(_ *results.Path, k *results.Soak) string { return fmt.Sprint(k.SampleErrors) })
	add("settle time", func(_ *results.Path, k *results.Soak) string {
		return us(k.SettleUS).Round(100 * time.Millisecond).String()
	})
	add("goroutines back at baseline", func(_ *results.Path, k *results.Soak) string {
		return fmt.Sprintf("%s (after %d ≤ limit %d)", yes(k.GoroutinesOK), k.After.Goroutines, k.GoroutineLimit)
	})
	add("collections after the close", func(_ *results.Path, k *results.Soak) string {
		if k.Baseline.Held() == 0 {
			return dash
		}
		return fmt.Sprint(k.GCsAfterClose)
	})
	add("memory back near baseline", memoryVerdict)
	return s, true
}

// memoryVerdict is the soak's memory check: on the heap+stacks the server
// holds, or, in documents written before that was judged, on RSS.
func memoryVerdict(_ *results.Path, k *results.Soak) string {
	switch {
	case k.HeldLimit > 0:
		v := fmt.Sprintf("%s (heap+stacks after %s ≤ limit %s MiB)", yes(k.MemoryOK), mibs(k.After.Held()), mibs(k.HeldLimit))
		if !k.MemoryOK && k.GCsAfterClose == 0 {
			// Held memory then still counts garbage: not a leak shown.
			v += "; no collection after the close, so not yet known — a longer --settle lets the runtime collect"
		}
		return v
	case k.HeldLimit == 0 && k.RSSLimit >= 0:
		return fmt.Sprintf("%s (RSS after %s ≤ limit %s MiB)", yes(k.MemoryOK), mibs(k.After.RSS), mibs(k.RSSLimit))
	}
	return "not checked"
}

// componentNames returns the union of the paths' component names, in
// order of appearance.
func componentNames(paths []*results.Path) []string {
	var names []string
	for _, p := range paths {
		for _, c := range p.Components {
			if !slices.Contains(names, c.Name) {
				names = append(names, c.Name)
			}
		}
	}
	return names
}

func us(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

func mibs(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// SoakTable writes the soak figures of run (`chatbench soak`): per soaked
// path, the server's goroutines, held memory (heap+stacks, judged) and RSS
// (recorded) at the baseline, the peak and after the settle, what each connection cost, every process's CPU and
// peak memory, and whether the server came back (docs/reliability.md,
// "Soak"). It writes nothing but a note when no path carries a Soak.
func SoakTable(w io.Writer, run *results.Run) error {
	s, ok := soakSection(run)
	return writeOne(w, "soak", run, s, ok, "no soak in this run")
}
