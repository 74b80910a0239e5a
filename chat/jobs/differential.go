package jobs

import "github.com/chatbench/chatbench/chat"

// Differential returns the differential job: it asks model "differential"
// for a differential diagnosis from a patient's symptom form and gives it to
// the providers.
func Differential() chat.Job {
	const model = "differential"
	return chat.Job{
		Name:     "differential",
		Class:    chat.ClassML,
		Event:    "differential",
		Audience: chat.AudienceProviders,
		Triggers: []chat.Trigger{{Type: TypeSymptomForm}},
		Model:    model,
		Doc:      "proposes a differential diagnosis from a symptom form for the providers",
		Handler:  predictBody(model),
	}
}
