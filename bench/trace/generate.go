package trace

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

// DefaultDayMessages is the number of inbound messages of one generated day
// at rate 1 (the published migration's ~14.7k messages a day).
const DefaultDayMessages = 14700

// defaultStart is the start instant of generated traces (a constant value).
var defaultStart = time.Date(2019, time.June, 3, 0, 0, 0, 0, time.UTC)

// minVisit is the fewest lines a visit can have: patient join, provider
// join, one text, end_visit and both leaves.
const minVisit = 6

// Params configure Generate. The zero value of each field selects its
// default.
type Params struct {
	// Days is the span covered (default 1).
	Days float64
	// Rate multiplies the message count (default 1: DefaultDayMessages a day).
	Rate float64
	// Messages, when non-zero, sets the message count exactly (overrides Rate).
	Messages int
	// Conversations is the number of visits (default: messages / 25).
	Conversations int
	// Seed seeds the generator (PCG); the same Params give the same trace.
	Seed uint64
	// AttachmentRate is the chance that a turn shares an attachment
	// instead of typing a text (default 0.04; negative means 0).
	AttachmentRate float64
	// FormRate is the chance a patient sends a symptom form (default 0.6;
	// negative means 0).
	FormRate float64
	// WaitRate is the chance a patient asks for the wait time (default 0.35;
	// negative means 0).
	WaitRate float64
	// Bodies adds synthetic filler bodies (non-medical lorem words); by
	// default lines carry sizes only. Sizes do not depend on Bodies.
	Bodies bool
	// Start is the instant offset 0 stands for (default 2019-06-03T00:00:00Z).
	Start time.Time
	// Name names the trace (default "telehealth").
	Name string
}

func rateOr(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return math.Min(v, 1)
}

func (p Params) withDefaults() (Params, error) {
	if p.Days == 0 {
		p.Days = 1
	}
	if p.Rate == 0 {
		p.Rate = 1
	}
	if p.Days < 0 || p.Rate < 0 || p.Messages < 0 || p.Conversations < 0 || math.IsNaN(p.Days) || math.IsNaN(p.Rate) {
		return p, errors.New("trace: days, rate, messages and conversations must not be negative")
	}
	if p.Days > 366 {
		return p, errors.New("trace: days must be at most 366")
	}
	if p.Messages == 0 {
		p.Messages = int(math.Round(DefaultDayMessages * p.Days * p.Rate))
	}
	if p.Messages > 50_000_000 {
		return p, fmt.Errorf("trace: %d messages is too many: lower days or rate", p.Messages)
	}
	if p.Conversations == 0 {
		p.Conversations = max(1, int(math.Round(float64(p.Messages)/25)))
	}
	if p.Messages < minVisit*p.Conversations {
		return p, fmt.Errorf("trace: %d messages cannot fill %d conversations (each visit needs at least %d): lower conversations or raise rate", p.Messages, p.Conversations, minVisit)
	}
	p.AttachmentRate = rateOr(p.AttachmentRate, 0.04)
	p.FormRate = rateOr(p.FormRate, 0.6)
	p.WaitRate = rateOr(p.WaitRate, 0.35)
	if p.Start.IsZero() {
		p.Start = defaultStart
	}
	if p.Name == "" {
		p.Name = "telehealth"
	}
	return p, nil
}

// diurnal is the relative message rate at hour-of-day h (0 ≤ h < 24): low at
// night, peaks late morning and evening.
func diurnal(h float64) float64 {
	g := func(mu, sigma float64) float64 {
		d := math.Abs(h - mu)
		d = math.Min(d, 24-d) // wrap around midnight
		return math.Exp(-d * d / (2 * sigma * sigma))
	}
	return 0.06 + 1.0*g(11, 2.2) + 0.85*g(19.5, 1.8) + 0.35*g(15, 2.5)
}

