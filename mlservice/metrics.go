package mlservice

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes: label values of chatbench_mlservice_requests_total (server) and,
// for the first three, chatbench_ml_calls_total (client).
const (
	outcomeOK               = "ok"
	outcomeError            = "error" // client: any failure other than a timeout
	outcomeTimeout          = "timeout"
	outcomeInjectedFailure  = "injected_failure"
	outcomeCanceled         = "canceled" // the caller went away mid-wait
	outcomeBadRequest       = "bad_request"
	outcomeUnknownModel     = "unknown_model"
	outcomeMethodNotAllowed = "method_not_allowed"
)

// unknownModelLabel is the model label of requests naming no known model, so
// outside input never becomes a label value.
const unknownModelLabel = "_unknown"

// latencyBuckets spans loopback calls (sub-millisecond) to generation
// models near their timeouts.
func latencyBuckets() []float64 {
	return []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
}

type serverMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newServerMetrics(reg prometheus.Registerer, models []string) (*serverMetrics, error) {
	m := &serverMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_mlservice_requests_total",
			Help: "Requests to the ML stand-in, by model and outcome (ok, injected_failure, timeout, canceled, bad_request, unknown_model, method_not_allowed).",
		}, []string{"model", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatbench_mlservice_request_duration_seconds",
			Help:    "Time the ML stand-in took to answer a predict call, by model (calls that drew a latency).",
			Buckets: latencyBuckets(),
		}, []string{"model"}),
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	// Zero series up front, so dashboards show rates before the first
	// failure, and empty histograms, so a burst of calls between two scrapes
	// still shows as a rate (a series first scraped with all its
	// observations has no increase to take a rate of).
	for _, model := range models {
		m.duration.WithLabelValues(model)
		for _, o := range []string{outcomeOK, outcomeInjectedFailure, outcomeTimeout} {
			m.requests.WithLabelValues(model, o)
		}
	}
	return m, nil
}

func (m *serverMetrics) record(model, outcome string, took time.Duration, drawn bool) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(model, outcome).Inc()
	if drawn {
		m.duration.WithLabelValues(model).Observe(took.Seconds())
	}
}

type clientMetrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newClientMetrics registers the client's metrics on reg, with the series
// of every model in models at 0 (see newServerMetrics).
func newClientMetrics(reg prometheus.Registerer, models []string) (*clientMetrics, error) {
	m := &clientMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_ml_calls_total",
			Help: "ML service calls made by handlers, by model and outcome (ok, error, timeout).",
		}, []string{"model", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatbench_ml_call_duration_seconds",
			Help:    "Duration of ML service calls as the caller saw them, by model.",
			Buckets: latencyBuckets(),
		}, []string{"model"}),
	}
	var err error
	if m.calls, err = register(reg, m.calls); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	for _, model := range models {
		m.duration.WithLabelValues(model)
		for _, o := range []string{outcomeOK, outcomeError, outcomeTimeout} {
			m.calls.WithLabelValues(model, o)
		}
	}
	return m, nil
}

func (m *clientMetrics) record(model, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(model, outcome).Inc()
	m.duration.WithLabelValues(model).Observe(took.Seconds())
}

// register registers c, or returns the identical collector already
// registered (several servers or clients may share one registry).
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, nil
		}
	}
	return c, err
}
