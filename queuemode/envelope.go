package queuemode

// The body of a queue message, shared by both ends of the SQS hop: the
// dispatcher encodes (dispatcher.go), the worker decodes (worker.go).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/chatbench/chatbench/chat"
)

// envelopeVersion is the "v" of envelopes this version writes.
const envelopeVersion = 2

// envelope is the body of one queue message: one accepted message and the
// jobs of it that travel together (those of one message group), the
// message's body once however many jobs there are.
//
// The body is carried as a JSON string, or — when its JSON escaping would
// be longer — as base64 in BodyB64 (Message.Body then empty), so an
// envelope is never more than 4/3 of the body plus the other fields (a
// body of control characters escapes to 6 bytes each, of '"' or '\' to 2;
// see docs/methodology.md for measured sizes). Either way every valid
// UTF-8 body survives SQS's character rules: encodeEnvelope escapes the
// two characters JSON leaves raw that SQS refuses (U+FFFE, U+FFFF).
type envelope struct {
	V    int      `json:"v"`
	Jobs []string `json:"jobs,omitempty"`
	// Job is the one job of a version-1 envelope, read so that messages
	// queued by an older gateway still run after an upgrade.
	Job     string        `json:"job,omitempty"`
	Message *chat.Message `json:"message"`
	BodyB64 string        `json:"body_b64,omitempty"`
}

// encodeEnvelope returns the queue message body carrying msg for jobs.
func encodeEnvelope(msg *chat.Message, jobs []string) ([]byte, error) {
	env := envelope{V: envelopeVersion, Jobs: jobs, Message: msg}
	if jsonStringLen(msg.Body) > base64.StdEncoding.EncodedLen(len(msg.Body)) {
		m := *msg
		m.Body = ""
		env.Message, env.BodyB64 = &m, base64.StdEncoding.EncodeToString([]byte(msg.Body))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// '<', '>' and '&' as themselves: escaped, a body of '<' grows sixfold.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		return nil, fmt.Errorf("queuemode: encode envelope: %w", err)
	}
	return sqsSafe(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

// decodeEnvelope reads a queue message body written by encodeEnvelope (or
// by a version-1 gateway) and returns the message, body restored, and its
// jobs.
func decodeEnvelope(body string) (*chat.Message, []string, error) {
	var env envelope
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		return nil, nil, fmt.Errorf("queuemode: decode envelope: %w", err)
	}
	if env.Message == nil {
		return nil, nil, errors.New("queuemode: envelope without a message")
	}
	if env.V > envelopeVersion {
		return nil, nil, fmt.Errorf("queuemode: envelope version %d is newer than this worker's %d", env.V, envelopeVersion)
	}
	jobs := env.Jobs
	if len(jobs) == 0 && env.Job != "" {
		jobs = []string{env.Job}
	}
	if len(jobs) == 0 {
		return nil, nil, errors.New("queuemode: envelope names no job")
	}
	if env.BodyB64 != "" {
		b, err := base64.StdEncoding.DecodeString(env.BodyB64)
		if err != nil {
			return nil, nil, fmt.Errorf("queuemode: envelope body: %w", err)
		}
		env.Message.Body = string(b)
	}
	return env.Message, jobs, nil
}

// jsonStringLen is the length of s as encodeEnvelope writes it inside a
// JSON string: encoding/json's escapes without HTML escaping, plus
// sqsSafe's.
func jsonStringLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t' || r == '\b' || r == '\f':
			n += 2
		case r < 0x20, r == '\u2028', r == '\u2029', r == 0xFFFE, r == 0xFFFF:
			n += 6
		case r == utf8.RuneError && size == 1:
			n += 6 // invalid byte: written as \ufffd
		default:
			n += size
		}
	}
	return n
}

// The two characters valid UTF-8 JSON may hold raw that SQS refuses
// (allowed: #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD |
// #x10000–#x10FFFF); encoding/json escapes every other character outside
// that set. They can only occur inside JSON strings, where their \u escape
// means the same.
var (
	rawFFFE = []byte("\uFFFE")
	rawFFFF = []byte("\uFFFF")
)

// sqsSafe replaces U+FFFE and U+FFFF in the JSON text b with their escapes.
func sqsSafe(b []byte) []byte {
	if !bytes.Contains(b, []byte{0xEF, 0xBF}) {
		return b
	}
	b = bytes.ReplaceAll(b, rawFFFE, []byte(`\ufffe`))
	return bytes.ReplaceAll(b, rawFFFF, []byte(`\uffff`))
}
