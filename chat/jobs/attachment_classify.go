package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chatbench/chatbench/chat"
)

// AttachmentClassify returns the attachment_classify job: it asks model
// "attachment_classify" to label a shared file (lab result, prescription,
// photo…) from its metadata and tells the providers. The model gets the
// metadata re-encoded as {"name","mime","size"}; a body that is not valid
// attachment metadata fails the job without calling the model.
func AttachmentClassify() chat.Job {
	const model = "attachment_classify"
	return chat.Job{
		Name:     "attachment_classify",
		Class:    chat.ClassML,
		Event:    "attachment_label",
		Audience: chat.AudienceProviders,
		Triggers: []chat.Trigger{{Type: TypeAttachment}},
		Model:    model,
		Doc:      "labels a shared file from its metadata for the providers",
		Handler: chat.HandlerFunc(func(ctx context.Context, msg *chat.Message, deps chat.Deps) (json.RawMessage, error) {
			a, err := ParseAttachment(msg.Body)
			if err != nil {
				return nil, fmt.Errorf("attachment_classify: %w", err)
			}
			input, err := json.Marshal(a)
			if err != nil {
				return nil, fmt.Errorf("attachment_classify: %w", err)
			}
			return predict(ctx, deps, model, string(input))
		}),
	}
}
