package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"unicode/utf8"

	"github.com/chatbench/chatbench/chat"
)

// stableHash is the 32-bit FNV-1a hash of s. Sync jobs derive their
// stand-in answers from it so every process computes the same answer for the
// same message, which the queue path needs.
func stableHash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s)) // never fails
	return h.Sum32()
}

// encode marshals a job's event data.
func encode(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode event data: %w", err)
	}
	return b, nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// predict calls model with input through deps.ML and returns its output.
// The output must be JSON, since it becomes the event's data verbatim.
func predict(ctx context.Context, deps chat.Deps, model, input string) (json.RawMessage, error) {
	if deps.ML == nil {
		return nil, fmt.Errorf("model %s: no ML client configured: %w", model, chat.ErrMLUnavailable)
	}
	out, err := deps.ML.Predict(ctx, model, input)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", model, err)
	}
	if len(out) > 0 && !json.Valid(out) {
		return nil, fmt.Errorf("model %s returned output that is not JSON: %w", model, chat.ErrMLUnavailable)
	}
	return out, nil
}

// predictBody is the handler of ML jobs whose input is the message body.
func predictBody(model string) chat.Handler {
	return chat.HandlerFunc(func(ctx context.Context, msg *chat.Message, deps chat.Deps) (json.RawMessage, error) {
		return predict(ctx, deps, model, msg.Body)
	})
}
