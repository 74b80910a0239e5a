package ledger

import (
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/chatbench/chatbench/bench/results"
)

// group is one result group's counts and histograms.
type group struct {
	counts    results.Counts
	fromSched *hdrhistogram.Histogram
	fromSent  *hdrhistogram.Histogram
}

func newGroup() *group {
	return &group{fromSched: results.NewHDR(), fromSent: results.NewHDR()}
}

// groupsOf returns the groups a delivery of job in class counts in: all,
// its class and its job. The caller must not modify the slice.
func (sh *shard) groupsOf(job, class string) []*group {
	k := [2]string{job, class}
	if out, ok := sh.groupsJC[k]; ok {
		return out
	}
	out := make([]*group, 0, 3)
	out = append(out, sh.group("all"))
	if class != "" {
		out = append(out, sh.group("class:"+class))
	}
	if job != "" {
		out = append(out, sh.group("job:"+job))
	}
	sh.groupsJC[k] = out
	return out
}

func (sh *shard) group(name string) *group {
	g := sh.groups[name]
	if g == nil {
		g = newGroup()
		sh.groups[name] = g
	}
	return g
}

// Groups returns the names of the groups seen, sorted.
func (l *Ledger) Groups() []string {
	seen := map[string]bool{}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for n := range sh.groups {
			seen[n] = true
		}
		sh.mu.Unlock()
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Counts returns the counts of group name (zero if unseen).
func (l *Ledger) Counts(name string) results.Counts {
	var c results.Counts
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		if g := sh.groups[name]; g != nil {
			c.Add(&g.counts)
		}
		sh.mu.Unlock()
	}
	return c
}
