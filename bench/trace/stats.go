package trace

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chatbench/chatbench/chat"
)

// WriteStats writes st as a human-readable table, with messages counted per
// bucket of time from the trace's start (0 picks one with Bucket).
func WriteStats(w io.Writer, st Stats, bucket time.Duration) error {
	bucket, err := st.Bucket(bucket)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	h := st.Header
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	name := h.Name
	if name == "" {
		name = "(unnamed)"
	}
	p("trace\t%s\n", name)
	if h.Generator != "" {
		p("generator\t%s (seed %d)\n", h.Generator, h.Seed)
	}
	p("start\t%s\n", h.Start.UTC().Format(time.RFC3339))
	p("duration\t%s (header: %gs)\n", st.Duration.Round(time.Second), h.DurationS)
	p("messages\t%d\n", st.Messages)
	p("conversations\t%d\n", st.Conversations)
	p("participants\t%d (%d patients, %d providers)\n", st.Participants, st.Patients, st.Providers)
	if st.Conversations > 0 {
		p("msgs/conversation\t%.1f\n", float64(st.Messages)/float64(st.Conversations))
	}
	p("body size\tp50 %d B, p99 %d B, max %d B\n", st.SizeP50, st.SizeP99, st.SizeMax)
	p("\n")

	types := make([]string, 0, len(st.ByType))
	for t := range st.ByType {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool {
		if st.ByType[types[i]] != st.ByType[types[j]] {
			return st.ByType[types[i]] > st.ByType[types[j]]
		}
		return types[i] < types[j]
	})
	p("type\tpatient\tprovider\ttotal\tshare\n")
	share := func(n int) float64 {
		if st.Messages == 0 {
			return 0
		}
		return 100 * float64(n) / float64(st.Messages)
	}
	for _, t := range types {
		m := st.ByTypeRole[t]
		p("%s\t%d\t%d\t%d\t%.1f%%\n", t, m[chat.RolePatient], m[chat.RoleProvider], st.ByType[t], share(st.ByType[t]))
	}
	p("all\t%d\t%d\t%d\t100%%\n", st.ByRole[chat.RolePatient], st.ByRole[chat.RoleProvider], st.Messages)
	p("\n")

	counts := st.Buckets(bucket)
	peak := 0
	for _, n := range counts {
		peak = max(peak, n)
	}
	p("per %s\tmessages\tper min\t\n", fmtBucket(bucket))
	for i, n := range counts {
		bar := 0
		if peak > 0 {
			bar = (n*40 + peak - 1) / peak
		}
		p("%s\t%d\t%.1f\t%s\n", bucketLabel(h.Start, time.Duration(i)*bucket, bucket), n, float64(n)/bucket.Minutes(), strings.Repeat("#", bar))
	}
	return tw.Flush()
}

// bucketSteps are the bucket sizes Bucket picks from: units a person reads
// at a glance.
var bucketSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour,
}

// MaxBuckets is the most rows the per-bucket table may have; a bucket that
// would give more is refused.
const MaxBuckets = 10_000

// maxAutoBuckets is the most rows Bucket picks: a day gets 48 half hours,
// in which a two-minute burst of ten times the rate still stands out.
const maxAutoBuckets = 60

// span is the time the trace covers: to its last message, or its header's
// duration if longer.
func (st Stats) span() time.Duration {
	if hd := st.Header.DurationS * float64(time.Second); hd >= math.MaxInt64 {
		return math.MaxInt64 // a header claiming centuries: clamp, not overflow
	} else if d := time.Duration(hd); d > st.Duration {
		return d
	}
	return st.Duration
}

// rows is the number of buckets of size b: enough for the span and for
// the last message.
func (st Stats) rows(b time.Duration) int64 {
	span := st.span()
	n := int64(st.Duration/b) + 1
	if span > 0 {
		n = max(n, int64((span-1)/b)+1) // ceil without overflowing near MaxInt64
	}
	return n
}

// Bucket returns the bucket the per-bucket table uses. For want 0 it is the
// smallest of 1s, 2s, 5s … 30m, 1h … 1d, 2d, 7d that cuts the trace's span
// into at most 60 buckets (20 to 60 for any span from a minute to a
// fortnight); otherwise want itself, which must be a whole number of
// seconds and give at most MaxBuckets rows.
func (st Stats) Bucket(want time.Duration) (time.Duration, error) {
	span := st.span()
	if want == 0 {
		for _, b := range bucketSteps {
			if st.rows(b) <= maxAutoBuckets {
				return b, nil
			}
		}
		b := bucketSteps[len(bucketSteps)-1]
		return b * time.Duration(st.rows(b)/maxAutoBuckets+1), nil
	}
	switch {
	case want < time.Second:
		return 0, fmt.Errorf("bucket %s: must be at least 1s (or 0 to pick one that fits the trace)", want)
	case want%time.Second != 0:
		return 0, fmt.Errorf("bucket %s: must be a whole number of seconds, e.g. %s", want, want.Round(time.Second))
	case st.rows(want) > MaxBuckets:
		least := (span/MaxBuckets + time.Second).Truncate(time.Second)
		return 0, fmt.Errorf("bucket %s: %d rows for the trace's %s, more than %d; use %s or more (or 0 to pick one that fits)", want, st.rows(want), span.Round(time.Second), MaxBuckets, least)
	}
	return want, nil
}

// Buckets counts the trace's messages per bucket from its start (bucket as
// returned by Bucket), one entry per bucket across the trace's span; nil for
// a bucket Bucket would refuse as too many rows.
func (st Stats) Buckets(bucket time.Duration) []int {
	if bucket <= 0 || st.rows(bucket) > MaxBuckets {
		return nil
	}
	sec := int64(bucket / time.Second)
	if sec < 1 {
		sec = 1
	}
	out := make([]int, st.rows(bucket))
	add := func(s int64, n int) {
		if i := s / sec; i >= 0 && i < int64(len(out)) {
			out[i] += n
		}
	}
	if st.perSecond == nil {
		// Stats built by hand: only the hourly counts exist.
		for h, n := range st.PerHour {
			add(int64(h)*3600, n)
		}
		return out
	}
	for s, n := range st.perSecond {
		add(s, n)
	}
	return out
}

// fmtBucket writes a bucket size without zero parts ("30m", "1h", "90s" is
// "1m30s").
func fmtBucket(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	s = strings.Replace(s, "h0m", "h", 1)
	return s
}

// bucketLabel names the bucket starting at offset off: the clock time
// (with seconds when buckets are shorter than a minute), and the day when
// the trace runs past its first.
func bucketLabel(start time.Time, off, bucket time.Duration) string {
	t := start.UTC().Add(off)
	layout := "15:04"
	if bucket%time.Minute != 0 {
		layout = "15:04:05"
	}
	if off < 24*time.Hour {
		return t.Format(layout)
	}
	return fmt.Sprintf("d%d %s", off/(24*time.Hour)+1, t.Format(layout))
}
