package chat

import (
	"errors"
	"fmt"
)

// Stable error codes sent to clients in error frames. They are part of the
// wire protocol (docs/protocol.md); never rename one.
const (
	CodeBadJSON          = "bad_json"          // frame is not valid JSON of the protocol
	CodeBadUTF8          = "bad_utf8"          // text frame is not valid UTF-8
	CodeBadVersion       = "bad_version"       // "v" is not a supported version
	CodeBadField         = "bad_field"         // a field is too long or malformed
	CodeMissingField     = "missing_field"     // a field the op needs is absent
	CodeUnknownOp        = "unknown_op"        // "op" is not one of the client ops
	CodeUnknownType      = "unknown_type"      // "type" is not in the catalog
	CodeBinaryFrame      = "binary_frame"      // binary frames are not part of the protocol
	CodeNotAuthenticated = "not_authenticated" // op before a successful auth
	CodeAlreadyAuthed    = "already_authenticated"
	CodeBadToken         = "bad_token"         // token invalid or expired; the connection is closed (1008)
	CodeForbidden        = "forbidden"         // the token does not allow this conversation
	CodeNotJoined        = "not_joined"        // send to a conversation the connection has not joined
	CodeForbiddenType    = "forbidden_type"    // the sender's role may not send this type
	CodeOverloaded       = "overloaded"        // the server is at capacity; retry later
	CodeUnavailable      = "unavailable"       // a dependency (the queue) is unreachable; retry later
	CodeTooLarge         = "message_too_large" // the message, encoded for the path's job queue, exceeds its size limit; never retry
	CodeQueueRejected    = "queue_rejected"    // the job queue refused the message as invalid; never retry
	CodeShuttingDown     = "shutting_down"     // the server is draining; reconnect and retry
	CodeFrameTooLarge    = "frame_too_large"   // frame over the read limit; the connection is closed (1009)
	CodeJobFailed        = "job_failed"        // event status error: the handler failed
	CodeJobTimeout       = "job_timeout"       // event status error: the handler ran out of time
	CodeJobCancelled     = "job_cancelled"     // event status error: the server cancelled the job (shutdown)
	CodeMLUnavailable    = "ml_unavailable"    // event status error: the ML service failed
	CodeDuplicateID      = "duplicate_id"      // reserved for the resend protocol
	CodeRateLimited      = "rate_limited"      // reserved for per-connection rate limits
	CodeTooManyConns     = "too_many_connections"
)

// retryable lists the codes of refusals a resend of the same frame may
// overcome: the server was busy, a dependency was down, it was draining.
// Every other code is permanent: the same frame is refused again, however
// often and however late it is resent.
var retryable = map[string]bool{
	CodeOverloaded:   true,
	CodeUnavailable:  true,
	CodeShuttingDown: true,
	CodeRateLimited:  true,
}

// Retryable reports whether a refusal with code may succeed when the same
// frame is sent again later (docs/protocol.md, the code table's last
// column). Codes this version does not know are reported as not retryable;
// clients that meet one should trust the frame's own "retryable" flag.
func Retryable(code string) bool { return retryable[code] }

// ProtocolError is an error reported to a client: a stable Code, a message
// that names the input and the fix, and Ref, the id of the client frame it
// answers (may be empty).
type ProtocolError struct {
	Code string
	Ref  string
	Msg  string
}

// Errorf returns a *ProtocolError with a formatted message.
func Errorf(code, ref, format string, args ...any) *ProtocolError {
	return &ProtocolError{Code: code, Ref: ref, Msg: fmt.Sprintf(format, args...)}
}

func (e *ProtocolError) Error() string { return e.Code + ": " + e.Msg }

// Retryable reports whether the client may send the same frame again later.
func (e *ProtocolError) Retryable() bool { return Retryable(e.Code) }

// AsProtocolError returns err as a *ProtocolError, or nil.
func AsProtocolError(err error) *ProtocolError {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

// Sentinel errors dispatchers return; the front door maps them to codes.
var (
	ErrOverloaded   = errors.New("dispatcher at capacity")
	ErrUnavailable  = errors.New("dispatcher dependency unavailable")
	ErrShuttingDown = errors.New("dispatcher shutting down")
	ErrUnknownType  = errors.New("unknown message type")
)
