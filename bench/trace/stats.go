package trace

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chatbench/chatbench/chat"
)

// WriteStats writes st as a human-readable table.
func WriteStats(w io.Writer, st Stats) error {
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

	peak := 0
	for _, n := range st.PerHour {
		peak = max(peak, n)
	}
	p("hour\tmessages\tper min\t\n")
	for i, n := range st.PerHour {
		bar := 0
		if peak > 0 {
			bar = (n*40 + peak - 1) / peak
		}
		p("%s\t%d\t%.1f\t%s\n", hourLabel(h.Start, i), n, float64(n)/60, strings.Repeat("#", bar))
	}
	return tw.Flush()
}

func hourLabel(start time.Time, i int) string {
	t := start.UTC().Add(time.Duration(i) * time.Hour)
	if i < 24 {
		return t.Format("15:04")
	}
	return fmt.Sprintf("d%d %s", i/24+1, t.Format("15:04"))
}
