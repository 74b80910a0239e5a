package driver

import (
	"testing"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
)

// TestRetryableNotJoined checks which refusals the driver retries: a
// retryable code (by the server's flag and the protocol's table), never a
// permanent one, and not_joined only while the send's own join is still
// unanswered.
func TestRetryableNotJoined(t *testing.T) {
	p := &peer{user: "p1"}
	p.track(&trace.Record{ID: "j1", Conv: "c1", Type: chat.OpJoin})
	p.track(&trace.Record{ID: "m1", Conv: "c1", Type: "text"})
	p.track(&trace.Record{ID: "m2", Conv: "c2", Type: "text"})
	cases := []struct {
		id, code  string
		retryable bool
		want      bool
	}{
		{"m1", chat.CodeOverloaded, true, true},
		{"m1", chat.CodeNotJoined, false, true},  // c1's join is still unanswered
		{"m2", chat.CodeNotJoined, false, false}, // no join pending for c2
		{"m1", chat.CodeForbidden, false, false},
		{"m1", chat.CodeTooLarge, false, false},     // permanent: never resent
		{"m1", chat.CodeQueueRejected, true, false}, // permanent, even when a server flags it retryable
		{"m1", chat.CodeUnavailable, false, false},  // the server says this one will not pass
		{"gone", chat.CodeNotJoined, false, false},  // not a pending message
	}
	for _, c := range cases {
		if got := p.retryable(c.id, c.code, c.retryable); got != c.want {
			t.Errorf("retryable(%s, %s, %v) = %v, want %v", c.id, c.code, c.retryable, got, c.want)
		}
	}
	p.answered("j1", false) // the join is refused for good
	if p.retryable("m1", chat.CodeNotJoined, false) {
		t.Error("not_joined retried after its join was refused for good")
	}
}
