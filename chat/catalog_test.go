package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/chat"
)

// nop is a handler for catalogs whose jobs never run.
var nop = chat.HandlerFunc(func(context.Context, *chat.Message, chat.Deps) (json.RawMessage, error) {
	return json.RawMessage(`{}`), nil
})

// small is a catalog of its own, so these tests check the catalog's rules
// without re-listing the telehealth catalog (chat/jobs).
func small() ([]chat.MessageType, []chat.Job) {
	types := []chat.MessageType{
		{Name: chat.OpJoin, Op: chat.OpJoin},
		{Name: "note", Relay: true},
		{Name: "close", Roles: []chat.Role{chat.RoleProvider}},
	}
	jobs := []chat.Job{
		{Name: "hello", Class: chat.ClassSync, Event: "hello", Audience: chat.AudienceSender, Triggers: []chat.Trigger{{Type: chat.OpJoin, Role: chat.RolePatient}}, Handler: nop},
		{Name: "seen", Class: chat.ClassSync, Event: "seen", Audience: chat.AudienceOthers, Triggers: []chat.Trigger{{Type: "note"}}, Handler: nop},
		{Name: "score", Class: chat.ClassML, Model: "scorer", Event: "score", Audience: chat.AudienceProviders, Triggers: []chat.Trigger{{Type: "note", Role: chat.RolePatient}}, Handler: nop},
		{Name: "tag", Class: chat.ClassML, Model: "scorer", Event: "tag", Audience: chat.AudiencePatients, Triggers: []chat.Trigger{{Type: "note"}, {Type: "close"}}, Handler: nop},
		{Name: "bye", Class: chat.ClassSync, Event: "bye", Audience: chat.AudienceAll, Triggers: []chat.Trigger{{Type: "close", Role: chat.RoleProvider}}, Handler: nop},
	}
	return types, jobs
}

// parts are the arguments of NewCatalog, for a test to break.
type parts struct {
	types []chat.MessageType
	jobs  []chat.Job
}

