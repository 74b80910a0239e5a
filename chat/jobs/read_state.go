package jobs

import (
	"context"
	"encoding/json"

	"github.com/chatbench/chatbench/chat"
)

// maxReadUpTo bounds the message id echoed by read_state.
const maxReadUpTo = 128

// ReadState returns the read_state job: it tells the others in a
// conversation up to which message the sender has read (the read body, cut
// to 128 bytes on a rune boundary).
func ReadState() chat.Job {
	return chat.Job{
		Name:     "read_state",
		Class:    chat.ClassSync,
		Event:    "read_state",
		Audience: chat.AudienceOthers,
		Triggers: []chat.Trigger{{Type: TypeRead}},
		Doc:      "tells the others up to which message the sender has read",
		Handler: chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
			return encode(struct {
				User string `json:"user"`
				UpTo string `json:"up_to"`
			}{msg.From, truncateUTF8(msg.Body, maxReadUpTo)})
		}),
	}
}
