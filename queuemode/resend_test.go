package queuemode_test

import (
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/wstest"
)

// TestResendOfAcceptedMessage resends accepted frames (same ids) and checks
// the queue path neither relays nor enqueues their jobs again.
func TestResendOfAcceptedMessage(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.worker(startML(t), nil)
	wstest.ResendScenario(newScript(t, e.cat),
		func(user string, role chat.Role) *wstest.Participant { return dial(t, e.gw.URL(), user, role, "c1") },
		func() { e.shutdown(20 * time.Second) })
}
