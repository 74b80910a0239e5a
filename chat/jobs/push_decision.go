package jobs

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/chatbench/chatbench/chat"
)

// maxAckRunes is the longest message (in runes, surrounding space ignored)
// taken for an acknowledgement such as "ok", "thx" or "👍".
const maxAckRunes = 3

// PushDecision returns the push_decision job: it decides whether a text
// should raise a push notification for offline recipients, from the body's
// length only (the content is never inspected), and tells the sender.
// Reasons: "message" (notify), "short_ack" and "empty" (do not).
func PushDecision() chat.Job {
	return chat.Job{
		Name:     "push_decision",
		Class:    chat.ClassSync,
		Event:    "push_decision",
		Audience: chat.AudienceSender,
		Triggers: []chat.Trigger{{Type: TypeText}},
		Doc:      "decides from the body's length whether a text raises a push notification",
		Handler: chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
			notify, reason := true, "message"
			switch n := utf8.RuneCountInString(strings.TrimSpace(msg.Body)); {
			case n == 0:
				notify, reason = false, "empty"
			case n <= maxAckRunes:
				notify, reason = false, "short_ack"
			}
			return encode(struct {
				Notify bool   `json:"notify"`
				Reason string `json:"reason"`
			}{notify, reason})
		}),
	}
}
