// Package jobs is chatbench's telehealth catalog: the message types patients
// and providers send (Types) and the jobs those messages trigger (Jobs),
// about twenty as in the migration story DESIGN.md tells. Both the direct
// path and the queue path run exactly these handlers.
//
// Each job lives in its own file, named for the job, as a function returning
// its chat.Job. Adding a job is that file plus one line in Jobs (and
// regenerating docs/catalog.md); adding a message type is its entry in
// Types. The tests derive what they check from the catalog, so neither
// needs a test edited. CONTRIBUTING.md has the recipe, models included.
//
// Sync jobs are pure functions of the message: they keep no state and give
// the same answer in any process, since the queue path runs them in workers.
// ML jobs call deps.ML and return the model's output as the event's data;
// without an ML client they fail with an error wrapping
// chat.ErrMLUnavailable. No job puts a message body in its event data (only
// read_state echoes the id a read receipt names). docs/catalog.md is
// generated from this package and checked by its tests.
package jobs

import (
	"fmt"

	"github.com/chatbench/chatbench/chat"
)

// Jobs returns the telehealth jobs in registration order: this is the one
// registration list. Each call returns new values, so callers may keep or
// modify them.
func Jobs() []chat.Job {
	return []chat.Job{
		// sync
		WaitTime(),
		ProviderAssign(),
		Presence(),
		ConsentCheck(),
		ReadState(),
		PushDecision(),
		DeliveryReceipt(),
		AttachmentCheck(),
		VisitClose(),
		Survey(),
		// ml
		Triage(),
		Intent(),
		Entities(),
		ReplySuggest(),
		SafetyScreen(),
		Translate(),
		VisitSummary(),
		Differential(),
		AttachmentClassify(),
	}
}

// Catalog builds the telehealth catalog from Types and Jobs. It builds a new
// catalog on each call; build it once and share it (a chat.Catalog is safe
// for concurrent use). It panics only if the built-in catalog is invalid,
// which this package's tests rule out.
func Catalog() *chat.Catalog {
	c, err := chat.NewCatalog(Types(), Jobs())
	if err != nil {
		panic(fmt.Sprintf("jobs: built-in catalog is invalid: %v", err))
	}
	return c
}
