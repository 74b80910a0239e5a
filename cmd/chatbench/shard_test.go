package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
	"github.com/chatbench/chatbench/bench/trace"
)

// TestShardsAddUp replays a trace against a direct server (this process,
// `chatbench serve direct`) twice: once whole by one `chatbench bench`
// process, and once split three ways by three `chatbench bench --shard
// i/3` processes running side by side against one server (this test
// binary started as chatbench, see TestMain). Each replay has a fresh
// server: the same ids sent again to one server are duplicates it does not
// run again. The shards expect exactly the deliveries the
// whole replay does, group by group, and account for them the same way;
// `chatbench report merge` adds them exactly and, the shards having run
// on this one machine, warns of nothing.
func TestShardsAddUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and four replays")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	h, recs, err := trace.Generate(trace.Params{Days: 0.01, Messages: 240, Conversations: 9, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := trace.Write(&buf, h, recs, false); err != nil {
		t.Fatal(err)
	}
	tracePath := filepath.Join(dir, "trace.jsonl")
	if err := os.WriteFile(tracePath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 3
	// The case sharding by conversation must handle: a provider whose
	// conversations fall into different shards is connected by several
	// drivers at once.
	if !userInShards(t, recs, n) {
		t.Fatal("no user of the trace has conversations in two shards; pick a trace that has one")
	}

	var url string
	serve := func() (stop func()) {
		u, c, stopServe := startServe(t, "serve", "direct", "--addr", "127.0.0.1:0", "--ml-profile", "zero", "--log-level", "error")
		c.Close()
		url = u
		return func() {
			if err := stopServe(); err != nil {
				t.Errorf("serve direct: %v", err)
			}
		}
	}
	bench := func(out string, extra ...string) error {
		args := append([]string{"bench", "--target", url, "--trace", tracePath, "--speed", "300", "--pace", "300",
			"--warmup", "-1s", "--drain", "30s", "--progress", "off", "--log-level", "error", "--out", out}, extra...)
		cmd := exec.Command(exe, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("chatbench %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return nil
	}

	wholePath := filepath.Join(dir, "whole.json")
	stop := serve()
	err = bench(wholePath)
	stop()
	if err != nil {
		t.Fatal(err)
	}
	shardPaths := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	stop = serve()
	for i := range n {
		shardPaths[i] = filepath.Join(dir, fmt.Sprintf("shard-%d.json", i))
		wg.Go(func() { errs[i] = bench(shardPaths[i], "--shard", fmt.Sprintf("%d/%d", i, n)) })
	}
	wg.Wait()
	stop()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	mergedPath := filepath.Join(dir, "merged.json")
	code, _, stderr := runAll(t, append([]string{"report", "merge", "-o", mergedPath}, shardPaths...)...)
	if code != exitOK || strings.Contains(stderr, "warning") || !strings.Contains(stderr, "3 shards") {
		t.Fatalf("report merge: exit %d, stderr %q; want 0, 3 shards and no warning (one machine)", code, stderr)
	}

	whole, merged := readRun(t, wholePath), readRun(t, mergedPath)
	shards := make([]*results.Run, n)
	for i := range n {
		shards[i] = readRun(t, shardPaths[i])
		if s := shards[i].Meta.Shard; s == nil || s.Index != i || s.Count != n {
			t.Errorf("shard %d's results say shard %v", i, s)
		}
		if shards[i].Meta.ClockID == "" || shards[i].Meta.ClockID != whole.Meta.ClockID {
			t.Errorf("shard %d read clock %q, the whole replay %q: one machine, one clock", i, shards[i].Meta.ClockID, whole.Meta.ClockID)
		}
		if shards[i].Meta.TraceMsgs != len(recs) {
			t.Errorf("shard %d: trace_messages %d, want the trace's %d", i, shards[i].Meta.TraceMsgs, len(recs))
		}
	}
	if merged.Meta.Shard != nil || merged.Meta.Shards != n || len(merged.Meta.Sources) != n || len(merged.Meta.Warnings) != 0 {
		t.Errorf("merged meta: shard %v, shards %d, %d sources, warnings %q", merged.Meta.Shard, merged.Meta.Shards, len(merged.Meta.Sources), merged.Meta.Warnings)
	}

	wp, mp := whole.Paths[0], merged.Paths[0]
	// The merge is exact: every count is the shards' sum.
	for g, got := range mp.Ledger {
		var sum results.Counts
		for _, s := range shards {
			if c := s.Paths[0].Ledger[g]; c != nil {
				sum.Add(c)
			}
		}
		if *got != sum {
			t.Errorf("ledger[%s]: merged %+v, shards' sum %+v", g, *got, sum)
		}
	}
	for g, got := range mp.FromScheduled {
		var sum int64
		for _, s := range shards {
			if x := s.Paths[0].FromScheduled[g]; x != nil {
				sum += x.Count
			}
		}
		if got.Count != sum {
			t.Errorf("latency_from_scheduled[%s]: merged count %d, shards' sum %d", g, got.Count, sum)
		}
	}
	// The shards did what the whole replay did.
	if mp.Messages.Scheduled != wp.Messages.Scheduled || mp.Messages.Sent != wp.Messages.Sent || mp.Messages.Acked != wp.Messages.Acked {
		t.Errorf("messages: shards scheduled/sent/acked %d/%d/%d, whole %d/%d/%d", mp.Messages.Scheduled, mp.Messages.Sent,
			mp.Messages.Acked, wp.Messages.Scheduled, wp.Messages.Sent, wp.Messages.Acked)
	}
	if len(mp.Ledger) != len(wp.Ledger) {
		t.Errorf("ledger groups: shards %d, whole %d", len(mp.Ledger), len(wp.Ledger))
	}
	for g, w := range wp.Ledger {
		m := mp.Ledger[g]
		if m == nil {
			t.Errorf("ledger[%s]: in the whole replay, not in the shards'", g)
			continue
		}
		if m.Expected != w.Expected {
			t.Errorf("ledger[%s]: shards expected %d deliveries, the whole replay %d", g, m.Expected, w.Expected)
		}
		// A healthy server delivers everything either way (reordering,
		// a matter of timing, is left out).
		for _, c := range []*results.Counts{m, w} {
			if c.Lost != 0 || c.Errored != 0 || c.Duplicates != 0 || c.Unexpected != 0 || c.Delivered+c.Excused != c.Expected {
				t.Errorf("ledger[%s]: %+v (shards' %+v, whole %+v)", g, *c, *m, *w)
			}
		}
		if m.Delivered != w.Delivered {
			t.Errorf("ledger[%s]: shards delivered %d, the whole replay %d", g, m.Delivered, w.Delivered)
		}
	}
	if all := wp.Ledger["all"]; all == nil || all.Expected == 0 {
		t.Fatal("the whole replay expected no deliveries")
	}
	if m, w := mp.FromScheduled["all"].Count, wp.FromScheduled["all"].Count; m != w {
		t.Errorf("timed deliveries: shards %d, whole %d (no warm-up: every delivery is timed)", m, w)
	}
}

// userInShards reports whether some user of recs has conversations in two
// of the n shards.
func userInShards(t *testing.T, recs []trace.Record, n int) bool {
	t.Helper()
	shardOf := map[string]int{}
	for i := range n {
		part, err := trace.Shard(recs, i, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range part {
			if j, ok := shardOf[r.User]; ok && j != i {
				return true
			}
			shardOf[r.User] = i
		}
	}
	return false
}

func readRun(t *testing.T, path string) *results.Run {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := results.Read(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// TestShardFlag checks --shard's bad values are refused, naming the flag,
// before anything connects, and that a shard beyond the trace's
// conversations is refused with the most shards it can have.
func TestShardFlag(t *testing.T) {
	for _, c := range []struct{ value, want string }{
		{"3/2", "--shard 3/2: shard 3 of 2 does not exist"},
		{"0/0", "--shard 0/0: a trace splits into at least 1 shard"},
		{"x/y", "--shard x/y: want i/n"},
		{"600/601", "--shard 600/601: shard 600 holds no conversation: the trace (cut to --limit) has 588, so split it into at most 588 shards"},
		{"0/2", "connect ws://127.0.0.1:1/ws"}, // accepted: the replay goes as far as connecting
	} {
		code, _, stderr := runAll(t, "bench", "--target", "ws://127.0.0.1:1/ws", "--shard", c.value, "--progress", "off", "--log-level", "error")
		if !strings.Contains(stderr, c.want) {
			t.Errorf("--shard %s: exit %d, stderr %q; want %q", c.value, code, stderr, c.want)
		}
		if wantCode := exitUsage; c.value != "0/2" && code != wantCode {
			t.Errorf("--shard %s: exit %d, want %d", c.value, code, wantCode)
		}
	}
}

// TestMergeWarnsAcrossMachines merges shards that ran on two machines: the
// merge succeeds, says so on standard error, and keeps the warning in the
// merged document, for both an output file and standard output.
func TestMergeWarnsAcrossMachines(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i, host := range []string{"node-a", "node-b"} {
		r := resultstest.Run(1)
		r.Meta.Shard = &results.Shard{Index: i, Count: 2}
		r.Meta.Hostname, r.Meta.ClockID = host, "boot:"+host
		files = append(files, writeDoc(t, dir, host+".json", r))
	}
	out := filepath.Join(dir, "merged.json")
	code, _, stderr := runAll(t, append([]string{"report", "merge", "-o", out}, files...)...)
	if code != exitOK || !strings.Contains(stderr, "warning: the shards ran on 2 machines (node-a, node-b)") || !strings.Contains(stderr, "2 shards (1 warning above)") {
		t.Errorf("exit %d, stderr %q; want 0 and the warning", code, stderr)
	}
	if m := readRun(t, out); len(m.Meta.Warnings) != 1 || !strings.Contains(m.Meta.Warnings[0], "2 machines") {
		t.Errorf("merged meta.warnings %q", m.Meta.Warnings)
	}
	code, stdout, stderr := runAll(t, append([]string{"report", "merge", "-o", "-"}, files...)...)
	if code != exitOK || !strings.Contains(stderr, "warning: the shards ran on 2 machines") || !strings.Contains(stdout, `"warnings"`) {
		t.Errorf("-o -: exit %d, stderr %q; want the warning on stderr and in the document", code, stderr)
	}
}
