package main

import (
	"errors"
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
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := results.Write(f, resultstest.Run(slow)); err != nil {
		t.Fatal(err)
	}
	return path
}

func exitCode(err error) int {
	var ec exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	if err != nil {
		return 1
	}
	return 0
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
	if _, err := run(t, "report", a, "--format", "pdf"); err == nil || !strings.Contains(err.Error(), "table, markdown or html") {
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
