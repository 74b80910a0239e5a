package socket

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/chat"
)

// Default limits (Config.RateLimit, RateBurst, MaxConnsPerUser). A human
// sends well under one frame a second; the benchmark's driver opens one
// connection per participant and, at its heaviest (BenchmarkReplayDirect:
// 20,000 msgs/s over 1,000 connections), sends about 20 frames a second on
// each. 200/s with a burst of 400 leaves ten times that headroom.
const (
	DefaultRateLimit       = 200
	DefaultRateBurst       = 400
	DefaultMaxConnsPerUser = 16
	// abuseFactor × the burst of refusals, net of what the rate pays back,
	// closes the connection with 1008.
	abuseFactor = 10
)

// limits returns the effective rate (frames/s, 0 = off), burst and per-user
// connection cap (0 = off) of cfg: zero means the default, negative off
// (Validate refuses a negative burst).
func (c *Config) limits() (rate float64, burst float64, perUser int) {
	rate, burst, perUser = c.RateLimit, float64(c.RateBurst), c.MaxConnsPerUser
	if rate == 0 {
		rate = DefaultRateLimit
	}
	if burst == 0 {
		burst = DefaultRateBurst
	}
	if perUser == 0 {
		perUser = DefaultMaxConnsPerUser
	}
	if rate < 0 {
		rate = 0
	}
	return rate, burst, max(perUser, 0)
}

// rateLimiter is a connection's token bucket, used by its reader goroutine
// only. abuse counts refusals and drains at the refill rate.
type rateLimiter struct {
	tokens, abuse float64
	last          time.Time
	started       bool
}

// allowFrame takes a token for one client data frame. When none is left the
// frame is refused with rate_limited (data is decoded only to name its id);
// it reports end when the refusals add up to sustained abuse and the
// connection has been closed with 1008.
func (c *Conn) allowFrame(data []byte) (ok, end bool) {
	rate, burst, _ := c.srv.cfg.limits()
	if rate == 0 {
		return true, false
	}
	l, now := &c.limit, time.Now()
	if !l.started {
		l.tokens, l.last, l.started = burst, now, true
	}
	refill := now.Sub(l.last).Seconds() * rate
	l.last = now
	l.tokens = min(burst, l.tokens+refill)
	l.abuse = max(0, l.abuse-refill)
	if l.tokens >= 1 {
		l.tokens--
		return true, false
	}
	l.abuse++
	ref := ""
	if f, err := chat.DecodeClientFrame(data); err == nil {
		ref = f.ID
	}
	c.sendError(chat.Errorf(chat.CodeRateLimited, ref, "more than %g frames/s (burst %g) on this connection; this frame was dropped, resend it later with the same id", rate, burst))
	if l.abuse >= abuseFactor*burst {
		c.close(websocket.ClosePolicyViolation, "rate limit exceeded persistently", true, reasonRateLimited)
		return false, true
	}
	return false, false
}

// userConns counts each user's open, authenticated connections in this
// process (the in-memory broker's ConnLimiter). Its zero value is ready to
// use.
type userConns struct {
	mu sync.Mutex
	n  map[string]int
}

// acquire takes one of user's limit slots (limit 0 = unlimited).
func (u *userConns) acquire(user string, limit int) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n == nil {
		u.n = make(map[string]int)
	}
	if limit > 0 && u.n[user] >= limit {
		return false
	}
	u.n[user]++
	return true
}

// release gives back a slot taken by acquire.
func (u *userConns) release(user string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n[user]--; u.n[user] <= 0 {
		delete(u.n, user)
	}
}

func tooManyConnsMsg(limit int) string {
	return fmt.Sprintf("this user already has %d open connections, the server's limit (--max-conns-per-user); close one and retry", limit)
}

// unavailableConnsMsg is what a client is told when the shared connection
// count (the broker) cannot be reached.
const unavailableConnsMsg = "the server cannot count this user's connections right now (its broker is unreachable); reconnect later"

// admitTimeout bounds the broker's answer to a connection's admission.
const admitTimeout = 2 * time.Second

// admit takes a connection slot for user from the server's limiter.
func (s *Server) admit(user string) (release func(), limit int, err error) {
	_, _, limit = s.cfg.limits()
	ctx, cancel := context.WithTimeout(context.Background(), admitTimeout)
	defer cancel()
	release, err = s.limiter.AdmitConn(ctx, user, limit)
	return release, limit, err
}

// admitUserHTTP takes a connection slot for a user authenticated in the
// handshake, or answers HTTP 429 too_many_connections (503 unavailable when
// the broker cannot count). The caller calls the returned release when the
// connection ends.
func (s *Server) admitUserHTTP(w http.ResponseWriter, user string) (release func(), ok bool) {
	release, limit, err := s.admit(user)
	switch {
	case err == nil:
		return release, true
	case errors.Is(err, ErrTooManyConns):
		s.m.errors.WithLabelValues(chat.CodeTooManyConns).Inc()
		s.log.Debug("connection refused: too many connections", "limit", limit)
		writeHTTPError(w, http.StatusTooManyRequests, chat.CodeTooManyConns, tooManyConnsMsg(limit))
	default:
		s.m.errors.WithLabelValues(chat.CodeUnavailable).Inc()
		s.log.Warn("connection refused: broker unavailable", "err", err)
		writeHTTPError(w, http.StatusServiceUnavailable, chat.CodeUnavailable, unavailableConnsMsg)
	}
	return nil, false
}

// admitUserFrame takes a connection slot for a user authenticated by an
// auth frame (ref is its id). Otherwise the client gets
// too_many_connections (or unavailable) and the connection is closed with
// 1008 (1013); it returns false then. The slot is released by releaseUser
// when the reader ends.
func (c *Conn) admitUserFrame(user, ref string) bool {
	release, limit, err := c.srv.admit(user)
	switch {
	case err == nil:
		c.releaseSlot = release
		return true
	case errors.Is(err, ErrTooManyConns):
		c.sendError(chat.Errorf(chat.CodeTooManyConns, ref, "%s", tooManyConnsMsg(limit)))
		c.close(websocket.ClosePolicyViolation, "too many connections for this user", true, reasonTooManyConns)
	default:
		c.sendError(chat.Errorf(chat.CodeUnavailable, ref, "%s", unavailableConnsMsg))
		c.close(websocket.CloseTryAgainLater, "broker unavailable", true, reasonUnavailable)
	}
	return false
}

// releaseUser gives back the slot admitUserFrame took, if any.
func (c *Conn) releaseUser() {
	if c.releaseSlot != nil {
		c.releaseSlot()
		c.releaseSlot = nil
	}
}
