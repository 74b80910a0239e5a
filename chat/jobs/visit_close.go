package jobs

import (
	"context"
	"encoding/json"

	"github.com/chatbench/chatbench/chat"
)

// VisitClose returns the visit_close job: when the provider ends the visit,
// it tells everyone in the conversation who closed it.
func VisitClose() chat.Job {
	return chat.Job{
		Name:     "visit_close",
		Class:    chat.ClassSync,
		Event:    "visit_closed",
		Audience: chat.AudienceAll,
		Triggers: []chat.Trigger{{Type: TypeEndVisit, Role: chat.RoleProvider}},
		Doc:      "tells everyone that the provider closed the visit",
		Handler: chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
			return encode(struct {
				ClosedBy string `json:"closed_by"`
			}{msg.From})
		}),
	}
}
