package chat

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ProtocolVersion is the wire protocol version this build speaks. Frames with
// "v" set to another value are rejected with CodeBadVersion; a missing "v" is
// taken to mean ProtocolVersion.
const ProtocolVersion = 1

// Client operations (the "op" of a client frame).
const (
	OpAuth  = "auth"  // authenticate with a bearer token
	OpJoin  = "join"  // join a conversation's room (triggers the "join" type's jobs)
	OpLeave = "leave" // leave a conversation's room (triggers the "leave" type's jobs)
	OpSend  = "send"  // send a message of a catalog type into a joined conversation
)

// Server operations (the "op" of a server frame).
const (
	OpAck   = "ack"   // the client frame with this id was accepted
	OpEvent = "event" // an event caused by some message (reply_to names it)
	OpError = "error" // the client frame was rejected, or the connection must go
)

// ClientFrame is one JSON text frame sent by a client. Unknown fields are
// ignored. Which fields are required depends on Op (see Validate).
type ClientFrame struct {
	V     int    `json:"v,omitempty"`
	Op    string `json:"op"`
	ID    string `json:"id,omitempty"`    // client-chosen message id, unique per sender
	Token string `json:"token,omitempty"` // OpAuth only
	Conv  string `json:"conv,omitempty"`  // conversation id (join, leave, send)
	Type  string `json:"type,omitempty"`  // message type (send)
	// SentAt is the client's send instant in Unix microseconds (optional).
	SentAt int64 `json:"sent_at,omitempty"`
	// Body is the message content. It is never logged.
	Body string `json:"body,omitempty"`
	// Since, on join, asks the server to resume the conversation: to send
	// first the buffered events of conv with a seq above it, which the
	// client missed while it was disconnected (docs/protocol.md, "Resuming").
	// 0 asks for nothing.
	Since uint64 `json:"since,omitempty"`
}

// Limits on client frames.
const (
	MaxIDLen   = 128
	MaxConvLen = 128
	MaxTypeLen = 64
)

// clientWire is a ClientFrame as read off the wire: its "v" is kept as
// written (it shadows ClientFrame.V), so that an absent "v" — the only
// way to omit it — can be told from "v":0 and "v":null, which are refused
// like any value but 1 (docs/protocol.md). Into an int both would decode
// as 0, the Go frame's "omitted".
type clientWire struct {
	*ClientFrame
	V json.RawMessage `json:"v"`
}

// DecodeClientFrame parses and validates one client text frame. The returned
// error is always a *ProtocolError carrying a stable code for the client.
func DecodeClientFrame(data []byte) (*ClientFrame, error) {
	if !utf8.Valid(data) {
		return nil, Errorf(CodeBadUTF8, "", "frame is not valid UTF-8; send JSON text encoded as UTF-8")
	}
	var f ClientFrame
	w := clientWire{ClientFrame: &f}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, Errorf(CodeBadJSON, "", "frame is not a JSON object of the protocol (%s); see docs/protocol.md", jsonErrSummary(err))
	}
	if w.V != nil {
		if string(w.V) != strconv.Itoa(ProtocolVersion) {
			return nil, Errorf(CodeBadVersion, Truncate(f.ID, MaxIDLen), "\"v\" is %s, a version this server does not speak; send \"v\":%d or leave \"v\" out",
				Truncate(string(w.V), 16), ProtocolVersion)
		}
		f.V = ProtocolVersion
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func jsonErrSummary(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q must be a %s", e.Field, e.Type)
	default:
		return "malformed JSON"
	}
}

// Validate checks the fields Op requires. It does not consult the catalog
// (unknown message types are the front door's call), nor the token of an
// auth frame: an absent or empty token is a bad token, which the front
// door refuses like any other (bad_token, close 1008). A V of 0 is the Go
// frame's "omitted".
//
// The refusal names the frame by its id, cut to MaxIDLen bytes when it is
// longer (Truncate): an error echoes at most that much of what the client
// sent, so a client matches an over-long id's refusal by prefix.
func (f *ClientFrame) Validate() error {
	if f.V != 0 && f.V != ProtocolVersion {
		return Errorf(CodeBadVersion, Truncate(f.ID, MaxIDLen), "protocol version %d is not supported; send \"v\":%d", f.V, ProtocolVersion)
	}
	if len(f.ID) > MaxIDLen || len(f.Conv) > MaxConvLen || len(f.Type) > MaxTypeLen {
		return Errorf(CodeBadField, Truncate(f.ID, MaxIDLen), "id and conv must be at most %d bytes, type at most %d", MaxIDLen, MaxTypeLen)
	}
	need := func(name, v string) error {
		if v == "" {
			return Errorf(CodeMissingField, f.ID, "op %q needs field %q", f.Op, name)
		}
		return nil
	}
	switch f.Op {
	case OpAuth:
		return nil
	case OpJoin, OpLeave:
		if err := need("id", f.ID); err != nil {
			return err
		}
		return need("conv", f.Conv)
	case OpSend:
		for _, p := range [][2]string{{"id", f.ID}, {"conv", f.Conv}, {"type", f.Type}} {
			if err := need(p[0], p[1]); err != nil {
				return err
			}
		}
		return nil
	case "":
		return Errorf(CodeMissingField, f.ID, "frame needs field \"op\" (one of auth, join, leave, send)")
	default:
		return Errorf(CodeUnknownOp, f.ID, "unknown op %q; use one of auth, join, leave, send", Truncate(f.Op, 32))
	}
}

