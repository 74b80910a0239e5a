package trace

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

// Version is the trace schema version this package reads and writes (the
// header's "chatbench_trace" field).
const Version = 1

// MaxSize is the largest message body size a trace may declare, in bytes.
const MaxSize = 64 << 10

// maxLine bounds one line of a trace: a MaxSize body, JSON-escaped, plus the
// other fields.
const maxLine = 8*MaxSize + 4096

// Header is the first line of a trace.
type Header struct {
	// Version is the schema version; it must be Version.
	Version int `json:"chatbench_trace"`
	// Name names the trace (free text).
	Name string `json:"name,omitempty"`
	// Generator says what produced the trace (generator, recorder…).
	Generator string `json:"generator,omitempty"`
	// Seed is the generator's seed (0 for recorded traces).
	Seed uint64 `json:"seed"`
	// Start is the wall-clock instant that offset 0 stands for.
	Start time.Time `json:"start"`
	// DurationS is the span the trace covers, in seconds.
	DurationS float64 `json:"duration_s"`
	// Messages is the number of message lines; 0 means unknown (not checked).
	Messages int `json:"messages"`
	// Conversations is the number of distinct conversations; 0 means unknown.
	Conversations int `json:"conversations"`
}

// Record is one inbound message of a trace: one line after the header.
type Record struct {
	// T is the send instant as an offset from Header.Start, in microseconds.
	T int64 `json:"t"`
	// Conv is the conversation id.
	Conv string `json:"conv"`
	// User is the sender's user id.
	User string `json:"user"`
	// Role is the sender's role.
	Role chat.Role `json:"role"`
	// Type is the message type from the catalog; join and leave stand for
	// the join and leave ops.
	Type string `json:"type"`
	// ID is the client message id, unique per user.
	ID string `json:"id"`
	// Size is the body size in bytes; when Body is empty the driver sends a
	// filler body of this size.
	Size int `json:"size"`
	// Body is the optional message body (at most Size bytes).
	Body string `json:"body,omitempty"`
}

// Offset returns r.T as a duration.
func (r Record) Offset() time.Duration { return time.Duration(r.T) * time.Microsecond }

// LineError is a problem with one line of a trace.
type LineError struct {
	Line  int    // 1-based line number (the header is line 1)
	Field string // the JSON field at fault, or "" for the whole line
	Msg   string // what is wrong and how to fix it
}

// Error formats the error as `trace line N: field "f": problem: fix`.
func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("trace line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("trace line %d: field %q: %s", e.Line, e.Field, e.Msg)
}

func lineErr(line int, field, format string, args ...any) *LineError {
	return &LineError{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Reader decodes a trace line by line, checking each line on its own and
// that offsets never decrease. Checks that need the whole conversation
// (joins, leaves, duplicate ids) are Validate's.
type Reader struct {
	sc      *bufio.Scanner
	cat     *chat.Catalog
	hdr     Header
	line    int
	lastT   int64
	started bool
	err     error // sticky: the trace cannot be read further
}

// NewReader starts reading a trace from r (plain or gzip-compressed) and
// decodes its header. A bad or missing header is reported as a *LineError
// for line 1.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("trace: bad gzip stream: %w", err)
		}
		zr.Multistream(true)
		src = zr
	}
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	tr := &Reader{sc: sc, cat: jobs.Catalog()}
	if err := tr.readHeader(); err != nil {
		return nil, err
	}
	return tr, nil
}

func (r *Reader) readHeader() error {
	r.line = 1
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			return fmt.Errorf("trace line 1: read: %w", err)
		}
		return lineErr(1, "chatbench_trace", `the trace is empty: start it with a header line such as {"chatbench_trace":%d,"start":"2019-06-03T00:00:00Z"}`, Version)
	}
	var raw struct {
		Version *int `json:"chatbench_trace"`
	}
	b := r.sc.Bytes()
	if err := json.Unmarshal(b, &raw); err != nil {
		return jsonLineErr(1, err, "the first line must be the header")
	}
	if raw.Version == nil {
		return lineErr(1, "chatbench_trace", `header missing: the first line must be a header such as {"chatbench_trace":%d,"start":"2019-06-03T00:00:00Z"}`, Version)
	}
	if *raw.Version != Version {
		return lineErr(1, "chatbench_trace", "schema version %d is not supported: this chatbench reads version %d; regenerate the trace or upgrade chatbench", *raw.Version, Version)
	}
	if err := json.Unmarshal(b, &r.hdr); err != nil {
		return jsonLineErr(1, err, "fix the header")
	}
	if r.hdr.Messages < 0 || r.hdr.Conversations < 0 || r.hdr.DurationS < 0 {
		return lineErr(1, "", "header counts and duration_s must not be negative: fix or remove them")
	}
	return nil
}

