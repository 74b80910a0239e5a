package ledger

import "github.com/chatbench/chatbench/chat"

// outcome of one expected delivery.
type outcome uint8

const (
	pending outcome = iota
	delivered
	errored
	lost
	excused
)

// expectation is one delivery an acked message must cause.
type expectation struct {
	job, class, user string
	out              outcome
}

// settle gives e its outcome and counts it.
func (l *Ledger) settle(sh *shard, m *message, e *expectation, out outcome) {
	e.out = out
	for _, g := range sh.groupsOf(e.job, e.class) {
		switch out {
		case delivered:
			g.counts.Delivered++
		case errored:
			g.counts.Errored++
		case lost:
			g.counts.Lost++
		case excused:
			g.counts.Excused++
		}
	}
	switch out {
	case delivered:
		sh.stats.Delivered++
	case errored:
		sh.stats.Errored++
	case lost:
		sh.stats.Lost++
		if !m.warm(l) {
			l.recordSecond(sh, m.scheduled(l), 0, true)
		}
	case excused:
		sh.stats.Excused++
	}
}

// unexpected counts an event of job that no expected delivery accounts for,
// in the groups of job's class.
func (l *Ledger) unexpected(sh *shard, job string) {
	class := ""
	switch {
	case job == chat.RelayJob:
		class = string(chat.ClassRelay)
	case job == Echo:
		class = Echo
	case l.cfg.Catalog != nil && l.cfg.Catalog.Job(job) != nil:
		class = string(l.cfg.Catalog.Job(job).Class)
	}
	for _, g := range sh.groupsOf(job, class) {
		g.counts.Unexpected++
	}
	sh.stats.Unexpected++
}
