package trace

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Shard returns the records of shard i of n (0 ≤ i < n), in trace order:
// the trace's conversation ids are sorted (byte order) and dealt out
// round-robin, the k-th to shard k mod n, and a shard holds every record
// of its conversations. So every message of a conversation is in one
// shard, the n shards together hold each record exactly once, and the
// split depends only on the set of conversation ids — the same trace
// splits the same way on every machine. Dealing sorted ids balances the
// shards' conversation counts to within one (a hash of the id would not);
// their message counts follow the conversations'.
//
// Shard slices by conversation, not by user: a provider in conversations
// of two shards is connected by both shards' drivers, each joining only its
// own conversations.
func Shard(recs []Record, i, n int) ([]Record, error) {
	if err := checkShard(i, n); err != nil {
		return nil, err
	}
	if n == 1 {
		return recs, nil
	}
	var convs []string
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.Conv] {
			seen[r.Conv] = true
			convs = append(convs, r.Conv)
		}
	}
	slices.Sort(convs)
	mine := map[string]bool{}
	for k := i; k < len(convs); k += n {
		mine[convs[k]] = true
	}
	var out []Record
	for _, r := range recs {
		if mine[r.Conv] {
			out = append(out, r)
		}
	}
	return out, nil
}

// ParseShard parses a shard as "i/n": shard i of n, counted from 0, as a
// Kubernetes Indexed Job numbers its pods (JOB_COMPLETION_INDEX).
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	i, errI := strconv.Atoi(strings.TrimSpace(a))
	n, errN := strconv.Atoi(strings.TrimSpace(b))
	if !ok || errI != nil || errN != nil {
		return 0, 0, errors.New("want i/n, two whole numbers: shard i of n, counted from 0 (0/4 … 3/4)")
	}
	if err := checkShard(i, n); err != nil {
		return 0, 0, err
	}
	return i, n, nil
}

// checkShard checks that shard i of n exists.
func checkShard(i, n int) error {
	switch {
	case n < 1:
		return fmt.Errorf("a trace splits into at least 1 shard, not %d (i/n: shard i of n)", n)
	case i < 0 || i >= n:
		return fmt.Errorf("shard %d of %d does not exist: shards count from 0, so i is 0 to %d", i, n, n-1)
	}
	return nil
}
