package stack

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVariantRows checks properties of the table itself: names are unique
// and valid process-name parts, every Extra flag goes to a component the
// variant runs (a misspelt component would drop its flags silently),
// a variant's Extra flags are pairs or switches, and compare's default set
// holds the floor, the direct path, the legacy queue and at least one
// other configuration of the queue set.
func TestVariantRows(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Variants() {
		if seen[v.Name] || v.Name == "" || strings.ContainsAny(v.Name, " /,") {
			t.Errorf("variant name %q: empty, repeated, or not usable in --paths and process names", v.Name)
		}
		seen[v.Name] = true
		for comp, flags := range v.Extra {
			if _, ok := v.Component(comp); !ok {
				t.Errorf("%s: Extra flags %v for %q, which it does not run", v.Name, flags, comp)
			}
			if len(flags) > 0 && !strings.HasPrefix(flags[0], "--") {
				t.Errorf("%s: Extra flags of %s start with %q, not a flag", v.Name, comp, flags[0])
			}
		}
		if v.Desc == "" {
			t.Errorf("%s: no description", v.Name)
		}
		if v.Name != "echo" && v.Claim == "" {
			t.Errorf("%s: no claim: reports cannot say what it tests", v.Name)
		}
	}
	def := DefaultPaths()
	for _, must := range []string{"echo", "direct", "queue"} {
		if !slices.Contains(def, must) {
			t.Errorf("default paths %v lack %s", def, must)
		}
	}
	legacy, _ := Lookup("queue")
	others := 0
	for _, name := range def {
		v, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if v.Set == legacy.Set && v.Name != "queue" {
			others++
		}
	}
	if others == 0 {
		t.Errorf("default paths %v hold no queue variant besides the legacy one", def)
	}
}

// TestDrainBeforeGrace checks that a server's or worker's own drain gives
// up before the stack's stop grace: an overloaded path then exits by
// itself, reporting what it left, instead of being killed.
func TestDrainBeforeGrace(t *testing.T) {
	for _, grace := range []time.Duration{time.Nanosecond, time.Second, DefaultStopGrace, 2 * time.Minute} {
		d, err := time.ParseDuration(drainTimeout(Env{Config: Config{StopGrace: grace}}))
		if err != nil || d >= grace || d < 0 {
			t.Errorf("stop grace %v: drain timeout %v (%v), want in [0, grace)", grace, d, err)
		}
	}
}

// TestScrapeGauge reads a backlog gauge from Prometheus text: the samples
// of every label set are summed; comments and metrics whose names only
// start the same are not.
func TestScrapeGauge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `# HELP chatbench_queue_depth Messages in the job queue.
# TYPE chatbench_queue_depth gauge
chatbench_queue_depth{state="in_flight"} 40
chatbench_queue_depth{state="visible"} 585
chatbench_queue_depth_seconds 7
chatbench_queue_jobs_in_flight 3
`)
	}))
	defer srv.Close()
	if n, ok := scrapeGauge(srv.URL, "chatbench_queue_depth"); !ok || n != 625 {
		t.Errorf("labelled gauge: %d, %v; want 625", n, ok)
	}
	if n, ok := scrapeGauge(srv.URL, "chatbench_queue_jobs_in_flight"); !ok || n != 3 {
		t.Errorf("plain gauge: %d, %v; want 3", n, ok)
	}
	if _, ok := scrapeGauge(srv.URL, "chatbench_background_tasks_in_flight"); ok {
		t.Error("a gauge the endpoint does not export was found")
	}
	srv.Close()
	if _, ok := scrapeGauge(srv.URL, "chatbench_queue_depth"); ok {
		t.Error("a stopped endpoint answered")
	}
}

// TestWithoutKills keeps every stop error but the kills after the grace,
// which the results record.
func TestWithoutKills(t *testing.T) {
	kill := &killedError{"queue-gateway did not stop within 30s of SIGTERM; killed"}
	fail := errors.New("queue-worker: exit status 1")
	if err := withoutKills(errors.Join(kill, fail)); err == nil || err.Error() != fail.Error() {
		t.Errorf("kill and failure: %v, want only the failure", err)
	}
	if err := withoutKills(errors.Join(nil, kill)); err != nil {
		t.Errorf("a kill alone: %v, want nil", err)
	}
	if err := withoutKills(nil); err != nil {
		t.Errorf("nil: %v", err)
	}
}
