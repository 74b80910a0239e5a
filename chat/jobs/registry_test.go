package jobs_test

import (
	"os"
	"reflect"
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

// tr is shorthand for a trigger in the tables below.
func tr(typ string, role chat.Role) chat.Trigger { return chat.Trigger{Type: typ, Role: role} }

func TestTypes(t *testing.T) {
	pat, prov := []chat.Role{chat.RolePatient}, []chat.Role{chat.RoleProvider}
	want := []struct {
		name  string
		op    string
		relay bool
		roles []chat.Role
	}{
		{jobs.TypeAttachment, chat.OpSend, true, nil},
		{jobs.TypeEndVisit, chat.OpSend, false, prov},
		{jobs.TypeJoin, chat.OpJoin, false, nil},
		{jobs.TypeLeave, chat.OpLeave, false, nil},
		{jobs.TypeRead, chat.OpSend, false, nil},
		{jobs.TypeSymptomForm, chat.OpSend, false, pat},
		{jobs.TypeText, chat.OpSend, true, nil},
		{jobs.TypeTyping, chat.OpSend, true, nil},
		{jobs.TypeWaitTimeRequest, chat.OpSend, false, pat},
	}
	got := jobs.Catalog().Types()
	if len(got) != len(want) {
		t.Fatalf("catalog has %d types, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Op != w.op || g.Relay != w.relay || !reflect.DeepEqual(g.Roles, w.roles) {
			t.Errorf("type %d = {%s op=%s relay=%v roles=%v}, want {%s op=%s relay=%v roles=%v}",
				i, g.Name, g.Op, g.Relay, g.Roles, w.name, w.op, w.relay, w.roles)
		}
		if g.Doc == "" || strings.Contains(g.Doc, "\n") {
			t.Errorf("type %s: Doc %q must be one non-empty line", g.Name, g.Doc)
		}
	}
}

// wantJobs is the catalog's job table, in registration order.
var wantJobs = []struct {
	name     string
	class    chat.Class
	event    string
	audience chat.Audience
	triggers []chat.Trigger
	model    string
}{
	{"wait_time", chat.ClassSync, "wait_time", chat.AudienceSender, []chat.Trigger{tr(jobs.TypeWaitTimeRequest, ""), tr(jobs.TypeJoin, chat.RolePatient)}, ""},
	{"provider_assign", chat.ClassSync, "provider_assigned", chat.AudienceAll, []chat.Trigger{tr(jobs.TypeJoin, chat.RolePatient)}, ""},
	{"presence", chat.ClassSync, "presence", chat.AudienceOthers, []chat.Trigger{tr(jobs.TypeJoin, ""), tr(jobs.TypeLeave, "")}, ""},
	{"consent_check", chat.ClassSync, "consent_status", chat.AudienceSender, []chat.Trigger{tr(jobs.TypeJoin, chat.RolePatient)}, ""},
	{"read_state", chat.ClassSync, "read_state", chat.AudienceOthers, []chat.Trigger{tr(jobs.TypeRead, "")}, ""},
	{"push_decision", chat.ClassSync, "push_decision", chat.AudienceSender, []chat.Trigger{tr(jobs.TypeText, "")}, ""},
	{"delivery_receipt", chat.ClassSync, "delivered", chat.AudienceSender, []chat.Trigger{tr(jobs.TypeText, "")}, ""},
	{"attachment_check", chat.ClassSync, "attachment_status", chat.AudienceSender, []chat.Trigger{tr(jobs.TypeAttachment, "")}, ""},
	{"visit_close", chat.ClassSync, "visit_closed", chat.AudienceAll, []chat.Trigger{tr(jobs.TypeEndVisit, chat.RoleProvider)}, ""},
	{"survey", chat.ClassSync, "survey_offer", chat.AudiencePatients, []chat.Trigger{tr(jobs.TypeEndVisit, chat.RoleProvider)}, ""},
	{"triage", chat.ClassML, "triage", chat.AudienceProviders, []chat.Trigger{tr(jobs.TypeText, chat.RolePatient), tr(jobs.TypeSymptomForm, "")}, "triage"},
	{"intent", chat.ClassML, "intent", chat.AudienceProviders, []chat.Trigger{tr(jobs.TypeText, chat.RolePatient)}, "intent"},
	{"entities", chat.ClassML, "entities", chat.AudienceProviders, []chat.Trigger{tr(jobs.TypeText, chat.RolePatient)}, "entities"},
	{"reply_suggest", chat.ClassML, "reply_suggestions", chat.AudienceProviders, []chat.Trigger{tr(jobs.TypeText, chat.RolePatient)}, "reply_suggest"},
	{"safety_screen", chat.ClassML, "safety", chat.AudienceSender, []chat.Trigger{tr(jobs.TypeText, "")}, "safety"},
	{"translate", chat.ClassML, "translation", chat.AudiencePatients, []chat.Trigger{tr(jobs.TypeText, chat.RoleProvider)}, "translate"},
	{"visit_summary", chat.ClassML, "visit_summary", chat.AudienceProviders, []chat.Trigger{tr(jobs.TypeEndVisit, chat.RoleProvider)}, "summary"},
	{"differential", chat.ClassML, "differential", chat.AudienceProviders, []chat.Trigger{tr(jobs.TypeSymptomForm, "")}, "differential"},
	{"attachment_classify", chat.ClassML, "attachment_label", chat.AudienceProviders, []chat.Trigger{tr(jobs.TypeAttachment, "")}, "attachment_classify"},
}

func TestJobs(t *testing.T) {
	got := jobs.Catalog().Jobs()
	if len(got) != len(wantJobs) {
		t.Fatalf("catalog has %d jobs, want %d", len(got), len(wantJobs))
	}
	for i, w := range wantJobs {
		t.Run(w.name, func(t *testing.T) {
			j := got[i]
			if j.Name != w.name {
				t.Fatalf("job %d is %q, want %q", i, j.Name, w.name)
			}
			if j.Class != w.class || j.Event != w.event || j.Audience != w.audience || j.Model != w.model {
				t.Errorf("got class=%s event=%s audience=%s model=%q, want class=%s event=%s audience=%s model=%q",
					j.Class, j.Event, j.Audience, j.Model, w.class, w.event, w.audience, w.model)
			}
			if !reflect.DeepEqual(j.Triggers, w.triggers) {
				t.Errorf("triggers = %v, want %v", j.Triggers, w.triggers)
			}
		})
	}
}

func TestJobCounts(t *testing.T) {
	n := map[chat.Class]int{}
	for _, j := range jobs.Jobs() {
		n[j.Class]++
	}
	if n[chat.ClassSync] < 8 || n[chat.ClassML] < 8 {
		t.Errorf("catalog has %d sync and %d ml jobs; want at least 8 of each", n[chat.ClassSync], n[chat.ClassML])
	}
}

// TestJobConventions checks what the catalog cannot: one file per job named
// for it, one-line docs, and triggers whose role may actually send the type
// (a trigger no one can fire is a silent bug).
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
		if j.Class == chat.ClassSync && j.Model != "" {
			t.Errorf("job %s: sync job names model %q", j.Name, j.Model)
		}
		for _, tg := range j.Triggers {
			if tg.Role != "" && !c.Type(tg.Type).CanSend(tg.Role) {
				t.Errorf("job %s: trigger %s:%s can never fire; that role may not send the type", j.Name, tg.Type, tg.Role)
			}
		}
	}
}
