package queuemode

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the queue path's metrics. Their names are fixed (dashboards
// use them). One Metrics is shared by the gateway's dispatcher and callback
// and by any worker in the same process; create it once per registry.
type Metrics struct {
	// SQSCallDuration is chatbench_sqs_call_duration_seconds{action}.
	SQSCallDuration *prometheus.HistogramVec
	// SQSCallErrors is chatbench_sqs_call_errors_total{action}.
	SQSCallErrors *prometheus.CounterVec
	// JobsInFlight is chatbench_queue_jobs_in_flight: messages a worker
	// received and has not finished with.
	JobsInFlight prometheus.Gauge
	// Redeliveries is chatbench_queue_redeliveries_total: messages received
	// with a receive count above 1.
	Redeliveries prometheus.Counter
	// DLQDepth is chatbench_queue_dlq_depth, polled by the worker.
	DLQDepth prometheus.Gauge
	// CallbackDuration is chatbench_callback_duration_seconds: the worker's
	// POST to the gateway, request to response.
	CallbackDuration prometheus.Histogram
	// CallbackRejects is chatbench_callback_rejects_total{reason}: requests
	// the gateway's callback refused (callbackRejectReasons: unsigned,
	// bad_signature, expired, replay, bad_body, too_large, timeout, busy,
	// unknown_message, unknown_job, record_unreachable).
	CallbackRejects *prometheus.CounterVec
	// CallbackOverridden is chatbench_callback_overridden_total{field}:
	// events whose posted conv, type, name, audience or members differed
	// from the gateway's record of the message; the record's were used.
	CallbackOverridden *prometheus.CounterVec
	// QueueRecreated is chatbench_queue_recreated_total{by}: times a
	// worker or gateway created the queues again after SQS said they did
	// not exist (an endpoint that lost them).
	QueueRecreated *prometheus.CounterVec
	// CallbackDuplicates is chatbench_callback_duplicates_total{action}:
	// events posted again after the gateway had emitted them (a job run
	// twice), "dropped" by its dedup or, with CallbackConfig.NoDedup,
	// "emitted" once more.
	CallbackDuplicates *prometheus.CounterVec
	// QueueDepth is chatbench_queue_depth{state}: the job queue's visible
	// and in-flight messages, read from SQS when the gateway is scraped
	// (GatewayConfig.Registerer); what is still queued when a stop begins.
	QueueDepth *prometheus.GaugeVec
	// Outstanding is chatbench_queue_outstanding_messages: messages the
	// gateway accepted whose queued jobs are not all answered yet (the
	// backpressure's count, DispatcherConfig.MaxConvOutstanding).
	Outstanding prometheus.Gauge
	// Overloaded is chatbench_queue_overloaded_total{bound}: sends the
	// gateway refused with overloaded because their conversation or their
	// sender had as many messages outstanding as allowed.
	Overloaded *prometheus.CounterVec
	// OutstandingExpired is chatbench_queue_outstanding_expired_total:
	// messages that stopped counting after DispatcherConfig.OutstandingTTL
	// without all their events back.
	OutstandingExpired prometheus.Counter
}

