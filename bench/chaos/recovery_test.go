package chaos

import (
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/results"
)

func TestRecovery(t *testing.T) {
	pre := []results.Second{{T: 0, Delivered: 5, P99: 100}, {T: 1, Delivered: 5, P99: 120}, {T: 2, Delivered: 5, P99: 100}}
	after := []results.Second{{T: 5, Delivered: 5, P99: 5000}, {T: 6, Delivered: 5, P99: 150}, {T: 7, Delivered: 0}, {T: 8, Delivered: 5, P99: 180}}
	if got := recovery(pre, after, 5*time.Second); got != 1 {
		t.Errorf("recovery = %v, want 1 (second 6 begins 3 good seconds)", got)
	}
	if got := recovery(pre, after[:1], 5*time.Second); got != -1 {
		t.Errorf("recovery = %v, want -1 (never)", got)
	}
	p50, p99 := agg(after)
	if p50 != 0 || p99 != 5000 {
		t.Errorf("agg = %d, %d", p50, p99)
	}
}
