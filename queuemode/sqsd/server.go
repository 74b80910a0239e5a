package sqsd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Server. Zero values mean the documented defaults.
type Config struct {
	// Logger receives one Debug record per call (action, queue name, sizes,
	// outcome) and warnings. Message bodies and attribute values are never
	// logged. Nil means discard.
	Logger *slog.Logger
	// Registerer receives the server's metrics (see the package doc). Nil
	// means no metrics. Servers sharing a Registerer share the request
	// counters; only the first exports chatbench_sqsd_messages.
	Registerer prometheus.Registerer
	// Latency is added to every call. The zero value adds none.
	Latency LatencyProfile
	// Region appears in queue ARNs. Empty means "us-east-1".
	Region string
	// AccountID appears in queue URLs and ARNs. Empty means "000000000000".
	AccountID string
	// Duplicates is the fraction, 0 to 1, of receives from a standard
	// queue that leave a second copy of the message behind, receivable at
	// once by another consumer and not deleted with the first: SQS's
	// at-least-once delivery ("occasionally ... more than one copy of a
	// message might be delivered"), at a rate SQS does not state. Zero
	// means none: standard queues are exact. FIFO queues never duplicate.
	Duplicates float64
	// Seed seeds the Duplicates draws (the same seed, the same draws for
	// the same receives).
	Seed uint64
	// Now is the clock for message timestamps, visibility timeouts, delays,
	// retention and the deduplication window. Nil means time.Now. Long-poll
	// waits always run on real timers, so a test clock that jumps forward
	// does not by itself wake a waiting ReceiveMessage.
	Now func() time.Time
}

// maxRequestBytes bounds a request body: a 10-entry batch of 1 MiB messages
// is refused by size checks long before this.
const maxRequestBytes = 16 << 20

// Server is an in-process SQS endpoint speaking the AWS JSON 1.0 protocol.
// Its methods are safe for concurrent use. Create one with New.
type Server struct {
	log     *slog.Logger
	now     func() time.Time
	region  string
	account string
	latency *latencySampler
	met     *metrics
	// dupRate and dupRNG draw the standard queues' duplicate deliveries;
	// dupRNG is guarded by mu.
	dupRate float64
	dupRNG  *rand.Rand

	// ctx ends when Close begins; it wakes long polls and cuts latency waits.
	ctx    context.Context
	cancel context.CancelFunc

	// Test hooks, set before serving: waitHook runs under mu each time a
	// long poll starts waiting, callHook when a call has been admitted.
	waitHook func()
	callHook func(action string)

	// mu guards all queue and message state.
	mu     sync.Mutex
	queues map[string]*queue // by name

	// life guards the lifecycle fields below.
	life      sync.Mutex
	closed    bool
	active    sync.WaitGroup // calls in progress
	httpSrv   *http.Server
	serveDone chan struct{}
	url       string
	closeOnce sync.Once
	closeDone chan struct{} // closed when the first Close has finished
	closeErr  error
}

// New returns a Server with no queues. It serves nothing until Start is
// called or its Handler is mounted.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{
		log:     log,
		now:     now,
		region:  cmp(cfg.Region, "us-east-1"),
		account: cmp(cfg.AccountID, "000000000000"),
		latency: newLatencySampler(cfg.Latency),
		dupRate: min(max(cfg.Duplicates, 0), 1),
		dupRNG:  rand.New(rand.NewPCG(cfg.Seed, 0xd0b1e)),
		queues:  map[string]*queue{},

		closeDone: make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.met = newMetrics(cfg.Registerer, s, log)
	return s
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Handler returns the http.Handler that serves the SQS JSON protocol on any
// path. Queue URLs it hands out are built from the Host the client
// addressed. It stops accepting calls once Close has begun.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on addr (e.g. "127.0.0.1:0") and serves in a goroutine owned
// by the Server until Close. It returns the endpoint URL, e.g.
// "http://127.0.0.1:PORT". A Server starts at most once.
func (s *Server) Start(addr string) (string, error) {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return "", errors.New("sqsd: start: server is closed")
	}
	if s.httpSrv != nil {
		return "", fmt.Errorf("sqsd: start: already serving at %s", s.url)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sqsd: listen on %s: %w", addr, err)
	}
	s.url = "http://" + ln.Addr().String()
	s.httpSrv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("sqsd: serve", "addr", s.url, "err", err)
		}
	}()
	s.log.Info("sqsd: serving", "url", s.url)
	return s.url, nil
}

// URL returns the endpoint URL Start returned, or "" before Start.
func (s *Server) URL() string {
	s.life.Lock()
	defer s.life.Unlock()
	return s.url
}

// Close stops serving: it refuses new calls, wakes every long poll (which
// returns an empty result), waits for calls in progress and for the serving
// goroutine, and closes the listener. It is safe to call more than once;
// later calls return the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		defer close(s.closeDone)
		s.life.Lock()
		s.closed = true
		srv, done := s.httpSrv, s.serveDone
		s.life.Unlock()

		s.cancel()
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.closeErr = srv.Shutdown(ctx)
			cancel()
			if s.closeErr != nil {
				s.closeErr = errors.Join(s.closeErr, srv.Close())
			}
			<-done
		}
		s.active.Wait()
		s.met.unregister()
	})
	<-s.closeDone
	return s.closeErr
}

// enter admits one call unless Close has begun.
func (s *Server) enter() bool {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return false
	}
	s.active.Add(1)
	return true
}

// call is the per-request context handed to action handlers.
type call struct {
	ctx      context.Context
	base     string // scheme://host the client addressed, for queue URLs
	senderID string
	queue    string // for the log
	messages int    // for the log: messages sent, received, deleted or changed
}

