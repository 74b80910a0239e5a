package socket

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// stringConsts returns the values of the string constants of the Go file
// whose names start with prefix.
func stringConsts(t *testing.T, file, prefix string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, prefix) || i >= len(vs.Values) {
				continue
			}
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v, _ := strconv.Unquote(lit.Value)
				out = append(out, v)
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatalf("no %s* string constants in %s", prefix, file)
	}
	return out
}

// TestMetricsStartAtZero checks that every error code of the protocol
// (the Code constants of chat/errors.go) and every disconnect reason (the
// reason constants) has its series on a fresh front door, at 0: error
// rates on a dashboard read 0 on a healthy server, not "No data".
func TestMetricsStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	newMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]map[string]float64{} // metric → its one label's value → count
	for _, mf := range mfs {
		series[mf.GetName()] = map[string]float64{}
		for _, m := range mf.GetMetric() {
			if l := m.GetLabel(); len(l) == 1 {
				series[mf.GetName()][l[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	for metric, want := range map[string][]string{
		"chatbench_protocol_errors_total": stringConsts(t, "../chat/errors.go", "Code"),
		"chatbench_ws_disconnects_total":  stringConsts(t, "metrics.go", "reason"),
	} {
		for _, v := range want {
			n, ok := series[metric][v]
			if !ok || n != 0 {
				t.Errorf("%s{%q}: present %v, value %v on a fresh front door; want present at 0 (add it to metrics.go)", metric, v, ok, n)
			}
		}
		if len(series[metric]) != len(want) {
			t.Errorf("%s has %d series, want one per known value (%d)", metric, len(series[metric]), len(want))
		}
	}
}
