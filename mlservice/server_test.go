package mlservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat"
	"github.com/prometheus/client_golang/prometheus"
)

// rawCall sends one request with ts's own client and returns the status,
// headers and body.
func rawCall(t *testing.T, env *testEnv, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, env.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := env.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func decodeError(t *testing.T, b []byte) (code, msg string) {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal(b, &eb); err != nil || eb.Error.Code == "" {
		t.Fatalf("error body %q is not {\"error\":{\"code\",\"message\"}}: %v", b, err)
	}
	return eb.Error.Code, eb.Error.Message
}

func TestPredictOutputs(t *testing.T) {
	env := newEnv(t, Config{Profiles: profilesWith(t, "")}, ClientConfig{}, nil)
	const input = "Patient reports crushing chest pain since Tuesday, taking metoprolol"
	keys := map[string][]string{
		ModelTriage:             {"urgency", "score"},
		ModelIntent:             {"intent"},
		ModelEntities:           {"entities"},
		ModelReplySuggest:       {"suggestions"},
		ModelSafety:             {"flagged", "category"},
		ModelTranslate:          {"lang", "text_len"},
		ModelSummary:            {"summary_len"},
		ModelDifferential:       {"candidates"},
		ModelAttachmentClassify: {"label"},
	}
	for model, want := range keys {
		t.Run(model, func(t *testing.T) {
			a, err := env.client.Predict(ctxT(t), model, input)
			if err != nil {
				t.Fatal(err)
			}
			b, err := env.client.Predict(ctxT(t), model, input)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) || !bytes.Equal(a, output(model, input)) {
				t.Fatalf("outputs differ for the same input: %s vs %s", a, b)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(a, &fields); err != nil {
				t.Fatalf("output %s is not an object: %v", a, err)
			}
			for _, k := range want {
				if _, ok := fields[k]; !ok {
					t.Errorf("output %s lacks %q", a, k)
				}
			}
			for _, word := range []string{"crushing", "Tuesday", "metoprolol"} {
				if bytes.Contains(a, []byte(word)) {
					t.Errorf("output %s echoes the input", a)
				}
			}
			// The output depends on the input.
			distinct := map[string]bool{}
			for i := range 20 {
				distinct[string(output(model, input+strings.Repeat("!", i)))] = true
			}
			if len(distinct) < 2 {
				t.Errorf("20 different inputs all gave %s", a)
			}
		})
	}
	if n := metricValue(t, env.reg, "chatbench_mlservice_requests_total", map[string]string{"model": "triage", "outcome": "ok"}); n != 2 {
		t.Errorf("server requests_total{triage,ok} = %v, want 2", n)
	}
	if n := metricValue(t, env.reg, "chatbench_ml_calls_total", map[string]string{"model": "triage", "outcome": "ok"}); n != 2 {
		t.Errorf("client calls_total{triage,ok} = %v, want 2", n)
	}
	if n := metricValue(t, env.reg, "chatbench_ml_call_duration_seconds", map[string]string{"model": "summary"}); n != 2 {
		t.Errorf("client call_duration{summary} count = %v, want 2", n)
	}
	if n := metricValue(t, env.reg, "chatbench_mlservice_request_duration_seconds", map[string]string{"model": "summary"}); n != 2 {
		t.Errorf("server request_duration{summary} count = %v, want 2", n)
	}
}

func TestInjectedFailureRate(t *testing.T) {
	env := newEnv(t, Config{Profiles: profilesWith(t, "triage=fail:0.2"), Seed: 7}, ClientConfig{}, nil)
	const n = 1000
	fails := 0
	for i := range n {
		_, err := env.client.Predict(ctxT(t), ModelTriage, "x")
		if err == nil {
			continue
		}
		var se *StatusError
		if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable || se.Code != "injected_failure" || !errors.Is(err, chat.ErrMLUnavailable) {
			t.Fatalf("call %d: error %v, want a 503 injected_failure wrapping chat.ErrMLUnavailable", i, err)
		}
		fails++
	}
	// Binomial(1000, 0.2): mean 200, sd ≈ 12.6; ±50 is four sd.
	if fails < 150 || fails > 250 {
		t.Errorf("%d of %d calls failed, want about 200 (fail:0.2)", fails, n)
	}
	if got := metricValue(t, env.reg, "chatbench_mlservice_requests_total", map[string]string{"model": "triage", "outcome": "injected_failure"}); int(got) != fails {
		t.Errorf("server injected_failure count = %v, want %d", got, fails)
	}
	if got := metricValue(t, env.reg, "chatbench_ml_calls_total", map[string]string{"model": "triage", "outcome": "error"}); int(got) != fails {
		t.Errorf("client error count = %v, want %d", got, fails)
	}
}

func TestServerTimeout(t *testing.T) {
	// Every draw is an hour; the server gives up after 5ms.
	env := newEnv(t, Config{Profiles: profilesWith(t, "triage=median:1h,p99:1h,timeout:5ms")}, ClientConfig{}, nil)
	start := time.Now()
	_, err := env.client.Predict(ctxT(t), ModelTriage, "x")
	if took := time.Since(start); took < 5*time.Millisecond {
		t.Errorf("504 came after %v, before the 5ms timeout", took)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.Status != http.StatusGatewayTimeout || se.Code != "timeout" {
		t.Fatalf("error %v, want a 504 timeout", err)
	}
	if !errors.Is(err, chat.ErrMLUnavailable) {
		t.Errorf("error %v does not wrap chat.ErrMLUnavailable", err)
	}
	if got := metricValue(t, env.reg, "chatbench_ml_calls_total", map[string]string{"model": "triage", "outcome": "timeout"}); got != 1 {
		t.Errorf("client timeout count = %v, want 1", got)
	}
	if got := metricValue(t, env.reg, "chatbench_mlservice_requests_total", map[string]string{"model": "triage", "outcome": "timeout"}); got != 1 {
		t.Errorf("server timeout count = %v, want 1", got)
	}
}

func TestClientTimeoutStopsServerWait(t *testing.T) {
	env := newEnv(t, Config{Profiles: profilesWith(t, "triage=median:1h,p99:1h")}, ClientConfig{Timeout: 20 * time.Millisecond}, nil)
	_, err := env.client.Predict(ctxT(t), ModelTriage, "x")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, chat.ErrMLUnavailable) {
		t.Fatalf("error %v, want one wrapping context.DeadlineExceeded and chat.ErrMLUnavailable", err)
	}
	if code := chat.ErrorCode(err); code != chat.CodeJobTimeout {
		t.Errorf("chat.ErrorCode = %q, want %q", code, chat.CodeJobTimeout)
	}
	// Close waits for the handler: it returns only if the wait stopped.
	closeWithin(t, env.ts, 5*time.Second)
	if got := metricValue(t, env.reg, "chatbench_mlservice_requests_total", map[string]string{"model": "triage", "outcome": "canceled"}); got != 1 {
		t.Errorf("server canceled count = %v, want 1", got)
	}
	if got := metricValue(t, env.reg, "chatbench_ml_calls_total", map[string]string{"model": "triage", "outcome": "timeout"}); got != 1 {
		t.Errorf("client timeout count = %v, want 1", got)
	}
}

func TestContextCancelStopsWait(t *testing.T) {
	waiting := make(chan string, 1)
	env := newEnv(t, Config{Profiles: profilesWith(t, "summary=median:1h,p99:1h")}, ClientConfig{Timeout: -1},
		func(s *Server) { s.hookWaiting = func(m string) { waiting <- m } })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := env.client.Predict(ctx, ModelSummary, "x")
		errc <- err
	}()
	if m := <-waiting; m != ModelSummary {
		t.Fatalf("waiting model = %q", m)
	}
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || !errors.Is(err, chat.ErrMLUnavailable) {
		t.Fatalf("error %v, want one wrapping context.Canceled and chat.ErrMLUnavailable", err)
	}
	closeWithin(t, env.ts, 5*time.Second)
	if got := metricValue(t, env.reg, "chatbench_mlservice_requests_total", map[string]string{"model": "summary", "outcome": "canceled"}); got != 1 {
		t.Errorf("server canceled count = %v, want 1", got)
	}
}

