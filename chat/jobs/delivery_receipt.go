package jobs

import (
	"context"
	"encoding/json"

	"github.com/chatbench/chatbench/chat"
)

// DeliveryReceipt returns the delivery_receipt job: it confirms to the sender
// that their text was processed.
func DeliveryReceipt() chat.Job {
	return chat.Job{
		Name:     "delivery_receipt",
		Class:    chat.ClassSync,
		Event:    "delivered",
		Audience: chat.AudienceSender,
		Triggers: []chat.Trigger{{Type: TypeText}},
		Doc:      "confirms to the sender that their text was processed",
		Handler: chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
			return encode(struct {
				MessageID string `json:"message_id"`
			}{msg.ID})
		}),
	}
}
