package jobs

import (
	"context"
	"encoding/json"

	"github.com/chatbench/chatbench/chat"
)

// consentMissingOneIn makes about one patient in ten lack consent on file.
const consentMissingOneIn = 10

// ConsentCheck returns the consent_check job: when a patient joins, it tells
// them whether a telehealth consent is on file. The stand-in answer is a
// stable function of the patient's user id.
func ConsentCheck() chat.Job {
	return chat.Job{
		Name:     "consent_check",
		Class:    chat.ClassSync,
		Event:    "consent_status",
		Audience: chat.AudienceSender,
		Triggers: []chat.Trigger{{Type: TypeJoin, Role: chat.RolePatient}},
		Doc:      "tells a joining patient whether a telehealth consent is on file",
		Handler: chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
			return encode(struct {
				OnFile bool `json:"consent_on_file"`
			}{stableHash(msg.From)%consentMissingOneIn != 0})
		}),
	}
}
