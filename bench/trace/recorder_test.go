package trace_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/socket"
)

// The front door records through socket.Recorder.
var _ socket.Recorder = (*trace.Recorder)(nil)

var secret = []byte("trace-test-secret-0123456789")

// startDirect runs a direct-path server recording into rec, with the
// telehealth catalog and no ML service (ML jobs then emit status=error
// events, which the recorder does not see).
func startDirect(t *testing.T, rec socket.Recorder) *directmode.Server {
	t.Helper()
	srv, err := directmode.Start(directmode.ServerConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret, Recorder: rec},
		Dispatcher: directmode.Config{Catalog: jobs.Catalog()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

// sent is one message the test sent and the server accepted.
type sent struct {
	user, conv, typ, id, body string
	role                      chat.Role
}

// readTrace validates the trace at path and returns its header and records.
func readTrace(t *testing.T, path string) (trace.Header, []trace.Record) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, errs := trace.Validate(f); len(errs) > 0 {
		t.Fatalf("recorded trace is not valid: %v", errs)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	r, err := trace.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var recs []trace.Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return r.Header(), recs
}

// TestRecorder drives a short visit through a direct server with a
// recorder, then checks the recorded trace: valid, in accepted order, with
// the sent ids, sizes, and bodies only when asked for.
func TestRecorder(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		bodies     bool
	}{
		{"redacted-gzip", "rec.jsonl.gz", false},
		{"bodies-plain", "rec.jsonl", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			rec, err := trace.OpenRecorder(path, trace.RecorderOptions{Bodies: tc.bodies})
			if err != nil {
				t.Fatal(err)
			}
			srv := startDirect(t, rec)
			s := wstest.NewScript(t, jobs.Catalog())
			d1 := wstest.DialAs(t, srv.URL(), secret, "d1", chat.RoleProvider, "c1")
			p1 := wstest.DialAs(t, srv.URL(), secret, "p1", chat.RolePatient, "c1", "c2")
			var want []sent
			do := func(p *wstest.Participant, op, conv, typ, body string) {
				id := s.Do(p, op, conv, typ, body)
				if op != chat.OpSend {
					typ = op
				}
				want = append(want, sent{p.User, conv, typ, id, body, p.Role})
			}
			do(d1, chat.OpJoin, "c1", "", "")
			do(p1, chat.OpJoin, "c1", "", "")
			do(p1, chat.OpSend, "c1", "text", "I have had chest pain since this morning")
			do(p1, chat.OpSend, "c1", "typing", "")
			// Refused messages are not recorded.
			p1.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: "bad1", Conv: "c1", Type: "no_such_type", Body: "x"})
			if r, _ := p1.C.AwaitReply("bad1"); r.Op != chat.OpError {
				t.Fatalf("unknown type: got %+v", r)
			}
			p1.C.Send(chat.ClientFrame{Op: chat.OpSend, ID: "bad2", Conv: "c2", Type: "text", Body: "not joined"})
			if r, _ := p1.C.AwaitReply("bad2"); r.Op != chat.OpError {
				t.Fatalf("send before join: got %+v", r)
			}
			do(p1, chat.OpSend, "c1", "symptom_form", `{"pain":7}`)
			do(d1, chat.OpSend, "c1", "text", "Is the pain sharp or dull? ünïcode")
			do(p1, chat.OpSend, "c1", "read", "m005")
			do(p1, chat.OpJoin, "c2", "", "")
			do(p1, chat.OpSend, "c2", "wait_time_request", "")
			do(d1, chat.OpSend, "c1", "end_visit", "")
			do(d1, chat.OpLeave, "c1", "", "")
			do(d1, chat.OpJoin, "c1", "", "")

			ctx, cancel := context.WithTimeout(context.Background(), wstest.Wait)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if n := rec.Messages(); n != len(want) {
				t.Errorf("Messages() = %d, want %d", n, len(want))
			}
			if err := rec.Close(); err != nil {
				t.Fatal(err)
			}
			rec.Record(&chat.Message{ID: "late", Conv: "c1", From: "d1", Role: chat.RoleProvider, Type: "text"}) // dropped

			h, got := readTrace(t, path)
			if h.Version != trace.Version || h.Start.IsZero() || h.Seed != 0 {
				t.Errorf("header %+v", h)
			}
			if len(got) != len(want) {
				t.Fatalf("recorded %d messages, want %d:\n%+v", len(got), len(want), got)
			}
			if got[0].T != 0 {
				t.Errorf("first t = %d, want 0", got[0].T)
			}
			for i, w := range want {
				g := got[i]
				if g.User != w.user || g.Conv != w.conv || g.Type != w.typ || g.ID != w.id || g.Role != w.role || g.Size != len(w.body) {
					t.Errorf("line %d: got %+v, want %+v (size %d)", i+2, g, w, len(w.body))
				}
				switch {
				case tc.bodies && g.Body != w.body:
					t.Errorf("line %d: body %q, want %q", i+2, g.Body, w.body)
				case !tc.bodies && g.Body != "":
					t.Errorf("line %d: body %q recorded; bodies must be redacted by default", i+2, g.Body)
				}
			}
			if !tc.bodies {
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if raw[0] != 0x1f || raw[1] != 0x8b {
					t.Errorf("%s is not gzip-compressed", tc.file)
				}
			}
		})
	}
}

// TestRecorderRejoin records a user who joins a conversation twice without
// leaving (a second connection, or a reconnect): the recorder writes a leave
// first so the trace stays valid.
func TestRecorderRejoin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rejoin.jsonl")
	rec, err := trace.OpenRecorder(path, trace.RecorderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := startDirect(t, rec)
	a := wstest.DialAs(t, srv.URL(), secret, "p1", chat.RolePatient, "c1")
	b := wstest.DialAs(t, srv.URL(), secret, "p1", chat.RolePatient, "c1")
	for _, x := range []struct {
		p  *wstest.Participant
		id string
	}{{a, "j1"}, {b, "j2"}} {
		x.p.C.Send(chat.ClientFrame{Op: chat.OpJoin, ID: x.id, Conv: "c1"})
		if r, _ := x.p.C.AwaitReply(x.id); r.Op != chat.OpAck {
			t.Fatalf("join %s: %+v", x.id, r)
		}
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	_, got := readTrace(t, path)
	var lines []string
	for _, r := range got {
		lines = append(lines, r.Type+":"+r.ID)
	}
	if want := []string{"join:j1", "leave:j2~leave", "join:j2"}; !slices.Equal(lines, want) {
		t.Errorf("recorded %v, want %v", lines, want)
	}
}

// TestRecorderEmpty closes a recorder that saw nothing: the file is a valid
// trace with only a header. A nil recorder is a no-op.
func TestRecorderEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.jsonl.gz")
	rec, err := trace.OpenRecorder(path, trace.RecorderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, got := readTrace(t, path); len(got) != 0 {
		t.Errorf("recorded %v", got)
	}
	var none *trace.Recorder
	none.Record(&chat.Message{})
	if err := none.Close(); err != nil {
		t.Error(err)
	}
	if _, err := trace.OpenRecorder(filepath.Join(t.TempDir(), "no", "such", "dir.jsonl"), trace.RecorderOptions{}); err == nil {
		t.Error("OpenRecorder in a missing directory succeeded")
	}
}
