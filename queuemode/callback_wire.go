package queuemode

// The wire format of the worker → gateway hop, shared by both ends: the
// worker posts (worker_callback.go), the gateway verifies and emits
// (gateway_callback.go).

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/socket"
)

// Callback request headers and limits.
const (
	// HeaderTimestamp carries the request's signing time, Unix milliseconds.
	HeaderTimestamp = "X-Chatbench-Timestamp"
	// HeaderSignature carries hex HMAC-SHA256(secret, timestamp + "\n" + body).
	HeaderSignature = "X-Chatbench-Signature"
	// CallbackPath is where the gateway accepts events from workers.
	CallbackPath = "/internal/events"
	// MaxCallbackBody bounds a callback request body.
	MaxCallbackBody = 1 << 20
)

// WireEvent is one event as the worker posts it: everything Hub.Emit needs,
// including the fields chat.Event keeps off the client wire. Members is
// never omitted: null means "no limit", [] means "nobody". The gateway
// uses only the job's result from it (status, error code, data, hops) and
// the key that names the job — from, reply_to, job; the rest it takes from
// its own record of the message (gateway_callback.go).
type WireEvent struct {
	Name     string          `json:"name"`
	Job      string          `json:"job"`
	Conv     string          `json:"conv"`
	From     string          `json:"from"`
	Type     string          `json:"type,omitempty"`
	Status   string          `json:"status"`
	ErrCode  string          `json:"error_code,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Hops     chat.Hops       `json:"hops"`
	ReplyTo  string          `json:"reply_to"`
	Audience chat.Audience   `json:"audience"`
	Members  []string        `json:"members"`
}

// EventBatch is the body of a callback request.
type EventBatch struct {
	Events []WireEvent `json:"events"`
}

func toWire(ev *chat.Event) WireEvent {
	return WireEvent{Name: ev.Name, Job: ev.Job, Conv: ev.Conv, From: ev.From, Type: ev.Type,
		Status: ev.Status, ErrCode: ev.ErrCode, Data: ev.Data, Hops: ev.Hops, ReplyTo: ev.ReplyTo,
		Audience: ev.Audience, Members: ev.Members}
}

// Sign returns the hex signature of body signed at ts (Unix milliseconds).
func Sign(secret []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("\n"))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// checkSecret refuses a callback secret too short to sign with.
func checkSecret(secret []byte) error {
	if len(secret) < socket.MinSecretLen {
		return fmt.Errorf("queuemode: callback secret is %d bytes; set at least %d", len(secret), socket.MinSecretLen)
	}
	return nil
}