// TestNewCatalogRejects breaks one field of the small catalog per case; the
// error must name what is at fault and say how to fix it.
func TestNewCatalogRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *parts)
		want   []string // substrings of the error
	}{
		{"empty type name", func(c *parts) { c.types[1].Name = "" }, []string{`message type ""`, "lower_snake"}},
		{"type name not lower_snake", func(c *parts) { c.types[1].Name = "Note" }, []string{`"Note"`, "lower_snake"}},
		{"type name too long", func(c *parts) { c.types[1].Name = strings.Repeat("n", chat.MaxTypeLen+1) }, []string{"at most 64 bytes"}},
		{"duplicate type", func(c *parts) { c.types = append(c.types, chat.MessageType{Name: "note"}) }, []string{"message type note is declared twice"}},
		{"unknown op", func(c *parts) { c.types[1].Op = "post" }, []string{"note", `op "post"`, "send, join or leave"}},
		// The front door names membership messages after the op: a join
		// type of another name would never fire.
		{"join type misnamed", func(c *parts) {
			c.types[0].Name = "enter"
			c.jobs[0].Triggers[0].Type = "enter"
		}, []string{"message type enter", `name the type "join"`}},
		{"join name without its op", func(c *parts) { c.types[0].Op = "" }, []string{"message type join", "chat.OpJoin"}},
		{"unknown role of a type", func(c *parts) { c.types[2].Roles = []chat.Role{"doctor"} }, []string{"message type close", `"doctor"`, "patient or provider"}},
		{"empty job name", func(c *parts) { c.jobs[1].Name = "" }, []string{`job name ""`, "lower_snake"}},
		{"job named relay", func(c *parts) { c.jobs[1].Name = chat.RelayJob }, []string{`"relay"`, "pick another name"}},
		{"duplicate job", func(c *parts) { c.jobs = append(c.jobs, c.jobs[1]) }, []string{"job seen is registered twice"}},
		{"unknown class", func(c *parts) { c.jobs[1].Class = "fast" }, []string{"job seen", `class "fast"`, "chat.ClassSync"}},
		{"ml job without model", func(c *parts) { c.jobs[2].Model = "" }, []string{"job score", "set Model"}},
		{"model name not lower_snake", func(c *parts) { c.jobs[2].Model = "scorer/v2" }, []string{"job score", `model "scorer/v2"`, "lower_snake"}},
		{"sync job with a model", func(c *parts) { c.jobs[1].Model = "scorer" }, []string{"job seen", `"scorer"`, "drop Model"}},
		{"no handler", func(c *parts) { c.jobs[1].Handler = nil }, []string{"job seen has no handler"}},
		// A nil function in a non-nil interface would panic at run time.
		{"nil HandlerFunc", func(c *parts) { c.jobs[1].Handler = chat.HandlerFunc(nil) }, []string{"job seen has no handler"}},
		{"no event", func(c *parts) { c.jobs[1].Event = "" }, []string{"job seen names no event"}},
		{"event not lower_snake", func(c *parts) { c.jobs[1].Event = "seen by" }, []string{"job seen", `event "seen by"`}},
		{"no trigger", func(c *parts) { c.jobs[1].Triggers = nil }, []string{"job seen has no trigger"}},
		{"unknown audience", func(c *parts) { c.jobs[1].Audience = "everyone" }, []string{"job seen", `audience "everyone"`, "sender, others"}},
		{"trigger of an unknown type", func(c *parts) { c.jobs[1].Triggers[0].Type = "notes" }, []string{"job seen", `"notes"`, "not declared", "close, join, note"}},
		{"trigger of an unknown role", func(c *parts) { c.jobs[1].Triggers[0].Role = "nurse" }, []string{"job seen", `role "nurse"`}},
		// Only providers may send close: a patient trigger can never fire.
		{"trigger that can never fire", func(c *parts) { c.jobs[4].Triggers[0].Role = chat.RolePatient }, []string{"job bye", "close:patient can never fire"}},
	}
	if _, err := chat.NewCatalog(small()); err != nil {
		t.Fatalf("the unbroken catalog: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c parts
			c.types, c.jobs = small()
			tc.mutate(&c)
			cat, err := chat.NewCatalog(c.types, c.jobs)
			if err == nil {
				t.Fatalf("NewCatalog accepted it: %d jobs", len(cat.Jobs()))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNewCatalogCopies(t *testing.T) {
	types, jobs := small()
	c, err := chat.NewCatalog(types, jobs)
	if err != nil {
		t.Fatal(err)
	}
	types[1].Relay, jobs[1].Event = false, "changed"
	if !c.Type("note").Relay || c.Job("seen").Event != "seen" {
		t.Error("the catalog changed with the caller's slices")
	}
	if c.Type("close").Op != chat.OpSend {
		t.Errorf("empty Op = %q, want send", c.Type("close").Op)
	}
	if got, want := c.Models(), []string{"scorer"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Models() = %v, want %v (sorted, each once)", got, want)
	}
}

// TestDeliveries checks who receives what on the small catalog: the relay
// goes to the others, each job to its audience, role triggers fire only for
// that role, and a type the sender may not send causes nothing.
func TestDeliveries(t *testing.T) {
	c, err := chat.NewCatalog(small())
	if err != nil {
		t.Fatal(err)
	}
	members := []chat.Member{{User: "p1", Role: chat.RolePatient}, {User: "d1", Role: chat.RoleProvider}, {User: "d2", Role: chat.RoleProvider}}
	d := func(job, user string) string { return job + "→" + user }
	tests := []struct {
		typ, sender string
		role        chat.Role
		want        []string
	}{
		{"note", "p1", chat.RolePatient, []string{d("relay", "d1"), d("relay", "d2"), d("seen", "d1"), d("seen", "d2"), d("score", "d1"), d("score", "d2"), d("tag", "p1")}},
		{"note", "d1", chat.RoleProvider, []string{d("relay", "p1"), d("relay", "d2"), d("seen", "p1"), d("seen", "d2"), d("tag", "p1")}},
		{chat.OpJoin, "p1", chat.RolePatient, []string{d("hello", "p1")}},
		{chat.OpJoin, "d1", chat.RoleProvider, nil},
		{"close", "d1", chat.RoleProvider, []string{d("tag", "p1"), d("bye", "p1"), d("bye", "d1"), d("bye", "d2")}},
		{"close", "p1", chat.RolePatient, nil}, // patients may not send it
		{"nope", "p1", chat.RolePatient, nil},
	}
	for _, tc := range tests {
		t.Run(tc.typ+" from "+string(tc.role), func(t *testing.T) {
			var got []string
			for _, dl := range c.Deliveries(tc.typ, tc.sender, tc.role, members) {
				got = append(got, d(dl.Job, dl.User))
				wantClass, wantEvent := chat.ClassRelay, tc.typ
				if j := c.Job(dl.Job); j != nil {
					wantClass, wantEvent = j.Class, j.Event
				}
				if dl.Class != wantClass || dl.Event != wantEvent {
					t.Errorf("delivery %+v: want class %s event %s", dl, wantClass, wantEvent)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("deliveries\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"triage": true, "reply_suggest": true, "a1": true, strings.Repeat("a", chat.MaxTypeLen): true,
		"": false, "1a": false, "_a": false, "Triage": false, "a-b": false, "a b": false, "a/b": false,
		strings.Repeat("a", chat.MaxTypeLen+1): false,
	} {
		if got := chat.ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

// A catalog of one type and two jobs, and the deliveries a message causes.
func ExampleNewCatalog() {
	echo := chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
		return json.Marshal(map[string]int{"bytes": len(msg.Body)})
	})
	c, err := chat.NewCatalog(
		[]chat.MessageType{{Name: "note", Relay: true, Doc: "a note", Example: "hello"}},
		[]chat.Job{
			{Name: "note_size", Class: chat.ClassSync, Event: "note_size", Audience: chat.AudienceSender,
				Triggers: []chat.Trigger{{Type: "note"}}, Doc: "tells the sender the note's size", Handler: echo},
			{Name: "note_label", Class: chat.ClassML, Model: "labeller", Event: "note_label", Audience: chat.AudienceProviders,
				Triggers: []chat.Trigger{{Type: "note", Role: chat.RolePatient}}, Doc: "labels a patient's note for the providers",
				Handler: echo},
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	members := []chat.Member{{User: "p1", Role: chat.RolePatient}, {User: "d1", Role: chat.RoleProvider}}
	for _, d := range c.Deliveries("note", "p1", chat.RolePatient, members) {
		fmt.Printf("%-10s %-5s -> %s\n", d.Job, d.Class, d.User)
	}
	fmt.Println("models:", c.Models())
	// Output:
	// relay      relay -> d1
	// note_size  sync  -> p1
	// note_label ml    -> d1
	// models: [labeller]
}
