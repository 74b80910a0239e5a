// Package obs holds the observability pieces several packages share: the
// job metrics both paths record under the same names, the registry and
// HTTP mux every server process exposes (/metrics with
// chatbench_build_info, /healthz), logger construction, and the console a
// command's logs and progress bar share (console.go). docs/metrics.md
// lists every metric.
package obs

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/buildinfo"
)

// JobLabel is the label naming a catalog job (triage, intent…) on every
// metric that has one. Not "job": Prometheus sets job to the scrape job's
// name, and a target's own job label becomes exported_job.
const JobLabel = "chat_job"

// JobMetrics are recorded wherever a job runs (the direct server, the queue
// worker), under the same names, so dashboards compare the paths directly.
type JobMetrics struct {
	Duration *prometheus.HistogramVec // chatbench_job_duration_seconds{chat_job,class}
	Results  *prometheus.CounterVec   // chatbench_jobs_total{chat_job,class,status}
}

// NewJobMetrics registers the job metrics on reg (nil = not registered).
// The known jobs (the catalog's) start with chatbench_jobs_total at 0 for
// both statuses, so an error rate reads 0 before the first error instead
// of being absent ("No data" on a dashboard), and with an empty
// chatbench_job_duration_seconds, so a burst of jobs that falls between
// two scrapes still shows as a rate (a series first scraped with all its
// observations has no increase to take a rate of).
func NewJobMetrics(reg prometheus.Registerer, known ...*chat.Job) *JobMetrics {
	m := &JobMetrics{
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatbench_job_duration_seconds",
			Help:    "Time a job's handler ran, from job_start to job_end, by job (chat_job) and class.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
		}, []string{JobLabel, "class"}),
		Results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_jobs_total",
			Help: "Jobs run, by job (chat_job), class and event status (ok or error).",
		}, []string{JobLabel, "class", "status"}),
	}
	for _, j := range known {
		m.Duration.WithLabelValues(j.Name, string(j.Class))
		for _, st := range []string{chat.StatusOK, chat.StatusError} {
			m.Results.WithLabelValues(j.Name, string(j.Class), st)
		}
	}
	if reg != nil {
		reg.MustRegister(m.Duration, m.Results)
	}
	return m
}

// Observe records one finished job from its event's hop stamps.
func (m *JobMetrics) Observe(j *chat.Job, ev *chat.Event) {
	d := time.Duration(ev.Hops.JobEnd-ev.Hops.JobStart) * time.Microsecond
	m.Duration.WithLabelValues(j.Name, string(j.Class)).Observe(d.Seconds())
	m.Results.WithLabelValues(j.Name, string(j.Class), ev.Status).Inc()
}

// Mux returns a mux serving /metrics from gatherer and /healthz.
func Mux(gatherer prometheus.Gatherer) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}

// NewRegistry returns a registry with the Go and process collectors and
// chatbench_build_info of this binary: the usual contents of a server's
// /metrics, and what every chatbench server process serves.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
		NewBuildInfo(buildinfo.Read()))
	return reg
}

// NewBuildInfo returns chatbench_build_info{version,revision,goversion}, of
// value 1: the build a process runs, to join on or alert on (a fleet
// running two revisions) in the Prometheus way.
func NewBuildInfo(in buildinfo.Info) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "chatbench_build_info",
		Help:        "The running chatbench build: version, VCS revision (unknown when not stamped) and Go version; always 1.",
		ConstLabels: prometheus.Labels{"version": in.Version, "revision": in.Revision, "goversion": in.GoVersion},
	})
	g.Set(1)
	return g
}

// LogFormats are the formats NewLogger writes, LogLevels the levels it
// takes (the CLI's --log-format and --log-level offer them).
func LogFormats() []string { return []string{"text", "json"} }

// LogLevels: see LogFormats.
func LogLevels() []string { return []string{"debug", "info", "warn", "error"} }

// NewLogger returns a slog logger writing format (one of LogFormats) at
// level (one of LogLevels) to w.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if !slices.Contains(LogLevels(), level) || lv.UnmarshalText([]byte(level)) != nil {
		return nil, fmt.Errorf("log level %q: use %s", level, strings.Join(LogLevels(), ", "))
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use %s", format, strings.Join(LogFormats(), " or "))
}
