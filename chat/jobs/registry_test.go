package jobs_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

func TestCatalogBuilds(t *testing.T) {
	if _, err := chat.NewCatalog(jobs.Types(), jobs.Jobs()); err != nil {
		t.Fatalf("NewCatalog(Types(), Jobs()): %v", err)
	}
	c := jobs.Catalog() // must not panic
	if got, want := len(c.Jobs()), len(jobs.Jobs()); got != want {
		t.Errorf("catalog has %d jobs, Jobs() %d", got, want)
	}
	if got, want := len(c.Types()), len(jobs.Types()); got != want {
		t.Errorf("catalog has %d types, Types() %d", got, want)
	}
}

// TestJobCounts keeps the catalog the size of the story's (about twenty
// jobs, both classes well represented): a floor, so adding jobs never
// breaks it.
func TestJobCounts(t *testing.T) {
	n := map[chat.Class]int{}
	for _, j := range jobs.Jobs() {
		n[j.Class]++
	}
	if n[chat.ClassSync] < 8 || n[chat.ClassML] < 8 {
		t.Errorf("catalog has %d sync and %d ml jobs; want at least 8 of each", n[chat.ClassSync], n[chat.ClassML])
	}
}

// TestJobConventions checks what NewCatalog does not: one file per job
// named for it, lower_snake names without doubled or trailing underscores,
// and one-line docs (docs/catalog.md and --help show them).
func TestJobConventions(t *testing.T) {
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	c := jobs.Catalog()
	for _, j := range c.Jobs() {
		if !snake.MatchString(j.Name) || !snake.MatchString(j.Event) {
			t.Errorf("job %q / event %q: names must be lower_snake", j.Name, j.Event)
		}
		if _, err := os.Stat(j.Name + ".go"); err != nil {
			t.Errorf("job %s: want it defined in chat/jobs/%s.go: %v", j.Name, j.Name, err)
		}
		if j.Doc == "" || strings.Contains(j.Doc, "\n") {
			t.Errorf("job %s: Doc %q must be one non-empty line", j.Name, j.Doc)
		}
	}
	for _, typ := range c.Types() {
		if !snake.MatchString(typ.Name) {
			t.Errorf("type %q: names must be lower_snake", typ.Name)
		}
		if typ.Doc == "" || strings.Contains(typ.Doc, "\n") {
			t.Errorf("type %s: Doc %q must be one non-empty line", typ.Name, typ.Doc)
		}
		if strings.Contains(typ.Example, "\n") {
			t.Errorf("type %s: Example %q must be one line (docs/catalog.md shows it)", typ.Name, typ.Example)
		}
	}
}

// TestExamplesRunEveryJob runs every job on its trigger types' example
// bodies, from every role that may send them: each must succeed, since the
// shared end-to-end visit sends exactly these and expects status ok.
func TestExamplesRunEveryJob(t *testing.T) {
	c := jobs.Catalog()
	ran := map[string]bool{}
	for _, typ := range c.Types() {
		for _, role := range []chat.Role{chat.RolePatient, chat.RoleProvider} {
			if !typ.CanSend(role) {
				continue
			}
			for _, j := range c.JobsFor(typ.Name, role) {
				msg := &chat.Message{ID: "m9", Conv: "c1", From: "u1", Role: role, Type: typ.Name, Body: typ.Example}
				if _, err := j.Handler.Handle(context.Background(), msg, chat.Deps{ML: &fakeML{}}); err != nil {
					t.Errorf("job %s on the example %s from a %s: %v", j.Name, typ.Name, role, err)
				}
				ran[j.Name] = true
			}
		}
	}
	for _, j := range c.Jobs() {
		if !ran[j.Name] {
			t.Errorf("job %s: no type and role that may send it triggers it", j.Name)
		}
	}
}
