package socket

import (
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

// TestHubSweep checks the resume buffer's expiry: an event older than the
// window is trimmed (and its seq reported as dropped), a room with neither
// connections nor buffered events is removed, and a room somebody is in
// stays.
func TestHubSweep(t *testing.T) {
	h := NewHub(jobs.Catalog(), nil, ResumeConfig{Window: time.Minute})
	ev := func(conv string) *chat.Event {
		return &chat.Event{Name: "typing", Job: chat.RelayJob, Conv: conv, From: "p1", Status: chat.StatusOK, Audience: chat.AudienceOthers}
	}
	h.Emit(ev("empty"))
	h.Emit(ev("busy"))
	c := &Conn{claims: &Claims{User: "d1", Role: chat.RoleProvider}}
	if added, _ := h.join(c, "busy", 0); !added {
		t.Fatal("join busy: not added")
	}
	h.maybeSweep(time.Now().Add(30 * time.Second)) // not due yet
	if len(h.rooms) != 2 {
		t.Fatalf("swept before the window: %d rooms left", len(h.rooms))
	}
	h.maybeSweep(time.Now().Add(2 * time.Minute))
	if _, ok := h.rooms["empty"]; ok || len(h.rooms) != 1 {
		t.Fatalf("after the window: rooms %v, want only busy", h.rooms)
	}
	r := h.rooms["busy"]
	if len(r.events()) != 0 || r.dropped != r.seq {
		t.Fatalf("busy: %d events left, dropped %d, seq %d: want its expired event trimmed", len(r.events()), r.dropped, r.seq)
	}
}
