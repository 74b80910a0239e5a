package trace

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// burstTrace is a day of one message a minute with a two-minute burst of
// ten a minute at noon: the shape `trace stats` must make visible.
func burstTrace(t *testing.T) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"chatbench_trace":1,"start":"2019-06-03T00:00:00Z","duration_s":86400}` + "\n")
	line := func(us int64, typ string, id int) {
		fmt.Fprintf(&b, `{"t":%d,"conv":"c1","user":"p1","role":"patient","type":"%s","id":"m%d","size":10}`+"\n", us, typ, id)
	}
	line(0, "join", 0)
	id := 1
	for m := int64(1); m < 24*60; m++ {
		line(m*60e6, "text", id)
		id++
		if m == 12*60 || m == 12*60+1 { // the burst: nine more in each of these minutes
			for k := int64(1); k <= 9; k++ {
				line(m*60e6+k*6e6, "text", id)
				id++
			}
		}
	}
	return []byte(b.String())
}

func TestStatsShowBurst(t *testing.T) {
	st, errs := Validate(bytes.NewReader(burstTrace(t)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	bucket, err := st.Bucket(0)
	if err != nil {
		t.Fatal(err)
	}
	if bucket != 30*time.Minute {
		t.Errorf("a day gets %s buckets, want 30m", bucket)
	}
	counts := st.Buckets(bucket)
	if n := len(counts); n < 20 || n > 60 {
		t.Errorf("%d buckets, want 20 to 60", n)
	}
	sum := 0
	for _, n := range counts {
		sum += n
	}
	if sum != st.Messages {
		t.Errorf("buckets hold %d messages, the trace %d", sum, st.Messages)
	}
	// The bucket holding noon stands out against the typical bucket (an
	// hourly table showed it as 80 against 60).
	burst := counts[int(12*time.Hour/bucket)]
	sorted := slices.Sorted(slices.Values(counts))
	median := sorted[len(sorted)/2]
	if float64(burst) < 1.5*float64(median) {
		t.Errorf("the burst's bucket has %d messages, the median bucket %d: not visible", burst, median)
	}
	var out bytes.Buffer
	if err := WriteStats(&out, st, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"per 30m", "\n12:00 ", "\n23:30 "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stats lack %q:\n%s", want, out.String())
		}
	}
}

// TestAutoBucket checks the picked bucket cuts any span from a minute to a
// fortnight into 20 to 60 rows.
func TestAutoBucket(t *testing.T) {
	for span := time.Minute; span <= 14*24*time.Hour; span = span * 21 / 20 {
		st := Stats{Duration: span}
		b, err := st.Bucket(0)
		if err != nil {
			t.Fatalf("span %s: %v", span, err)
		}
		if n := len(st.Buckets(b)); n < 20 || n > 60 {
			t.Errorf("span %s: bucket %s gives %d rows, want 20 to 60", span, b, n)
		}
	}
	// Degenerate spans still give a bucket and at least one row.
	for _, st := range []Stats{{}, {Duration: 3 * time.Second}, {Header: Header{DurationS: 1e300}}} {
		b, err := st.Bucket(0)
		if err != nil || b <= 0 {
			t.Fatalf("%+v: bucket %s, %v", st.Header, b, err)
		}
		if n := len(st.Buckets(b)); n < 1 || n > 60 {
			t.Errorf("%+v: %d rows", st.Header, n)
		}
	}
}

func TestBucketFlag(t *testing.T) {
	day := Stats{Duration: 24*time.Hour - time.Second}
	cases := []struct {
		want time.Duration
		ok   bool
		msg  string // in the error
	}{
		{5 * time.Minute, true, ""},
		{24 * time.Hour, true, ""},
		{9 * time.Second, true, ""},                      // 9600 rows, under the cap
		{500 * time.Millisecond, false, "at least 1s"},   // below the resolution
		{1500 * time.Millisecond, false, "whole number"}, // not whole seconds
		{time.Second, false, "use 9s or more"},           // 86400 rows
		{-time.Minute, false, "at least 1s"},             // negative
		{10 * 24 * time.Hour, true, ""},                  // longer than the trace: one row
		{7*time.Minute + 30*time.Second, true, ""},       // any whole number of seconds
		{8 * time.Second, false, "more than 10000"},      // 10800 rows
		{time.Hour + time.Nanosecond, false, "whole number"},
	}
	for _, c := range cases {
		got, err := day.Bucket(c.want)
		switch {
		case c.ok && (err != nil || got != c.want):
			t.Errorf("Bucket(%s) = %s, %v; want it accepted", c.want, got, err)
		case !c.ok && err == nil:
			t.Errorf("Bucket(%s) accepted, want an error", c.want)
		case !c.ok && !strings.Contains(err.Error(), c.msg):
			t.Errorf("Bucket(%s): %v; want it to say %q", c.want, err, c.msg)
		}
	}
}
