package trace

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestShard splits the shipped day n ways for several n and checks what
// the driver relies on: the shards together hold every record once, in
// trace order; every record of a conversation is in one shard; the
// conversation counts differ by at most one; and the split does not depend
// on the order the records come in.
func TestShard(t *testing.T) {
	_, recs, err := Load(Day())
	if err != nil {
		t.Fatal(err)
	}
	shuffled := slices.Clone(recs)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, n := range []int{1, 2, 3, 7, 64} {
		owner := map[string]int{} // conversation → shard
		perShard := make([]int, n)
		var union []Record
		for i := range n {
			part, err := Shard(recs, i, n)
			if err != nil {
				t.Fatal(err)
			}
			convs := map[string]bool{}
			for _, r := range part {
				if o, ok := owner[r.Conv]; ok && o != i {
					t.Fatalf("n=%d: conversation %s in shards %d and %d", n, r.Conv, o, i)
				}
				owner[r.Conv] = i
				convs[r.Conv] = true
			}
			perShard[i] = len(convs)
			union = append(union, part...)
			// The same conversations, whatever the records' order.
			again, _ := Shard(shuffled, i, n)
			for _, r := range again {
				if owner[r.Conv] != i {
					t.Fatalf("n=%d: conversation %s in shard %d of the shuffled trace, %d of the trace", n, r.Conv, i, owner[r.Conv])
				}
			}
			if len(again) != len(part) {
				t.Fatalf("n=%d shard %d: %d records of the shuffled trace, %d of the trace", n, i, len(again), len(part))
			}
			if !slices.IsSortedFunc(part, func(a, b Record) int { return cmp.Compare(a.T, b.T) }) {
				t.Errorf("n=%d shard %d: records out of trace order", n, i)
			}
		}
		if len(union) != len(recs) {
			t.Fatalf("n=%d: shards hold %d records, the trace %d", n, len(union), len(recs))
		}
		key := func(r Record) string { return r.User + "\x00" + r.ID }
		got, want := map[string]int{}, map[string]int{}
		for k := range recs {
			want[key(recs[k])]++
			got[key(union[k])]++
		}
		for k, c := range want {
			if got[k] != c {
				t.Fatalf("n=%d: message %q in the shards %d times, in the trace %d", n, k, got[k], c)
			}
		}
		if lo, hi := slices.Min(perShard), slices.Max(perShard); hi-lo > 1 {
			t.Errorf("n=%d: conversations per shard %v, want counts within one of each other", n, perShard)
		}
	}
}

// TestShardBounds checks that shards that do not exist are refused and
// parse errors say what to write.
func TestShardBounds(t *testing.T) {
	for _, c := range []struct {
		in   string
		i, n int
		want string // in the error; "" = parses
	}{
		{"0/1", 0, 1, ""},
		{"3/4", 3, 4, ""},
		{" 2 / 4 ", 2, 4, ""},
		{"3/2", 0, 0, "shard 3 of 2 does not exist"},
		{"2/2", 0, 0, "i is 0 to 1"}, // shards count from 0, as JOB_COMPLETION_INDEX does
		{"-1/2", 0, 0, "does not exist"},
		{"0/0", 0, 0, "at least 1 shard"},
		{"x/y", 0, 0, "want i/n"},
		{"1", 0, 0, "want i/n"},
		{"1/2/3", 0, 0, "want i/n"},
		{"", 0, 0, "want i/n"},
	} {
		i, n, err := ParseShard(c.in)
		switch {
		case c.want == "" && (err != nil || i != c.i || n != c.n):
			t.Errorf("ParseShard(%q) = %d, %d, %v; want %d, %d", c.in, i, n, err, c.i, c.n)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("ParseShard(%q) error %v; want one containing %q", c.in, err, c.want)
		}
	}
	if _, err := Shard(nil, 2, 2); err == nil {
		t.Error("Shard(nil, 2, 2): no error")
	}
}