// Truncate returns the longest prefix of s of at most n bytes that does
// not split a UTF-8 sequence: a prefix of valid UTF-8 stays valid, so an
// echo of it (a refusal's reply_to) is a true prefix of what was sent and
// not a replacement character where the cut fell.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ServerFrame is one JSON text frame sent by the server: an ack, an event or
// an error.
type ServerFrame struct {
	V  int    `json:"v"`
	Op string `json:"op"`
	// ReplyTo is the id of the client frame this answers (ack, error) or of
	// the message that caused this event.
	ReplyTo string `json:"reply_to,omitempty"`

	// Ack fields.
	User string `json:"user,omitempty"` // ack of auth: the authenticated user
	// Members, on the ack of join, leave and send, lists the users in the
	// conversation when the message was accepted: the users its events may
	// go to (see Message.Members). Clients use it to know exactly which
	// deliveries to expect.
	Members []string `json:"members,omitempty"`
	// LastSeq, on the ack of join, is the seq of the conversation's latest
	// event when the connection joined: the client has (now) seen every
	// event up to it that was addressed to it, except where Gap says so.
	LastSeq uint64 `json:"last_seq,omitempty"`
	// Replayed, on the ack of a join with since, counts the missed events
	// sent before the ack.
	Replayed int `json:"replayed,omitempty"`
	// Gap, on the ack of a join with since, reports that events after since
	// are no longer buffered (too old, too many, or lost with a server
	// restart) and could not be replayed.
	Gap bool `json:"gap,omitempty"`

	// Event fields (see Event).
	*Event `json:",omitempty"`

	// Error fields.
	Code      string `json:"code,omitempty"`
	Message   string `json:"message,omitempty"`
	Retryable bool   `json:"retryable,omitempty"`
}

// Event is what a job (or the front door's relay) emits about one message.
// It is delivered to every connection in Conv whose user is in the job's
// audience.
type Event struct {
	Name string `json:"event"` // event name, from the catalog
	Job  string `json:"job"`   // job that produced it ("relay" for relays)
	Conv string `json:"conv"`  // conversation
	// Seq numbers the events of Conv in the order they were emitted. It
	// only grows, across server restarts too (it follows the server's
	// clock in µs, and adds 1 where that has not moved), but is not
	// contiguous. Clients keep
	// the last one they saw per conversation and join with it as since to
	// resume.
	Seq  uint64 `json:"seq,omitempty"`
	From string `json:"from"`           // user who sent the causing message
	Type string `json:"type,omitempty"` // type of the causing message
	// Status is "ok", or "error" when the job failed; then ErrCode says why.
	Status  string          `json:"status"`
	ErrCode string          `json:"error_code,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	Hops    Hops            `json:"hops"`

	// ReplyTo is the causing message's id. It is carried on the ServerFrame.
	ReplyTo string `json:"-"`
	// Audience selects recipients; not sent on the wire.
	Audience Audience `json:"-"`
	// Members limits recipients to these users (nil = no limit); see
	// Message.Members. Not sent on the wire.
	Members []string `json:"-"`
}

// Event statuses.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// EncodeEvent encodes ev as a server frame.
func EncodeEvent(ev *Event) ([]byte, error) {
	return json.Marshal(ServerFrame{V: ProtocolVersion, Op: OpEvent, ReplyTo: ev.ReplyTo, Event: ev})
}

// EncodeAck encodes an ack of the client frame with the given id; user is
// set on the ack of auth, members on the ack of a message.
func EncodeAck(id, user string, members []string) []byte {
	b, _ := json.Marshal(ServerFrame{V: ProtocolVersion, Op: OpAck, ReplyTo: id, User: user, Members: members})
	return b
}

// Resume is what a join did to resume a conversation (ServerFrame.LastSeq,
// Replayed, Gap).
type Resume struct {
	LastSeq  uint64
	Replayed int
	Gap      bool
}

// EncodeJoinAck encodes the ack of a join, with where the conversation
// stands and what the join replayed.
func EncodeJoinAck(id string, members []string, r Resume) []byte {
	b, _ := json.Marshal(ServerFrame{V: ProtocolVersion, Op: OpAck, ReplyTo: id, Members: members, LastSeq: r.LastSeq, Replayed: r.Replayed, Gap: r.Gap})
	return b
}

// EncodeError encodes e as a server error frame.
func EncodeError(e *ProtocolError) []byte {
	b, _ := json.Marshal(ServerFrame{V: ProtocolVersion, Op: OpError, ReplyTo: e.Ref, Code: e.Code, Message: e.Msg, Retryable: e.Retryable()})
	return b
}

// DecodeServerFrame parses one server frame (used by clients such as the
// benchmark driver). Event fields are nil unless Op is OpEvent.
func DecodeServerFrame(data []byte) (*ServerFrame, error) {
	if f, ok := decodeServerFrameFast(data); ok {
		return f, nil
	}
	var f ServerFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decode server frame: %w", err)
	}
	if f.Event != nil {
		f.Event.ReplyTo = f.ReplyTo
	}
	return &f, nil
}
