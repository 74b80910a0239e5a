package gate_test

import (
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/gate"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

func TestParse(t *testing.T) {
	good := []struct {
		text string
		want gate.Rule
	}{
		{"p99{class=ml} < 2s", gate.Rule{Metric: "p99", Group: "class:ml", Op: "<", Value: 2e6}},
		{"p50{job=triage} <= 300ms", gate.Rule{Metric: "p50", Group: "job:triage", Op: "<=", Value: 300e3}},
		{"lost == 0", gate.Rule{Metric: "lost", Group: "all", Op: "==", Value: 0}},
		{"lost{class=ml} == 0", gate.Rule{Metric: "lost", Group: "class:ml", Op: "==", Value: 0}},
		{"duplicates == 0", gate.Rule{Metric: "duplicates", Group: "all", Op: "==", Value: 0}},
		{"p99{path=queue,class=ml} < 2s", gate.Rule{Metric: "p99", Path: "queue", Group: "class:ml", Op: "<", Value: 2e6}},
		{"p99{ path = queue , class = ml }<2s", gate.Rule{Metric: "p99", Path: "queue", Group: "class:ml", Op: "<", Value: 2e6}},
		{"p50 regression < 10%", gate.Rule{Metric: "p50", Group: "all", Regression: true, Op: "<", Value: 0.10}},
		{"p99{class=sync} regression < 20%", gate.Rule{Metric: "p99", Group: "class:sync", Regression: true, Op: "<", Value: 0.20}},
		{"p99.9 < 850us", gate.Rule{Metric: "p999", Group: "all", Op: "<", Value: 850}},
		{"max{path=echo} < 1.5ms", gate.Rule{Metric: "max", Path: "echo", Group: "all", Op: "<", Value: 1500}},
		{"delivered_ratio >= 99.9%", gate.Rule{Metric: "delivered_ratio", Group: "all", Op: ">=", Value: 0.999}},
		{"delivered_ratio{class=relay} >= 0.995", gate.Rule{Metric: "delivered_ratio", Group: "class:relay", Op: ">=", Value: 0.995}},
		{"reordered != 5", gate.Rule{Metric: "reordered", Group: "all", Op: "!=", Value: 5}},
		{"p50{class=ml} regression < 10% significant", gate.Rule{Metric: "p50", Group: "class:ml", Regression: true, Op: "<", Value: 0.10, Significant: true}},
		{"p99 regression <= 5%   significant", gate.Rule{Metric: "p99", Group: "all", Regression: true, Op: "<=", Value: 0.05, Significant: true}},
	}
	for _, c := range good {
		got, err := gate.Parse(c.text)
		if err != nil {
			t.Errorf("%q: %v", c.text, err)
			continue
		}
		c.want.Text = strings.TrimSpace(c.text)
		if got != c.want {
			t.Errorf("%q: got %+v, want %+v", c.text, got, c.want)
		}
	}
	bad := []struct{ text, want string }{
		{"", "empty"},
		{"p98 < 2s", `unknown metric "p98"`},
		{"p99", "no comparison"},
		{"p99{class=ml < 2s", "unclosed"},
		{"p99{klass=ml} < 2s", `unknown selector key "klass"`},
		{"p99{class} < 2s", "KEY=VALUE"},
		{"p99{class=ml,job=triage} < 2s", "split it"},
		{"p99 ~ 2s", "operator"},
		{"p99 <", "missing value"},
		{"p99 < 2", "no unit"},
		{"p99 < soon", "not a duration"},
		{"lost == 0.5", "whole number"},
		{"lost regression < 10%", "regression applies to latency"},
		{"p50 regression < 10", "percentage"},
		{"delivered_ratio >= 2", "between 0 and 1"},
		{"p99 < 2s significant", "significant applies to regression rules"},
		{"p50 regression < 10%significant", "percentage"},
		{"p50 regression < significant", "missing value"},
	}
	for _, c := range bad {
		_, err := gate.Parse(c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "rule ") {
			t.Errorf("%q: got %v, want error containing %q", c.text, err, c.want)
		}
	}
}

func TestParseAll(t *testing.T) {
	rules, err := gate.ParseAll(strings.NewReader("# CI gate\n\np99{class=ml} < 2s  # ML under 2 s\nlost == 0\n"), "gate.rules")
	if err != nil || len(rules) != 2 || rules[0].Text != "p99{class=ml} < 2s" {
		t.Fatalf("%v %+v", err, rules)
	}
	_, err = gate.ParseAll(strings.NewReader("lost == 0\np98 < 1s\n"), "gate.rules")
	if err == nil || !strings.Contains(err.Error(), "gate.rules:2:") {
		t.Fatalf("error without line: %v", err)
	}
}

func mustParse(t *testing.T, texts ...string) []gate.Rule {
	t.Helper()
	var rules []gate.Rule
	for _, s := range texts {
		r, err := gate.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	return rules
}

// TestRegression is the done-when: the gate fails on a deliberately
// slowed run and passes on an identical one.
func TestRegression(t *testing.T) {
	rules := mustParse(t, "p50 regression < 10%", "p99{class=sync} regression < 20%")
	base := resultstest.Run(1)
	if vs := gate.Check(resultstest.Run(1), base, rules); gate.Failed(vs) || len(vs) != 4 {
		t.Fatalf("identical run: %v", vs)
	}
	vs := gate.Check(resultstest.Run(1.5), base, rules)
	if len(vs) != 4 {
		t.Fatalf("verdicts: %v", vs)
	}
	for _, v := range vs {
		if v.Pass {
			t.Errorf("slowed run passed: %v", v)
		}
		if !strings.Contains(v.Message, "path "+v.Path) || !strings.Contains(v.Message, "vs baseline") || !strings.Contains(v.Message, "+50.") {
			t.Errorf("message: %s", v)
		}
	}
	if vs := gate.Check(resultstest.Run(1), nil, rules[:1]); !gate.Failed(vs) || !strings.Contains(vs[0].Message, "--baseline") {
		t.Errorf("regression without baseline: %v", vs)
	}
	// A faster run passes.
	if vs := gate.Check(resultstest.Run(0.8), base, rules); gate.Failed(vs) {
		t.Errorf("faster run: %v", vs)
	}
}

func TestThresholds(t *testing.T) {
	run := resultstest.Run(1)
	cases := []struct {
		rule  string
		pass  []bool // per path checked
		paths []string
		msg   string
	}{
		{"lost == 0", []bool{true, false}, []string{"direct", "queue"}, "lost = 2 (threshold == 0), path queue, group all"},
		{"lost{class=ml} == 0", []bool{true, false}, []string{"direct", "queue"}, "group class:ml"},
		{"lost{class=relay} == 0", []bool{true, true}, []string{"direct", "queue"}, ""},
		{"duplicates == 0", []bool{true, false}, []string{"direct", "queue"}, "duplicates = 1"},
		{"p99{class=ml} < 2s", []bool{true, false}, []string{"direct", "queue"}, "p99 = 2.590719s (threshold < 2s), path queue, group class:ml"},
		{"p99{class=ml} < 500ms", []bool{false, false}, []string{"direct", "queue"}, "(threshold < 500ms), path direct, group class:ml"},
		{"p50{path=queue,class=sync} < 10ms", []bool{false}, []string{"queue"}, "path queue"},
		{"p99{path=echo} < 5ms", []bool{true}, []string{"echo"}, ""},
		{"p99{path=kafka} < 5ms", []bool{false}, []string{"kafka"}, `no path "kafka"`},
		{"p99{job=fax} < 5s", []bool{false, false}, []string{"direct", "queue"}, "no latency measured for group job:fax"},
		{"delivered_ratio{job=triage} >= 99%", []bool{true, true}, []string{"direct", "queue"}, ""},
		{"delivered_ratio{job=triage} >= 99.9%", []bool{true, false}, []string{"direct", "queue"}, ""},
		{"reordered == 0", []bool{true, false}, []string{"direct", "queue"}, ""},
		{"errored == 0", []bool{true, true}, []string{"direct", "queue"}, ""},
		{"unexpected == 0", []bool{true, true}, []string{"direct", "queue"}, ""},
	}
	for _, c := range cases {
		vs := gate.Check(run, nil, mustParse(t, c.rule))
		if len(vs) != len(c.pass) {
			t.Errorf("%s: %d verdicts %v", c.rule, len(vs), vs)
			continue
		}
		msgs := ""
		for i, v := range vs {
			if v.Pass != c.pass[i] || v.Path != c.paths[i] {
				t.Errorf("%s: verdict %d: %v", c.rule, i, v)
			}
			msgs += v.String() + "\n"
		}
		if !strings.Contains(msgs, c.msg) {
			t.Errorf("%s: messages %q lack %q", c.rule, msgs, c.msg)
		}
	}
}
