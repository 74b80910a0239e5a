package jobs_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

// d is shorthand for a delivery of job to user; class and event come from
// the catalog (or the message type, for relays).
func d(job, user string) string { return job + "→" + user }

func TestDeliveries(t *testing.T) {
	// One visit: patient p1 with providers d1 and d2, all present.
	members := []chat.Member{{User: "p1", Role: chat.RolePatient}, {User: "d1", Role: chat.RoleProvider}, {User: "d2", Role: chat.RoleProvider}}
	tests := []struct {
		typ    string
		sender string
		role   chat.Role
		want   []string
	}{
		{jobs.TypeText, "p1", chat.RolePatient, []string{
			d("relay", "d1"), d("relay", "d2"),
			d("push_decision", "p1"), d("delivery_receipt", "p1"),
			d("triage", "d1"), d("triage", "d2"),
			d("intent", "d1"), d("intent", "d2"),
			d("entities", "d1"), d("entities", "d2"),
			d("reply_suggest", "d1"), d("reply_suggest", "d2"),
			d("safety_screen", "p1"),
		}},
		{jobs.TypeText, "d1", chat.RoleProvider, []string{
			d("relay", "p1"), d("relay", "d2"),
			d("push_decision", "d1"), d("delivery_receipt", "d1"),
			d("safety_screen", "d1"),
			d("translate", "p1"),
		}},
		{jobs.TypeJoin, "p1", chat.RolePatient, []string{
			d("wait_time", "p1"),
			d("provider_assign", "p1"), d("provider_assign", "d1"), d("provider_assign", "d2"),
			d("presence", "d1"), d("presence", "d2"),
			d("consent_check", "p1"),
		}},
		{jobs.TypeJoin, "d2", chat.RoleProvider, []string{d("presence", "p1"), d("presence", "d1")}},
		{jobs.TypeLeave, "p1", chat.RolePatient, []string{d("presence", "d1"), d("presence", "d2")}},
		{jobs.TypeTyping, "p1", chat.RolePatient, []string{d("relay", "d1"), d("relay", "d2")}},
		{jobs.TypeRead, "d1", chat.RoleProvider, []string{d("read_state", "p1"), d("read_state", "d2")}},
		{jobs.TypeAttachment, "p1", chat.RolePatient, []string{
			d("relay", "d1"), d("relay", "d2"),
			d("attachment_check", "p1"),
			d("attachment_classify", "d1"), d("attachment_classify", "d2"),
		}},
		{jobs.TypeSymptomForm, "p1", chat.RolePatient, []string{
			d("triage", "d1"), d("triage", "d2"),
			d("differential", "d1"), d("differential", "d2"),
		}},
		{jobs.TypeWaitTimeRequest, "p1", chat.RolePatient, []string{d("wait_time", "p1")}},
		{jobs.TypeEndVisit, "d1", chat.RoleProvider, []string{
			d("visit_close", "p1"), d("visit_close", "d1"), d("visit_close", "d2"),
			d("survey", "p1"),
			d("visit_summary", "d1"), d("visit_summary", "d2"),
		}},
		{"no_such_type", "p1", chat.RolePatient, nil},
	}
	c := jobs.Catalog()
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s from %s", tc.typ, tc.role), func(t *testing.T) {
			var got []string
			for _, dl := range c.Deliveries(tc.typ, tc.sender, tc.role, members) {
				got = append(got, d(dl.Job, dl.User))
				// Class and event must agree with the catalog entry.
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
