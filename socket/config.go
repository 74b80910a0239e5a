package socket

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config (and of the serve commands' flags).
const (
	DefaultSendQueue     = 256
	DefaultMaxFrameBytes = 64 << 10

	defaultWriteTimeout = 10 * time.Second
	defaultPongTimeout  = 60 * time.Second
	defaultAuthTimeout  = 10 * time.Second
	// minPongTimeout keeps the ping period (9/10 of the pong timeout)
	// meaningful and positive.
	minPongTimeout = time.Millisecond
	// maxSendQueue bounds the send queue each connection allocates.
	maxSendQueue = 1 << 20
)

// Config configures a Server. Zero values mean the documented defaults.
type Config struct {
	Hub        *Hub       // required: rooms and emit, on its broker
	Dispatcher Dispatcher // required
	// Secret verifies bearer tokens (HMAC-SHA256); at least MinSecretLen bytes.
	Secret []byte
	// AllowedOrigins lists Origin values browsers may connect from ("*" =
	// any). Empty means: requests without an Origin header (non-browser
	// clients) and same-host origins only.
	AllowedOrigins []string
	// SendQueue is each connection's send queue, in frames. Zero means
	// DefaultSendQueue; at most 1048576.
	SendQueue int
	// MaxFrameBytes is the largest client frame read. Zero means
	// DefaultMaxFrameBytes.
	MaxFrameBytes int64
	// WriteTimeout bounds each frame write. Zero means 10s.
	WriteTimeout time.Duration
	// PongTimeout is how long a silent peer is kept; pings go out every
	// 9/10 of it. Zero means 60s; otherwise at least a millisecond.
	PongTimeout time.Duration
	// AuthTimeout is how long a connection may stay unauthenticated. Zero
	// means 10s.
	AuthTimeout time.Duration
	Logger      *slog.Logger          // nil = discard
	Registerer  prometheus.Registerer // nil = metrics not registered
	// Recorder, when set, is told of every accepted message. nil = off. The
	// caller closes it, if it needs closing, after Shutdown.
	Recorder Recorder
	// RateLimit is each connection's sustained client-frame rate, frames/s
	// (token bucket); frames over it are refused with rate_limited. Zero
	// means DefaultRateLimit; negative turns the limit off.
	RateLimit float64
	// RateBurst is the token bucket's size. Zero means DefaultRateBurst.
	RateBurst int
	// MaxConnsPerUser caps each user's open connections (too_many_connections).
	// Zero means DefaultMaxConnsPerUser; negative means no cap.
	MaxConnsPerUser int
	// Resume sizes the event buffer of each conversation from which clients
	// resume after a reconnect. The Hub's broker is built with it
	// (OpenBroker); the Server does not read it.
	Resume ResumeConfig
	// Broker names the broker the Hub is built on (OpenBroker): "" or
	// "memory" for this process alone, redis://host:port/db for instances
	// sharing a Redis. The Server does not read it.
	Broker string
}

func (c *Config) setDefaults() {
	if c.SendQueue == 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = defaultWriteTimeout
	}
	if c.PongTimeout == 0 {
		c.PongTimeout = defaultPongTimeout
	}
	if c.AuthTimeout == 0 {
		c.AuthTimeout = defaultAuthTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Validate reports every value of c that is out of range, naming the field
// and the fix; nil means NewServer will accept c once its Hub and
// Dispatcher are set. Zero values are valid (they mean the defaults); so
// are the negative values documented as "off".
func (c *Config) Validate() error {
	var errs []error
	if len(c.Secret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("socket: token secret is %d bytes; set at least %d (flag --secret or CHATBENCH_SECRET)", len(c.Secret), MinSecretLen))
	}
	errs = append(errs,
		notNegative("SendQueue", c.SendQueue, fmt.Sprint(DefaultSendQueue)),
		notNegative("MaxFrameBytes", c.MaxFrameBytes, fmt.Sprint(DefaultMaxFrameBytes)),
		notNegative("WriteTimeout", c.WriteTimeout, defaultWriteTimeout.String()),
		notNegative("PongTimeout", c.PongTimeout, defaultPongTimeout.String()),
		notNegative("AuthTimeout", c.AuthTimeout, defaultAuthTimeout.String()),
		notNegative("RateBurst", c.RateBurst, fmt.Sprint(DefaultRateBurst)),
		notNegative("Resume.Window", c.Resume.Window, DefaultResumeWindow.String()),
	)
	if c.SendQueue > maxSendQueue {
		errs = append(errs, fmt.Errorf("socket: Config.SendQueue is %d: must be at most %d (0 means %d)", c.SendQueue, maxSendQueue, DefaultSendQueue))
	}
	if c.PongTimeout > 0 && c.PongTimeout < minPongTimeout {
		errs = append(errs, fmt.Errorf("socket: Config.PongTimeout is %v: must be 0 (%v) or at least %v", c.PongTimeout, defaultPongTimeout, minPongTimeout))
	}
	if math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("socket: Config.RateLimit is %v: must be a number of frames per second (0 means %d, negative turns the limit off)", c.RateLimit, DefaultRateLimit))
	}
	return errors.Join(errs...)
}

// notNegative refuses a negative size, count or duration of Config; zero
// means its default, def.
func notNegative[T ~int | ~int64](field string, v T, def string) error {
	if v < 0 {
		return fmt.Errorf("socket: Config.%s is %v: must be ≥ 0 (0 means %s)", field, v, def)
	}
	return nil
}
