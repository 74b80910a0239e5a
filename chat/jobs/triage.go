package jobs

import "github.com/chatbench/chatbench/chat"

// Triage returns the triage job: it asks model "triage" how urgent a
// patient's text or symptom form is and tells the providers.
func Triage() chat.Job {
	const model = "triage"
	return chat.Job{
		Name:     "triage",
		Class:    chat.ClassML,
		Event:    "triage",
		Audience: chat.AudienceProviders,
		Triggers: []chat.Trigger{{Type: TypeText, Role: chat.RolePatient}, {Type: TypeSymptomForm}},
		Model:    model,
		Doc:      "scores the urgency of a patient's message or intake form for the providers",
		Handler:  predictBody(model),
	}
}
