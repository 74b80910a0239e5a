package jobs

import "github.com/chatbench/chatbench/chat"

// SafetyScreen returns the safety_screen job: it asks model "safety" to
// screen any text for risk and tells the sender (e.g. to point a patient to
// emergency services).
func SafetyScreen() chat.Job {
	const model = "safety"
	return chat.Job{
		Name:     "safety_screen",
		Class:    chat.ClassML,
		Event:    "safety",
		Audience: chat.AudienceSender,
		Triggers: []chat.Trigger{{Type: TypeText}},
		Model:    model,
		Doc:      "screens a text for risk such as self-harm or an emergency and tells the sender",
		Handler:  predictBody(model),
	}
}
