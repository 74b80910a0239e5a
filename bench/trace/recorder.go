package trace

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/chatbench/chatbench/chat"
)

// RecorderOptions configures OpenRecorder.
type RecorderOptions struct {
	// Bodies keeps message bodies in the trace. Off by default: bodies are
	// redacted (omitted) and only their size is recorded.
	Bodies bool
	// Name is the trace header's name. Empty means "recorded".
	Name string
	// Logger reports write failures (never bodies). nil = discard.
	Logger *slog.Logger
}

type member struct{ conv, user string }

// Recorder writes the inbound messages a front door accepted as a trace
// (docs/trace.md): a header, then one line per accepted message with t in
// microseconds since the first one. It implements socket.Recorder: set it as
// socket.Config.Recorder and the front door calls Record after a message was
// dispatched successfully. Lines go through a Writer's buffer, so Record
// rarely touches the disk; Close flushes. A file whose name ends in ".gz"
// is gzip-compressed.
//
// When a user joins a conversation the trace still has them in (their
// connection ended without a leave), the recorder first writes a leave line
// with id "<join id>~leave" and size 0, so the trace stays valid for
// `chatbench trace validate` and replays as membership really changed.
//
// A Recorder is safe for concurrent use; a nil *Recorder records nothing.
type Recorder struct {
	opts RecorderOptions
	log  *slog.Logger

	mu      sync.Mutex
	file    io.Closer
	zw      *gzip.Writer // nil for a plain file
	out     io.Writer    // the file, or zw
	w       *Writer      // nil until the header is written
	opened  time.Time
	first   time.Time // the first accepted message (monotonic)
	closed  bool
	err     error // first write error; recording stops after it
	n       int
	members map[member]bool
}

// OpenRecorder creates (or truncates) path and returns a Recorder writing
// to it.
func OpenRecorder(path string, opts RecorderOptions) (*Recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("trace: record: %w", err)
	}
	if opts.Name == "" {
		opts.Name = "recorded"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Recorder{opts: opts, log: opts.Logger, file: f, out: f, opened: time.Now(), members: map[member]bool{}}
	if strings.HasSuffix(path, ".gz") {
		// Fast rather than small: the recorder runs inside the server.
		r.zw, _ = gzip.NewWriterLevel(f, gzip.BestSpeed) // the level is valid
		r.out = r.zw
	}
	return r, nil
}

// Record appends msg to the trace. Call it only for accepted messages, in
// the order they were accepted. It never logs the body.
func (r *Recorder) Record(msg *chat.Message) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.err != nil {
		return
	}
	now := time.Now()
	if r.w == nil {
		r.first = now
		if !r.start(now) {
			return
		}
	}
	t := now.Sub(r.first).Microseconds()
	k := member{msg.Conv, msg.From}
	switch msg.Type {
	case chat.OpJoin:
		if r.members[k] {
			r.write(Record{T: t, Conv: msg.Conv, User: msg.From, Role: msg.Role, Type: chat.OpLeave, ID: msg.ID + "~leave"})
		}
		r.members[k] = true
	case chat.OpLeave:
		delete(r.members, k)
	}
	rec := Record{T: t, Conv: msg.Conv, User: msg.From, Role: msg.Role, Type: msg.Type, ID: msg.ID, Size: len(msg.Body)}
	if r.opts.Bodies {
		rec.Body = msg.Body
	}
	r.write(rec)
	r.n++
}

// start writes the header, with offset 0 at start. r is locked.
func (r *Recorder) start(start time.Time) bool {
	w, err := NewWriter(r.out, Header{Name: r.opts.Name, Generator: "chatbench recorder", Start: start})
	if err != nil {
		r.fail(err)
		return false
	}
	r.w = w
	return true
}

// write appends one line; the first error stops recording and is logged.
func (r *Recorder) write(rec Record) {
	if r.err != nil {
		return
	}
	if err := r.w.Write(rec); err != nil {
		r.fail(err)
	}
}

func (r *Recorder) fail(err error) {
	r.err = err
	r.log.Error("recording stopped: cannot write the trace", "err", err, "recorded", r.n)
}

// Messages returns how many accepted messages have been recorded.
func (r *Recorder) Messages() int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Close writes the header if nothing was recorded, flushes the buffer,
// ends the gzip stream and closes the file. Records after Close are
// dropped. It returns the first write error, if any; later calls return
// nil.
func (r *Recorder) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.w == nil && r.err == nil {
		r.start(r.opened)
	}
	err := r.err
	if err == nil {
		err = r.w.Flush()
	}
	if r.zw != nil {
		err = errors.Join(err, r.zw.Close())
	}
	err = errors.Join(err, r.file.Close())
	if err != nil {
		return fmt.Errorf("trace: record: %w", err)
	}
	return nil
}
