package trace_test

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat/jobs"
)

// dayVisits returns the shipped day's visits.
func dayVisits(t *testing.T) ([]trace.Visit, int) {
	t.Helper()
	_, recs, err := trace.Load(trace.Day())
	if err != nil {
		t.Fatal(err)
	}
	return trace.Visits(recs), len(recs)
}

func TestVisitsKeepEveryRecord(t *testing.T) {
	visits, n := dayVisits(t)
	total := 0
	for _, v := range visits {
		total += len(v.Records)
		if v.Records[0].T != 0 {
			t.Fatalf("visit %s starts at %d µs, want 0", v.Records[0].Conv, v.Records[0].T)
		}
		if last := v.Records[len(v.Records)-1].Offset(); last != v.Span {
			t.Fatalf("visit %s: span %s, last record at %s", v.Records[0].Conv, v.Span, last)
		}
	}
	if total != n {
		t.Fatalf("visits hold %d records, the trace %d", total, n)
	}
}

// TestSteadyIsStationary checks the load is flat from the start (the
// visits under way at 0 resume within Resume) and that the trace is one
// the driver can replay: it passes the trace checks.
func TestSteadyIsStationary(t *testing.T) {
	visits, _ := dayVisits(t)
	var msgs int
	var span time.Duration
	for _, v := range visits {
		msgs += len(v.Records)
		span += v.Span
	}
	perVisit := float64(msgs) / float64(len(visits))
	const rate = 2.0 // messages per second of trace time
	p := trace.SteadyParams{VisitsPerHour: rate / perVisit * 3600, Span: 2 * time.Hour, Resume: 10 * time.Minute, Seed: 7}
	h, recs, st, err := trace.Steady(visits, p)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := trace.Write(&buf, h, recs, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := trace.Load(buf.Bytes()); err != nil {
		t.Fatalf("the steady trace does not pass the trace checks: %v", err)
	}
	// After the resume window every quarter of an hour carries the rate
	// within the noise of a Poisson process of visits.
	quarter := int64(15 * time.Minute / time.Microsecond)
	counts := make([]int, int(p.Span.Microseconds()/quarter))
	for _, r := range recs {
		counts[r.T/quarter]++
	}
	want := rate * 15 * 60
	for i, c := range counts[1:] {
		if math.Abs(float64(c)-want) > 0.25*want {
			t.Errorf("quarter %d: %d messages, want about %.0f", i+2, c, want)
		}
	}
	if st.Resumed == 0 || st.Visits <= st.Resumed {
		t.Errorf("stats %+v: want visits under way at 0 and visits starting later", st)
	}
	if math.Abs(st.MeanOpen-p.VisitsPerHour*(span/time.Duration(len(visits))).Hours()) > 1e-9 {
		t.Errorf("mean open %v", st.MeanOpen)
	}
	// Every participant is a visit's own.
	conv := map[string]string{}
	for _, r := range recs {
		if c, ok := conv[r.User]; ok && c != r.Conv {
			t.Fatalf("user %s in %s and %s", r.User, c, r.Conv)
		}
		conv[r.User] = r.Conv
	}
	if len(conv) != st.Users {
		t.Errorf("users %d, stats say %d", len(conv), st.Users)
	}
}

// TestSteadyResumedVisitsJoinFirst checks a visit under way at 0 starts
// with the joins of those in it, at its resume moment.
func TestSteadyResumedVisitsJoinFirst(t *testing.T) {
	visits, _ := dayVisits(t)
	p := trace.SteadyParams{VisitsPerHour: 600, Span: 20 * time.Minute, Resume: time.Minute, Seed: 1}
	_, recs, st, err := trace.Steady(visits, p)
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]trace.Record{}
	for _, r := range recs {
		if _, ok := first[r.User]; !ok {
			first[r.User] = r
			if r.Type != jobs.TypeJoin {
				t.Fatalf("user %s starts with %s", r.User, r.Type)
			}
		}
	}
	// About 600 × 11.6 min / 60 visits are open at 0; each resumes within
	// the minute.
	early := map[string]bool{}
	for _, r := range recs {
		if r.T < p.Resume.Microseconds() {
			early[r.Conv] = true
		}
	}
	if st.Resumed < 80 || len(early) < st.Resumed {
		t.Fatalf("%d visits resumed, %d conversations active in the first minute: want about 116 resumed, all active then", st.Resumed, len(early))
	}
}

func TestSteadyRefusesBadParams(t *testing.T) {
	visits, _ := dayVisits(t)
	for _, p := range []trace.SteadyParams{
		{VisitsPerHour: 0, Span: time.Hour},
		{VisitsPerHour: math.Inf(1), Span: time.Hour},
		{VisitsPerHour: 10, Span: 0},
		{VisitsPerHour: 10, Span: time.Hour, Resume: 2 * time.Hour},
	} {
		if _, _, _, err := trace.Steady(visits, p); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
	if _, _, _, err := trace.Steady(nil, trace.SteadyParams{VisitsPerHour: 1, Span: time.Hour}); err == nil {
		t.Error("no templates: no error")
	}
}