type handlerFunc func(s *Server, c *call, body []byte) (any, *apiError)

// actions maps X-Amz-Target actions to handlers. Read-only.
var actions = map[string]handlerFunc{
	"CreateQueue":                  (*Server).createQueue,
	"GetQueueUrl":                  (*Server).getQueueURL,
	"ListQueues":                   (*Server).listQueues,
	"DeleteQueue":                  (*Server).deleteQueue,
	"GetQueueAttributes":           (*Server).getQueueAttributes,
	"SetQueueAttributes":           (*Server).setQueueAttributes,
	"PurgeQueue":                   (*Server).purgeQueue,
	"ListDeadLetterSourceQueues":   (*Server).listDeadLetterSourceQueues,
	"TagQueue":                     (*Server).tagQueue,
	"UntagQueue":                   (*Server).untagQueue,
	"ListQueueTags":                (*Server).listQueueTags,
	"SendMessage":                  (*Server).sendMessage,
	"SendMessageBatch":             (*Server).sendMessageBatch,
	"ReceiveMessage":               (*Server).receiveMessage,
	"DeleteMessage":                (*Server).deleteMessage,
	"DeleteMessageBatch":           (*Server).deleteMessageBatch,
	"ChangeMessageVisibility":      (*Server).changeMessageVisibility,
	"ChangeMessageVisibilityBatch": (*Server).changeMessageVisibilityBatch,
	"AddPermission":                unsupported,
	"RemovePermission":             unsupported,
	"StartMessageMoveTask":         unsupported,
	"CancelMessageMoveTask":        unsupported,
	"ListMessageMoveTasks":         unsupported,
}

func unsupported(*Server, *call, []byte) (any, *apiError) {
	return nil, errUnsupportedOperation("This action is not supported by chatbench's embedded SQS server (sqsd); use LocalStack or AWS for it.")
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newMessageID()
	w.Header().Set("x-amzn-RequestId", reqID)
	if !s.enter() {
		writeError(w, errServiceUnavailable())
		return
	}
	defer s.active.Done()

	target := r.Header.Get("X-Amz-Target")
	action, ok := strings.CutPrefix(target, "AmazonSQS.")
	if s.callHook != nil {
		s.callHook(action)
	}
	fn := actions[action]
	label := action
	if !ok || fn == nil {
		label = "unknown"
	}

	// The request's context ends when the client goes away; Close ends s.ctx.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	c := &call{ctx: ctx, base: requestBase(r), senderID: senderID(r, s.account)}
	var (
		out    any
		apiErr *apiError
		reqLen int
	)
	switch {
	case r.Method != http.MethodPost:
		apiErr = errUnknownOperation(r.Method + " " + r.URL.Path + " (only POST is served)")
	case !ok || fn == nil:
		apiErr = errUnknownOperation(target)
		if target == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			apiErr = errUnsupportedOperation("The AWS Query protocol (form-encoded Action=...) is not supported by sqsd; use an SDK that speaks the SQS JSON protocol (aws-sdk-go-v2 sqs >= v1.24).")
		}
	default:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
		reqLen = len(body)
		if err != nil {
			apiErr = errInvalidParameterValue("Could not read the request body: %v", err)
			break
		}
		delay := s.latency.draw()
		sleepCtx(ctx, delay/2)
		if ctx.Err() != nil {
			// Closing, or the client gave up: the call never "arrived".
			apiErr = errServiceUnavailable()
			break
		}
		out, apiErr = fn(s, c, body)
		sleepCtx(ctx, delay-delay/2)
	}

	var respLen int
	if apiErr != nil {
		respLen = writeError(w, apiErr)
	} else {
		respLen = writeJSON(w, out)
	}
	d := time.Since(start)
	s.met.observe(label, apiErr.outcome(), d)
	if s.log.Enabled(ctx, slog.LevelDebug) || apiErr != nil && apiErr.status >= 500 {
		level := slog.LevelDebug
		if apiErr != nil && apiErr.status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(context.Background(), level, "sqsd call",
			slog.String("action", label),
			slog.String("queue", c.queue),
			slog.String("outcome", apiErr.outcome()),
			slog.Int("messages", c.messages),
			slog.Int("request_bytes", reqLen),
			slog.Int("response_bytes", respLen),
			slog.Duration("duration", d),
			slog.String("request_id", reqID),
		)
	}
}

// requestBase is the scheme and host the client used.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	return scheme + "://" + host
}

// senderID reports the caller as SQS's SenderId attribute would: the access
// key id of the (unverified) SigV4 credential, else the account id.
func senderID(r *http.Request, account string) string {
	auth := r.Header.Get("Authorization")
	if _, cred, ok := strings.Cut(auth, "Credential="); ok {
		if key, _, ok := strings.Cut(cred, "/"); ok && key != "" {
			return key
		}
	}
	return account
}

const contentType = "application/x-amz-json-1.0"

func writeJSON(w http.ResponseWriter, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return writeError(w, newErr(http.StatusInternalServerError, coralNS+"InternalFailure", "InternalError", "encode response: %v", err))
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	return len(b)
}

func writeError(w http.ResponseWriter, e *apiError) int {
	b, _ := json.Marshal(errorBody{Type: e.typ, Message: e.msg})
	fault := "Sender"
	if !e.sender {
		fault = "Receiver"
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("x-amzn-query-error", e.code+";"+fault)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	w.Write(b)
	return len(b)
}

// decode parses a request body into v.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errSerialization(err)
	}
	return nil
}
