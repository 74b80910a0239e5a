package jobs_test

import (
	"fmt"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

// The jobs a patient's text triggers, with who receives each event.
func ExampleCatalog() {
	c := jobs.Catalog()
	for _, j := range c.JobsFor(jobs.TypeText, chat.RolePatient) {
		fmt.Printf("%-16s %-4s %-17s -> %s\n", j.Name, j.Class, j.Event, j.Audience)
	}
	// Output:
	// push_decision    sync push_decision     -> sender
	// delivery_receipt sync delivered         -> sender
	// triage           ml   triage            -> providers
	// intent           ml   intent            -> providers
	// entities         ml   entities          -> providers
	// reply_suggest    ml   reply_suggestions -> providers
	// safety_screen    ml   safety            -> sender
}
