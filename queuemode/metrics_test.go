package queuemode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// literalArgs returns, for every call in this package's non-test sources
// of a function or method named fn, its argument at index arg when that
// is a string literal, with where it is.
func literalArgs(t *testing.T, fn string, arg int) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) <= arg {
				return true
			}
			name := ""
			switch f := call.Fun.(type) {
			case *ast.Ident:
				name = f.Name
			case *ast.SelectorExpr:
				name = f.Sel.Name
			}
			if lit, ok := call.Args[arg].(*ast.BasicLit); ok && name == fn && lit.Kind == token.STRING {
				v, _ := strconv.Unquote(lit.Value)
				out[v] = fset.Position(call.Pos()).String()
			}
			return true
		})
	}
	if len(out) == 0 {
		t.Fatalf("no call of %s with a literal argument found: has it been renamed?", fn)
	}
	return out
}

// TestMetricsKnowTheirLabels checks that the lists NewMetrics starts at 0
// hold every SQS action the package observes and every reason its callback
// rejects with (read from the source, so a new call site cannot be
// forgotten), and that a fresh Metrics has exactly those series.
func TestMetricsKnowTheirLabels(t *testing.T) {
	for _, c := range []struct {
		fn    string
		arg   int
		known []string
		list  string
	}{
		{"observe", 0, sqsActions, "sqsActions"},
		{"reject", 2, callbackRejectReasons, "callbackRejectReasons"},
	} {
		for v, where := range literalArgs(t, c.fn, c.arg) {
			if !slices.Contains(c.known, v) {
				t.Errorf("%s: %s(%q) is not in %s (metrics.go): add it, so its series starts at 0", where, c.fn, v, c.list)
			}
		}
	}
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetCounter().GetValue() != 0 {
				t.Errorf("%s %v = %v on a fresh Metrics", mf.GetName(), m.GetLabel(), m.GetCounter().GetValue())
			}
		}
		got[mf.GetName()] = len(mf.GetMetric())
	}
	for name, want := range map[string]int{"chatbench_sqs_call_errors_total": len(sqsActions), "chatbench_sqs_call_duration_seconds": len(sqsActions),
		"chatbench_callback_rejects_total":    len(callbackRejectReasons),
		"chatbench_callback_overridden_total": len(overriddenFields), "chatbench_queue_recreated_total": len(recreatedBy)} {
		if got[name] != want {
			t.Errorf("%s: %d series on a fresh Metrics, want %d", name, got[name], want)
		}
	}
}
