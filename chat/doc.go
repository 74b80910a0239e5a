// Package chat is the shared core of chatbench: the wire protocol (frames,
// events, error codes), the message catalog (message types and the jobs they
// trigger), the Handler interface every job implements, and the hop time
// stamps that show where time went.
//
// Both paths — the direct path (directmode) and the SQS job-queue path
// (queuemode) — use exactly these types and the same job handlers, so the only
// difference between them is how an accepted message reaches its handlers.
//
// Which deliveries a message causes is a pure function of the catalog, the
// message type, the sender's role and the conversation's membership
// (Catalog.Deliveries); the benchmark's ledger relies on that.
package chat
