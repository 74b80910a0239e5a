package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"

	"github.com/chatbench/chatbench/chat"
)

// MaxAttachmentSize is the largest attachment attachment_check accepts:
// 25 MiB.
const MaxAttachmentSize = 25 << 20

// allowedMIME lists the media types attachment_check accepts. It is never
// modified.
var allowedMIME = map[string]bool{
	"image/jpeg":      true,
	"image/png":       true,
	"image/heic":      true,
	"application/pdf": true,
}

// AttachmentCheck returns the attachment_check job: it tells the sender
// whether a shared file is accepted. Reasons: "ok", "too_large" (over
// MaxAttachmentSize) and "type_not_allowed" (media type not JPEG, PNG, HEIC
// or PDF). A body that is not valid attachment metadata fails the job.
func AttachmentCheck() chat.Job {
	return chat.Job{
		Name:     "attachment_check",
		Class:    chat.ClassSync,
		Event:    "attachment_status",
		Audience: chat.AudienceSender,
		Triggers: []chat.Trigger{{Type: TypeAttachment}},
		Doc:      "accepts a shared file or says why not (size over 25 MiB, type not JPEG, PNG, HEIC or PDF)",
		Handler: chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
			a, err := ParseAttachment(msg.Body)
			if err != nil {
				return nil, fmt.Errorf("attachment_check: %w", err)
			}
			accepted, reason := true, "ok"
			// ParseMediaType lower-cases and drops parameters ("image/PNG; x=y").
			mt, _, err := mime.ParseMediaType(a.MIME)
			switch {
			case a.Size > MaxAttachmentSize:
				accepted, reason = false, "too_large"
			case err != nil || !allowedMIME[mt]:
				accepted, reason = false, "type_not_allowed"
			}
			return encode(struct {
				Accepted bool   `json:"accepted"`
				Reason   string `json:"reason"`
			}{accepted, reason})
		}),
	}
}
