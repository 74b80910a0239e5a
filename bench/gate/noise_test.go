package gate_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/gate"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

// TestRefuseNoisy checks that --refuse-noisy fails a run with a noisy path,
// on either side, naming it and its reason in every format, and leaves a
// quiet run and one of unknown noise alone.
func TestRefuseNoisy(t *testing.T) {
	rules := mustParse(t, "p99 < 1h")
	quiet := func() *results.Run {
		run := resultstest.Run(1)
		for _, p := range run.Paths {
			p.Noise = &results.Noise{CPU: &results.CPUNoise{Share: 0.02, Threshold: 0.1}}
		}
		return run
	}
	noisy := quiet()
	noisy.Path("queue").Noise = &results.Noise{CPU: &results.CPUNoise{Share: 0.4, Threshold: 0.1}, Noisy: true,
		Reason: "other processes took 80.0 CPU s in 100 s on 2 cores: 40.0% of the machine (threshold 10.0%)"}

	// Without the option a noisy run is judged as any other.
	if vs := gate.Check(noisy, nil, rules); gate.Failed(vs) || len(vs) != 2 {
		t.Fatalf("without RefuseNoisy: %v", vs)
	}
	for _, tc := range []struct {
		name           string
		current, base  *results.Run
		fail           bool
		checks         int
		wantInMessages string
	}{
		{"quiet", quiet(), nil, false, 3, "no path noisy (other processes' share of the CPU: direct 2.0%"},
		{"noisy current", noisy, nil, true, 3, "current run: path queue is noisy: other processes took 80.0 CPU s"},
		{"noisy baseline", quiet(), noisy, true, 4, "baseline run: path queue is noisy"},
		// Files from before noise was measured are not refused; the check says it could not know.
		{"unknown", resultstest.Run(1), nil, false, 3, "noise unknown for direct, queue, echo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := gate.Check(tc.current, tc.base, rules, gate.RefuseNoisy())
			if gate.Failed(vs) != tc.fail || len(vs) != tc.checks {
				t.Fatalf("failed %v with %d checks, want %v with %d: %v", gate.Failed(vs), len(vs), tc.fail, tc.checks, vs)
			}
			var all strings.Builder
			for _, v := range vs {
				all.WriteString(v.Message + "\n")
			}
			if !strings.Contains(all.String(), tc.wantInMessages) {
				t.Errorf("messages lack %q:\n%s", tc.wantInMessages, all.String())
			}
			for _, format := range gate.Formats() {
				var buf bytes.Buffer
				if err := gate.Write(&buf, format, vs); err != nil {
					t.Fatal(err)
				}
				if tc.fail && !strings.Contains(buf.String(), "path queue is noisy") {
					t.Errorf("%s output does not say which path is noisy:\n%s", format, buf.String())
				}
			}
		})
	}
}
