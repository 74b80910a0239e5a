package jobs

import "github.com/chatbench/chatbench/chat"

// Entities returns the entities job: it asks model "entities" for the
// medications, symptoms and body parts named in a patient's text and tells
// the providers.
func Entities() chat.Job {
	const model = "entities"
	return chat.Job{
		Name:     "entities",
		Class:    chat.ClassML,
		Event:    "entities",
		Audience: chat.AudienceProviders,
		Triggers: []chat.Trigger{{Type: TypeText, Role: chat.RolePatient}},
		Model:    model,
		Doc:      "extracts medications, symptoms and body parts from a patient's message for the providers",
		Handler:  predictBody(model),
	}
}