func TestCallerDeadline(t *testing.T) {
	env := newEnv(t, Config{Profiles: profilesWith(t, "summary=median:1h,p99:1h")}, ClientConfig{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := env.client.Predict(ctx, ModelSummary, "x")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, chat.ErrMLUnavailable) || !strings.Contains(err.Error(), "caller's context") {
		t.Fatalf("error %v, want the caller's deadline wrapping both sentinels", err)
	}
}

func TestHTTPErrors(t *testing.T) {
	env := newEnv(t, Config{Profiles: profilesWith(t, "")}, ClientConfig{}, nil)
	const secret = "SECRET-MEDICAL-TEXT"
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
		msg                      []string // substrings of the message
	}{
		{"unknown model", "POST", "/v1/models/nope/predict", `{"input":"x"}`, 404, "unknown_model", []string{`"nope"`, "triage", "summary", "GET /v1/models"}},
		{"bad JSON", "POST", "/v1/models/triage/predict", `{"input":`, 400, "bad_request", []string{"not JSON"}},
		{"syntax error", "POST", "/v1/models/triage/predict", `{"input" "` + secret + `"}`, 400, "bad_request", []string{"syntax error at byte"}},
		{"empty body", "POST", "/v1/models/triage/predict", ``, 400, "bad_request", []string{"empty"}},
		{"missing input", "POST", "/v1/models/triage/predict", `{"text":"` + secret + `"}`, 400, "bad_request", []string{`"input" is missing`}},
		{"null input", "POST", "/v1/models/triage/predict", `{"input":null}`, 400, "bad_request", []string{`"input" is missing`}},
		{"input not a string", "POST", "/v1/models/triage/predict", `{"input":42}`, 400, "bad_request", []string{`"input" must be a string`}},
		{"trailing data", "POST", "/v1/models/triage/predict", `{"input":"x"} {"input":"` + secret + `"}`, 400, "bad_request", []string{"nothing else"}},
		{"body too large", "POST", "/v1/models/triage/predict", `{"input":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 400, "bad_request", []string{"over 64 KiB"}},
		{"wrong method", "GET", "/v1/models/triage/predict", ``, 405, "method_not_allowed", []string{"POST"}},
		{"wrong method on list", "POST", "/v1/models", ``, 405, "method_not_allowed", []string{"GET"}},
		{"unknown route", "GET", "/v2/whatever", ``, 404, "not_found", []string{"/v2/whatever", "/v1/models"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := rawCall(t, env, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d (body %s)", status, tc.status, body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			code, msg := decodeError(t, body)
			if code != tc.code {
				t.Errorf("code %q, want %q", code, tc.code)
			}
			for _, w := range tc.msg {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, secret) {
				t.Errorf("message %q quotes the body", msg)
			}
			if status == 405 && hdr.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
	_, err := env.client.Predict(ctxT(t), "nope", "x")
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 404 || se.Code != "unknown_model" || !errors.Is(err, chat.ErrMLUnavailable) {
		t.Errorf("client error %v, want a 404 unknown_model StatusError", err)
	}
	if got := metricValue(t, env.reg, "chatbench_mlservice_requests_total", map[string]string{"model": unknownModelLabel, "outcome": "unknown_model"}); got != 2 {
		t.Errorf("unknown_model count under %q = %v, want 2", unknownModelLabel, got)
	}
	if got := metricValue(t, env.reg, "chatbench_mlservice_requests_total", map[string]string{"model": "nope"}); got != 0 {
		t.Error("an unknown model name became a label value")
	}
}

func TestListAndHealth(t *testing.T) {
	env := newEnv(t, Config{}, ClientConfig{}, nil) // nil Profiles: the defaults
	status, _, body := rawCall(t, env, "GET", "/healthz", "")
	if status != 200 || !bytes.Contains(body, []byte(`"ok"`)) {
		t.Fatalf("healthz: %d %s", status, body)
	}
	status, _, body = rawCall(t, env, "GET", "/v1/models", "")
	var list struct {
		Models []modelInfo `json:"models"`
	}
	if err := json.Unmarshal(body, &list); status != 200 || err != nil {
		t.Fatalf("models: %d %s %v", status, body, err)
	}
	want := sortedNames(DefaultProfiles())
	var got []string
	for _, m := range list.Models {
		got = append(got, m.Name)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("models = %v, want the defaults in name order %v", got, want)
	}
	for _, m := range list.Models {
		ps, err := ParseProfiles(m.Spec)
		if err != nil || ps[m.Name] != DefaultProfiles()[m.Name] {
			t.Errorf("%s: spec %q does not parse back to the profile (%v)", m.Name, m.Spec, err)
		}
	}
}

func TestLogsNeverHoldInput(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := newEnv(t, Config{Profiles: profilesWith(t, "triage=fail:1"), Logger: log}, ClientConfig{}, nil)
	const secret = "HIV status disclosed"
	env.client.Predict(ctxT(t), ModelTriage, secret)
	env.client.Predict(ctxT(t), ModelIntent, secret)
	rawCall(t, env, "POST", "/v1/models/intent/predict", `{"input" "`+secret+`"}`)
	out := buf.String()
	if strings.Contains(out, "HIV") {
		t.Fatalf("log holds the input: %s", out)
	}
	for _, w := range []string{`"model":"triage"`, `"outcome":"injected_failure"`, `"outcome":"ok"`, `"outcome":"bad_request"`, `"input_bytes":20`} {
		if !strings.Contains(out, w) {
			t.Errorf("log lacks %s: %s", w, out)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name     string
		profiles map[string]Profile
		seed     int64
		want     string
	}{
		{"bad name", map[string]Profile{"Triage Model": {}}, 0, `"Triage Model"`},
		{"invalid profile", map[string]Profile{"triage": {Median: time.Second, P99: time.Millisecond}}, 0, "model triage"},
		{"negative median", map[string]Profile{"triage": {Median: -time.Second}}, 0, "median -1s is negative"},
		{"negative timeout", map[string]Profile{"triage": {Timeout: -time.Second}}, 0, "timeout -1s is negative"},
		{"negative cpu", map[string]Profile{"triage": {CPUWork: -time.Millisecond}}, 0, "cpu -1ms is negative"},
		{"negative failure rate", map[string]Profile{"triage": {FailureRate: -0.1}}, 0, "fail -0.1 is out of range"},
		{"negative seed", nil, -3, "seed -3 is negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{Profiles: tc.profiles, Seed: tc.seed})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New error = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestCPUWork(t *testing.T) {
	env := newEnv(t, Config{Profiles: profilesWith(t, "triage=cpu:2ms")}, ClientConfig{}, nil)
	if env.srv.burner == nil || env.srv.burner.roundsPerMs <= 0 {
		t.Fatal("server with CPUWork did not calibrate")
	}
	if _, err := env.client.Predict(ctxT(t), ModelTriage, "x"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	close(done)
	if env.srv.burner.burn(time.Hour, done, nil) {
		t.Error("burn ignored a closed done channel")
	}
}

// serveLoopback runs s on a real loopback listener and returns its URL and
// a channel with Serve's result.
func serveLoopback(t *testing.T, s *Server) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	return "http://" + ln.Addr().String(), served
}

func TestShutdownWaitsForInFlight(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := New(Config{Profiles: profilesWith(t, "summary=median:50ms,p99:50ms"), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan string, 1)
	s.hookWaiting = func(m string) { waiting <- m }
	url, served := serveLoopback(t, s)
	c, err := NewClient(ClientConfig{BaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Predict(ctxT(t), ModelSummary, "x")
		errc <- err
	}()
	<-waiting
	if err := s.Shutdown(ctxT(t)); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// The handler records its outcome before it returns.
	if got := metricValue(t, reg, "chatbench_mlservice_requests_total", map[string]string{"model": "summary", "outcome": "ok"}); got != 1 {
		t.Fatalf("Shutdown returned before the in-flight call was answered (ok count %v)", got)
	}
	if err := <-errc; err != nil {
		t.Fatalf("in-flight call failed across a graceful Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v after Shutdown, want nil", err)
	}
	if err := s.Shutdown(ctxT(t)); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestShutdownDeadlineCancelsInFlight(t *testing.T) {
	s, err := New(Config{Profiles: profilesWith(t, "summary=median:1h,p99:1h")})
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan string, 1)
	s.hookWaiting = func(m string) { waiting <- m }
	url, served := serveLoopback(t, s)
	c, err := NewClient(ClientConfig{BaseURL: url, Timeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Predict(ctxT(t), ModelSummary, "x")
		errc <- err
	}()
	<-waiting
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	if err := <-errc; !errors.Is(err, chat.ErrMLUnavailable) {
		t.Errorf("cut-off call error = %v, want chat.ErrMLUnavailable", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
	if err := s.Shutdown(ctxT(t)); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func FuzzPredictBody(f *testing.F) {
	s, err := New(Config{Profiles: profilesWith(f, "")})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	for _, b := range []string{`{"input":"hello"}`, `{"input":""}`, `{}`, `[`, `{"input":"a"}{}`, `{"input":"\u00e9\ud800"}`} {
		f.Add("triage", b)
	}
	f.Fuzz(func(t *testing.T, model, body string) {
		req, err := http.NewRequest("POST", "/v1/models/"+model+"/predict", strings.NewReader(body))
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 404:
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("answer %q is not JSON", rec.Body.Bytes())
			}
		case 301, 307, 308: // the mux cleaning odd paths
		default:
			t.Fatalf("status %d for model %q body %q", rec.Code, model, body)
		}
	})
}

// TestLatencySeriesStartEmpty checks a fresh server and client register
// a latency histogram for every model they know, with no observations,
// and the client's call counters at 0: a series first scraped with all
// its observations (a burst between two scrapes) has no increase to take
// a rate of, and its dashboard quantile reads "No data".
func TestLatencySeriesStartEmpty(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := New(Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ClientConfig{BaseURL: "http://127.0.0.1:1", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	models := map[string]map[string]bool{} // metric → models with a series
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetHistogram().GetSampleCount() != 0 || m.GetCounter().GetValue() != 0 {
				t.Errorf("%s %v is not empty on a fresh registry", mf.GetName(), m.GetLabel())
			}
			for _, p := range m.GetLabel() {
				if p.GetName() == "model" {
					if models[mf.GetName()] == nil {
						models[mf.GetName()] = map[string]bool{}
					}
					models[mf.GetName()][p.GetValue()] = true
				}
			}
		}
	}
	for _, name := range []string{"chatbench_mlservice_request_duration_seconds", "chatbench_ml_call_duration_seconds", "chatbench_ml_calls_total"} {
		for _, model := range s.Models() {
			if !models[name][model] {
				t.Errorf("no %s{model=%q} on a fresh registry", name, model)
			}
		}
	}
}
