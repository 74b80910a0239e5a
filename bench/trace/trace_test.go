package trace

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite bench/trace/day.jsonl.gz from the generator")

const dayFile = "day.jsonl.gz"

func genBytes(t testing.TB, p Params) []byte {
	t.Helper()
	h, recs, err := Generate(p)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, h, recs, true); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestShippedDay(t *testing.T) {
	got := genBytes(t, Params{Seed: 1})
	if *update {
		if err := os.WriteFile(dayFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(dayFile)
	if err != nil {
		t.Fatalf("%v (run go test ./bench/trace -run TestShippedDay -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("regenerated day (%d bytes) differs from %s (%d bytes); if the generator changed on purpose, rerun with -update", len(got), dayFile, len(want))
	}
	if len(want) >= 1<<20 {
		t.Errorf("shipped day is %d bytes, want < 1 MiB", len(want))
	}
	st, errs := Validate(bytes.NewReader(want))
	for _, e := range errs {
		t.Error(e)
	}
	if st.Messages != DefaultDayMessages {
		t.Errorf("messages = %d, want %d", st.Messages, DefaultDayMessages)
	}
	if len(st.PerHour) != 24 {
		t.Fatalf("hours = %d, want 24", len(st.PerHour))
	}
	night := st.PerHour[2] + st.PerHour[3] + st.PerHour[4]
	morning := st.PerHour[10] + st.PerHour[11] + st.PerHour[12]
	evening := st.PerHour[18] + st.PerHour[19] + st.PerHour[20]
	if night*5 > morning || night*5 > evening {
		t.Errorf("no diurnal shape: night %d, late morning %d, evening %d", night, morning, evening)
	}
	for _, typ := range []string{"join", "leave", "text", "typing", "read", "attachment", "symptom_form", "wait_time_request", "end_visit"} {
		if st.ByType[typ] == 0 {
			t.Errorf("no %s messages", typ)
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	p := Params{Seed: 7, Days: 0.25, Bodies: true}
	a, b := genBytes(t, p), genBytes(t, p)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed gave different bytes")
	}
	p.Seed = 8
	if bytes.Equal(a, genBytes(t, p)) {
		t.Fatal("different seeds gave the same bytes")
	}
}

func TestGenerateValidates(t *testing.T) {
	for _, p := range []Params{
		{Seed: 1, Days: 0.1},
		{Seed: 2, Days: 2, Rate: 0.3},
		{Seed: 3, Days: 0.05, Bodies: true, AttachmentRate: 0.5, FormRate: 1, WaitRate: 1},
		{Seed: 4, Messages: 600, Conversations: 100},
		{Seed: 5, Messages: 61, Conversations: 10, AttachmentRate: -1, FormRate: -1, WaitRate: -1},
		{Seed: 6, Days: 0.01, Rate: 3},
	} {
		h, recs, err := Generate(p)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		want := p.Messages
		if want == 0 {
			rate := p.Rate
			if rate == 0 {
				rate = 1
			}
			want = int(float64(DefaultDayMessages)*p.Days*rate + 0.5)
		}
		if len(recs) != want || h.Messages != want {
			t.Errorf("%+v: %d records (header %d), want %d", p, len(recs), h.Messages, want)
		}
		var b bytes.Buffer
		if err := Write(&b, h, recs, false); err != nil {
			t.Fatal(err)
		}
		// Validate checks each message's frame against the front door's
		// default limit too: the generator never writes one it would refuse.
		st, errs := Validate(&b)
		for _, e := range errs {
			t.Errorf("%+v: %v", p, e)
		}
		if st.Conversations != h.Conversations {
			t.Errorf("%+v: %d conversations, header %d", p, st.Conversations, h.Conversations)
		}
		if p.Bodies {
			for _, r := range recs {
				if r.Type == "text" && len(r.Body) != r.Size {
					t.Fatalf("text body %d bytes, size %d", len(r.Body), r.Size)
				}
			}
		}
	}
	if _, _, err := Generate(Params{Messages: 10, Conversations: 5}); err == nil {
		t.Error("too few messages for the conversations: no error")
	}
}

func TestRoundTrip(t *testing.T) {
	h, recs, err := Generate(Params{Seed: 9, Days: 0.05, Bodies: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, compress := range []bool{false, true} {
		var b bytes.Buffer
		if err := Write(&b, h, recs, compress); err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(&b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r.Header(), h) {
			t.Errorf("header %+v, want %+v", r.Header(), h)
		}
		var got []Record
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, rec)
		}
		if !reflect.DeepEqual(got, recs) {
			t.Errorf("compress=%v: records differ after a round trip", compress)
		}
	}
}

func TestStatsTable(t *testing.T) {
	st, errs := Validate(bytes.NewReader(genBytes(t, Params{Seed: 1, Days: 0.1})))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var b strings.Builder
	if err := WriteStats(&b, st, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"messages", "conversations", "p50", "text", "00:00"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("stats table lacks %q:\n%s", want, b.String())
		}
	}
}

const hdr = `{"chatbench_trace":1,"start":"2019-06-03T00:00:00Z"}`

func TestValidateErrors(t *testing.T) {
	pj := `{"t":0,"conv":"c1","user":"p1","role":"patient","type":"join","id":"a","size":0}`
	dj := `{"t":1,"conv":"c1","user":"d1","role":"provider","type":"join","id":"a","size":0}`
	cases := []struct {
		name  string
		lines []string
		line  int
		field string
	}{
		{"empty", nil, 1, "chatbench_trace"},
		{"no header", []string{pj}, 1, "chatbench_trace"},
		{"wrong version", []string{`{"chatbench_trace":2}`}, 1, "chatbench_trace"},
		{"bad start", []string{`{"chatbench_trace":1,"start":"yesterday"}`}, 1, "start"},
		{"bad json", []string{hdr, pj, `{"t":5,`}, 3, ""},
		{"t type", []string{hdr, pj, `{"t":1.5,"conv":"c1","user":"p1","role":"patient","type":"text","id":"b","size":1}`}, 3, "t"},
		{"t decreasing", []string{hdr, `{"t":9,"conv":"c1","user":"p1","role":"patient","type":"join","id":"a","size":0}`, `{"t":3,"conv":"c1","user":"p1","role":"patient","type":"text","id":"b","size":1}`}, 3, "t"},
		{"missing t", []string{hdr, `{"conv":"c1","user":"p1","role":"patient","type":"join","id":"a","size":0}`}, 2, "t"},
		{"missing id", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"text","size":1}`}, 3, "id"},
		{"missing size", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"text","id":"b"}`}, 3, "size"},
		{"missing role", []string{hdr, `{"t":2,"conv":"c1","user":"p1","type":"join","id":"a","size":0}`}, 2, "role"},
		{"unknown role", []string{hdr, `{"t":2,"conv":"c1","user":"p1","role":"nurse","type":"join","id":"a","size":0}`}, 2, "role"},
		{"unknown type", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"shout","id":"b","size":1}`}, 3, "type"},
		{"patient end_visit", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"end_visit","id":"b","size":0}`}, 3, "role"},
		{"provider form", []string{hdr, dj, `{"t":2,"conv":"c1","user":"d1","role":"provider","type":"symptom_form","id":"b","size":0}`}, 3, "role"},
		{"provider wait", []string{hdr, dj, `{"t":2,"conv":"c1","user":"d1","role":"provider","type":"wait_time_request","id":"b","size":0}`}, 3, "role"},
		{"before join", []string{hdr, pj, `{"t":2,"conv":"c1","user":"d1","role":"provider","type":"text","id":"b","size":1}`}, 3, "conv"},
		{"other conv", []string{hdr, pj, `{"t":2,"conv":"c2","user":"p1","role":"patient","type":"text","id":"b","size":1}`}, 3, "conv"},
		{"after leave", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"leave","id":"b","size":0}`, `{"t":3,"conv":"c1","user":"p1","role":"patient","type":"text","id":"c","size":1}`}, 4, "conv"},
		{"double join", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"join","id":"b","size":0}`}, 3, "type"},
		{"leave unjoined", []string{hdr, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"leave","id":"b","size":0}`}, 2, "type"},
		{"duplicate id", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"text","id":"a","size":1}`}, 3, "id"},
		{"role changes", []string{hdr, pj, `{"t":2,"conv":"c2","user":"p1","role":"provider","type":"join","id":"b","size":0}`}, 3, "role"},
		{"size negative", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"text","id":"b","size":-1}`}, 3, "size"},
		{"size too big", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"text","id":"b","size":65537}`}, 3, "size"},
		{"body over size", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"text","id":"b","size":2,"body":"hello"}`}, 3, "body"},
		{"empty line", []string{hdr, pj, ``, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"text","id":"b","size":1}`}, 3, ""},
		{"header count", []string{`{"chatbench_trace":1,"messages":5}`, pj}, 1, "messages"},
		{"reserved id", []string{hdr, `{"t":0,"conv":"c1","user":"p1","role":"patient","type":"join","id":"~driver-rejoin-1","size":0}`}, 2, "id"},
		// 65,536 bytes of body cannot fit a 65,536-byte frame with its envelope.
		{"frame too big", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"text","id":"b","size":65536}`}, 3, "size"},
		// Each control character takes 6 bytes escaped (\u0001).
		{"escaped body too big", []string{hdr, pj, `{"t":2,"conv":"c1","user":"p1","role":"patient","type":"text","id":"b","size":20000,"body":"` +
			strings.Repeat(`\u0001`, 12000) + `"}`}, 3, "body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Join(c.lines, "\n")
			_, errs := Validate(strings.NewReader(in))
			if len(errs) != 1 {
				t.Fatalf("got %d errors %v, want 1", len(errs), errs)
			}
			var le *LineError
			if !errors.As(errs[0], &le) {
				t.Fatalf("error %v is not a *LineError", errs[0])
			}
			if le.Line != c.line || le.Field != c.field {
				t.Errorf("got line %d field %q (%v), want line %d field %q", le.Line, le.Field, le, c.line, c.field)
			}
			if !strings.HasPrefix(le.Error(), "trace line ") || !strings.Contains(le.Msg, ":") {
				t.Errorf("error %q lacks the line prefix or a fix", le)
			}
		})
	}
}

