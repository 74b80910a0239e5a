package queuemode

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/chatbench/chatbench/chat"
)

// TestOutstandingReleases checks each way a message stops counting: its
// last job answered (not before), its send failed, its TTL passed.
func TestOutstandingReleases(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const ttl = time.Minute
	msg := func(id string) *chat.Message { return &chat.Message{ID: id, Conv: "c", From: "u"} }
	for _, c := range []struct {
		name string
		// release does something to message "a" (jobs j1, j2) and returns
		// the instant the next message is tried at.
		release func(o *outstanding) time.Time
		free    bool // whether "b" is then accepted
		expired float64
	}{
		{"nothing", func(*outstanding) time.Time { return t0 }, false, 0},
		{"one job of two answered", func(o *outstanding) time.Time { o.answered("u", "a", "j1"); return t0 }, false, 0},
		{"both answered", func(o *outstanding) time.Time {
			o.answered("u", "a", "j1")
			o.answered("u", "a", "j2")
			return t0
		}, true, 0},
		{"another sender's event", func(o *outstanding) time.Time {
			o.answered("v", "a", "j1")
			o.answered("v", "a", "j2")
			return t0
		}, false, 0},
		{"send failed", func(o *outstanding) time.Time { o.drop("u", "a"); return t0 }, true, 0},
		{"just before the TTL", func(*outstanding) time.Time { return t0.Add(ttl - 1) }, false, 0},
		{"TTL passed", func(*outstanding) time.Time { return t0.Add(ttl) }, true, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := NewMetrics(nil)
			o := newOutstanding(1, -1, ttl, m)
			if err := o.take(msg("a"), []string{"j1", "j2"}, false, t0); err != nil {
				t.Fatal(err)
			}
			// A resend racing the first attempt is not counted twice.
			if err := o.take(msg("a"), []string{"j1", "j2"}, false, t0); err != nil {
				t.Fatalf("same message again: %v", err)
			}
			at := c.release(o)
			err := o.take(msg("b"), []string{"j1"}, false, at)
			if (err == nil) != c.free {
				t.Fatalf("next message: err %v, want accepted %v", err, c.free)
			}
			if pe := chat.AsProtocolError(err); err != nil && (pe == nil || pe.Code != chat.CodeOverloaded || !pe.Retryable()) {
				t.Fatalf("refusal %v: want a retryable %s", err, chat.CodeOverloaded)
			}
			var mv dto.Metric
			if err := m.OutstandingExpired.Write(&mv); err != nil {
				t.Fatal(err)
			}
			if got := mv.GetCounter().GetValue(); got != c.expired {
				t.Errorf("expired = %v, want %v", got, c.expired)
			}
			// Forced messages (joins, leaves) count beyond the bound.
			if err := o.take(msg("join"), []string{"j1"}, true, at); err != nil {
				t.Fatalf("forced: %v", err)
			}
		})
	}
}
