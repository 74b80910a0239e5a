package gate_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/gate"
	"github.com/chatbench/chatbench/bench/results/resultstest"
	goldenfile "github.com/chatbench/chatbench/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, name, got, *update)
}

// TestFormats renders one gate of two runs with five repeats each (the
// queue path twice as slow in the current run, the direct path as before)
// in every format.
func TestFormats(t *testing.T) {
	base := resultstest.Repeats(around1...)
	cur := resultstest.Repeats(1.02, 0.99, 1.04, 0.96, 1)
	cur.Paths[1] = resultstest.Repeats(around2...).Paths[1]
	vs := gate.Check(cur, base, mustParse(t,
		"p50 regression < 10% significant",
		"p99{class=sync} regression < 20%",
		"p99{class=ml} < 2s",
		"lost == 0",
		"p99{job=fax} < 5s",
	))
	outs := map[string][]byte{}
	for _, f := range gate.Formats() {
		var buf bytes.Buffer
		if err := gate.Write(&buf, f, vs); err != nil {
			t.Fatal(err)
		}
		outs[f] = buf.Bytes()
	}
	golden(t, "gate.txt", outs["text"])
	golden(t, "gate.json", outs["json"])
	golden(t, "gate.md", outs["markdown"])

	// What the files must say, whatever their layout.
	var doc struct {
		Pass   bool
		Checks int
		Failed int
		Rules  []struct {
			Rule, Path string
			Pass       bool
			Value      *float64
			Figure     *struct{ Outcome string }
		}
		Figures []struct {
			Path, Group, Metric, Outcome, Verdict string
			P                                     float64
		}
	}
	if err := json.Unmarshal(outs["json"], &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Pass || doc.Checks != len(vs) || doc.Failed != 6 || len(doc.Rules) != len(vs) || len(doc.Figures) != 4 {
		t.Fatalf("json: pass %v, %d checks, %d failed, %d rules, %d figures", doc.Pass, doc.Checks, doc.Failed, len(doc.Rules), len(doc.Figures))
	}
	for _, f := range doc.Figures {
		want := map[string]string{"direct": "unchanged", "queue": "worse"}[f.Path]
		if f.Outcome != want || (want == "worse") != strings.HasPrefix(f.Verdict, "worse by") {
			t.Errorf("figure %+v, want %s", f, want)
		}
	}
	if r := doc.Rules[len(doc.Rules)-1]; r.Value != nil || r.Pass {
		t.Errorf("a missing group has value %v", *r.Value)
	}
	md := string(outs["markdown"])
	if !strings.HasPrefix(md, "### chatbench gate: ❌ FAIL, 6 of 10 checks failed\n") || strings.Count(md, "\n| ") != len(vs)+2 || !strings.Contains(md, "α=0.05") {
		t.Errorf("markdown:\n%s", md)
	}
	if err := gate.Write(new(bytes.Buffer), "yaml", vs); err == nil || !strings.Contains(err.Error(), "text, json, markdown") {
		t.Errorf("unknown format: %v", err)
	}
}
