package jobs

import "github.com/chatbench/chatbench/chat"

// Intent returns the intent job: it asks model "intent" what a patient's
// text asks for (refill, scheduling, symptoms…) and tells the providers.
func Intent() chat.Job {
	const model = "intent"
	return chat.Job{
		Name:     "intent",
		Class:    chat.ClassML,
		Event:    "intent",
		Audience: chat.AudienceProviders,
		Triggers: []chat.Trigger{{Type: TypeText, Role: chat.RolePatient}},
		Model:    model,
		Doc:      "classifies what a patient's message asks for, for the providers",
		Handler:  predictBody(model),
	}
}