func jsonLineErr(line int, err error, fix string) *LineError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return lineErr(line, te.Field, "is a JSON %s, want %s: %s", te.Value, te.Type, fix)
	case errors.As(err, &se):
		return lineErr(line, "", "not valid JSON (%s at byte %d): each line must be one JSON object; %s", se.Error(), se.Offset, fix)
	default:
		var pe *time.ParseError
		if errors.As(err, &pe) {
			return lineErr(line, "start", "not an RFC 3339 time: write it like 2019-06-03T00:00:00Z")
		}
		return lineErr(line, "", "cannot decode line (%v): %s", err, fix)
	}
}

// Header returns the trace's header.
func (r *Reader) Header() Header { return r.hdr }

// Line returns the number of the line last read (1 = the header).
func (r *Reader) Line() int { return r.line }

// rawRecord has pointers so missing fields can be told from zero values.
type rawRecord struct {
	T    *int64     `json:"t"`
	Conv *string    `json:"conv"`
	User *string    `json:"user"`
	Role *chat.Role `json:"role"`
	Type *string    `json:"type"`
	ID   *string    `json:"id"`
	Size *int       `json:"size"`
	Body string     `json:"body"`
}

// ReadAll decodes a whole trace held in memory (plain or gzip), stopping at
// the first bad line, whose error names it and points to `trace validate`.
// It checks each line on its own only (see Reader): commands that replay a
// trace call Load, which validates it whole.
func ReadAll(raw []byte) (Header, []Record, error) {
	r, err := NewReader(bytes.NewReader(raw))
	if err != nil {
		return Header{}, nil, err
	}
	var recs []Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Header(), recs, nil
		}
		if err != nil {
			return Header{}, nil, fmt.Errorf("%w (check it with `chatbench trace validate`)", err)
		}
		recs = append(recs, rec)
	}
}

// Next returns the next message. It returns io.EOF at the end of the trace,
// a *LineError for a line that is wrong (reading may continue with the next
// line), or another error when the trace cannot be read further (that error
// is returned again by later calls).
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				r.err = fmt.Errorf("trace line %d: line longer than %d bytes: bodies may be at most %d bytes", r.line+1, maxLine, MaxSize)
			} else {
				r.err = fmt.Errorf("trace line %d: read: %w", r.line+1, err)
			}
			return Record{}, r.err
		}
		r.err = io.EOF
		return Record{}, io.EOF
	}
	r.line++
	return r.decode(r.sc.Bytes())
}

