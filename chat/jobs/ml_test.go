package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

// fakeML records calls and answers {"model":...,"n":<call number>}, or err.
// It only checks how handlers use chat.ML; the ML service itself is tested
// in mlservice.
type fakeML struct {
	err error
	out json.RawMessage // answer instead of the default, if set

	mu    sync.Mutex
	calls []fakeCall
}

type fakeCall struct{ model, input string }

func (f *fakeML) Predict(ctx context.Context, model, input string) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{model, input})
	if f.err != nil {
		return nil, f.err
	}
	if f.out != nil {
		return f.out, nil
	}
	return json.RawMessage(fmt.Sprintf(`{"model":%q,"n":%d}`, model, len(f.calls))), nil
}

var _ chat.ML = (*fakeML)(nil)

// TestMLHandlers runs every ML job of the catalog on each of its triggers,
// with the trigger type's example body: it must call its own model exactly
// once and return the model's output verbatim as the event's data.
func TestMLHandlers(t *testing.T) {
	c := jobs.Catalog()
	for _, j := range c.Jobs() {
		if j.Class != chat.ClassML {
			continue
		}
		for _, tr := range j.Triggers {
			t.Run(j.Name+"/"+tr.Type, func(t *testing.T) {
				role := tr.Role
				if role == "" {
					role = chat.RolePatient
					if !c.Type(tr.Type).CanSend(role) {
						role = chat.RoleProvider
					}
				}
				msg := &chat.Message{ID: "m1", Conv: "c1", From: "u1", Role: role, Type: tr.Type, Body: c.Type(tr.Type).Example}
				before := *msg
				ml := &fakeML{}
				got, err := j.Handler.Handle(context.Background(), msg, chat.Deps{ML: ml})
				if err != nil {
					t.Fatalf("error: %v", err)
				}
				if !reflect.DeepEqual(*msg, before) {
					t.Errorf("handler modified the message")
				}
				if len(ml.calls) != 1 || ml.calls[0].model != j.Model {
					t.Fatalf("ML calls = %+v, want one call of model %q", ml.calls, j.Model)
				}
				if want := fmt.Sprintf(`{"model":%q,"n":1}`, j.Model); string(got) != want {
					t.Errorf("data = %s, want the model's output %s", got, want)
				}
			})
		}
	}
}

// TestMLInputs pins what two kinds of ML job send their model: the body as
// is, or attachment metadata re-encoded.
func TestMLInputs(t *testing.T) {
	const text = "I have had a fever for three days"
	tests := []struct {
		job       chat.Job
		msg       *chat.Message
		wantInput string
	}{
		{jobs.Triage(), &chat.Message{Type: jobs.TypeText, Role: chat.RolePatient, Body: text}, text},
		// Unknown fields dropped, canonical order.
		{jobs.AttachmentClassify(), &chat.Message{Type: jobs.TypeAttachment, Role: chat.RolePatient,
			Body: `{"size":12,"extra":1,"mime":"image/png","name":"rash.png"}`}, `{"name":"rash.png","mime":"image/png","size":12}`},
	}
	for _, tc := range tests {
		t.Run(tc.job.Name, func(t *testing.T) {
			ml := &fakeML{}
			if _, err := tc.job.Handler.Handle(context.Background(), tc.msg, chat.Deps{ML: ml}); err != nil {
				t.Fatal(err)
			}
			if len(ml.calls) != 1 || ml.calls[0] != (fakeCall{tc.job.Model, tc.wantInput}) {
				t.Errorf("ML calls = %+v, want one call of model %q with input %q", ml.calls, tc.job.Model, tc.wantInput)
			}
		})
	}
}

// TestMLHandlerErrors runs every ML job against failing or missing ML
// clients; the error must keep what ErrorCode needs to pick the event's code.
func TestMLHandlerErrors(t *testing.T) {
	mlDown := fmt.Errorf("post /predict: %w", chat.ErrMLUnavailable)
	tests := []struct {
		name     string
		ml       chat.ML // nil: no ML client
		wantErr  error
		wantCode string
	}{
		{"nil ML", nil, chat.ErrMLUnavailable, chat.CodeMLUnavailable},
		{"ML unavailable", &fakeML{err: mlDown}, chat.ErrMLUnavailable, chat.CodeMLUnavailable},
		{"deadline", &fakeML{err: context.DeadlineExceeded}, context.DeadlineExceeded, chat.CodeJobTimeout},
		// Output that is not JSON would make the event unencodable.
		{"not JSON", &fakeML{out: json.RawMessage("label: lab")}, chat.ErrMLUnavailable, chat.CodeMLUnavailable},
	}
	for _, tc := range tests {
		for _, j := range jobs.Jobs() {
			if j.Class != chat.ClassML {
				continue
			}
			t.Run(tc.name+"/"+j.Name, func(t *testing.T) {
				msg := &chat.Message{ID: "m1", Conv: "c1", From: "p1", Role: chat.RolePatient, Type: j.Triggers[0].Type,
					Body: `{"name":"a.pdf","mime":"application/pdf","size":1}`}
				got, err := j.Handler.Handle(context.Background(), msg, chat.Deps{ML: tc.ml})
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got (%s, %v), want an error wrapping %v", got, err, tc.wantErr)
				}
				if code := chat.ErrorCode(err); code != tc.wantCode {
					t.Errorf("ErrorCode = %s, want %s", code, tc.wantCode)
				}
				if strings.Contains(err.Error(), "a.pdf") {
					t.Errorf("error %q quotes the body", err)
				}
			})
		}
	}
}

func TestAttachmentClassifyMalformed(t *testing.T) {
	ml := &fakeML{}
	msg := &chat.Message{ID: "m1", Conv: "c1", From: "p1", Role: chat.RolePatient, Type: jobs.TypeAttachment, Body: "not json"}
	_, err := jobs.AttachmentClassify().Handler.Handle(context.Background(), msg, chat.Deps{ML: ml})
	if !errors.Is(err, jobs.ErrMalformedAttachment) {
		t.Fatalf("err = %v, want ErrMalformedAttachment", err)
	}
	if len(ml.calls) != 0 {
		t.Errorf("model called %d times for a malformed body, want 0", len(ml.calls))
	}
}
