package mlservice

import (
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat/jobs"
)

// TestEveryCatalogModelServed is the job → model link checked by a test
// rather than found by a run: every model a job of the catalog calls has a
// profile in every preset, and a server on the defaults answers it.
func TestEveryCatalogModelServed(t *testing.T) {
	models := jobs.Catalog().Models()
	if len(models) == 0 {
		t.Fatal("the catalog names no model")
	}
	for _, name := range PresetNames() {
		ps, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range models {
			if _, ok := ps[m]; !ok {
				t.Errorf("preset %s has no profile for model %s, which a job calls", name, m)
			}
		}
	}
	env := newEnv(t, Config{Profiles: profilesWith(t, "")}, ClientConfig{}, nil)
	for _, m := range models {
		if _, err := env.client.Predict(ctxT(t), m, "x"); err != nil {
			t.Errorf("model %s: %v", m, err)
		}
	}
}

// TestDefaultTableInDocs keeps docs/ml-profiles.md's table of default
// profiles equal to the built-in figures, which the benchmark's published
// numbers depend on.
func TestDefaultTableInDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/ml-profiles.md")
	if err != nil {
		t.Fatal(err)
	}
	builtin := builtinProfiles()
	rows := 0
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 8 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		model := strings.Trim(strings.TrimSpace(cells[1]), "`")
		want, ok := builtin[model]
		if !ok {
			continue // another table of the page
		}
		rows++
		got := Profile{
			Median: docDuration(t, cells[3]), P99: docDuration(t, cells[4]),
			FailureRate: docPercent(t, cells[5]), Timeout: docDuration(t, cells[6]),
		}
		if got.Median != want.Median || got.P99 != want.P99 || math.Abs(got.FailureRate-want.FailureRate) > 1e-12 || got.Timeout != want.Timeout {
			t.Errorf("docs/ml-profiles.md row %s = median %v p99 %v fail %v timeout %v; the code says %v", model, got.Median, got.P99, got.FailureRate, got.Timeout, want)
		}
	}
	if rows != len(builtin) {
		t.Errorf("docs/ml-profiles.md has %d rows of default profiles, the built-in table %d models", rows, len(builtin))
	}
}

// docDuration parses a cell such as "35 ms" or "1.5 s".
func docDuration(t *testing.T, cell string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(strings.ReplaceAll(strings.TrimSpace(cell), " ", ""))
	if err != nil {
		t.Fatalf("docs/ml-profiles.md: cell %q is not a duration", cell)
	}
	return d
}

// docPercent parses a cell such as "0.5 %" as a fraction.
func docPercent(t *testing.T, cell string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cell), "%")), 64)
	if err != nil {
		t.Fatalf("docs/ml-profiles.md: cell %q is not a percentage", cell)
	}
	return f / 100
}
