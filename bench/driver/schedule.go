package driver

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/chatbench/chatbench/bench/ledger"
	"github.com/chatbench/chatbench/bench/trace"
)

// schedule is what a replay sends: the records in the order of their
// instants, and the warm-up.
type schedule struct {
	recs []trace.Record
	span time.Duration // the last record's instant
	warm time.Duration // Config.Warmup resolved
}

// schedule cuts cfg.Records to Limit, orders them by their replay instants
// (retime), cuts them to Duration and resolves the warm-up. It fails when
// nothing is left to send.
func (c *Config) schedule() (*schedule, error) {
	recs := c.Records
	if c.Limit > 0 && len(recs) > c.Limit {
		recs = recs[:c.Limit]
	}
	recs = c.retime(recs)
	if c.Duration > 0 {
		for i, r := range recs {
			if c.at(r) > c.Duration {
				recs = recs[:i]
				break
			}
		}
	}
	if len(recs) == 0 {
		return nil, errors.New("driver: no messages to send (empty trace, or --limit/--duration too small)")
	}
	span := c.at(recs[len(recs)-1])
	return &schedule{recs: recs, span: span, warm: c.warmup(span)}, nil
}

// warmup resolves Config.Warmup for a replay lasting span: zero means 5s,
// or none when the replay is shorter than 4× that; negative means none.
func (c *Config) warmup(span time.Duration) time.Duration {
	const def = 5 * time.Second
	switch {
	case c.Warmup < 0:
		return 0
	case c.Warmup == 0 && span >= 4*def:
		return def
	}
	return c.Warmup
}

// at returns r's wall-clock offset from the replay's start.
func (c *Config) at(r trace.Record) time.Duration {
	start := c.convStart[r.Conv]
	return time.Duration(float64(start)/c.Speed + float64(r.Offset()-start)/c.Pace)
}

// retime computes each conversation's start and orders recs by their
// replay instants (which differ from trace order when Pace ≠ Speed); the
// order within each conversation is kept.
func (c *Config) retime(recs []trace.Record) []trace.Record {
	c.convStart = map[string]time.Duration{}
	for _, r := range recs {
		if _, ok := c.convStart[r.Conv]; !ok {
			c.convStart[r.Conv] = r.Offset()
		}
	}
	out := slices.Clone(recs)
	slices.SortStableFunc(out, func(a, b trace.Record) int { return cmp.Compare(c.at(a), c.at(b)) })
	return out
}

// planned is one record with what its send needs worked out before the
// replay starts, so the sender does no lookups at the scheduled instant.
type planned struct {
	r   *trace.Record
	at  time.Duration // offset from the start (Config.at)
	p   *peer
	led ledger.Handle
}

// plan splits recs among n senders by user (so each user's messages keep
// their order), looking up what each send needs.
func (s *scheduler) plan(recs []trace.Record, n int) [][]planned {
	parts := make([][]planned, n)
	idx := map[string]int{}
	for k := range recs {
		r := &recs[k]
		i, ok := idx[r.User]
		if !ok {
			i = len(idx) % n
			idx[r.User] = i
		}
		parts[i] = append(parts[i], planned{r: r, at: s.cfg.at(*r), p: s.peers[r.User], led: s.led.Handle(r.User, r.ID)})
	}
	return parts
}
