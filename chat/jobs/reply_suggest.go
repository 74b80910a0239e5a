package jobs

import "github.com/chatbench/chatbench/chat"

// ReplySuggest returns the reply_suggest job: it asks model "reply_suggest"
// for replies to a patient's text and offers them to the providers.
func ReplySuggest() chat.Job {
	const model = "reply_suggest"
	return chat.Job{
		Name:     "reply_suggest",
		Class:    chat.ClassML,
		Event:    "reply_suggestions",
		Audience: chat.AudienceProviders,
		Triggers: []chat.Trigger{{Type: TypeText, Role: chat.RolePatient}},
		Model:    model,
		Doc:      "suggests to the providers replies to a patient's message",
		Handler:  predictBody(model),
	}
}
