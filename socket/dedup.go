package socket

import (
	"time"

	"github.com/chatbench/chatbench/internal/ttlset"
)

// RelayWindow is how long (at least) the front door remembers a relayed message id:
// a message resent with the same id within it is not relayed again.
const RelayWindow = 10 * time.Minute

// msgKey names a client message: its sender and the id the client gave it.
type msgKey struct{ from, id string }

// newRelayedSet returns the set of messages relayed within window. A resend
// within it refreshes the id, so a client that keeps resending is never
// relayed twice.
func newRelayedSet(window time.Duration) *ttlset.Set[msgKey, struct{}] {
	return ttlset.New[msgKey, struct{}](ttlset.Config{TTL: window, Refresh: true})
}
