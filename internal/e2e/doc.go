// Package e2e holds end-to-end tests that span both paths at once: the
// direct server and the queue gateway, worker and embedded SQS, started in
// process on loopback with the real ML service and driven over real
// WebSockets. It has no code of its own; its tests are the proof of recipes
// that CONTRIBUTING.md gives (adding a job, a message type, a model).
package e2e
