package mlservice

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testEnv is a Server behind a loopback httptest server and a Client of it.
type testEnv struct {
	srv    *Server
	ts     *httptest.Server
	client *Client
	reg    *prometheus.Registry
}

// profilesWith returns the zero preset with the given overrides.
func profilesWith(t testing.TB, spec string) map[string]Profile {
	t.Helper()
	ps, err := ParseProfiles("zero;" + spec)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// newEnv starts a server (Seed 1 unless cfg says otherwise) and a client
// sharing one registry; both are closed when the test ends. configure, if
// set, runs before the server accepts requests.
func newEnv(t testing.TB, cfg Config, ccfg ClientConfig, configure func(*Server)) *testEnv {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(srv)
	}
	ts := httptest.NewServer(srv.Handler())
	ccfg.BaseURL = ts.URL
	ccfg.Registerer = reg
	c, err := NewClient(ccfg)
	if err != nil {
		ts.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		closeWithin(t, ts, 10*time.Second)
	})
	return &testEnv{srv: srv, ts: ts, client: c, reg: reg}
}

// closeWithin closes ts, failing the test if that takes longer than d:
// httptest's Close waits for every handler, so a handler that ignores a
// departed client hangs here.
func closeWithin(t testing.TB, ts *httptest.Server, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() { ts.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("httptest server did not close within %v: a handler is still waiting", d)
	}
}

// metricValue returns the counter value, or the histogram sample count, of
// the series name{labels}; 0 if absent.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
