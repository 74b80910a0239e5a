package queuemode

import (
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/chatbench/chatbench/chat"
)

// sqsAllows reports whether SQS accepts every character of s in a message
// body: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to
// #x10FFFF (SQS API Reference, SendMessage). The embedded endpoint
// enforces the same set; the end-to-end tests send through it.
func sqsAllows(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return false // not UTF-8 at all
		}
		ok := r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) ||
			(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
		if !ok {
			return false
		}
	}
	return true
}

// testMessage is a message with body as the front door hands it on, every
// field set.
func testMessage(body string) *chat.Message {
	return &chat.Message{ID: "m-0001", Conv: "c-42", From: "p1", Role: chat.RolePatient, Type: "text", Body: body,
		SentAt: 1764241200000000, Members: []string{"d1", "p1"},
		Hops: chat.Hops{ClientSent: 1764241200000000, GatewayIn: 1764241200000100, Enqueued: 1764241200000200}}
}

// TestEnvelopeSizes encodes 64 KiB bodies of the characters an escaping
// encoder inflates most and checks that each envelope round-trips, holds
// only characters SQS allows, and is never more than 4/3 of the body plus
// the other fields: the body is written as JSON text or base64, whichever
// is shorter. -v prints the sizes (docs/methodology.md quotes them).
func TestEnvelopeSizes(t *testing.T) {
	const n = 64 << 10
	empty, err := encodeEnvelope(testMessage(""), []string{"triage"})
	if err != nil {
		t.Fatal(err)
	}
	overhead := len(empty) + len(`,"body_b64":""`)
	cases := map[string]string{
		"ascii":                 "a",
		"<":                     "<",
		`"`:                     `"`,
		`\`:                     `\`,
		"control (U+0001)":      "\x01",
		"newline":               "\n",
		"U+FFFF":                "\uffff",
		"Cyrillic (2 bytes)":    "ж",
		"CJK (3 bytes)":         "中",
		"astral (4 bytes)":      "🩺",
		"U+2028 line separator": "\u2028",
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		unit := cases[name]
		body := strings.Repeat(unit, n/len(unit))
		b, err := encodeEnvelope(testMessage(body), []string{"triage"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		bound := base64.StdEncoding.EncodedLen(len(body)) + overhead
		t.Logf("%-22s body %6d bytes → envelope %6d bytes (%.2f×)", name, len(body), len(b), float64(len(b))/float64(len(body)))
		if len(b) > bound {
			t.Errorf("%s: a %d-byte body made a %d-byte envelope, over 4/3 of it plus %d", name, len(body), len(b), overhead)
		}
		if !sqsAllows(string(b)) {
			t.Errorf("%s: the envelope holds characters SQS refuses", name)
		}
		m, jobs, err := decodeEnvelope(string(b))
		if err != nil || m.Body != body || len(jobs) != 1 || jobs[0] != "triage" {
			t.Errorf("%s: round trip: err %v, body intact %v, jobs %v", name, err, err == nil && m.Body == body, jobs)
		}
	}
}

// TestEnvelopeVersion1 reads an envelope a version-1 gateway wrote (one
// job, body as JSON text): messages queued before an upgrade still run.
func TestEnvelopeVersion1(t *testing.T) {
	m, jobs, err := decodeEnvelope(`{"job":"triage","message":{"id":"m1","conv":"c1","from":"p1","role":"patient","type":"text","body":"\u003chi\u003e","hops":{}}}`)
	if err != nil || m.Body != "<hi>" || len(jobs) != 1 || jobs[0] != "triage" {
		t.Fatalf("got %+v %v %v", m, jobs, err)
	}
}

// FuzzEnvelope: any body and ids survive the envelope, and the envelope
// holds only characters SQS allows; decoding arbitrary queue message
// bodies never panics.
func FuzzEnvelope(f *testing.F) {
	f.Add("hello", "c1", `{"v":2,"jobs":["a"],"message":{}}`)
	f.Add("\uffff\ufffe\x00<&>\"\\", "c\u2028", `{"v":2,"jobs":["a"],"message":{"body":"x"},"body_b64":"!"}`)
	f.Add("🩺", "💬", `{"job":"a","message":null}`)
	f.Fuzz(func(t *testing.T, body, conv, raw string) {
		_, _, _ = decodeEnvelope(raw)
		if !utf8.ValidString(body) || !utf8.ValidString(conv) {
			return // the front door refuses frames that are not UTF-8 (bad_utf8)
		}
		msg := testMessage(body)
		msg.Conv = conv
		b, err := encodeEnvelope(msg, []string{"triage", "intent"})
		if err != nil {
			t.Fatal(err)
		}
		if !sqsAllows(string(b)) {
			t.Fatalf("envelope of body %q holds characters SQS refuses: %q", body, b)
		}
		m, jobs, err := decodeEnvelope(string(b))
		if err != nil || m.Body != body || m.Conv != conv || len(jobs) != 2 {
			t.Fatalf("round trip of %q: %+v %v %v", body, m, jobs, err)
		}
	})
}

// TestGroupID keeps conversation ids SQS takes as they are and maps the
// others (other characters, too long) to a hash SQS takes.
func TestGroupID(t *testing.T) {
	for _, parts := range [][]string{{"c-42"}, {"c-42", "triage"}, {"визит"}, {strings.Repeat("c", 128), "triage"}, {"a b"}} {
		g := groupID(parts...)
		if !fifoID.MatchString(g) {
			t.Errorf("groupID(%q) = %q: not a MessageGroupId SQS takes", parts, g)
		}
		if j := strings.Join(parts, "/"); fifoID.MatchString(j) != (g == j) {
			t.Errorf("groupID(%q) = %q: a valid id is kept, only an invalid one hashed", parts, g)
		}
	}
}
