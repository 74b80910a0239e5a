package jobs

import (
	"context"
	"encoding/json"

	"github.com/chatbench/chatbench/chat"
)

// surveyID names the post-visit survey offered by the survey job.
const surveyID = "post-visit-v1"

// Survey returns the survey job: when the provider ends the visit, it offers
// the patients the post-visit survey.
func Survey() chat.Job {
	return chat.Job{
		Name:     "survey",
		Class:    chat.ClassSync,
		Event:    "survey_offer",
		Audience: chat.AudiencePatients,
		Triggers: []chat.Trigger{{Type: TypeEndVisit, Role: chat.RoleProvider}},
		Doc:      "offers the patients the post-visit survey",
		Handler: chat.HandlerFunc(func(context.Context, *chat.Message, chat.Deps) (json.RawMessage, error) {
			return encode(struct {
				Survey string `json:"survey"`
			}{surveyID})
		}),
	}
}
