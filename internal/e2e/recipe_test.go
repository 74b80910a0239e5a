package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
	"github.com/chatbench/chatbench/socket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	secret   = []byte("e2e-test-secret-0123456789")
	cbSecret = []byte("e2e-callback-secret-0123456789")
)

// What CONTRIBUTING.md's recipe adds, written as a contributor would in
// chat/jobs: a sync job on an existing type, and a new type with a sync
// job and an ML job on a model the ML service has no figures for. The
// names start with recipe_ so that no real addition collides with them.
const (
	typeMood  = "recipe_mood"
	modelMood = "recipe_model"
)

// textSize is a new sync job on text: the providers learn each text's size.
func textSize() chat.Job {
	return chat.Job{
		Name: "recipe_text_size", Class: chat.ClassSync, Event: "recipe_text_size", Audience: chat.AudienceProviders,
		Triggers: []chat.Trigger{{Type: jobs.TypeText}},
		Doc:      "tells the providers how long each text is",
		Handler: chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
			return json.Marshal(map[string]int{"bytes": len(msg.Body)})
		}),
	}
}

// moodType is a new message type: a patient rates their mood.
func moodType() chat.MessageType {
	return chat.MessageType{Name: typeMood, Roles: []chat.Role{chat.RolePatient}, Doc: "the patient rates their mood", Example: `{"score":4}`}
}

// moodAck is a new sync job on the new type: the sender gets a receipt.
func moodAck() chat.Job {
	return chat.Job{
		Name: "recipe_mood_ack", Class: chat.ClassSync, Event: "recipe_mood_recorded", Audience: chat.AudienceSender,
		Triggers: []chat.Trigger{{Type: typeMood}},
		Doc:      "tells the patient their mood was recorded",
		Handler: chat.HandlerFunc(func(_ context.Context, msg *chat.Message, _ chat.Deps) (json.RawMessage, error) {
			return json.Marshal(map[string]string{"message_id": msg.ID})
		}),
	}
}

// moodScore is a new ML job on the new type, calling a new model.
func moodScore() chat.Job {
	return chat.Job{
		Name: "recipe_mood_score", Class: chat.ClassML, Model: modelMood, Event: "recipe_mood_score", Audience: chat.AudienceProviders,
		Triggers: []chat.Trigger{{Type: typeMood}},
		Doc:      "scores the patient's mood for the providers",
		Handler: chat.HandlerFunc(func(ctx context.Context, msg *chat.Message, deps chat.Deps) (json.RawMessage, error) {
			if deps.ML == nil {
				return nil, fmt.Errorf("model %s: no ML client: %w", modelMood, chat.ErrMLUnavailable)
			}
			return deps.ML.Predict(ctx, modelMood, msg.Body)
		}),
	}
}

