package jobs

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatbench/chatbench/chat"
)

// Message type names of the telehealth catalog.
const (
	TypeJoin            = "join"              // produced by the join op
	TypeLeave           = "leave"             // produced by the leave op
	TypeText            = "text"              // a chat message
	TypeTyping          = "typing"            // typing indicator
	TypeRead            = "read"              // read receipt
	TypeAttachment      = "attachment"        // file shared; body is Attachment as JSON
	TypeSymptomForm     = "symptom_form"      // structured intake form (patients)
	TypeWaitTimeRequest = "wait_time_request" // how long until a provider joins (patients)
	TypeEndVisit        = "end_visit"         // the provider ends the visit (providers)
)

// Types returns the message types of the telehealth catalog, sorted by name:
// the one declaration of the types (CONTRIBUTING.md says how to add one).
// Each call returns a new slice, so callers (and chat.NewCatalog) may keep or
// modify it.
func Types() []chat.MessageType {
	patients := []chat.Role{chat.RolePatient}
	providers := []chat.Role{chat.RoleProvider}
	return []chat.MessageType{
		{Name: TypeAttachment, Op: chat.OpSend, Relay: true, Doc: `file shared; body is JSON {"name","mime","size"} (size in bytes)`,
			Example: `{"name":"rash.jpg","mime":"image/jpeg","size":204800}`},
		{Name: TypeEndVisit, Op: chat.OpSend, Roles: providers, Doc: "the provider ends the visit"},
		{Name: TypeJoin, Op: chat.OpJoin, Doc: "produced by the join op"},
		{Name: TypeLeave, Op: chat.OpLeave, Doc: "produced by the leave op"},
		{Name: TypeRead, Op: chat.OpSend, Doc: "read receipt; body is the id of the last message read", Example: "m001"},
		{Name: TypeSymptomForm, Op: chat.OpSend, Roles: patients, Doc: "structured intake form", Example: `{"pain":7}`},
		{Name: TypeText, Op: chat.OpSend, Relay: true, Doc: "a chat message", Example: "I have had chest pain since this morning"},
		{Name: TypeTyping, Op: chat.OpSend, Relay: true, Doc: "typing indicator"},
		{Name: TypeWaitTimeRequest, Op: chat.OpSend, Roles: patients, Doc: "the patient asks how long until a provider joins"},
	}
}

// Attachment is the body of an attachment message: the shared file's
// metadata (the file itself never goes through chat).
type Attachment struct {
	Name string `json:"name"`
	MIME string `json:"mime"`
	Size int64  `json:"size"` // bytes
}

// ErrMalformedAttachment is returned (wrapped) by ParseAttachment when a body
// is not valid attachment metadata.
var ErrMalformedAttachment = errors.New("malformed attachment metadata")

// ParseAttachment decodes an attachment message body. It fails with
// ErrMalformedAttachment unless body is a JSON object with a non-empty
// "name" and "mime" and a non-negative integer "size"; unknown fields are
// ignored. The error never quotes the body.
func ParseAttachment(body string) (Attachment, error) {
	var raw struct {
		Name string `json:"name"`
		MIME string `json:"mime"`
		Size *int64 `json:"size"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		return Attachment{}, fmt.Errorf("%w: body is not a JSON object {\"name\",\"mime\",\"size\"}", ErrMalformedAttachment)
	}
	switch {
	case raw.Name == "":
		return Attachment{}, fmt.Errorf("%w: field \"name\" is missing or empty", ErrMalformedAttachment)
	case raw.MIME == "":
		return Attachment{}, fmt.Errorf("%w: field \"mime\" is missing or empty", ErrMalformedAttachment)
	case raw.Size == nil:
		return Attachment{}, fmt.Errorf("%w: field \"size\" is missing", ErrMalformedAttachment)
	case *raw.Size < 0:
		return Attachment{}, fmt.Errorf("%w: field \"size\" is negative", ErrMalformedAttachment)
	}
	return Attachment{Name: raw.Name, MIME: raw.MIME, Size: *raw.Size}, nil
}
