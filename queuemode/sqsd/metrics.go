package sqsd

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus instruments. Labels are bounded: the
// action is one of the known SQS actions (or "unknown"), the outcome "ok" or
// one of the error codes sqsd emits, and queue_kind/state small enums.
type metrics struct {
	reg      prometheus.Registerer
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	messages *messagesCollector
}

func newMetrics(reg prometheus.Registerer, s *Server, log *slog.Logger) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_sqsd_requests_total",
			Help: "SQS API calls served by the embedded SQS server, by action and outcome (ok or the error code).",
		}, []string{"action", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatbench_sqsd_request_duration_seconds",
			Help:    "Time to serve an SQS API call, including long-poll waits and any added latency profile.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}, []string{"action"}),
		messages: &messagesCollector{s: s, desc: prometheus.NewDesc(
			"chatbench_sqsd_messages",
			"Messages held by the embedded SQS server, by queue kind (standard, fifo) and state (visible, inflight, delayed).",
			[]string{"queue_kind", "state"}, nil)},
	}
	// Two servers may share a registry: they then share the counters.
	m.requests = registerOrExisting(reg, m.requests)
	m.duration = registerOrExisting(reg, m.duration)
	if err := reg.Register(m.messages); err != nil {
		log.Warn("sqsd: chatbench_sqsd_messages not registered; give each Server its own Registerer to export it", "err", err)
		m.messages = nil
	}
	return m
}

func registerOrExisting[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (m *metrics) observe(action, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(action, outcome).Inc()
	m.duration.WithLabelValues(action).Observe(d.Seconds())
}

// unregister drops the collector that refers to the server.
func (m *metrics) unregister() {
	if m != nil && m.messages != nil {
		m.reg.Unregister(m.messages)
	}
}

// messagesCollector counts messages at scrape time.
type messagesCollector struct {
	s    *Server
	desc *prometheus.Desc
}

func (c *messagesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *messagesCollector) Collect(ch chan<- prometheus.Metric) {
	var n [2][3]int // [standard, fifo][visible, inflight, delayed]
	s := c.s
	s.mu.Lock()
	now := s.now()
	for _, q := range s.queues {
		k := 0
		if q.fifo {
			k = 1
		}
		v, i, d := q.counts(now)
		n[k][0] += v
		n[k][1] += i
		n[k][2] += d
	}
	s.mu.Unlock()
	for k, kind := range []string{"standard", "fifo"} {
		for st, state := range []string{"visible", "inflight", "delayed"} {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n[k][st]), kind, state)
		}
	}
}