// visitTimes draws n visit start offsets (µs) from the diurnal curve over
// total µs, sorted.
func visitTimes(rng *rand.Rand, n int, total int64) []int64 {
	const bucket = int64(time.Minute / time.Microsecond)
	nb := int((total + bucket - 1) / bucket)
	cum := make([]float64, nb)
	sum := 0.0
	for i := range nb {
		h := math.Mod(float64(int64(i)*bucket)/float64(time.Hour/time.Microsecond), 24)
		sum += diurnal(h + 1.0/120)
		cum[i] = sum
	}
	out := make([]int64, n)
	for i := range out {
		x := rng.Float64() * sum
		b := sort.SearchFloat64s(cum, x)
		b = min(b, nb-1)
		t := int64(b)*bucket + rng.Int64N(bucket)
		out[i] = min(t, total-1)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// budgets splits total lines over n visits, each at least minVisit, with
// sizes that vary (some short visits, some long) and sum to total exactly.
func budgets(rng *rand.Rand, n, total int) []int {
	w := make([]float64, n)
	sum := 0.0
	for i := range w {
		// log-normal spread around the mean visit length
		w[i] = math.Exp(0.5 * rng.NormFloat64())
		sum += w[i]
	}
	extra := total - minVisit*n
	out := make([]int, n)
	type rem struct {
		i int
		f float64
	}
	rems := make([]rem, n)
	given := 0
	for i := range out {
		share := float64(extra) * w[i] / sum
		fl := math.Floor(share)
		out[i] = minVisit + int(fl)
		given += int(fl)
		rems[i] = rem{i, share - fl}
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].f > rems[b].f })
	for k := 0; given < extra; k++ {
		out[rems[k%n].i]++
		given++
	}
	return out
}

const usPerSec = int64(time.Second / time.Microsecond)

// between returns a random duration in [lo, hi) seconds, in µs (at least 1 ms).
func between(rng *rand.Rand, lo, hi float64) int64 {
	d := int64((lo + rng.Float64()*(hi-lo)) * float64(usPerSec))
	return max(d, 1000)
}

// gen carries one Generate run's state.
type gen struct {
	p    Params
	rng  *rand.Rand
	body *rand.Rand // separate stream so sizes never depend on Bodies
	recs []Record
	seq  map[string]int
}

func (g *gen) emit(t int64, conv, user string, role chat.Role, typ string, size int, body string) string {
	g.seq[user]++
	id := fmt.Sprintf("%s-%d", user, g.seq[user])
	rec := Record{T: t, Conv: conv, User: user, Role: role, Type: typ, ID: id, Size: size}
	if g.p.Bodies {
		rec.Body = body
	}
	g.recs = append(g.recs, rec)
	return id
}

// textSize draws a chat message size: mostly short, a long tail. Its cap
// (like the forms' 1,100 bytes and the attachments' descriptions) keeps
// every generated frame far below DefaultMaxFrameBytes, which
// TestGenerateValidates checks.
func (g *gen) textSize() int {
	s := int(math.Exp(3.6 + 0.8*g.rng.NormFloat64()))
	return min(max(s, 2), 2000)
}

var words = strings.Fields(`lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor
incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris
nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat
nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum`)

// filler returns n bytes of lorem-like words (never real text), when bodies
// are on.
func (g *gen) filler(n int) string {
	if !g.p.Bodies || n <= 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(n + 16)
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[g.body.IntN(len(words))])
	}
	return b.String()[:n]
}

