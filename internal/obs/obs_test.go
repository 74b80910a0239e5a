package obs_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/internal/buildinfo"
	"github.com/chatbench/chatbench/internal/obs"
)

// TestRegistryHasBuildInfo checks every server's registry states the
// build: chatbench_build_info{version,revision,goversion} 1, with this
// binary's values.
func TestRegistryHasBuildInfo(t *testing.T) {
	mfs, err := obs.NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	in := buildinfo.Read()
	for _, mf := range mfs {
		if mf.GetName() != "chatbench_build_info" {
			continue
		}
		m := mf.GetMetric()
		if len(m) != 1 || m[0].GetGauge().GetValue() != 1 {
			t.Fatalf("chatbench_build_info: %v, want one series of value 1", m)
		}
		got := map[string]string{}
		for _, l := range m[0].GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		want := map[string]string{"version": in.Version, "revision": in.Revision, "goversion": in.GoVersion}
		if len(got) != len(want) {
			t.Errorf("labels %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("label %s = %q, want %q", k, got[k], v)
			}
		}
		return
	}
	t.Fatal("no chatbench_build_info in obs.NewRegistry()")
}

// TestJobMetricsStartAtZero checks every job of the catalog has its
// chatbench_jobs_total series for both statuses, at 0, before any job
// ran, so an error rate reads 0 instead of "No data", and an empty
// chatbench_job_duration_seconds series, so a latency quantile has an
// increase to take even when every job ran between two scrapes.
func TestJobMetricsStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	cat := jobs.Catalog()
	obs.NewJobMetrics(reg, cat.Jobs()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[2]string]bool{}
	durations := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() == "chatbench_job_duration_seconds" {
			for _, m := range mf.GetMetric() {
				for _, p := range m.GetLabel() {
					if p.GetName() == obs.JobLabel {
						durations[p.GetValue()] = true
					}
				}
				if n := m.GetHistogram().GetSampleCount(); n != 0 {
					t.Errorf("chatbench_job_duration_seconds %v has %d observations before any job ran", m.GetLabel(), n)
				}
			}
		}
		if mf.GetName() != "chatbench_jobs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if m.GetCounter().GetValue() != 0 {
				t.Errorf("%v = %v before any job ran", l, m.GetCounter().GetValue())
			}
			seen[[2]string{l[obs.JobLabel], l["status"]}] = true
		}
	}
	for _, j := range cat.Jobs() {
		if !durations[j.Name] {
			t.Errorf("no chatbench_job_duration_seconds{%s=%q}", obs.JobLabel, j.Name)
		}
		for _, st := range []string{chat.StatusOK, chat.StatusError} {
			if !seen[[2]string{j.Name, st}] {
				t.Errorf("no chatbench_jobs_total{%s=%q,status=%q}", obs.JobLabel, j.Name, st)
			}
		}
	}
}
