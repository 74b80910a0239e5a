package jobs

import "github.com/chatbench/chatbench/chat"

// Translate returns the translate job: it asks model "translate" to
// translate a provider's text and gives the translation to the patients.
func Translate() chat.Job {
	const model = "translate"
	return chat.Job{
		Name:     "translate",
		Class:    chat.ClassML,
		Event:    "translation",
		Audience: chat.AudiencePatients,
		Triggers: []chat.Trigger{{Type: TypeText, Role: chat.RoleProvider}},
		Model:    model,
		Doc:      "translates a provider's message for the patients",
		Handler:  predictBody(model),
	}
}
