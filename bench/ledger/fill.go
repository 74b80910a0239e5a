package ledger

import (
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

// Fill writes the ledger's results into p: Messages' counters (Sent,
// Acked, Rejected, Unacked, Warmup), FromScheduled, FromSent, Ledger, Hops
// and Series. Call it after Finish.
func (l *Ledger) Fill(p *results.Path) error {
	t := l.merge()
	t.fillMessages(p, int(l.sent.Load()))
	if err := t.fillGroups(p); err != nil {
		return err
	}
	if err := t.fillHops(p); err != nil {
		return err
	}
	p.Series = l.series(t.sentPer)
	return nil
}

// totals is every shard's state merged, for Fill.
type totals struct {
	stats    Stats
	rejected map[string]int // by code
	groups   map[string]*group
	hops     map[string]hopHists // by class
	sentPer  map[int]int         // messages sent, by second of the series
	warm     int                 // messages sent in the warm-up
}

// merge merges the shards, each under its lock.
func (l *Ledger) merge() *totals {
	t := &totals{
		rejected: map[string]int{},
		groups:   map[string]*group{"all": newGroup()},
		hops:     map[string]hopHists{},
		sentPer:  map[int]int{},
	}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		t.stats.add(&sh.stats)
		for k, v := range sh.rejected {
			t.rejected[k] += v
		}
		t.addGroups(sh)
		t.addHops(sh)
		l.countSent(t, sh)
		sh.mu.Unlock()
	}
	return t
}

func (t *totals) addGroups(sh *shard) {
	for name, g := range sh.groups {
		sum := t.groups[name]
		if sum == nil {
			sum = newGroup()
			t.groups[name] = sum
		}
		sum.counts.Add(&g.counts)
		sum.fromSched.Merge(g.fromSched)
		sum.fromSent.Merge(g.fromSent)
	}
}

func (t *totals) addHops(sh *shard) {
	for class, hm := range sh.hops {
		sum := t.hops[class]
		if sum == nil {
			sum = hopHists{}
			t.hops[class] = sum
		}
		for name, h := range hm {
			if sum[name] == nil {
				sum[name] = results.NewHDR()
			}
			sum[name].Merge(h)
		}
	}
}

// countSent counts sh's sent messages in the warm-up and per second.
func (l *Ledger) countSent(t *totals, sh *shard) {
	for _, m := range sh.msgs {
		ns := m.sent.Load()
		if ns == 0 {
			continue
		}
		if m.warm(l) {
			t.warm++
		}
		if i, ok := l.secondOf(time.Unix(0, ns)); ok {
			t.sentPer[i]++
		}
	}
}

func (t *totals) fillMessages(p *results.Path, sent int) {
	p.Messages.Sent = sent
	p.Messages.Acked = t.stats.Acked
	p.Messages.Unacked = t.stats.Unacked
	p.Messages.Warmup = t.warm
	if len(t.rejected) > 0 {
		p.Messages.Rejected = t.rejected
	}
}

func (t *totals) fillGroups(p *results.Path) error {
	p.FromScheduled = make(map[string]*results.Histogram, len(t.groups))
	p.FromSent = make(map[string]*results.Histogram, len(t.groups))
	p.Ledger = make(map[string]*results.Counts, len(t.groups))
	for name, g := range t.groups {
		c := g.counts
		p.Ledger[name] = &c
		var err error
		if p.FromScheduled[name], err = results.FromHDR(g.fromSched); err != nil {
			return err
		}
		if p.FromSent[name], err = results.FromHDR(g.fromSent); err != nil {
			return err
		}
	}
	return nil
}

func (t *totals) fillHops(p *results.Path) error {
	p.Hops = make(map[string]map[string]*results.Histogram, len(t.hops))
	for class, hm := range t.hops {
		out := make(map[string]*results.Histogram, len(hm))
		for name, h := range hm {
			x, err := results.FromHDR(h)
			if err != nil {
				return err
			}
			out[name] = x
		}
		p.Hops[class] = out
	}
	return nil
}
