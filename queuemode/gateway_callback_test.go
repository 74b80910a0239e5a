package queuemode_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
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
	cb := newCallback(t, queuemode.CallbackConfig{Emitter: rec, Metrics: m})
	accept(cb, "m1", "wait_time")
	accept(cb, "m2", "wait_time")
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
		{"replay-mixed-case", b, now, mixedCase(queuemode.Sign(cbSecret, now, b)), http.StatusConflict},
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
	if ev.ReplyTo != "m1" || ev.Audience != chat.AudienceSender || len(ev.Members) != 2 || ev.Hops.CallbackIn == 0 {
		t.Errorf("emitted event lost fields: %+v", ev)
	}
	for reason, want := range map[string]float64{"unsigned": 2, "bad_signature": 3, "expired": 2, "replay": 3} {
		if got := value(m.CallbackRejects.WithLabelValues(reason)); got != want {
			t.Errorf("rejects{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	big := make([]byte, queuemode.MaxCallbackBody+1)
	if got := post(big, now, queuemode.Sign(cbSecret, now, big)); got != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d", got)
	}
}

// mixedCase upper-cases every other letter of a hex string.
func mixedCase(h string) string {
	b := []byte(h)
	for i := 0; i < len(b); i += 2 {
		b[i] = strings.ToUpper(string(b[i]))[0]
	}
	return string(b)
}

// newCallback returns a Callback with cfg, the test secret and the
// catalog.
func newCallback(t *testing.T, cfg queuemode.CallbackConfig) *queuemode.Callback {
	t.Helper()
	cfg.Secret, cfg.Catalog = cbSecret, jobs.Catalog()
	cb, err := queuemode.NewCallback(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

// accept records, as the gateway does before queueing, that patient p1's
// message id in conversation c1 (members p1 and d1) queued the jobs named.
func accept(cb *queuemode.Callback, id string, names ...string) {
	var js []*chat.Job
	for _, n := range names {
		js = append(js, jobs.Catalog().Job(n))
	}
	cb.Accept(context.Background(), &chat.Message{ID: id, Conv: "c1", From: "p1", Role: chat.RolePatient,
		Type: jobs.TypeWaitTimeRequest, Members: []string{"d1", "p1"}}, js)
}

// otherJob is a job of the catalog other than name.
func otherJob(name string) string {
	for _, j := range jobs.Catalog().Jobs() {
		if j.Name != name {
			return j.Name
		}
	}
	panic("a catalog of one job")
}

// TestCallbackEmitsOnlyWhatItAccepted posts, correctly signed, events the
// gateway never asked for: one about a message it did not accept, one
// naming another sender, one for a job the message did not queue — all
// refused (403), nothing emitted — and one about an accepted message that
// names another conversation, members, audience and event name: emitted
// once, with the gateway's own values, each differing field counted. A
// retry of a refused event (another signature) is refused again.
func TestCallbackEmitsOnlyWhatItAccepted(t *testing.T) {
	rec := &recorder{}
	m := queuemode.NewMetrics(nil)
	cb := newCallback(t, queuemode.CallbackConfig{Emitter: rec, Metrics: m})
	accept(cb, "m1", "wait_time")
	ts := time.Now().UnixMilli()
	post := func(ev string) int {
		ts++ // each request its own signature
		b := []byte(`{"events":[` + ev + `]}`)
		return postCallback(cb, b, ts, queuemode.Sign(cbSecret, ts, b))
	}
	event := func(from, replyTo, job, rest string) string {
		return `{"name":"` + job + `","job":"` + job + `","from":"` + from + `","reply_to":"` + replyTo +
			`","status":"ok","hops":{"gateway_in":1},` + rest + `}`
	}
	forged := []struct {
		name, ev, reason string
	}{
		{"unknown message", event("p1", "m9", "wait_time", `"conv":"c1","audience":"all","members":null`), "unknown_message"},
		{"another sender", event("d1", "m1", "wait_time", `"conv":"c1","audience":"all","members":null`), "unknown_message"},
		{"a job not queued", event("p1", "m1", otherJob("wait_time"), `"conv":"c1","audience":"all","members":null`), "unknown_job"},
		{"the relay", event("p1", "m1", chat.RelayJob, `"conv":"c1","audience":"others","members":null`), "unknown_job"},
	}
	for _, f := range forged {
		for try := range 2 {
			if got := post(f.ev); got != http.StatusForbidden {
				t.Errorf("%s (try %d): status %d, want 403", f.name, try, got)
			}
		}
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("forged events emitted: %d", n)
	}
	for reason, want := range map[string]float64{"unknown_message": 4, "unknown_job": 4} {
		if got := value(m.CallbackRejects.WithLabelValues(reason)); got != want {
			t.Errorf("rejects{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	// Accepted message and job, everything else rewritten.
	ev := `{"name":"spoof","job":"wait_time","from":"p1","reply_to":"m1","conv":"c2","type":"text",` +
		`"status":"ok","data":{"minutes":1},"hops":{"gateway_in":1},"audience":"all","members":["x9"]}`
	if got := post(ev); got != http.StatusNoContent {
		t.Fatalf("accepted job's event with other fields: status %d, want 204", got)
	}
	if got := post(ev); got != http.StatusNoContent {
		t.Fatalf("the same event again: status %d, want 204 (dropped as answered)", got)
	}
	if n := rec.count(); n != 1 {
		t.Fatalf("emitted %d events, want 1", n)
	}
	j, got := jobs.Catalog().Job("wait_time"), rec.evs[0]
	if got.Conv != "c1" || got.From != "p1" || got.Type != jobs.TypeWaitTimeRequest || got.Name != j.Event ||
		got.Audience != j.Audience || !slices.Equal(got.Members, []string{"d1", "p1"}) || string(got.Data) != `{"minutes":1}` {
		t.Errorf("emitted %+v; want the record's conv, from, type and members, the catalog's name and audience, the posted data", got)
	}
	for _, f := range []string{"conv", "type", "name", "audience", "members"} {
		if got := value(m.CallbackOverridden.WithLabelValues(f)); got != 2 {
			t.Errorf("overridden{field=%s} = %v, want 2", f, got)
		}
	}
}