// extended is a copy of the telehealth catalog with the additions
// registered — one line each, as in jobs.Types and jobs.Jobs.
func extended(t *testing.T) *chat.Catalog {
	t.Helper()
	cat, err := chat.NewCatalog(append(jobs.Types(), moodType()), append(jobs.Jobs(), textSize(), moodAck(), moodScore()))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestRecipeRunsOnBothPaths registers the additions on a copy of the
// catalog and runs the shared visit on each path with nothing else
// changed: the visit covers the new type because it is built from the
// catalog, the ML service serves the new model on the new-model profile,
// and every participant must receive exactly what the catalog says. The
// new jobs' audiences are then checked by name, not through the catalog,
// so a wrong audience cannot hide behind a wrong expectation.
func TestRecipeRunsOnBothPaths(t *testing.T) {
	for _, path := range []struct {
		name  string
		start func(t *testing.T, cat *chat.Catalog, ml chat.ML) (url string, shutdown func())
	}{
		{"direct", startDirect},
		{"queue", startQueue},
	} {
		t.Run(path.name, func(t *testing.T) {
			cat := extended(t)
			url, shutdown := path.start(t, cat, wstest.StartMLFor(t, cat, ""))
			s := wstest.NewScript(t, cat)
			ps := s.Visit(url, secret)
			shutdown()
			got := map[string][]string{} // new job → users who received its event
			s.CheckDrained(ps, func(user string, f *chat.ServerFrame) {
				ev := f.Event
				if ev.Status != chat.StatusOK {
					t.Errorf("%s: %s/%s status %s (%s)", user, f.ReplyTo, ev.Job, ev.Status, ev.ErrCode)
				}
				switch ev.Job {
				case "recipe_text_size", "recipe_mood_ack", "recipe_mood_score":
					got[ev.Job] = append(got[ev.Job], user)
				}
				if ev.Job == "recipe_mood_score" {
					var out struct{ Label string }
					if err := json.Unmarshal(ev.Data, &out); err != nil || out.Label == "" {
						t.Errorf("%s: recipe_mood_score data %s is not the ML service's answer", user, ev.Data)
					}
				}
			})
			// d1, d2: providers in c1; p1: patient in c1; p9: patient alone in c2.
			want := map[string][]string{
				"recipe_text_size":  {"d1", "d2"}, // providers only, whoever sent the text
				"recipe_mood_ack":   {"p1", "p9"}, // each sender of a recipe_mood
				"recipe_mood_score": {"d1", "d2"}, // providers of c1; none in c2
			}
			for job, users := range want {
				g := slices.Compact(sorted(got[job]))
				if !slices.Equal(g, users) {
					t.Errorf("%s reached %v, want %v", job, g, users)
				}
			}
		})
	}
}

func sorted(xs []string) []string {
	xs = slices.Clone(xs)
	sort.Strings(xs)
	return xs
}

// startDirect starts the direct path (front door + direct dispatcher) for
// cat on loopback. The start-up is kept in this one function so a change
// of how the modes start touches only it.
func startDirect(t *testing.T, cat *chat.Catalog, ml chat.ML) (string, func()) {
	t.Helper()
	reg := prometheus.NewRegistry()
	srv, err := directmode.Start(directmode.ServerConfig{
		Addr:       "127.0.0.1:0",
		Front:      socket.Config{Secret: secret, Registerer: reg},
		Dispatcher: directmode.Config{Catalog: cat, Deps: chat.Deps{ML: ml}, Registerer: reg},
		Gatherer:   reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("direct shutdown: %v", err)
		}
	}
	t.Cleanup(shutdown)
	return srv.URL(), shutdown
}

// startQueue starts the queue path for cat on loopback: the embedded SQS
// endpoint, its queues, the gateway and one worker. Like startDirect, it is
// the one place that knows how the queue path starts.
func startQueue(t *testing.T, cat *chat.Catalog, ml chat.ML) (string, func()) {
	t.Helper()
	ctx := context.Background()
	sq := sqsd.New(sqsd.Config{})
	endpoint, err := sq.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sq.Close() })
	client, err := queuemode.NewClient(ctx, queuemode.ClientConfig{Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	queues, err := queuemode.Setup(ctx, client, "jobs", queuemode.SetupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	gw, err := queuemode.StartGateway(queuemode.GatewayConfig{
		Addr: "127.0.0.1:0", CallbackAddr: "127.0.0.1:0",
		Front:      socket.Config{Secret: secret, Registerer: reg},
		Dispatcher: queuemode.DispatcherConfig{Catalog: cat, Client: client, QueueURL: queues.URL},
		Callback:   queuemode.CallbackConfig{Secret: cbSecret},
		Registerer: reg, Gatherer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := queuemode.NewCallbackClient(gw.CallbackURL(), cbSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := queuemode.StartWorker(queuemode.WorkerConfig{
		Catalog: cat, Deps: chat.Deps{ML: ml}, Client: client, QueueURL: queues.URL, DLQURL: queues.DLQURL,
		Poster: cc, WaitTime: 2 * time.Second, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// The gateway drains first: it waits for the worker to empty the queue.
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("gateway shutdown: %v", err)
		}
		if err := w.Shutdown(ctx); err != nil {
			t.Errorf("worker shutdown: %v", err)
		}
		cc.CloseIdle()
	}
	t.Cleanup(shutdown)
	return gw.URL(), shutdown
}
