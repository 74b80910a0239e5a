package jobs

import (
	"context"
	"encoding/json"

	"github.com/chatbench/chatbench/chat"
)

// waitQueueLen and waitMinutesPerPatient shape the stand-in queue: a
// conversation's place in line is 1..waitQueueLen.
const (
	waitQueueLen          = 8
	waitMinutesPerPatient = 4
)

// WaitTime returns the wait_time job: it tells a patient their place in the
// provider queue and the estimated wait, when they join or ask. The answer is
// derived from a hash of the conversation id, so it is stable across
// processes and runs.
func WaitTime() chat.Job {
	return chat.Job{
		Name:     "wait_time",
		Class:    chat.ClassSync,
		Event:    "wait_time",
		Audience: chat.AudienceSender,
		Triggers: []chat.Trigger{{Type: TypeWaitTimeRequest}, {Type: TypeJoin, Role: chat.RolePatient}},
		Doc:      "tells the patient their place in the provider queue and the estimated wait",
		Handler: chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
			position := int(stableHash(msg.Conv)%waitQueueLen) + 1
			return encode(struct {
				Minutes  int `json:"minutes"`
				Position int `json:"position"`
			}{position * waitMinutesPerPatient, position})
		}),
	}
}
