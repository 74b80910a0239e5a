package jobs_test

import (
	"fmt"

	"github.com/chatbench/chatbench/chat/jobs"
)

// One job of the catalog: what triggers it, what it calls and who receives
// its event.
func ExampleCatalog() {
	j := jobs.Catalog().Job("triage")
	fmt.Println(j.Name, j.Class, "model", j.Model, "->", j.Audience)
	for _, tr := range j.Triggers {
		from := "anyone"
		if tr.Role != "" {
			from = "a " + string(tr.Role)
		}
		fmt.Println("  on", tr.Type, "from", from)
	}
	// Output:
	// triage ml model triage -> providers
	//   on text from a patient
	//   on symptom_form from anyone
}