func (r *Reader) decode(b []byte) (Record, error) {
	n := r.line
	if len(bytes.TrimSpace(b)) == 0 {
		return Record{}, lineErr(n, "", "empty line: delete it (every line after the header is one message)")
	}
	var raw rawRecord
	if err := json.Unmarshal(b, &raw); err != nil {
		return Record{}, jsonLineErr(n, err, "fix the value")
	}
	strs := []struct {
		name string
		v    *string
		max  int
	}{{"conv", raw.Conv, chat.MaxConvLen}, {"user", raw.User, chat.MaxIDLen}, {"type", raw.Type, chat.MaxTypeLen}, {"id", raw.ID, chat.MaxIDLen}}
	if raw.T == nil {
		return Record{}, lineErr(n, "t", "missing: add the send offset in microseconds from the header's start")
	}
	for _, s := range strs {
		if s.v == nil || *s.v == "" {
			return Record{}, lineErr(n, s.name, "missing or empty: every message line needs t, conv, user, role, type, id and size")
		}
		if len(*s.v) > s.max {
			return Record{}, lineErr(n, s.name, "longer than %d bytes: shorten it", s.max)
		}
	}
	if strings.HasPrefix(*raw.ID, ReservedIDPrefix) {
		return Record{}, lineErr(n, "id", "starts with %q, which the driver keeps for its own frames: rename the id", ReservedIDPrefix)
	}
	if raw.Role == nil || *raw.Role == "" {
		return Record{}, lineErr(n, "role", "missing or empty: use patient or provider")
	}
	if raw.Size == nil {
		return Record{}, lineErr(n, "size", "missing: add the body size in bytes (0 for no body)")
	}
	rec := Record{T: *raw.T, Conv: *raw.Conv, User: *raw.User, Role: *raw.Role, Type: *raw.Type, ID: *raw.ID, Size: *raw.Size, Body: raw.Body}
	switch {
	case rec.T < 0:
		return Record{}, lineErr(n, "t", "%d is negative: offsets count microseconds from the header's start and start at 0", rec.T)
	case r.started && rec.T < r.lastT:
		return Record{}, lineErr(n, "t", "%d is before the previous message's %d: sort the lines by t (equal offsets are allowed)", rec.T, r.lastT)
	}
	r.started, r.lastT = true, rec.T
	if !chat.ValidRole(rec.Role) {
		return Record{}, lineErr(n, "role", "unknown role %q: use patient or provider", truncate(string(rec.Role), 32))
	}
	mt := r.cat.Type(rec.Type)
	if mt == nil {
		return Record{}, lineErr(n, "type", "unknown message type %q: use one of %s", truncate(rec.Type, 32), strings.Join(r.typeNames(), ", "))
	}
	if !mt.CanSend(rec.Role) {
		return Record{}, lineErr(n, "role", "a %s may not send %q messages: only %s may; fix the role or the type", rec.Role, rec.Type, rolesString(mt.Roles))
	}
	switch {
	case rec.Size < 0:
		return Record{}, lineErr(n, "size", "%d is negative: give the body size in bytes (0 for no body)", rec.Size)
	case rec.Size > MaxSize:
		return Record{}, lineErr(n, "size", "%d is over the %d-byte limit: split the message or lower its size", rec.Size, MaxSize)
	case len(rec.Body) > rec.Size:
		return Record{}, lineErr(n, "body", "is %d bytes but size says %d: set size to at least the body's length", len(rec.Body), rec.Size)
	}
	return rec, nil
}

func (r *Reader) typeNames() []string {
	var names []string
	for _, t := range r.cat.Types() {
		names = append(names, t.Name)
	}
	return names
}

func rolesString(roles []chat.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r) + "s"
	}
	return strings.Join(s, " and ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Writer encodes a trace: the header, then one line per Write.
type Writer struct {
	bw   *bufio.Writer
	err  error
	buf  bytes.Buffer
	enc  *json.Encoder
	last int64
	n    int
}

// NewWriter writes h (with Version set) to w and returns a Writer for the
// messages. Call Flush when done; Flush does not close w.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	tw := &Writer{bw: bufio.NewWriterSize(w, 64<<10)}
	tw.enc = json.NewEncoder(&tw.buf)
	h.Version = Version
	h.Start = h.Start.UTC()
	if err := tw.encode(h); err != nil {
		return nil, err
	}
	return tw, nil
}

func (w *Writer) encode(v any) error {
	if w.err != nil {
		return w.err
	}
	w.buf.Reset()
	if err := w.enc.Encode(v); err != nil {
		w.err = err
		return err
	}
	_, w.err = w.bw.Write(w.buf.Bytes())
	return w.err
}

// Write appends one message. Messages must come in order of T.
func (w *Writer) Write(rec Record) error {
	if w.n > 0 && rec.T < w.last {
		return fmt.Errorf("trace: write: message at t=%d after one at t=%d: write messages sorted by t", rec.T, w.last)
	}
	w.n++
	w.last = rec.T
	return w.encode(rec)
}

// Flush writes any buffered data to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.bw.Flush()
	return w.err
}

// NewGzipWriter returns a gzip writer whose output depends only on the data
// written: no file name, zero modification time, best compression. The
// caller must Close it.
func NewGzipWriter(w io.Writer) *gzip.Writer {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestCompression) // the level is valid
	return zw
}

// Write writes a whole trace (header and records) to w, gzip-compressed
// when compress is set, with reproducible bytes.
func Write(w io.Writer, h Header, recs []Record, compress bool) error {
	var zw *gzip.Writer
	if compress {
		zw = NewGzipWriter(w)
		w = zw
	}
	tw, err := NewWriter(w, h)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if err := tw.Write(rec); err != nil {
			return err
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}
