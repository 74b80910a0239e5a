package deploy_test

import (
	"strings"
	"testing"
)

// TestNoTargetLabels checks no chatbench metric has a label Prometheus
// sets on every series itself: job (the scrape job; a target's own job
// label would be renamed exported_job, or, with honor_labels, replace
// it) and instance (the target). The catalog job is chat_job.
func TestNoTargetLabels(t *testing.T) {
	for name, labels := range exportedMetrics(t) {
		for _, l := range labels {
			if l == "job" || l == "instance" || strings.HasPrefix(l, "exported_") {
				t.Errorf("%s has a label %q, which Prometheus sets itself (call the catalog job chat_job)", name, l)
			}
		}
	}
}
