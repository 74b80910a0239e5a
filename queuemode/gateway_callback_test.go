package queuemode_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/queuemode"
)

// recorder is an Emitter that keeps what it was given.
type recorder struct {
	mu  sync.Mutex
	evs []*chat.Event
}

func (r *recorder) Emit(ev *chat.Event) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
	return 1
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.evs)
}

// postCallback sends one request to the callback cb, with the timestamp
// (0 = no header) and signature ("" = no header) given, and returns the
// status it answered.
func postCallback(cb http.Handler, body []byte, ts int64, sig string) int {
	req := httptest.NewRequest(http.MethodPost, queuemode.CallbackPath, bytes.NewReader(body))
	if ts != 0 {
		req.Header.Set(queuemode.HeaderTimestamp, strconv.FormatInt(ts, 10))
	}
	if sig != "" {
		req.Header.Set(queuemode.HeaderSignature, sig)
	}
	w := httptest.NewRecorder()
	cb.ServeHTTP(w, req)
	return w.Code
}

// TestCallbackRejects checks the callback refuses unsigned, badly signed,
// expired and replayed requests, accepts a good one, and drops an event it
// already emitted while still answering 2xx.
func TestCallbackRejects(t *testing.T) {
	rec := &recorder{}
	m := queuemode.NewMetrics(nil)
	cb, err := queuemode.NewCallback(queuemode.CallbackConfig{Secret: cbSecret, Emitter: rec, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	body := func(replyTo string) []byte {
		return []byte(`{"events":[{"name":"wait_time","job":"wait_time","conv":"c1","from":"p1","status":"ok","hops":{"gateway_in":1},"reply_to":"` +
			replyTo + `","audience":"sender","members":["p1"]}]}`)
	}
	post := func(b []byte, ts int64, sig string) int { return postCallback(cb, b, ts, sig) }
	now := time.Now().UnixMilli()
	b := body("m1")
	cases := []struct {
		name string
		b    []byte
		ts   int64
		sig  string
		want int
	}{
		{"unsigned", b, 0, "", http.StatusUnauthorized},
		{"no-timestamp", b, 0, queuemode.Sign(cbSecret, now, b), http.StatusUnauthorized},
		{"wrong-secret", b, now, queuemode.Sign([]byte("another-secret-0123456789"), now, b), http.StatusUnauthorized},
		{"tampered", body("m2"), now, queuemode.Sign(cbSecret, now, b), http.StatusUnauthorized},
		{"not-hex", b, now, "zz", http.StatusUnauthorized},
		{"expired", b, now - 60_000, queuemode.Sign(cbSecret, now-60_000, b), http.StatusUnauthorized},
		{"future", b, now + 60_000, queuemode.Sign(cbSecret, now+60_000, b), http.StatusUnauthorized},
		{"good", b, now, queuemode.Sign(cbSecret, now, b), http.StatusNoContent},
		{"replay", b, now, queuemode.Sign(cbSecret, now, b), http.StatusConflict},
		{"replay-upper-case", b, now, strings.ToUpper(queuemode.Sign(cbSecret, now, b)), http.StatusConflict}, // the same signature bytes
		{"duplicate-event", b, now + 1, queuemode.Sign(cbSecret, now+1, b), http.StatusNoContent},
	}
	for _, c := range cases {
		if got := post(c.b, c.ts, c.sig); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	if n := rec.count(); n != 1 {
		t.Fatalf("emitted %d events, want 1 (the duplicate must be dropped)", n)
	}
	ev := rec.evs[0]
	if ev.ReplyTo != "m1" || ev.Audience != chat.AudienceSender || len(ev.Members) != 1 || ev.Hops.CallbackIn == 0 {
		t.Errorf("emitted event lost fields: %+v", ev)
	}
	for reason, want := range map[string]float64{"unsigned": 2, "bad_signature": 3, "expired": 2, "replay": 2} {
		if got := value(m.CallbackRejects.WithLabelValues(reason)); got != want {
			t.Errorf("rejects{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	big := make([]byte, queuemode.MaxCallbackBody+1)
	if got := post(big, now, queuemode.Sign(cbSecret, now, big)); got != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d", got)
	}
}
