// Package mlservice is chatbench's ML stand-in: the slow dependency both
// paths (directmode and queuemode) call over real HTTP, so both face the same
// latency and failures.
//
// A Server serves, for each model of its profiles:
//
//	POST /v1/models/{model}/predict   body {"input":"..."} (at most 64 KiB)
//	  200 {"model":"triage","output":{...}}
//	  400 bad_request, 404 unknown_model, 405 method_not_allowed,
//	  503 injected_failure, 504 timeout
//	GET  /v1/models                   the profiles served
//	GET  /healthz                     {"status":"ok"}
//
// Errors are {"error":{"code":"...","message":"..."}}. A call's output is a
// pure function of (model, input) and never contains the input; its latency
// and failure are drawn from the model's Profile by a seeded generator, so a
// given Config.Seed yields the same sequence of draws per model. The input,
// being medical text, is never logged.
//
// A Client calls a Server and implements chat.ML. Profiles come from
// DefaultProfiles, a preset ("default", "fast", "zero") or a flag-friendly
// spec parsed by ParseProfiles; docs/ml-profiles.md explains the defaults.
//
// The defaults cover every model the telehealth catalog (chat/jobs) calls:
// a model without figures of its own gets DefaultModelProfile. That is why
// this package imports chat/jobs: a job naming a new model is served
// without an edit here, and a test, not a run, shows every job's model is
// served.
package mlservice