func TestValidateManyErrors(t *testing.T) {
	lines := []string{hdr}
	for range MaxErrors + 10 {
		lines = append(lines, `{"t":1,"conv":"c1","user":"p1","role":"patient","type":"text","id":"x","size":1}`)
	}
	_, errs := Validate(strings.NewReader(strings.Join(lines, "\n")))
	if len(errs) != MaxErrors+1 {
		t.Fatalf("%d errors, want %d", len(errs), MaxErrors+1)
	}
}

func TestWriterRejectsUnsorted(t *testing.T) {
	w, err := NewWriter(io.Discard, Header{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Record{T: 5}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Record{T: 4}); err == nil {
		t.Fatal("unsorted write accepted")
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte(hdr + "\n" + `{"t":0,"conv":"c1","user":"p1","role":"patient","type":"join","id":"a","size":0}`))
	// More seeds (valid and broken traces) are in testdata/fuzz/FuzzReader.
	f.Fuzz(func(t *testing.T, data []byte) {
		st, errs := Validate(bytes.NewReader(data))
		for _, e := range errs {
			var le *LineError
			if errors.As(e, &le) && le.Line < 1 {
				t.Fatalf("line number %d < 1: %v", le.Line, e)
			}
		}
		if len(errs) > 0 {
			return
		}
		// A valid trace survives a round trip with the same stats.
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		w, err := NewWriter(&b, r.Header())
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		st2, errs := Validate(&b)
		if len(errs) > 0 {
			t.Fatalf("re-encoded trace invalid: %v", errs)
		}
		if st2.Messages != st.Messages || st2.Conversations != st.Conversations {
			t.Fatalf("round trip changed stats: %d/%d vs %d/%d", st2.Messages, st2.Conversations, st.Messages, st.Conversations)
		}
	})
}

// TestDayIsEmbedded checks the binary carries the same shipped day as the
// file.
func TestDayIsEmbedded(t *testing.T) {
	b, err := os.ReadFile(dayFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Day(), b) {
		t.Fatal("embedded day differs from " + dayFile)
	}
}

// TestReadAll reads the shipped day whole, and stops a broken trace at its
// bad line with a pointer to trace validate.
func TestReadAll(t *testing.T) {
	h, recs, err := ReadAll(Day())
	if err != nil || len(recs) != h.Messages || len(recs) == 0 {
		t.Fatalf("day: %d records, header says %d, err %v", len(recs), h.Messages, err)
	}
	h.Messages = 2
	var buf bytes.Buffer
	if err := Write(&buf, h, recs[:2], false); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("{\"t\":1}\n") // line 4: no conversation, sender, type
	_, _, err = ReadAll(buf.Bytes())
	var le *LineError
	if !errors.As(err, &le) || le.Line != 4 || !strings.Contains(err.Error(), "trace validate") {
		t.Fatalf("broken trace: %v, want a LineError on line 4 naming trace validate", err)
	}
}

// readFixture returns testdata/name.
func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestValidateFrameLimit validates the oversize fixture (also replayed by
// the driver's tests): the message one byte over the default frame limit
// is refused on its line with the size that fits, the one exactly at it
// passes, and --max-frame-bytes (MaxFrameBytes) moves the limit.
func TestValidateFrameLimit(t *testing.T) {
	raw := readFixture(t, "oversize-frame.jsonl")
	cases := []struct {
		name string
		opts []Option
		want int // line refused, 0 = none
	}{
		{"default", nil, 6},
		{"zero is the default", []Option{MaxFrameBytes(0)}, 6},
		{"a larger server limit", []Option{MaxFrameBytes(DefaultMaxFrameBytes + 1)}, 0},
		// At one byte less, the message exactly at the default limit is over too.
		{"a smaller server limit", []Option{MaxFrameBytes(DefaultMaxFrameBytes - 1)}, 5},
		{"off", []Option{MaxFrameBytes(-1)}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := Validate(bytes.NewReader(raw), c.opts...)
			if c.want == 0 {
				if len(errs) != 0 {
					t.Fatalf("errors %v, want none", errs)
				}
				return
			}
			var le *LineError
			if len(errs) == 0 || !errors.As(errs[0], &le) || le.Line != c.want || le.Field != "size" {
				t.Fatalf("errors %v, want the first on line %d, field size", errs, c.want)
			}
		})
	}
	_, errs := Validate(bytes.NewReader(raw))
	// The fix names the largest size that fits: 65,447 − 1.
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "at most 65446") || !strings.Contains(errs[0].Error(), "--max-frame-bytes") {
		t.Errorf("errors %v: want one naming the size that fits and --max-frame-bytes", errs)
	}
}

