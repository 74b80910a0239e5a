package results_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

// shard returns the fixture run as shard i of n, run on host with clock.
func shard(i, n int, host, clock string) *results.Run {
	r := resultstest.Run(1)
	r.Meta.Shard = &results.Shard{Index: i, Count: n}
	r.Meta.Hostname, r.Meta.ClockID = host, clock
	return r
}

// TestMergeShardClocks merges shards run on one machine and on several:
// the merge records every shard's host and clock, keeps the clock id only
// when there was one clock, and warns, in its meta, only when there were
// several.
func TestMergeShardClocks(t *testing.T) {
	t.Run("one machine", func(t *testing.T) {
		// Two pods on one node: their own hostnames, the node's clock.
		m, err := results.MergeRuns(shard(0, 2, "bench-0", "boot:a"), shard(1, 2, "bench-1", "boot:a"))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Meta.Warnings) != 0 || m.Meta.ClockID != "boot:a" || m.Meta.Shard != nil || len(m.Meta.Sources) != 2 {
			t.Errorf("warnings %q, clock %q, shard %v, %d sources; want none, boot:a, nil, 2", m.Meta.Warnings, m.Meta.ClockID, m.Meta.Shard, len(m.Meta.Sources))
		}
	})
	t.Run("several machines", func(t *testing.T) {
		m, err := results.MergeRuns(shard(0, 3, "bench-0", "boot:a"), shard(1, 3, "bench-1", "boot:b"), shard(2, 3, "bench-2", "boot:a"))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		if len(m.Meta.Warnings) != 1 || !strings.Contains(m.Meta.Warnings[0], "2 machines (bench-0+bench-2, bench-1)") ||
			!strings.Contains(m.Meta.Warnings[0], "~100 ms") {
			t.Errorf("warnings %q; want one naming the 2 machines and the skew", m.Meta.Warnings)
		}
		if m.Meta.ClockID != "" {
			t.Errorf("clock id %q of a merge over two clocks", m.Meta.ClockID)
		}
		for i, s := range m.Meta.Sources {
			if s.Shard == nil || s.Shard.Index != i || s.Hostname != "bench-"+string(rune('0'+i)) {
				t.Errorf("sources[%d] = %+v", i, s)
			}
		}
	})
	t.Run("files without clock ids", func(t *testing.T) {
		// Written before clock ids were recorded: the hostname stands in.
		m, err := results.MergeRuns(shard(0, 2, "a", ""), shard(1, 2, "b", ""))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Meta.Warnings) != 1 || !strings.Contains(m.Meta.Warnings[0], "2 machines") {
			t.Errorf("warnings %q", m.Meta.Warnings)
		}
	})
}

// TestMergeShardSplit checks shards merge only as one split of the trace,
// and a merge of part of a split, or of shards started apart, says so.
func TestMergeShardSplit(t *testing.T) {
	const clock = "boot:a"
	for _, c := range []struct {
		name string
		runs []*results.Run
		want string
	}{
		{"different n", []*results.Run{shard(0, 2, "h", clock), shard(1, 3, "h", clock)}, "run 1 is shard 0/2 and run 2 shard 1/3"},
		{"twice", []*results.Run{shard(0, 2, "h", clock), shard(1, 2, "h", clock), shard(1, 2, "h", clock)}, "runs 2 and 3 are both shard 1/2"},
		{"beside the whole", []*results.Run{resultstest.Run(1), shard(1, 2, "h", clock)}, "run 1 replayed the whole trace and run 2 shard 1/2"},
	} {
		if _, err := results.MergeRuns(c.runs...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error containing %q", c.name, err, c.want)
		}
	}

	m, err := results.MergeRuns(shard(0, 4, "h", clock), shard(2, 4, "h", clock))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Meta.Warnings) != 1 || !strings.Contains(m.Meta.Warnings[0], "shards 1/4, 3/4 are missing") {
		t.Errorf("warnings %q; want one naming the missing shards", m.Meta.Warnings)
	}

	late := shard(1, 2, "h", clock)
	late.Meta.Started = late.Meta.Started.Add(12 * time.Second)
	m, err = results.MergeRuns(shard(0, 2, "h", clock), late)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Meta.Warnings) != 1 || !strings.Contains(m.Meta.Warnings[0], "started 12s apart") {
		t.Errorf("warnings %q; want one saying the shards started 12s apart", m.Meta.Warnings)
	}
}

// TestMergeOfMerges checks a merge of merged shards keeps every shard:
// the split is checked across all of them, and the result is the merge of
// all shards at once.
func TestMergeOfMerges(t *testing.T) {
	s := []*results.Run{shard(0, 3, "a", "boot:a"), shard(1, 3, "b", "boot:a"), shard(2, 3, "c", "boot:a")}
	ab, err := results.MergeRuns(s[0], s[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := results.MergeRuns(ab, s[1]); err == nil || !strings.Contains(err.Error(), "both shard 1/3") {
		t.Errorf("shard 1/3 merged twice, once inside a merge: %v", err)
	}
	nested, err := results.MergeRuns(ab, s[2])
	if err != nil {
		t.Fatal(err)
	}
	flat, err := results.MergeRuns(s...)
	if err != nil {
		t.Fatal(err)
	}
	if len(nested.Meta.Sources) != 3 || len(nested.Meta.Warnings) != 0 || nested.Meta.Shards != 3 {
		t.Errorf("nested merge: %d sources, warnings %q, %d shards; want 3, none, 3", len(nested.Meta.Sources), nested.Meta.Warnings, nested.Meta.Shards)
	}
	if n, f := nested.Paths[0].Ledger["all"], flat.Paths[0].Ledger["all"]; *n != *f {
		t.Errorf("ledger of the nested merge %+v, of the flat one %+v", *n, *f)
	}
	if s[0].Meta.Shard.Index != 0 || ab.Meta.Sources[0].Shard == s[0].Meta.Shard {
		t.Error("the merge shares its sources' shards with its inputs")
	}
}

// TestShardValidate checks a document naming a shard that cannot exist is
// refused.
func TestShardValidate(t *testing.T) {
	r := shard(2, 2, "h", "")
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "shard 2/2 does not exist") {
		t.Errorf("Validate: %v", err)
	}
}

// TestNewMetaClock checks every run names the clock it read.
func TestNewMetaClock(t *testing.T) {
	m := results.NewMeta("day", []byte("trace"), 1, 1440, true, nil)
	if !strings.HasPrefix(m.ClockID, "boot:") && m.ClockID != "host:"+m.Hostname {
		t.Errorf("clock id %q; want boot:<kernel boot id> or host:%s", m.ClockID, m.Hostname)
	}
	if m.Shard != nil {
		t.Errorf("a new run is shard %s; want the whole trace until the driver says otherwise", m.Shard)
	}
}
