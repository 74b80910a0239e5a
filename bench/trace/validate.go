package trace

import (
	"bytes"
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

// Option sets what Validate and Load check beyond the format itself.
type Option func(*checks)

// checks is what the Options set.
type checks struct {
	maxFrame int // 0: no frame limit
}

// MaxFrameBytes sets the largest client frame the server replaying the
// trace reads (its `--max-frame`): a message whose frame, as the driver
// encodes it (Record.FrameSize), is bigger is refused, since the server
// would close the connection on it with 1009. Zero means
// DefaultMaxFrameBytes, which applies without this option; negative turns
// the check off.
func MaxFrameBytes(n int) Option {
	return func(c *checks) {
		switch {
		case n == 0:
			c.maxFrame = DefaultMaxFrameBytes
		case n < 0:
			c.maxFrame = 0
		default:
			c.maxFrame = n
		}
	}
}

func checksOf(opts []Option) checks {
	c := checks{maxFrame: DefaultMaxFrameBytes}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// validator holds what Validate must remember across lines.
type validator struct {
	checks
	st      Stats
	members map[convUser]int
	ids     map[convUser]struct{} // (user, id) pairs seen
	roles   map[string]chat.Role
	convs   map[string]struct{}
	sizes   map[int]int
}

func newValidator(h Header, c checks) *validator {
	return &validator{
		checks: c,
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
	if le := v.checkFrame(line, rec); le != nil {
		return le
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

// checkFrame refuses rec when its frame does not fit the frame limit.
func (v *validator) checkFrame(line int, rec Record) *LineError {
	if v.maxFrame <= 0 {
		return nil
	}
	n := rec.FrameSize()
	if n <= v.maxFrame {
		return nil
	}
	over := n - v.maxFrame
	limit := fmt.Sprintf("over the server's %d-byte frame limit (it would close the connection with 1009)", v.maxFrame)
	fix := "or, for a server run with a larger --max-frame, validate with --max-frame-bytes set to it"
	if rec.Body == "" {
		return lineErr(line, "size", "%d gives a %d-byte client frame, %s: lower size to at most %d, %s",
			rec.Size, n, limit, max(0, rec.Size-over), fix)
	}
	return lineErr(line, "body", "gives a %d-byte client frame (with its JSON escaping), %s: shorten it by at least %d encoded bytes, %s",
		n, limit, over, fix)
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
// header, each line on its own (see Reader), each message's client frame
// against the server's frame limit (DefaultMaxFrameBytes unless opts say
// otherwise), and across lines: a user sends to a conversation only
// between their join and their leave, ids are unique per user, a user
// keeps one role, and the header's counts (when non-zero) match. It
// returns the Stats of the valid lines and up to MaxErrors errors, each a
// *LineError unless the trace could not be read further. A trace is valid
// when the slice is empty.
func Validate(r io.Reader, opts ...Option) (Stats, []error) {
	st, errs, _ := validate(r, checksOf(opts), nil)
	return st, errs
}

// validate is Validate, handing each valid record to keep (when not nil)
// and returning how many errors there were in all.
func validate(r io.Reader, c checks, keep func(Record)) (Stats, []error, int) {
	tr, err := NewReader(r)
	if err != nil {
		return Stats{}, []error{err}, 1
	}
	v := newValidator(tr.Header(), c)
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
		} else if keep != nil {
			keep(rec)
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
	return st, errs, total
}

// InvalidError is a trace Load refused: Errs are its problems as Validate
// lists them (each a *LineError unless the trace could not be read
// further), Total how many there are in all.
type InvalidError struct {
	Errs  []error
	Total int
}

// Error names the first problem and points to `trace validate` for the
// others.
func (e *InvalidError) Error() string {
	if e.Total <= 1 {
		return fmt.Sprintf("%v (check the trace with `chatbench trace validate`)", e.Errs[0])
	}
	return fmt.Sprintf("%v (and %d more problems: list them with `chatbench trace validate`)", e.Errs[0], e.Total-1)
}

// Unwrap returns the problems, so errors.As finds the first *LineError.
func (e *InvalidError) Unwrap() []error { return e.Errs }

// Load reads a whole trace held in memory (plain or gzip) and validates it
// as Validate does with opts, in one pass. Commands that replay a trace
// call it before they start anything, so that a trace the replay cannot
// use — a duplicate id, a send before its join, a frame over the server's
// limit — stops them with its line number. A trace with problems gives an
// *InvalidError; one without messages is refused too.
func Load(raw []byte, opts ...Option) (Header, []Record, error) {
	var recs []Record
	st, errs, total := validate(bytes.NewReader(raw), checksOf(opts), func(r Record) { recs = append(recs, r) })
	if len(errs) > 0 {
		return Header{}, nil, &InvalidError{Errs: errs, Total: max(total, len(errs))}
	}
	if len(recs) == 0 {
		return Header{}, nil, errors.New("the trace holds no messages: add message lines after the header")
	}
	return st.Header, recs, nil
}