// TestLoad reads and validates in one call: the shipped day loads; a
// duplicate id, a frame over the limit and a trace without messages are
// refused before anything could start, naming the line and trace validate.
func TestLoad(t *testing.T) {
	h, recs, err := Load(Day())
	if err != nil || len(recs) != DefaultDayMessages || h.Messages != len(recs) {
		t.Fatalf("day: %d records, header %d, err %v", len(recs), h.Messages, err)
	}
	for _, c := range []struct {
		file  string
		line  int
		field string
	}{{"duplicate-id.jsonl", 5, "id"}, {"oversize-frame.jsonl", 6, "size"}} {
		_, recs, err := Load(readFixture(t, c.file))
		var ie *InvalidError
		var le *LineError
		if !errors.As(err, &ie) || !errors.As(err, &le) || le.Line != c.line || le.Field != c.field || recs != nil {
			t.Errorf("%s: %v, want an *InvalidError on line %d, field %s", c.file, err, c.line, c.field)
		}
		if err != nil && !strings.Contains(err.Error(), "trace validate") {
			t.Errorf("%s: %v does not point to trace validate", c.file, err)
		}
	}
	if _, _, err := Load(readFixture(t, "oversize-frame.jsonl"), MaxFrameBytes(-1)); err != nil {
		t.Errorf("oversize fixture without a frame limit: %v", err)
	}
	if _, _, err := Load([]byte(hdr + "\n")); err == nil || !strings.Contains(err.Error(), "no messages") {
		t.Errorf("a trace without messages: %v", err)
	}
	// Two problems: the error says there is one more.
	two := strings.Join([]string{hdr, `{"t":0,"conv":"c1","user":"p1","role":"patient","type":"text","id":"a","size":1}`,
		`{"t":0,"conv":"c1","user":"p1","role":"patient","type":"text","id":"b","size":1}`}, "\n")
	if _, _, err := Load([]byte(two)); err == nil || !strings.Contains(err.Error(), "and 1 more problems") {
		t.Errorf("two bad lines: %v", err)
	}
}

// TestRejoinFixturesValid checks that the held-leave fixtures the driver's
// tests replay are valid traces: a leave and a re-join at the same t, or a
// second apart, are allowed.
func TestRejoinFixturesValid(t *testing.T) {
	for _, name := range []string{"rejoin-after-1s.jsonl", "rejoin-same-t.jsonl"} {
		if _, _, err := Load(readFixture(t, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
