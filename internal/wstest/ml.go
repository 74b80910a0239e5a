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
// the test.
func StartML(t testing.TB, spec string) chat.ML {
	t.Helper()
	profiles, err := mlservice.Preset(mlservice.PresetZero)
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