// NewMetrics returns the queue metrics, registered on reg (nil = not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		SQSCallDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chatbench_sqs_call_duration_seconds",
			Help:    "Duration of SQS API calls (SDK retries included), by action.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14),
		}, []string{"action"}),
		SQSCallErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_sqs_call_errors_total",
			Help: "SQS API calls that failed (after SDK retries), by action.",
		}, []string{"action"}),
		JobsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chatbench_queue_jobs_in_flight",
			Help: "Queue messages received by workers and not yet finished.",
		}),
		Redeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatbench_queue_redeliveries_total",
			Help: "Queue messages received with ApproximateReceiveCount above 1.",
		}),
		DLQDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chatbench_queue_dlq_depth",
			Help: "ApproximateNumberOfMessages of the dead-letter queue, polled by the worker.",
		}),
		CallbackDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chatbench_callback_duration_seconds",
			Help:    "Worker-side duration of posting events to the gateway's callback.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14),
		}),
		CallbackRejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_callback_rejects_total",
			Help: "Callback requests the gateway refused, by reason.",
		}, []string{"reason"}),
		CallbackOverridden: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_callback_overridden_total",
			Help: "Callback events whose posted field differed from the gateway's record of the message (the record's was used), by field.",
		}, []string{"field"}),
		QueueRecreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_queue_recreated_total",
			Help: "Times the queues were created again after SQS reported them missing, by the component that did (worker, gateway).",
		}, []string{"by"}),
		CallbackDuplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_callback_duplicates_total",
			Help: "Events posted to the gateway after it had emitted them, dropped (dedup) or emitted again (--no-event-dedup).",
		}, []string{"action"}),
		QueueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chatbench_queue_depth",
			Help: "Messages in the job queue (visible, in_flight), read from SQS when the gateway is scraped.",
		}, []string{"state"}),
		Outstanding: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chatbench_queue_outstanding_messages",
			Help: "Messages the gateway accepted whose queued jobs are not all answered yet.",
		}),
		Overloaded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_queue_overloaded_total",
			Help: "Sends the gateway refused as overloaded, by the bound met (conversation, user).",
		}, []string{"bound"}),
		OutstandingExpired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatbench_queue_outstanding_expired_total",
			Help: "Accepted messages that stopped counting as outstanding after their TTL, not all their events back.",
		}),
	}
	// Every known action and reason starts at 0, so their rates read 0 on
	// a healthy system instead of being absent ("No data").
	// The call durations start empty for the same reason: a series first
	// scraped with all its observations has no increase to take a rate of.
	for _, a := range sqsActions {
		m.SQSCallErrors.WithLabelValues(a)
		m.SQSCallDuration.WithLabelValues(a)
	}
	for _, r := range callbackRejectReasons {
		m.CallbackRejects.WithLabelValues(r)
	}
	for _, f := range overriddenFields {
		m.CallbackOverridden.WithLabelValues(f)
	}
	for _, by := range recreatedBy {
		m.QueueRecreated.WithLabelValues(by)
	}
	for _, b := range overloadBounds {
		m.Overloaded.WithLabelValues(b)
	}
	if reg != nil {
		reg.MustRegister(m.SQSCallDuration, m.SQSCallErrors, m.JobsInFlight, m.Redeliveries,
			m.DLQDepth, m.CallbackDuration, m.CallbackRejects, m.CallbackDuplicates, m.CallbackOverridden, m.QueueRecreated,
			m.Outstanding, m.Overloaded, m.OutstandingExpired)
	}
	return m
}

// sqsActions are the SQS actions the queue path calls (the action label of
// the SQS call metrics); metrics_test.go checks every observe call names
// one of them.
var sqsActions = []string{
	"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
	"ChangeMessageVisibilityBatch", "GetQueueAttributes",
}

// callbackRejectReasons are the reasons the gateway's callback refuses a
// request for (chatbench_callback_rejects_total); metrics_test.go checks
// every reject call names one of them.
var callbackRejectReasons = []string{"unsigned", "bad_signature", "expired", "replay", "bad_body", "too_large",
	"timeout", "busy", "unknown_message", "unknown_job", "record_unreachable"}

// overriddenFields are the fields of a posted event the gateway takes from
// its record instead (chatbench_callback_overridden_total).
var overriddenFields = []string{"conv", "type", "name", "audience", "members"}

// recreatedBy are the components that recreate lost queues
// (chatbench_queue_recreated_total).
var recreatedBy = []string{"worker", "gateway"}

// The bounds a send is refused as overloaded for
// (chatbench_queue_overloaded_total).
const (
	boundConversation = "conversation"
	boundUser         = "user"
)

// overloadBounds are the bound label's values.
var overloadBounds = []string{boundConversation, boundUser}

// observe records one SQS call.
func (m *Metrics) observe(action string, start time.Time, err error) {
	m.SQSCallDuration.WithLabelValues(action).Observe(time.Since(start).Seconds())
	if err != nil {
		m.SQSCallErrors.WithLabelValues(action).Inc()
	}
}
