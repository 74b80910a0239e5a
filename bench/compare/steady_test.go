package compare_test

import (
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/compare"
	"github.com/chatbench/chatbench/bench/results"
)

// seconds builds a per-second series: sends in the first n seconds, each
// second's p50 from p50(i), and after seconds of deliveries only.
func seconds(n, after int, p50 func(i int) int64) []results.Second {
	var out []results.Second
	for i := range n + after {
		s := results.Second{T: i, Delivered: 10}
		if i < n {
			s.Sent, s.P50 = 10, p50(i)
		}
		out = append(out, s)
	}
	return out
}

func TestSteadyState(t *testing.T) {
	two := int64(2)
	for _, tc := range []struct {
		name   string
		p      *results.Path
		steady bool
		reason string
	}{
		{"flat", &results.Path{Series: seconds(30, 1, func(int) int64 { return 5000 })}, true, ""},
		// A sub-millisecond figure doubling is noise, not a backlog.
		{"small rise", &results.Path{Series: seconds(30, 1, func(i int) int64 { return int64(300 + 30*i) })}, true, ""},
		{"rising", &results.Path{Series: seconds(30, 1, func(i int) int64 { return int64(10000 + 20000*i) })}, false, "median latency rose"},
		// A fifth of the deliveries after the last send: still working off
		// a backlog.
		{"drain", &results.Path{Series: seconds(20, 5, func(int) int64 { return 5000 })}, false, "after the last message was sent"},
		{"left work", &results.Path{Series: seconds(30, 1, func(int) int64 { return 5000 }),
			Components: []results.Component{{Name: "queue-gateway", Backlog: &two}}}, false, "2 jobs were still held by queue-gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := compare.SteadyState(tc.p)
			if st == nil || st.Steady != tc.steady || !strings.Contains(st.Reason, tc.reason) {
				t.Fatalf("%+v: want steady %v, reason with %q", st, tc.steady, tc.reason)
			}
		})
	}
	if compare.SteadyState(&results.Path{}) != nil {
		t.Error("a path without a series was judged")
	}
}
