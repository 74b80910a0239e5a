package queuemode_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/queuemode"
)

// fuzzNow is the gateway clock of FuzzCallback, Unix milliseconds.
const fuzzNow = 1764241200000

// FuzzCallback throws arbitrary bodies, timestamps and signatures at the
// internal callback. Whatever the input: no panic; an unsigned, wrongly
// signed or stale request is refused with 401 and emits nothing; a
// correctly signed, fresh one is answered 204 (emitting at most one event
// per batch entry), 400 for a body that is not a batch or 403 for an event
// the gateway did not ask for (only m1's wait_time is recorded), and emits
// nothing then; the same request again is refused as a replay (409). Seeds:
// testdata/fuzz/FuzzCallback.
func FuzzCallback(f *testing.F) {
	f.Add([]byte(`{"events":[{"name":"wait_time","job":"wait_time","conv":"c1","from":"p1","status":"ok","hops":{"gateway_in":1},"reply_to":"m1","audience":"sender","members":["p1"]}]}`), int64(fuzzNow), true, "")
	f.Add([]byte(`{"events":[]}`), int64(fuzzNow-29_000), true, "")
	f.Add([]byte(`{"events":[{"members":null},{"members":[]}]}`), int64(fuzzNow+1), true, "")
	f.Add([]byte(`not json`), int64(fuzzNow), true, "")
	f.Add([]byte(`{"events":[{}]}`), int64(fuzzNow-60_000), true, "")
	f.Add([]byte(`{"events":[{}]}`), int64(fuzzNow), false, "00")
	f.Add([]byte{}, int64(0), false, "")
	f.Fuzz(func(t *testing.T, body []byte, ts int64, sign bool, sig string) {
		rec := &recorder{}
		cb := newCallback(t, queuemode.CallbackConfig{Emitter: rec, Now: func() time.Time { return time.UnixMilli(fuzzNow) }})
		accept(cb, "m1", "wait_time")
		if sign {
			sig = queuemode.Sign(cbSecret, ts, body)
		}
		post := func() int { return postCallback(cb, body, ts, sig) }
		code := post()
		genuine := strings.EqualFold(sig, queuemode.Sign(cbSecret, ts, body))
		fresh := ts >= fuzzNow-30_000 && ts <= fuzzNow+30_000
		switch {
		case !genuine || !fresh:
			if code != http.StatusUnauthorized {
				t.Fatalf("forged or stale request (genuine %v, fresh %v) answered %d", genuine, fresh, code)
			}
		case code != http.StatusNoContent && code != http.StatusBadRequest && code != http.StatusRequestEntityTooLarge &&
			code != http.StatusForbidden:
			t.Fatalf("signed fresh request answered %d", code)
		}
		if code != http.StatusNoContent && rec.count() != 0 {
			t.Fatalf("refused request (%d) emitted %d events", code, rec.count())
		}
		if code == http.StatusNoContent && rec.count() > bytes.Count(body, []byte("{")) {
			t.Fatalf("emitted %d events from a body with fewer objects", rec.count())
		}
		if genuine && fresh && code != http.StatusRequestEntityTooLarge {
			if again := post(); again != http.StatusConflict {
				t.Fatalf("replayed request answered %d, want 409", again)
			}
		}
	})
}
