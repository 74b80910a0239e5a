package wstest

import (
	"net/http/httptest"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/mlservice"
)

// StartML runs the real ML service on loopback with the zero preset (no
// latency, no failures) plus the overrides in spec (mlservice's profile
// syntax; "" = none), and returns a client for it. Both stop at the end of
// the test. It serves the telehealth catalog's models; StartMLFor serves
// another catalog's.
func StartML(t testing.TB, spec string) chat.ML { return StartMLFor(t, nil, spec) }

// StartMLFor is StartML serving, besides the telehealth catalog's models,
// every model of cat (nil = none more), each without figures of its own
// on the new-model profile (zeroed by the zero preset).
func StartMLFor(t testing.TB, cat *chat.Catalog, spec string) chat.ML {
	t.Helper()
	var models []string
	if cat != nil {
		models = cat.Models()
	}
	profiles, err := mlservice.PresetFor(mlservice.PresetZero, models)
	if err != nil {
		t.Fatal(err)
	}
	if spec != "" {
		if profiles, err = mlservice.MergeProfiles(profiles, spec); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := mlservice.New(mlservice.Config{Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ms.Handler())
	t.Cleanup(hs.Close)
	cl, err := mlservice.NewClient(mlservice.ClientConfig{BaseURL: hs.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
