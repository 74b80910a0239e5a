package socket

import (
	"slices"
	"testing"
	"time"
)

func TestAcceptedSetWindow(t *testing.T) {
	t0 := time.Now()
	a := newAcceptedSet(AcceptedWindow, nil)
	a.put("u", "m1", []string{"u", "v"}, t0)
	if m, ok := a.get("u", "m1", t0.Add(time.Minute)); !ok || !slices.Equal(m, []string{"u", "v"}) {
		t.Fatalf("get within the window = %v, %v", m, ok)
	}
	if _, ok := a.get("v", "m1", t0.Add(time.Minute)); ok {
		t.Fatal("another user's id matched")
	}
	if _, ok := a.get("u", "m1", t0.Add(AcceptedWindow+time.Minute)); !ok {
		t.Fatal("forgotten a window after it was last seen (a get refreshes it)")
	}
	if _, ok := a.get("u", "m1", t0.Add(5*AcceptedWindow)); ok {
		t.Fatal("remembered after several idle windows")
	}
}
