package chat

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// serverFrameSeeds are frames as the encoders write them, and near misses.
func serverFrameSeeds() [][]byte {
	ev := &Event{Name: "typing", Job: RelayJob, Conv: "c1", Seq: 1764200000000001, From: "p1", Type: "typing", Status: StatusOK, ReplyTo: "p1-7",
		Data: json.RawMessage(`{"body":"caf\u00e9 \"x\"","n":[1,2.5e3,{"k":null}]}`),
		Hops: Hops{ClientSent: 1700000000000001, GatewayIn: 1700000000000002, Emitted: 1700000000000003}}
	evb, _ := EncodeEvent(ev)
	errEv := &Event{Name: "triage_result", Job: "triage", Conv: "c1", From: "p1", Type: "text", Status: StatusError, ErrCode: "ml_timeout",
		ReplyTo: "p1-8", Hops: Hops{ClientSent: 1, GatewayIn: 2, Enqueued: 3, Dequeued: 4, JobStart: 5, MLStart: 6, MLEnd: 7, JobEnd: 8, CallbackIn: 9, Emitted: 10}}
	errb, _ := EncodeEvent(errEv)
	return [][]byte{
		evb, errb,
		EncodeAck("p1-7", "", []string{"p1", "d1"}),
		EncodeAck("auth", "p1", nil),
		EncodeAck("m", "", []string{}),
		EncodeJoinAck("~driver-rejoin-1", []string{"d1", "p1"}, Resume{LastSeq: 1764200000000042, Replayed: 3, Gap: true}),
		EncodeError(Errorf(CodeRateLimited, "p1-9", "slow down")),
		[]byte(`{"v":1,"op":"event","reply_to":"x","event":"e","data":{"a":1},"hops":{}}`),
		[]byte(`{"data":null}`), []byte(`{"data":"s"}`), []byte(`{"data":[1,}`), []byte(`{"data":{"a":"}"}}`), []byte(`{"data":{"a":"\"}"}}`),
		[]byte(` { "v" : -0 , "op" : "ack" , "members" : [ "a" , "b" ] } `),
		[]byte(`{"v":1,"op":"ack","reply_to":"caf\u00e9"}`),
		[]byte(`{"v":1.0}`), []byte(`{"v":01}`), []byte(`{"V":1}`), []byte(`{"v":null}`),
		[]byte(`{"retryable":truex}`), []byte(`{"v":1}x`), []byte(`{"hops":{"emitted":1e3}}`),
		[]byte(`{"seq":-1}`), []byte(`{"last_seq":-0}`), []byte(`{"seq":0}`), []byte(`{"replayed":-2}`), []byte(`{"gap":1}`),
		[]byte(`{"members":["a"],"members":[]}`), []byte(`{"hops":{"emitted":1},"hops":{"enqueued":2}}`),
		[]byte("{\"op\":\"caf\xc3\xa9\"}"), []byte(`{"v":99999999999999999999}`), []byte(`{}`), []byte(``),
	}
}

// FuzzDecodeServerFrame checks that whatever the fast decoder accepts,
// encoding/json decodes to the same frame, and that DecodeServerFrame
// agrees with encoding/json on every input.
func FuzzDecodeServerFrame(f *testing.F) {
	for _, s := range serverFrameSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want ServerFrame
		jerr := json.Unmarshal(data, &want)
		if want.Event != nil {
			want.Event.ReplyTo = want.ReplyTo
		}
		fast, ok := decodeServerFrameFast(data)
		if ok {
			if jerr != nil {
				t.Fatalf("fast decoder accepted %q, encoding/json refused it: %v", data, jerr)
			}
			if !reflect.DeepEqual(*fast, want) {
				t.Fatalf("%q: fast decoder gave %+v (event %+v), encoding/json %+v (event %+v)", data, *fast, fast.Event, want, want.Event)
			}
		}
		got, err := DecodeServerFrame(data)
		if (err == nil) != (jerr == nil) {
			t.Fatalf("%q: DecodeServerFrame error %v, encoding/json %v", data, err, jerr)
		}
		if err == nil && !reflect.DeepEqual(*got, want) {
			t.Fatalf("%q: DecodeServerFrame gave %+v, encoding/json %+v", data, *got, want)
		}
	})
}

// TestDecodeServerFrameFastCovers checks that the frames the server writes
// take the fast path (else the driver silently pays for encoding/json).
func TestDecodeServerFrameFastCovers(t *testing.T) {
	for _, s := range serverFrameSeeds()[:8] {
		if _, ok := decodeServerFrameFast(s); !ok {
			t.Errorf("fast decoder refused the encoder's own frame %s", s)
		}
	}
}

func BenchmarkDecodeServerFrame(b *testing.B) {
	frame := serverFrameSeeds()[0]
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeServerFrame(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var f ServerFrame
			if err := json.Unmarshal(frame, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzAppendClientFrame checks AppendClientFrame against encoding/json.
func FuzzAppendClientFrame(f *testing.F) {
	f.Add(1, "send", "p1-1", "", "c1", "text", int64(1700000000000000), "I have had a headache for three days", uint64(0))
	f.Add(0, "join", "j", "", "c", "", int64(0), "", uint64(1764200000000042))
	f.Add(0, "auth", "", "a.b", "", "", int64(-5), "\"\\\b\f\n\r\t\x00\x1f\x7f<>&\u2028\u2029é\xff\xc3", uint64(1<<63))
	f.Fuzz(func(t *testing.T, v int, op, id, token, conv, typ string, sentAt int64, body string, since uint64) {
		fr := &ClientFrame{V: v, Op: op, ID: id, Token: token, Conv: conv, Type: typ, SentAt: sentAt, Body: body, Since: since}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(fr); err != nil {
			t.Fatal(err)
		}
		got := AppendClientFrame(nil, fr)
		if !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("AppendClientFrame gave\n%s\nencoding/json\n%s", got, want.Bytes())
		}
	})
}

func BenchmarkAppendClientFrame(b *testing.B) {
	fr := &ClientFrame{Op: OpSend, ID: "p-17-000123", Conv: "conv-0042", Type: "text", SentAt: 1700000000000000,
		Body: "I have had a headache for three days and it is getting worse"}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = AppendClientFrame(buf[:0], fr)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for b.Loop() {
			buf.Reset()
			_ = enc.Encode(fr)
		}
	})
}
