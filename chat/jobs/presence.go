package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chatbench/chatbench/chat"
)

// Presence returns the presence job: it tells the others in a conversation
// that a participant joined or left.
func Presence() chat.Job {
	return chat.Job{
		Name:     "presence",
		Class:    chat.ClassSync,
		Event:    "presence",
		Audience: chat.AudienceOthers,
		Triggers: []chat.Trigger{{Type: TypeJoin}, {Type: TypeLeave}},
		Doc:      "tells the others that a participant joined or left",
		Handler: chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
			var state string
			switch msg.Type {
			case TypeJoin:
				state = "joined"
			case TypeLeave:
				state = "left"
			default:
				return nil, fmt.Errorf("presence: message type %q is not join or leave", msg.Type)
			}
			return encode(struct {
				User  string `json:"user"`
				State string `json:"state"`
			}{msg.From, state})
		}),
	}
}
