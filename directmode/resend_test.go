package directmode_test

import (
	"context"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/wstest"
)

// TestResendOfAcceptedMessage resends accepted frames (same ids) and checks
// the direct path neither relays nor runs their jobs again.
func TestResendOfAcceptedMessage(t *testing.T) {
	srv := startDirect(t, startML(t, ""), nil)
	wstest.ResendScenario(newScript(t),
		func(user string, role chat.Role) *wstest.Participant { return dial(t, srv.URL(), user, role, "c1") },
		func() {
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
}
