package ledger

// Stats is a snapshot of the ledger's running totals: messages sent,
// acked and rejected, and expected deliveries by outcome (as in
// results.Counts, summed over every group "all").
type Stats struct {
	Sent, Acked, Rejected        int // messages
	Expected, Delivered, Errored int // deliveries
	Lost, Excused, Duplicates    int // deliveries (Lost is set by Finish)
	Reordered, Unexpected        int // extra observations
	Unacked                      int // sent messages never answered; set by Finish
	Outstanding                  int // unanswered messages plus pending deliveries
}

func (s *Stats) add(o *Stats) {
	s.Sent += o.Sent
	s.Acked += o.Acked
	s.Rejected += o.Rejected
	s.Expected += o.Expected
	s.Delivered += o.Delivered
	s.Errored += o.Errored
	s.Lost += o.Lost
	s.Excused += o.Excused
	s.Duplicates += o.Duplicates
	s.Reordered += o.Reordered
	s.Unexpected += o.Unexpected
	s.Unacked += o.Unacked
}

// Stats returns a snapshot of the running totals.
func (l *Ledger) Stats() Stats {
	var s Stats
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		s.add(&sh.stats)
		sh.mu.Unlock()
	}
	s.Sent = int(l.sent.Load())
	s.Outstanding = l.Outstanding()
	return s
}
