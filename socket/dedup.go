package socket

import "time"

// RelayWindow is how long (at least) the front door remembers a relayed
// message id: a message resent with the same id within it is not relayed
// again. The broker keeps it (Query.Relay), so with a shared broker a
// resend that reaches another instance, or a restarted one, is not
// relayed again either. A resend within the window refreshes the id, so a
// client that keeps resending is never relayed twice.
const RelayWindow = 10 * time.Minute

// msgKey names a client message: its sender and the id the client gave it.
type msgKey struct{ from, id string }
