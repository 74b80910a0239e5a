package chat_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatbench/chatbench/chat"
)

func TestDecodeClientFrame(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code string // "" = valid
	}{
		{"send", `{"v":1,"op":"send","id":"m1","conv":"c1","type":"text","body":"hi","sent_at":1}`, ""},
		{"v omitted means v1", `{"op":"join","id":"j1","conv":"c1"}`, ""},
		{"unknown fields ignored", `{"op":"auth","token":"t","future":{"x":1}}`, ""},
		{"not json", `hello`, chat.CodeBadJSON},
		{"json array", `[1,2]`, chat.CodeBadJSON},
		{"wrong field type", `{"op":"send","id":7}`, chat.CodeBadJSON},
		{"truncated", `{"op":"send"`, chat.CodeBadJSON},
		{"invalid utf-8", "{\"op\":\"send\",\"body\":\"\xff\"}", chat.CodeBadUTF8},
		{"future version", `{"v":2,"op":"auth","token":"t"}`, chat.CodeBadVersion},
		// "1 or omitted": a present v that is not the number 1 is refused,
		// though 0 and null decode into an int as omitted would.
		{"version 0", `{"v":0,"op":"join","id":"j1","conv":"c1"}`, chat.CodeBadVersion},
		{"version null", `{"v":null,"op":"join","id":"j1","conv":"c1"}`, chat.CodeBadVersion},
		{"version as a string", `{"v":"1","op":"join","id":"j1","conv":"c1"}`, chat.CodeBadVersion},
		{"version as a float", `{"v":1.0,"op":"join","id":"j1","conv":"c1"}`, chat.CodeBadVersion},
		{"version 1 with spaces", `{"v" : 1 ,"op":"join","id":"j1","conv":"c1"}`, ""},
		{"no op", `{"id":"x"}`, chat.CodeMissingField},
		{"empty op", `{"op":"","id":"x"}`, chat.CodeMissingField},
		{"unknown op", `{"op":"subscribe"}`, chat.CodeUnknownOp},
		// The token is the front door's to refuse (bad_token, close 1008).
		{"auth without token", `{"op":"auth"}`, ""},
		{"auth with an empty token", `{"op":"auth","token":""}`, ""},
		{"join without conv", `{"op":"join","id":"j"}`, chat.CodeMissingField},
		{"join without id", `{"op":"join","conv":"c"}`, chat.CodeMissingField},
		{"send without type", `{"op":"send","id":"m","conv":"c"}`, chat.CodeMissingField},
		{"id too long", `{"op":"send","id":"` + strings.Repeat("x", chat.MaxIDLen+1) + `","conv":"c","type":"text"}`, chat.CodeBadField},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := chat.DecodeClientFrame([]byte(tc.in))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if f.Op == "" {
					t.Fatal("decoded frame has no op")
				}
				return
			}
			pe := chat.AsProtocolError(err)
			if pe == nil || pe.Code != tc.code {
				t.Fatalf("want code %s, got %v", tc.code, err)
			}
			if pe.Msg == "" {
				t.Fatal("error has no message for the client")
			}
		})
	}
}

// TestVersionDecoded checks a frame's v is 1 when it says so and 0 (the Go
// frame's "omitted") when it is left out.
func TestVersionDecoded(t *testing.T) {
	for in, want := range map[string]int{`{"v":1,"op":"auth"}`: 1, `{"op":"auth"}`: 0} {
		f, err := chat.DecodeClientFrame([]byte(in))
		if err != nil || f.V != want {
			t.Errorf("%s: %+v, %v; want v %d", in, f, err, want)
		}
	}
	_, err := chat.DecodeClientFrame([]byte(`{"v":null,"op":"join","id":"j9","conv":"c1"}`))
	if pe := chat.AsProtocolError(err); pe == nil || pe.Ref != "j9" || !strings.Contains(pe.Msg, `"v" is null`) {
		t.Errorf("v null: %v; want bad_version naming the frame j9 and the value", err)
	}
}

