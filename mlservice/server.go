package mlservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatbench/chatbench/chat"
)

// MaxBodyBytes is the largest predict request body the server reads.
const MaxBodyBytes = 64 << 10

// Config configures a Server. Zero values mean the documented defaults.
type Config struct {
	// Profiles maps model names to their behaviour. Nil or empty means
	// DefaultProfiles(): every model of the telehealth catalog. Names must
	// be lower_snake (a-z, 0-9, _), start with a letter and be at most 64
	// bytes (chat.ValidName).
	Profiles map[string]Profile
	// Seed seeds the latency and failure draws. Zero means 1; negative is
	// an error.
	Seed int64
	// Logger receives one debug record per call (model, input size,
	// outcome, duration; never the input). Nil means discard.
	Logger *slog.Logger
	// Registerer receives the server's metrics. Nil means none.
	Registerer prometheus.Registerer
}

// Server is the ML stand-in: an HTTP service answering predict calls with
// deterministic outputs after seeded, profile-shaped latencies and injected
// failures. It is safe for concurrent use.
type Server struct {
	profiles map[string]Profile
	samplers map[string]*sampler
	names    []string
	log      *slog.Logger
	metrics  *serverMetrics
	burner   *burner
	handler  http.Handler

	// base is cancelled when a Shutdown runs out of time, to stop every
	// in-flight wait, including under a Handler mounted elsewhere.
	base     context.Context
	cancel   context.CancelFunc
	srv      *http.Server
	inflight inflight

	// hookWaiting, if set (tests only), is called when a call starts its
	// latency wait.
	hookWaiting func(model string)
}

// New checks cfg and builds a Server. It does not listen; see Serve and
// Handler.
func New(cfg Config) (*Server, error) {
	profiles := cfg.Profiles
	if len(profiles) == 0 {
		profiles = DefaultProfiles()
	}
	seed := cfg.Seed
	switch {
	case seed < 0:
		return nil, fmt.Errorf("mlservice: seed %d is negative; use 1 or more (0 means 1)", seed)
	case seed == 0:
		seed = 1
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		profiles: make(map[string]Profile, len(profiles)),
		samplers: make(map[string]*sampler, len(profiles)),
		log:      log,
	}
	needCPU := false
	for m, p := range profiles {
		if !chat.ValidName(m) {
			return nil, fmt.Errorf("mlservice: model name %q: use lower_snake (a-z, 0-9, _), starting with a letter, at most 64 bytes", clip(m))
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("mlservice: profile of model %s: %w", m, err)
		}
		s.profiles[m] = p
		s.samplers[m] = newSampler(p, seed, m)
		needCPU = needCPU || p.CPUWork > 0
	}
	s.names = sortedNames(s.profiles)
	if needCPU {
		s.burner = calibrate(20 * time.Millisecond)
	}
	if cfg.Registerer != nil {
		m, err := newServerMetrics(cfg.Registerer, s.names)
		if err != nil {
			return nil, fmt.Errorf("mlservice: register metrics: %w", err)
		}
		s.metrics = m
	}
	s.base, s.cancel = context.WithCancel(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("/v1/models/{model}/predict", s.predict)
	mux.HandleFunc("/v1/models", s.get(s.listModels))
	mux.HandleFunc("/healthz", s.get(s.healthz))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found",
			fmt.Sprintf("no route %s %s; use POST /v1/models/{model}/predict, GET /v1/models or GET /healthz", r.Method, clip(r.URL.Path)))
	})
	s.handler = mux
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return s.base },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler returns the server's HTTP handler, to mount under any http.Server
// (e.g. httptest). Shutdown still stops its in-flight waits when it runs out
// of time.
func (s *Server) Handler() http.Handler { return s.handler }

// Models returns the served model names, sorted.
func (s *Server) Models() []string { return append([]string(nil), s.names...) }

// Profiles returns a copy of the served profiles.
func (s *Server) Profiles() map[string]Profile {
	out := make(map[string]Profile, len(s.profiles))
	for m, p := range s.profiles {
		out[m] = p
	}
	return out
}

// Serve accepts connections on ln until Shutdown; it may be called for
// several listeners. It returns nil after Shutdown, any other error
// otherwise. The listener is closed on return.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for in-flight calls
// (served by Serve or by Handler mounted elsewhere) to finish their drawn
// latency. If ctx ends first it cancels the remaining calls, closes Serve's
// connections, waits for the handlers to return and returns ctx's error. It
// is safe to call more than once and concurrently.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err == nil {
		select {
		case <-s.inflight.idle():
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil {
		return nil
	}
	s.cancel()
	_ = s.srv.Close()
	<-s.inflight.idle()
	return fmt.Errorf("mlservice: shutdown: %w", err)
}

// predictRequest is the body of POST /v1/models/{model}/predict.
type predictRequest struct {
	Input *string `json:"input"`
}

// predictResponse is the answer of a successful predict call.
type predictResponse struct {
	Model  string          `json:"model"`
	Output json.RawMessage `json:"output"`
}

