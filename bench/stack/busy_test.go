package stack

import (
	"bytes"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
	goldenfile "github.com/chatbench/chatbench/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the traces in testdata from their generators")

// Busy conversation: the trace behind the backlog measurements of
// docs/results.md ("One busy conversation") — a patient sending a text
// every busyEvery for busyFor, to one provider. A design that runs a
// conversation's jobs one at a time falls behind at once: a patient's text
// triggers five ML jobs whose median latencies add up to about 0.6 s.
const (
	busyEvery = 100 * time.Millisecond
	busyFor   = 20 * time.Second
)

// busyConversation returns the trace: both join, then the texts, starting
// a second in.
func busyConversation() (trace.Header, []trace.Record) {
	start := time.Date(2019, 6, 3, 9, 0, 0, 0, time.UTC)
	recs := []trace.Record{
		{T: 0, Conv: "c1", User: "p1", Role: chat.RolePatient, Type: chat.OpJoin, ID: "p1-join"},
		{T: 50_000, Conv: "c1", User: "d1", Role: chat.RoleProvider, Type: chat.OpJoin, ID: "d1-join"},
	}
	for i := range int(busyFor / busyEvery) {
		t := time.Second + time.Duration(i)*busyEvery
		recs = append(recs, trace.Record{T: t.Microseconds(), Conv: "c1", User: "p1", Role: chat.RolePatient,
			Type: "text", ID: fmt.Sprintf("p1-%03d", i), Size: 40})
	}
	last := time.Duration(recs[len(recs)-1].T) * time.Microsecond
	h := trace.Header{Version: trace.Version, Name: fmt.Sprintf("one conversation, a text every %v for %v", busyEvery, busyFor),
		Generator: "bench/stack busy_test.go", Start: start, DurationS: last.Seconds(), Messages: len(recs), Conversations: 1}
	return h, recs
}

// TestBusyConversationTrace keeps testdata/busy-conversation.jsonl (replay
// it with compare --trace … --speed 1 --pace 1) equal to what the
// generator above makes, and checks it is a valid trace of that shape.
func TestBusyConversationTrace(t *testing.T) {
	h, recs := busyConversation()
	var b bytes.Buffer
	if err := trace.Write(&b, h, recs, false); err != nil {
		t.Fatal(err)
	}
	goldenfile.Check(t, "busy-conversation.jsonl", b.Bytes(), *update)
	_, got, err := trace.Load(b.Bytes())
	if err != nil {
		t.Fatalf("the busy-conversation trace does not load: %v", err)
	}
	texts, convs := 0, map[string]bool{}
	for i, r := range got {
		convs[r.Conv] = true
		if r.Type != "text" {
			continue
		}
		texts++
		if prev := got[i-1]; prev.Type == "text" && time.Duration(r.T-prev.T)*time.Microsecond != busyEvery {
			t.Errorf("texts %s and %s are %dµs apart, want %v", prev.ID, r.ID, r.T-prev.T, busyEvery)
		}
	}
	if len(convs) != 1 || texts != int(busyFor/busyEvery) {
		t.Errorf("%d conversations, %d texts; want 1 and %d", len(convs), texts, busyFor/busyEvery)
	}
}