// TestOverlongIDEchoedAsPrefix checks that the refusal of an id over
// MaxIDLen names it by its first MaxIDLen bytes, cut where no UTF-8
// character is split, so that reply_to is a prefix of the id as sent.
func TestOverlongIDEchoedAsPrefix(t *testing.T) {
	for _, id := range []string{
		strings.Repeat("x", chat.MaxIDLen+72),
		strings.Repeat("x", chat.MaxIDLen-1) + "é" + "tail", // é's two bytes straddle the limit
		strings.Repeat("€", chat.MaxIDLen),                  // three bytes each
	} {
		_, err := chat.DecodeClientFrame([]byte(`{"op":"send","id":"` + id + `","conv":"c","type":"text"}`))
		pe := chat.AsProtocolError(err)
		if pe == nil || pe.Code != chat.CodeBadField {
			t.Fatalf("id of %d bytes: %v; want bad_field", len(id), err)
		}
		if !strings.HasPrefix(id, pe.Ref) || len(pe.Ref) > chat.MaxIDLen || len(pe.Ref) < chat.MaxIDLen-utf8.UTFMax+1 || !utf8.ValidString(pe.Ref) {
			t.Errorf("id of %d bytes named by %d bytes %q; want the longest valid prefix of at most %d", len(id), len(pe.Ref), pe.Ref, chat.MaxIDLen)
		}
		// The error frame carries it unchanged.
		f, err := chat.DecodeServerFrame(chat.EncodeError(pe))
		if err != nil || f.ReplyTo != pe.Ref {
			t.Errorf("reply_to %q after encoding, want %q (%v)", f.ReplyTo, pe.Ref, err)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"}, {"abc", 2, "ab"}, {"aé", 2, "a"}, {"aé", 3, "aé"}, {"€", 2, ""}, {"", 0, ""},
	} {
		if got := chat.Truncate(c.s, c.n); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestEventRoundTrip(t *testing.T) {
	ev := &chat.Event{Name: "triage", Job: "triage", Conv: "c1", From: "p1", Type: "text", Status: chat.StatusOK,
		Data: json.RawMessage(`{"urgency":"high"}`), ReplyTo: "m1", Hops: chat.Hops{GatewayIn: 10, Emitted: 20}}
	b, err := chat.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	f, err := chat.DecodeServerFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Op != chat.OpEvent || f.ReplyTo != "m1" || f.Event.Name != "triage" || f.Event.Hops.Emitted != 20 || string(f.Event.Data) != `{"urgency":"high"}` {
		t.Fatalf("round trip lost data: %s", b)
	}
	if strings.Contains(string(b), "audience") || strings.Contains(string(b), "members") {
		t.Fatalf("routing fields leaked onto the wire: %s", b)
	}
}

func TestErrorFrame(t *testing.T) {
	b := chat.EncodeError(chat.Errorf(chat.CodeOverloaded, "m9", "busy"))
	f, err := chat.DecodeServerFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Op != chat.OpError || f.Code != chat.CodeOverloaded || !f.Retryable || f.ReplyTo != "m9" || f.Event != nil {
		t.Fatalf("bad error frame %s", b)
	}
}

// FuzzDecodeClientFrame checks the decoder never panics, accepts only
// frames that validate, and always names a stable code when it refuses.
// Seed corpus: testdata/fuzz/FuzzDecodeClientFrame.
func FuzzDecodeClientFrame(f *testing.F) {
	f.Add([]byte(`{"v":1,"op":"send","id":"m1","conv":"c1","type":"text","body":"hello","sent_at":1700000000000000}`))
	f.Add([]byte(`{"op":"auth","token":"a.b"}`))
	f.Add([]byte(`{"op":"join","id":"j1","conv":"c1","since":1764200000000042}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := chat.DecodeClientFrame(data)
		if err != nil {
			pe := chat.AsProtocolError(err)
			if pe == nil || pe.Code == "" || pe.Msg == "" {
				t.Fatalf("refusal without a code: %v", err)
			}
			if !utf8.ValidString(pe.Msg) || !utf8.ValidString(pe.Ref) {
				t.Fatalf("error echoes invalid UTF-8")
			}
			return
		}
		if err := fr.Validate(); err != nil {
			t.Fatalf("accepted a frame that does not validate: %v", err)
		}
		if !utf8.Valid(data) {
			t.Fatal("accepted invalid UTF-8")
		}
	})
}

func BenchmarkDecodeClientFrame(b *testing.B) {
	frame := []byte(`{"v":1,"op":"send","id":"m-000123","conv":"conv-0042","type":"text","body":"I have had a headache for three days and it is getting worse","sent_at":1700000000000000}`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := chat.DecodeClientFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	for _, size := range []int{16, 256, 4096} {
		ev := &chat.Event{Name: "text", Job: chat.RelayJob, Conv: "conv-0042", From: "p-17", Type: "text", Status: chat.StatusOK,
			Data: json.RawMessage(`{"body":"` + strings.Repeat("a", size) + `"}`), ReplyTo: "m-000123",
			Hops: chat.Hops{ClientSent: 1700000000000000, GatewayIn: 1700000000000100, Emitted: 1700000000000200}}
		b.Run(sizeName(size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := chat.EncodeEvent(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func sizeName(n int) string { return "body=" + strconv.Itoa(n) }
