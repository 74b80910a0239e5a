package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chatbench/chatbench/chat"
)

// rosterSize is the number of providers in the stand-in roster prov-01..prov-12.
const rosterSize = 12

// ProviderAssign returns the provider_assign job: when a patient joins, it
// announces to the conversation which provider from a fixed roster takes the
// visit, chosen by a hash of the conversation id (stable across processes).
func ProviderAssign() chat.Job {
	return chat.Job{
		Name:     "provider_assign",
		Class:    chat.ClassSync,
		Event:    "provider_assigned",
		Audience: chat.AudienceAll,
		Triggers: []chat.Trigger{{Type: TypeJoin, Role: chat.RolePatient}},
		Doc:      "announces the provider from the roster assigned to the visit",
		Handler: chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
			// Dividing out wait_time's position keeps the two independent.
			n := (stableHash(msg.Conv)/waitQueueLen)%rosterSize + 1
			return encode(struct {
				Provider string `json:"provider"`
			}{fmt.Sprintf("prov-%02d", n)})
		}),
	}
}
