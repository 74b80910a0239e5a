package trace

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

// MaxErrors is how many errors Validate collects before it stops listing
// them (it still reads the whole trace for its Stats).
const MaxErrors = 100

// Stats summarises a trace.
type Stats struct {
	// Header is the trace's header.
	Header Header
	// Messages is the number of valid message lines.
	Messages int
	// Conversations is the number of distinct conversations.
	Conversations int
	// Participants is the number of distinct users; Patients and Providers
	// split it by role.
	Participants, Patients, Providers int
	// Duration is the offset of the last message.
	Duration time.Duration
	// PerHour counts messages per hour from the start (index 0 = first hour).
	PerHour []int
	// ByType counts messages per type; ByTypeRole per type and sender role.
	ByType     map[string]int
	ByTypeRole map[string]map[chat.Role]int
	// ByRole counts messages per sender role.
	ByRole map[chat.Role]int
	// SizeP50, SizeP99 and SizeMax are body size percentiles in bytes.
	SizeP50, SizeP99, SizeMax int
	// perSecond counts messages per second from the start, sparse (at most
	// one entry per message however long the trace), for Buckets.
	perSecond map[int64]int
}

// membership states of a user in a conversation.
const (
	stateOut    = iota // never joined
	stateJoined        // joined, not left
	stateLeft          // left (may join again)
)

type convUser struct{ conv, user string }

// validator holds what Validate must remember across lines.
type validator struct {
	st      Stats
	members map[convUser]int
	ids     map[convUser]struct{} // (user, id) pairs seen
	roles   map[string]chat.Role
	convs   map[string]struct{}
	sizes   map[int]int
}

func newValidator(h Header) *validator {
	return &validator{
		st: Stats{Header: h, ByType: map[string]int{}, ByTypeRole: map[string]map[chat.Role]int{},
			ByRole: map[chat.Role]int{}, perSecond: map[int64]int{}},
		members: map[convUser]int{},
		ids:     map[convUser]struct{}{},
		roles:   map[string]chat.Role{},
		convs:   map[string]struct{}{},
		sizes:   map[int]int{},
	}
}

// check applies the checks that span lines and counts rec when it passes.
func (v *validator) check(line int, rec Record) *LineError {
	if r, ok := v.roles[rec.User]; ok && r != rec.Role {
		return lineErr(line, "role", "user %q was a %s on an earlier line and is a %s here: a user keeps one role", rec.User, r, rec.Role)
	}
	key := convUser{rec.User, rec.ID}
	if _, dup := v.ids[key]; dup {
		return lineErr(line, "id", "%q was already used by user %q: ids must be unique per user", truncate(rec.ID, 32), rec.User)
	}
	cu := convUser{rec.Conv, rec.User}
	state := v.members[cu]
	switch rec.Type {
	case jobs.TypeJoin:
		if state == stateJoined {
			return lineErr(line, "type", "user %q already joined conversation %q: remove this join or add a leave before it", rec.User, rec.Conv)
		}
		v.members[cu] = stateJoined
	case jobs.TypeLeave:
		if state != stateJoined {
			return lineErr(line, "type", "user %q leaves conversation %q without having joined it: add a join before it or remove the leave", rec.User, rec.Conv)
		}
		v.members[cu] = stateLeft
	default:
		switch state {
		case stateOut:
			return lineErr(line, "conv", "user %q sends to conversation %q before joining it: add a join line for the user earlier", rec.User, rec.Conv)
		case stateLeft:
			return lineErr(line, "conv", "user %q sends to conversation %q after leaving it: move the message before the leave or join again", rec.User, rec.Conv)
		}
	}
	v.ids[key] = struct{}{}
	v.count(rec)
	return nil
}

func (v *validator) count(rec Record) {
	st := &v.st
	st.Messages++
	if _, ok := v.roles[rec.User]; !ok {
		v.roles[rec.User] = rec.Role
		st.Participants++
		if rec.Role == chat.RolePatient {
			st.Patients++
		} else {
			st.Providers++
		}
	}
	if _, ok := v.convs[rec.Conv]; !ok {
		v.convs[rec.Conv] = struct{}{}
		st.Conversations++
	}
	st.ByType[rec.Type]++
	st.ByRole[rec.Role]++
	m := st.ByTypeRole[rec.Type]
	if m == nil {
		m = map[chat.Role]int{}
		st.ByTypeRole[rec.Type] = m
	}
	m[rec.Role]++
	h := int(rec.T / int64(time.Hour/time.Microsecond))
	for len(st.PerHour) <= h {
		st.PerHour = append(st.PerHour, 0)
	}
	st.PerHour[h]++
	st.perSecond[rec.T/int64(time.Second/time.Microsecond)]++
	if d := rec.Offset(); d > st.Duration {
		st.Duration = d
	}
	v.sizes[rec.Size]++
}

func (v *validator) finish() Stats {
	st := v.st
	keys := make([]int, 0, len(v.sizes))
	for k := range v.sizes {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	pct := func(p float64) int {
		// nearest-rank percentile
		rank := int(p*float64(st.Messages) + 0.999999)
		if rank < 1 {
			rank = 1
		}
		seen := 0
		for _, k := range keys {
			seen += v.sizes[k]
			if seen >= rank {
				return k
			}
		}
		return 0
	}
	if st.Messages > 0 {
		st.SizeP50, st.SizeP99, st.SizeMax = pct(0.50), pct(0.99), keys[len(keys)-1]
	}
	return st
}

// Validate reads a whole trace (plain or gzip) and checks every line: the
// header, each line on its own (see Reader), and across lines: a user sends
// to a conversation only between their join and their leave, ids are unique
// per user, a user keeps one role, and the header's counts (when non-zero)
// match. It returns the Stats of the valid lines and up to MaxErrors errors,
// each a *LineError unless the trace could not be read further. A trace is
// valid when the slice is empty.
func Validate(r io.Reader) (Stats, []error) {
	tr, err := NewReader(r)
	if err != nil {
		return Stats{}, []error{err}
	}
	v := newValidator(tr.Header())
	var errs []error
	total := 0
	add := func(err error) {
		total++
		if len(errs) < MaxErrors {
			errs = append(errs, err)
		}
	}
	for {
		rec, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			add(err)
			var le *LineError
			if !errors.As(err, &le) || tr.err != nil {
				break
			}
			continue
		}
		if le := v.check(tr.Line(), rec); le != nil {
			add(le)
		}
	}
	st := v.finish()
	h := tr.Header()
	if total == 0 {
		if h.Messages != 0 && h.Messages != st.Messages {
			add(lineErr(1, "messages", "header says %d but the trace has %d: set it to %d (or 0 for unknown)", h.Messages, st.Messages, st.Messages))
		}
		if h.Conversations != 0 && h.Conversations != st.Conversations {
			add(lineErr(1, "conversations", "header says %d but the trace has %d: set it to %d (or 0 for unknown)", h.Conversations, st.Conversations, st.Conversations))
		}
	}
	if total > len(errs) {
		errs = append(errs, fmt.Errorf("trace: %d more errors not listed", total-len(errs)))
	}
	return st, errs
}
