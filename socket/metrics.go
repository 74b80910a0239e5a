package socket

import "github.com/prometheus/client_golang/prometheus"

// metrics of the front door. Labels are bounded: message types and jobs
// come from the catalog, codes and reasons from fixed lists; never user or
// conversation ids.
type metrics struct {
	conns       prometheus.Gauge
	opened      prometheus.Counter
	disconnects *prometheus.CounterVec
	messagesIn  *prometheus.CounterVec
	drops       prometheus.Counter
	errors      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chatbench_ws_connections", Help: "Open WebSocket connections.",
		}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatbench_ws_connections_opened_total", Help: "WebSocket connections accepted.",
		}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_ws_disconnects_total", Help: "WebSocket connections closed, by reason.",
		}, []string{"reason"}),
		messagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_messages_in_total", Help: "Messages accepted from clients, by message type.",
		}, []string{"type"}),
		drops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatbench_send_queue_drops_total", Help: "Frames dropped because a connection's send queue was full (the connection is then closed as a slow consumer).",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatbench_protocol_errors_total", Help: "Error frames sent to clients, by error code.",
		}, []string{"code"}),
	}
	if reg != nil {
		reg.MustRegister(m.conns, m.opened, m.disconnects, m.messagesIn, m.drops, m.errors)
	}
	return m
}

// Disconnect reasons (label values of chatbench_ws_disconnects_total).
const (
	reasonClient       = "client"
	reasonSlow         = "slow_consumer"
	reasonTooLarge     = "frame_too_large"
	reasonBadToken     = "bad_token"
	reasonAuthTimeout  = "auth_timeout"
	reasonShutdown     = "shutdown"
	reasonError        = "error"
	reasonRateLimited  = "rate_limited"
	reasonTooManyConns = "too_many_connections"
	reasonUnavailable  = "unavailable"
	reasonResync       = "broker_resync"
)
