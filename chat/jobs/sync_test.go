package jobs_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

// attachment builds an attachment body.
func attachment(name, mime string, size int64) string {
	return `{"name":"` + name + `","mime":"` + mime + `","size":` + strconv.FormatInt(size, 10) + `}`
}

func TestSyncHandlers(t *testing.T) {
	patient := func(typ, body string) *chat.Message {
		return &chat.Message{ID: "m1", Conv: "c1", From: "p1", Role: chat.RolePatient, Type: typ, Body: body}
	}
	provider := func(typ, body string) *chat.Message {
		return &chat.Message{ID: "m2", Conv: "c1", From: "d1", Role: chat.RoleProvider, Type: typ, Body: body}
	}
	long := strings.Repeat("a", 200)
	tests := []struct {
		name    string
		job     chat.Job
		msg     *chat.Message
		want    string // exact JSON data
		fails   bool   // the handler must return an error...
		wantErr error  // ...wrapping this, if set (implies fails)
	}{
		// wait_time and provider_assign are pinned per conversation: a change
		// of hash would silently change every recorded trace's expectations.
		{name: "wait_time/c1", job: jobs.WaitTime(), msg: patient(jobs.TypeWaitTimeRequest, ""), want: `{"minutes":8,"position":2}`},
		{name: "wait_time/join", job: jobs.WaitTime(), msg: patient(jobs.TypeJoin, ""), want: `{"minutes":8,"position":2}`},
		{name: "wait_time/other conv", job: jobs.WaitTime(), msg: &chat.Message{Conv: "conv-42", From: "p9", Type: jobs.TypeWaitTimeRequest}, want: `{"minutes":20,"position":5}`},
		{name: "provider_assign/c1", job: jobs.ProviderAssign(), msg: patient(jobs.TypeJoin, ""), want: `{"provider":"prov-12"}`},
		{name: "provider_assign/other conv", job: jobs.ProviderAssign(), msg: &chat.Message{Conv: "conv-42", From: "p9", Type: jobs.TypeJoin}, want: `{"provider":"prov-01"}`},
		{name: "presence/join", job: jobs.Presence(), msg: patient(jobs.TypeJoin, ""), want: `{"user":"p1","state":"joined"}`},
		{name: "presence/leave", job: jobs.Presence(), msg: provider(jobs.TypeLeave, ""), want: `{"user":"d1","state":"left"}`},
		// Not a trigger of presence; a dispatcher bug should surface as an error event.
		{name: "presence/text", job: jobs.Presence(), msg: patient(jobs.TypeText, "hi"), fails: true},
		{name: "consent_check/on file", job: jobs.ConsentCheck(), msg: patient(jobs.TypeJoin, ""), want: `{"consent_on_file":true}`},
		// p7 hashes into the tenth of patients without consent.
		{name: "consent_check/missing", job: jobs.ConsentCheck(), msg: &chat.Message{Conv: "c1", From: "p7", Type: jobs.TypeJoin}, want: `{"consent_on_file":false}`},
		{name: "read_state", job: jobs.ReadState(), msg: provider(jobs.TypeRead, "m1"), want: `{"user":"d1","up_to":"m1"}`},
		{name: "read_state/truncated", job: jobs.ReadState(), msg: patient(jobs.TypeRead, long), want: `{"user":"p1","up_to":"` + long[:128] + `"}`},
		// 127 ASCII bytes then a 3-byte rune: cut before the rune, not inside it.
		{name: "read_state/rune boundary", job: jobs.ReadState(), msg: patient(jobs.TypeRead, long[:127]+"€"), want: `{"user":"p1","up_to":"` + long[:127] + `"}`},
		{name: "read_state/empty", job: jobs.ReadState(), msg: patient(jobs.TypeRead, ""), want: `{"user":"p1","up_to":""}`},
		{name: "push_decision/message", job: jobs.PushDecision(), msg: patient(jobs.TypeText, "my knee hurts"), want: `{"notify":true,"reason":"message"}`},
		{name: "push_decision/ack", job: jobs.PushDecision(), msg: provider(jobs.TypeText, " ok "), want: `{"notify":false,"reason":"short_ack"}`},
		{name: "push_decision/emoji ack", job: jobs.PushDecision(), msg: patient(jobs.TypeText, "👍"), want: `{"notify":false,"reason":"short_ack"}`},
		{name: "push_decision/four runes", job: jobs.PushDecision(), msg: patient(jobs.TypeText, "help"), want: `{"notify":true,"reason":"message"}`},
		{name: "push_decision/empty", job: jobs.PushDecision(), msg: patient(jobs.TypeText, "  "), want: `{"notify":false,"reason":"empty"}`},
		{name: "delivery_receipt", job: jobs.DeliveryReceipt(), msg: patient(jobs.TypeText, "hello"), want: `{"message_id":"m1"}`},
		{name: "attachment_check/pdf", job: jobs.AttachmentCheck(), msg: patient(jobs.TypeAttachment, attachment("lab.pdf", "application/pdf", 1234)), want: `{"accepted":true,"reason":"ok"}`},
		{name: "attachment_check/heic", job: jobs.AttachmentCheck(), msg: patient(jobs.TypeAttachment, attachment("rash.heic", "image/heic", 3<<20)), want: `{"accepted":true,"reason":"ok"}`},
		// Media types are case-insensitive and may carry parameters.
		{name: "attachment_check/mime params", job: jobs.AttachmentCheck(), msg: patient(jobs.TypeAttachment, attachment("a.png", "Image/PNG; q=1", 10)), want: `{"accepted":true,"reason":"ok"}`},
		{name: "attachment_check/exactly 25 MiB", job: jobs.AttachmentCheck(), msg: patient(jobs.TypeAttachment, attachment("a.jpg", "image/jpeg", 25<<20)), want: `{"accepted":true,"reason":"ok"}`},
		{name: "attachment_check/oversize", job: jobs.AttachmentCheck(), msg: patient(jobs.TypeAttachment, attachment("scan.pdf", "application/pdf", 25<<20+1)), want: `{"accepted":false,"reason":"too_large"}`},
		{name: "attachment_check/mime", job: jobs.AttachmentCheck(), msg: provider(jobs.TypeAttachment, attachment("x.exe", "application/x-msdownload", 10)), want: `{"accepted":false,"reason":"type_not_allowed"}`},
		{name: "attachment_check/bad mime syntax", job: jobs.AttachmentCheck(), msg: provider(jobs.TypeAttachment, attachment("x", "not a mime", 10)), want: `{"accepted":false,"reason":"type_not_allowed"}`},
		{name: "attachment_check/not json", job: jobs.AttachmentCheck(), msg: patient(jobs.TypeAttachment, "photo.jpg"), wantErr: jobs.ErrMalformedAttachment},
		{name: "attachment_check/empty body", job: jobs.AttachmentCheck(), msg: patient(jobs.TypeAttachment, ""), wantErr: jobs.ErrMalformedAttachment},
		{name: "attachment_check/size string", job: jobs.AttachmentCheck(), msg: patient(jobs.TypeAttachment, `{"name":"a","mime":"image/png","size":"12"}`), wantErr: jobs.ErrMalformedAttachment},
		{name: "attachment_check/no size", job: jobs.AttachmentCheck(), msg: patient(jobs.TypeAttachment, `{"name":"a","mime":"image/png"}`), wantErr: jobs.ErrMalformedAttachment},
		{name: "attachment_check/negative size", job: jobs.AttachmentCheck(), msg: patient(jobs.TypeAttachment, attachment("a", "image/png", -1)), wantErr: jobs.ErrMalformedAttachment},
		{name: "attachment_check/null", job: jobs.AttachmentCheck(), msg: patient(jobs.TypeAttachment, "null"), wantErr: jobs.ErrMalformedAttachment},
		{name: "visit_close", job: jobs.VisitClose(), msg: provider(jobs.TypeEndVisit, ""), want: `{"closed_by":"d1"}`},
		{name: "survey", job: jobs.Survey(), msg: provider(jobs.TypeEndVisit, ""), want: `{"survey":"post-visit-v1"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.job.Class != chat.ClassSync {
				t.Fatalf("%s is not a sync job", tc.job.Name)
			}
			before := *tc.msg
			// Sync jobs get no ML client: they must not need one.
			got, err := tc.job.Handler.Handle(context.Background(), tc.msg, chat.Deps{})
			if !reflect.DeepEqual(*tc.msg, before) {
				t.Errorf("handler modified the message: %+v, was %+v", *tc.msg, before)
			}
			switch {
			case tc.wantErr != nil || tc.fails:
				if err == nil {
					t.Fatalf("got %s, want an error", got)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want one wrapping %v", err, tc.wantErr)
				}
				if tc.msg.Body != "" && strings.Contains(err.Error(), tc.msg.Body) {
					t.Errorf("error %q quotes the body", err)
				}
				if ev := tc.job.NewEvent(tc.msg, got, err); ev.Status != chat.StatusError || ev.ErrCode != chat.CodeJobFailed {
					t.Errorf("event status %s code %s, want error %s", ev.Status, ev.ErrCode, chat.CodeJobFailed)
				}
			case err != nil:
				t.Fatalf("error: %v", err)
			case string(got) != tc.want:
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
			// Pure: the same message gives the same answer again.
			again, _ := tc.job.Handler.Handle(context.Background(), tc.msg, chat.Deps{})
			if string(again) != string(got) {
				t.Errorf("second call gave %s, first %s", again, got)
			}
		})
	}
}

// TestSyncHandlersNoBody checks that no sync job puts a text's body in its
// event (read_state echoes an id, which is its purpose).
func TestSyncHandlersNoBody(t *testing.T) {
	const secret = "chest pain since tuesday"
	for _, j := range jobs.Jobs() {
		if j.Class != chat.ClassSync || j.Name == "read_state" {
			continue
		}
		for _, tr := range j.Triggers {
			msg := &chat.Message{ID: "m1", Conv: "c1", From: "p1", Role: chat.RolePatient, Type: tr.Type, Body: secret}
			got, _ := j.Handler.Handle(context.Background(), msg, chat.Deps{})
			if strings.Contains(string(got), "chest") {
				t.Errorf("%s on %s: data %s contains the body", j.Name, tr.Type, got)
			}
		}
	}
}

// TestHandlersConcurrent runs every handler from many goroutines; with -race
// it catches shared mutable state.
func TestHandlersConcurrent(t *testing.T) {
	ml := &fakeML{}
	c := jobs.Catalog()
	var wg sync.WaitGroup
	for _, j := range c.Jobs() {
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					typ := j.Triggers[i%len(j.Triggers)].Type
					msg := &chat.Message{ID: "m", Conv: "c" + strconv.Itoa(i), From: "p1", Role: chat.RolePatient,
						Type: typ, Body: c.Type(typ).Example}
					_, _ = j.Handler.Handle(context.Background(), msg, chat.Deps{ML: ml})
				}
			}()
		}
	}
	wg.Wait()
}
