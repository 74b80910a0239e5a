package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

// writeRun writes the fixture run, latencies multiplied by slow, to dir.
func writeRun(t *testing.T, dir, name string, slow float64) string {
	t.Helper()
	return writeDoc(t, dir, name, resultstest.Run(slow))
}

// writeDoc writes run to dir.
func writeDoc(t *testing.T, dir, name string, run *results.Run) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := results.Write(f, run); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestGate checks the exit codes: 0 when every rule passes (an identical
// run), 3 when a rule fails (a deliberately slowed run), 2 on bad input.
func TestGate(t *testing.T) {
	dir := t.TempDir()
	base := writeRun(t, dir, "base.json", 1)
	same := writeRun(t, dir, "same.json", 1)
	slow := writeRun(t, dir, "slow.json", 1.5)
	rules := filepath.Join(dir, "gate.rules")
	if err := os.WriteFile(rules, []byte("# regressions\np50 regression < 10%\np99{class=sync} regression < 20%  # sync p99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "gate", "--current", same, "--baseline", base, "--rules", rules, "--rule", "p99{path=direct,class=ml} < 2s")
	if exitCode(err) != 0 || !strings.Contains(out, "gate: PASS (5 checks)") || strings.Contains(out, "FAIL") {
		t.Fatalf("identical run: %v\n%s", err, out)
	}
	out, err = run(t, "gate", "--current", slow, "--baseline", base, "--rules", rules)
	if exitCode(err) != 3 || !strings.Contains(out, "FAIL  p50 regression < 10%: p50") || !strings.Contains(out, "gate: FAIL (4 of 4 checks failed)") {
		t.Fatalf("slowed run: %v\n%s", err, out)
	}
	out, err = run(t, "gate", "--current", same, "--rule", "lost == 0")
	if exitCode(err) != 3 || !strings.Contains(out, "PASS  lost == 0: lost = 0 (threshold == 0), path direct") || !strings.Contains(out, "FAIL  lost == 0: lost = 2 (threshold == 0), path queue, group all") {
		t.Fatalf("lost: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"gate", "--current", same},                                      // no rules
		{"gate", "--current", same, "--rule", "p98 < 1s"},                // bad rule
		{"gate", "--rule", "lost == 0"},                                  // no --current
		{"gate", "--current", dir + "/none.json", "--rule", "lost == 0"}, // missing file
		{"gate", "--current", same, "--rule", "lost == 0", "--bogus"},    // bad flag
	} {
		if _, err := run(t, args...); exitCode(err) != 2 {
			t.Errorf("%q: exit %d (%v), want 2", args, exitCode(err), err)
		}
	}
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	a := writeRun(t, dir, "a.json", 1)
	b := writeRun(t, dir, "b.json", 2)
	out, err := run(t, "report", a)
	if err != nil || !strings.Contains(out, "echo (floor)") || !strings.Contains(out, "Hop breakdown") {
		t.Fatalf("table: %v\n%s", err, out)
	}
	out, err = run(t, "report", a, "--format", "markdown")
	if err != nil || !strings.Contains(out, "| group | direct | queue | echo (floor) |") {
		t.Fatalf("markdown: %v\n%s", err, out)
	}
	html := filepath.Join(dir, "r.html")
	if _, err := run(t, "report", a, "--format", "html", "--out", html); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(html); err != nil || !strings.Contains(string(data), "<svg") {
		t.Fatalf("html: %v", err)
	}
	if _, err := run(t, "report", a, "--format", "pdf"); exitCode(err) != exitUsage || !strings.HasPrefix(err.Error(), "--format pdf: use text, markdown, html or json") {
		t.Errorf("bad format: %v", err)
	}
	merged := filepath.Join(dir, "m.json")
	if _, err := run(t, "report", "merge", "-o", merged, a, b); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(merged)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := results.Read(f)
	if err != nil || m.Meta.Shards != 2 || m.Path("queue").Ledger["all"].Lost != 4 {
		t.Fatalf("merged: %v %+v", err, m)
	}
	if _, err := run(t, "report", "merge", a, b); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("merge without -o: %v", err)
	}
}

// TestGateRepeats gates runs with repeats: a significant 2x regression
// fails with exit 3, the same distribution passes, three repeats a side
// are said to be too few at α=0.05, and every output format holds the
// verdicts.
func TestGateRepeats(t *testing.T) {
	dir := t.TempDir()
	base := writeDoc(t, dir, "base.json", resultstest.Repeats(1, 1.03, 0.98, 1.01, 0.97))
	same := writeDoc(t, dir, "same.json", resultstest.Repeats(1.02, 0.99, 1.04, 0.96, 1))
	slow := writeDoc(t, dir, "slow.json", resultstest.Repeats(2, 2.05, 1.96, 2.03, 1.97))
	rule := "p50{class=ml} regression < 10% significant"
	out, err := run(t, "gate", "--current", same, "--baseline", base, "--rule", rule)
	if exitCode(err) != 0 || strings.Count(out, "no significant change (p=") != 2 {
		t.Fatalf("same distribution: %v\n%s", err, out)
	}
	out, err = run(t, "gate", "--current", slow, "--baseline", base, "--rule", rule)
	if exitCode(err) != 3 || strings.Count(out, "worse by 100.0% (p=0.008, n=5)") != 2 {
		t.Fatalf("2x slower: %v\n%s", err, out)
	}
	out, err = run(t, "gate", "--current", slow, "--baseline", base, "--rule", rule, "--format", "json")
	var doc struct {
		Pass    bool
		Figures []struct{ Outcome string }
	}
	if exitCode(err) != 3 || json.Unmarshal([]byte(out), &doc) != nil || doc.Pass || len(doc.Figures) != 2 || doc.Figures[0].Outcome != "worse" {
		t.Fatalf("json: %v\n%s", err, out)
	}
	out, err = run(t, "gate", "--current", slow, "--baseline", base, "--rule", rule, "--format", "markdown")
	if exitCode(err) != 3 || !strings.HasPrefix(out, "### chatbench gate: ❌ FAIL") || !strings.Contains(out, "| ❌ | `"+rule+"` | queue | class:ml |") {
		t.Fatalf("markdown: %v\n%s", err, out)
	}
	three := writeDoc(t, dir, "three.json", resultstest.Repeats(2, 2.05, 1.96))
	threeBase := writeDoc(t, dir, "three-base.json", resultstest.Repeats(1, 1.03, 0.98))
	out, err = run(t, "gate", "--current", three, "--baseline", threeBase, "--rule", rule)
	if exitCode(err) != 3 || !strings.Contains(out, "need ≥ 4 repeats per side for α=0.05") {
		t.Fatalf("3 vs 3: %v\n%s", err, out)
	}
	out, err = run(t, "gate", "--current", three, "--baseline", threeBase, "--rule", rule, "--alpha", "0.1")
	if exitCode(err) != 3 || !strings.Contains(out, "worse by 100.0% (p=0.100, n=3)") {
		t.Fatalf("3 vs 3 at 0.1: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"--format", "yaml"},
		{"--alpha", "0"},
		{"--alpha", "1.5"},
		{"--rule", "p99 < 2s significant"},
	} {
		args = append([]string{"gate", "--current", same, "--baseline", base, "--rule", rule}, args...)
		if _, err := run(t, args...); exitCode(err) != 2 {
			t.Errorf("%q: exit %d (%v), want 2", args, exitCode(err), err)
		}
	}
}

// TestGateRefuseNoisy checks --refuse-noisy end to end: a run with a noisy
// path passes its rules without it and fails with exit 3 with it, the
// output naming the path; a quiet run passes with it.
func TestGateRefuseNoisy(t *testing.T) {
	dir := t.TempDir()
	quietRun := resultstest.Run(1)
	for _, p := range quietRun.Paths {
		p.Noise = &results.Noise{CPU: &results.CPUNoise{SpanSeconds: 100, Cores: 2, Share: 0.01, Threshold: 0.1}}
	}
	quiet := writeDoc(t, dir, "quiet.json", quietRun)
	quietRun.Path("direct").Noise = &results.Noise{CPU: &results.CPUNoise{SpanSeconds: 100, Cores: 2, OtherSeconds: 60, Share: 0.3, Threshold: 0.1},
		Noisy: true, Reason: "other processes took 60.0 CPU s in 100 s on 2 cores: 30.0% of the machine (threshold 10.0%)"}
	noisy := writeDoc(t, dir, "noisy.json", quietRun)
	rule := "p99{class=ml} < 1h"
	if out, err := run(t, "gate", "--current", noisy, "--rule", rule); exitCode(err) != 0 {
		t.Fatalf("noisy run without --refuse-noisy: exit %d\n%s", exitCode(err), out)
	}
	out, err := run(t, "gate", "--current", noisy, "--rule", rule, "--refuse-noisy")
	if exitCode(err) != 3 || !strings.Contains(out, "FAIL  not noisy: current run: path direct is noisy: other processes took 60.0 CPU s") {
		t.Fatalf("noisy run with --refuse-noisy: exit %d\n%s", exitCode(err), out)
	}
	if out, err := run(t, "gate", "--current", quiet, "--rule", rule, "--refuse-noisy", "--format", "markdown"); exitCode(err) != 0 || !strings.Contains(out, "no path noisy") {
		t.Fatalf("quiet run with --refuse-noisy: exit %d\n%s", exitCode(err), out)
	}
}
