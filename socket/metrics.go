package socket

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
)

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
	// Every known reason and code starts at 0, so a rate of them reads 0
	// on a healthy server instead of being absent ("No data").
	for _, r := range disconnectReasons {
		m.disconnects.WithLabelValues(r)
	}
	for _, c := range errorCodes {
		m.errors.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.conns, m.opened, m.disconnects, m.messagesIn, m.drops, m.errors)
	}
	return m
}

// errorCodes are the label values of chatbench_protocol_errors_total: the
// protocol's error codes (chat/errors.go; metrics_test.go checks none is
// missing).
var errorCodes = []string{
	chat.CodeBadJSON, chat.CodeBadUTF8, chat.CodeBadVersion, chat.CodeBadField, chat.CodeMissingField,
	chat.CodeUnknownOp, chat.CodeUnknownType, chat.CodeBinaryFrame, chat.CodeNotAuthenticated, chat.CodeAlreadyAuthed,
	chat.CodeBadToken, chat.CodeForbidden, chat.CodeNotJoined, chat.CodeForbiddenType, chat.CodeOverloaded,
	chat.CodeUnavailable, chat.CodeShuttingDown, chat.CodeFrameTooLarge, chat.CodeJobFailed, chat.CodeJobTimeout,
	chat.CodeJobCancelled, chat.CodeMLUnavailable, chat.CodeDuplicateID, chat.CodeRateLimited, chat.CodeTooManyConns,
	chat.CodeTooLarge, chat.CodeQueueRejected,
}

// disconnectReasons are the label values of chatbench_ws_disconnects_total,
// the reason constants below (metrics_test.go checks none is missing).
var disconnectReasons = []string{
	reasonClient, reasonSlow, reasonTooLarge, reasonBadToken, reasonAuthTimeout,
	reasonShutdown, reasonError, reasonRateLimited, reasonTooManyConns, reasonUnavailable, reasonResync,
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