// visit generates one visit of exactly n lines starting at t0.
func (g *gen) visit(conv, patient, provider string, t0 int64, n int) {
	start := len(g.recs)
	P, D := chat.RolePatient, chat.RoleProvider
	t := t0
	g.emit(t, conv, patient, P, jobs.TypeJoin, 0, "")
	rest := n - minVisit // lines left for optional and extra turns
	if rest > 0 && g.rng.Float64() < g.p.WaitRate {
		t += between(g.rng, 5, 60)
		g.emit(t, conv, patient, P, jobs.TypeWaitTimeRequest, 0, "")
		rest--
	}
	if rest > 0 && g.rng.Float64() < g.p.FormRate {
		t += between(g.rng, 20, 180)
		size := 200 + g.rng.IntN(900)
		body := ""
		if g.p.Bodies {
			const pre, post = `{"answers":"`, `"}`
			body = pre + g.filler(size-len(pre)-len(post)) + post
		}
		g.emit(t, conv, patient, P, jobs.TypeSymptomForm, size, body)
		rest--
	}
	t += between(g.rng, 30, 480) // provider picks the visit up
	g.emit(t, conv, provider, D, jobs.TypeJoin, 0, "")
	// Turns: lines left for the conversation proper (at least one text).
	left := rest + 1
	speaker, other := provider, patient
	sRole, oRole := D, P
	for left > 0 {
		think := between(g.rng, 4, 45)
		switch {
		case left >= 2 && g.rng.Float64() < g.p.AttachmentRate:
			t += think
			a := jobs.Attachment{Name: fmt.Sprintf("file-%d.%s", g.rng.IntN(1000), []string{"jpg", "pdf", "png"}[g.rng.IntN(3)]),
				MIME: "application/octet-stream", Size: int64(10_000 + g.rng.IntN(2_000_000))}
			b, _ := json.Marshal(a) // cannot fail
			id := g.emit(t, conv, speaker, sRole, jobs.TypeAttachment, len(b), string(b))
			t += between(g.rng, 1, 20)
			g.emit(t, conv, other, oRole, jobs.TypeRead, len(id), id)
			left -= 2
		case left >= 2:
			t += think
			g.emit(t, conv, speaker, sRole, jobs.TypeTyping, 0, "")
			t += between(g.rng, 2, 30)
			size := g.textSize()
			id := g.emit(t, conv, speaker, sRole, jobs.TypeText, size, g.filler(size))
			left -= 2
			if left > 0 {
				t += between(g.rng, 1, 15)
				g.emit(t, conv, other, oRole, jobs.TypeRead, len(id), id)
				left--
			}
		default:
			t += think
			size := g.textSize()
			g.emit(t, conv, speaker, sRole, jobs.TypeText, size, g.filler(size))
			left--
		}
		speaker, other = other, speaker
		sRole, oRole = oRole, sRole
	}
	t += between(g.rng, 5, 60)
	g.emit(t, conv, provider, D, jobs.TypeEndVisit, 0, "")
	t += between(g.rng, 1, 30)
	g.emit(t, conv, patient, P, jobs.TypeLeave, 0, "")
	t += between(g.rng, 1, 30)
	g.emit(t, conv, provider, D, jobs.TypeLeave, 0, "")
	if got := len(g.recs) - start; got != n {
		panic(fmt.Sprintf("trace: visit has %d lines, want %d", got, n)) // a bug here
	}
}

// Generate builds a synthetic telehealth trace from p. It is deterministic:
// the same Params give the same header and records. The number of records
// is exactly round(DefaultDayMessages × Days × Rate) (or Params.Messages).
func Generate(p Params) (Header, []Record, error) {
	p, err := p.withDefaults()
	if err != nil {
		return Header{}, nil, err
	}
	total := int64(p.Days * 86400 * float64(usPerSec))
	g := &gen{
		p:    p,
		rng:  rand.New(rand.NewPCG(p.Seed, 0x63686174)),
		body: rand.New(rand.NewPCG(p.Seed, 0x626f6479)),
		seq:  map[string]int{},
		recs: make([]Record, 0, p.Messages),
	}
	n := p.Conversations
	starts := visitTimes(g.rng, n, total)
	lens := budgets(g.rng, n, p.Messages)
	providers := max(1, (n+19)/20)
	width := max(4, len(fmt.Sprint(n)))
	for i := range n {
		conv := fmt.Sprintf("c%0*d", width, i+1)
		patient := fmt.Sprintf("p%0*d", width, i+1)
		provider := fmt.Sprintf("d%03d", 1+g.rng.IntN(providers))
		from := len(g.recs)
		g.visit(conv, patient, provider, starts[i], lens[i])
		// Keep the visit inside the trace: shift it earlier if it overruns.
		if over := g.recs[len(g.recs)-1].T - (total - 1); over > 0 {
			for j := from; j < len(g.recs); j++ {
				g.recs[j].T = max(0, g.recs[j].T-over)
			}
		}
	}
	sort.SliceStable(g.recs, func(i, j int) bool { return g.recs[i].T < g.recs[j].T })
	h := Header{
		Version:       Version,
		Name:          p.Name,
		Generator:     fmt.Sprintf("chatbench trace gen (days=%g rate=%g conversations=%d attachment=%g form=%g wait=%g bodies=%t)", p.Days, p.Rate, p.Conversations, p.AttachmentRate, p.FormRate, p.WaitRate, p.Bodies),
		Seed:          p.Seed,
		Start:         p.Start.UTC(),
		DurationS:     float64(total) / float64(usPerSec),
		Messages:      len(g.recs),
		Conversations: n,
	}
	return h, g.recs, nil
}
