// Package privacy holds no code: its test runs a whole small benchmark —
// the ML service, the direct server, the queue path (embedded SQS, gateway,
// worker) and the driver, in one process with every logger at debug level —
// and checks that no log line carries a message body from the trace.
package privacy
