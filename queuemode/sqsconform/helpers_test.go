package sqsconform_test

import (
	"bufio"
	"bytes"
	"log/slog"
	"testing"

	"github.com/chatbench/chatbench/queuemode/sqsconform"
)

// reportResults writes the report to the test log and turns each result into
// a subtest: PASS passes, SKIP (informational) skips, FAIL fails unless the
// check is in expected (then it skips, naming the disagreement).
func reportResults(t *testing.T, target string, results []sqsconform.Result, expected map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	sqsconform.WriteReport(&buf, results)
	t.Logf("SQS conformance against %s:\n%s", target, buf.String())

	if want := len(sqsconform.Checks()); len(results) != want {
		t.Errorf("got %d results, want one per check (%d)", len(results), want)
	}
	for _, r := range results {
		t.Run(r.Name, func(t *testing.T) {
			why, isExpected := expected[r.Name]
			switch {
			case r.Skipped:
				t.Skipf("informational: %s", r.Detail)
			case r.Passed && isExpected:
				t.Errorf("%s now passes against %s; remove it from the expected-failure list (%s)", r.Name, target, why)
			case r.Passed:
				if r.Detail != "" {
					t.Log(r.Detail)
				}
			case isExpected:
				t.Skipf("EXPECTED FAILURE against %s (%s): %s", target, why, r.Detail)
			default:
				t.Errorf("%s: %s\n  check: %s\n  follows: %s", r.Name, r.Detail, r.Doc, r.Ref)
			}
		})
	}
}

// testLogger passes the run's warnings (queue cleanup problems) to t.Log;
// per-check progress is left out, since the report carries it.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testWriter adapts t.Log to an io.Writer, one log call per line.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		w.t.Log(sc.Text())
	}
	return len(p), nil
}