func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	model := r.PathValue("model")
	label := model
	p, known := s.profiles[model]
	if !known {
		label = unknownModelLabel
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("method %s is not allowed; predict with POST and body {\"input\":\"...\"}", r.Method))
		s.done(r.Context(), label, outcomeMethodNotAllowed, 0, start, false)
		return
	}
	if !known {
		writeError(w, http.StatusNotFound, "unknown_model",
			fmt.Sprintf("unknown model %q; known models: %s (GET /v1/models lists them)", clip(model), strings.Join(s.names, ", ")))
		s.done(r.Context(), label, outcomeUnknownModel, 0, start, false)
		return
	}
	input, msg := decodePredict(w, r)
	if msg != "" {
		writeError(w, http.StatusBadRequest, "bad_request", msg)
		s.done(r.Context(), label, outcomeBadRequest, 0, start, false)
		return
	}

	s.inflight.add()
	defer s.inflight.done()
	d := s.samplers[model].next()
	wait, outcome := d.latency, outcomeOK
	switch {
	case p.Timeout > 0 && wait > p.Timeout:
		wait, outcome = p.Timeout, outcomeTimeout
	case d.fail:
		outcome = outcomeInjectedFailure
	}
	if s.hookWaiting != nil {
		s.hookWaiting(model)
	}
	reqDone, baseDone := r.Context().Done(), s.base.Done()
	ok := true
	if p.CPUWork > 0 {
		ok = s.burner.burn(p.CPUWork, reqDone, baseDone)
	}
	if ok {
		ok = waitFor(wait-time.Since(start), reqDone, baseDone)
	}
	if !ok {
		// The caller is gone (or Shutdown ran out of time): nobody reads an
		// answer.
		s.done(r.Context(), label, outcomeCanceled, len(*input), start, true)
		return
	}
	switch outcome {
	case outcomeTimeout:
		writeError(w, http.StatusGatewayTimeout, "timeout",
			fmt.Sprintf("model %s did not answer within its %v timeout", model, p.Timeout))
	case outcomeInjectedFailure:
		writeError(w, http.StatusServiceUnavailable, "injected_failure",
			fmt.Sprintf("model %s failed (injected, failure rate %g); retry or lower fail in its profile", model, p.FailureRate))
	default:
		writeJSON(w, http.StatusOK, predictResponse{Model: model, Output: output(model, *input)})
	}
	s.done(r.Context(), label, outcome, len(*input), start, true)
}

// decodePredict reads the request body. A non-empty msg is the bad_request
// message; it never quotes the body.
func decodePredict(w http.ResponseWriter, r *http.Request) (input *string, msg string) {
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	var req predictRequest
	err := dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data")
	}
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return nil, fmt.Sprintf("request body is over %d KiB; send a shorter input", MaxBodyBytes>>10)
	case errors.As(err, &se):
		return nil, fmt.Sprintf("request body is not JSON (syntax error at byte %d); send {\"input\":\"...\"}", se.Offset)
	case errors.As(err, &te):
		return nil, fmt.Sprintf("field %q must be a %s; send {\"input\":\"...\"}", te.Field, te.Type)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, "request body is not JSON (it ends early); send {\"input\":\"...\"}"
	case errors.Is(err, io.EOF):
		return nil, "request body is empty; send {\"input\":\"...\"}"
	case err != nil:
		return nil, "request body must be one JSON object {\"input\":\"...\"} and nothing else"
	case req.Input == nil:
		return nil, "field \"input\" is missing; send {\"input\":\"...\"}"
	}
	return req.Input, ""
}

// waitFor waits d on a timer unless a done channel closes first; it reports
// whether the wait ran its course.
func waitFor(d time.Duration, done1, done2 <-chan struct{}) bool {
	if d <= 0 {
		select {
		case <-done1:
			return false
		case <-done2:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done1:
		return false
	case <-done2:
		return false
	}
}

func (s *Server) done(ctx context.Context, model, outcome string, inputBytes int, start time.Time, drawn bool) {
	took := time.Since(start)
	s.metrics.record(model, outcome, took, drawn)
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.LogAttrs(ctx, slog.LevelDebug, "ml predict",
			slog.String("model", model), slog.Int("input_bytes", inputBytes),
			slog.String("outcome", outcome), slog.Duration("took", took))
	}
}

// modelInfo is one entry of GET /v1/models.
type modelInfo struct {
	Name        string  `json:"name"`
	Median      string  `json:"median"`
	P99         string  `json:"p99"`
	TailRate    float64 `json:"tail_rate"`
	TailAlpha   float64 `json:"tail_alpha"`
	FailureRate float64 `json:"failure_rate"`
	Timeout     string  `json:"timeout"`
	CPUWork     string  `json:"cpu_work"`
	Spec        string  `json:"spec"`
}

func (s *Server) listModels(w http.ResponseWriter, _ *http.Request) {
	out := struct {
		Models []modelInfo `json:"models"`
	}{Models: make([]modelInfo, 0, len(s.names))}
	for _, m := range s.names {
		p := s.profiles[m]
		out.Models = append(out.Models, modelInfo{
			Name: m, Median: p.Median.String(), P99: p.P99.String(),
			TailRate: p.TailRate, TailAlpha: p.TailAlpha, FailureRate: p.FailureRate,
			Timeout: p.Timeout.String(), CPUWork: p.CPUWork.String(),
			Spec: m + "=" + p.String(),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// get restricts h to GET (and HEAD).
func (s *Server) get(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("method %s is not allowed on %s; use GET", r.Method, r.URL.Path))
			return
		}
		h(w, r)
	}
}

// errorBody is every error answer: {"error":{"code":"...","message":"..."}}.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"encode response"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// inflight counts predict calls in progress, so Shutdown can wait for
// their handlers to return.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed while n == 0; nil means closed
}

func (f *inflight) add() {
	f.mu.Lock()
	if f.n == 0 {
		f.zero = make(chan struct{})
	}
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	f.n--
	if f.n == 0 {
		close(f.zero)
	}
	f.mu.Unlock()
}

// idle returns a channel closed once no call is in progress.
func (f *inflight) idle() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return f.zero
}
