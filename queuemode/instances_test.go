package queuemode_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/redistest"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/queuemode"
)

// TestGatewaysShareABroker runs two gateways on one job queue and one
// Redis broker, with the only worker posting every job's events to the
// second gateway (after failing over from a gateway that is not there):
// participants spread over both gateways still get exactly the events one
// gateway would have sent them, and resends are answered across gateways
// (wstest.ResendScenario).
func TestGatewaysShareABroker(t *testing.T) {
	url := redistest.Start(t).URL()
	a := newEnv(t, envOpts{broker: url})
	b := newEnv(t, envOpts{broker: url, endpoint: a.endpoint, queueURL: a.queues.URL})
	poster, clients, err := queuemode.NewCallbackClients("http://127.0.0.1:1,"+b.gw.CallbackURL(), cbSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := queuemode.StartWorker(queuemode.WorkerConfig{
		Catalog: a.cat, Deps: chat.Deps{ML: startML(t)}, Client: a.client, QueueURL: a.queues.URL, DLQURL: a.queues.DLQURL,
		Poster: poster, Pollers: 2, WaitTime: 2 * time.Second, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Shutdown(ctx)
		for _, c := range clients {
			c.CloseIdle()
		}
	}()
	n := 0
	wstest.ResendScenario(newScript(t, a.cat), func(user string, role chat.Role) *wstest.Participant {
		n++
		return dial(t, []*env{a, b}[n%2].gw.URL(), user, role, "c1")
	}, func() {
		a.shutdown(20 * time.Second)
		b.shutdown(20 * time.Second)
	})
}
