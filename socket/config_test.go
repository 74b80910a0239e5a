package socket_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/socket"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*socket.Config)
		want  string // "" = valid; else a part of the error
	}{
		{"zero values are the defaults", func(*socket.Config) {}, ""},
		{"documented negatives turn things off", func(c *socket.Config) {
			c.RateLimit, c.MaxConnsPerUser, c.Resume.Events = -1, -1, -1
		}, ""},
		{"short secret", func(c *socket.Config) { c.Secret = []byte("short") }, "at least 16"},
		{"negative send queue", func(c *socket.Config) { c.SendQueue = -1 }, "Config.SendQueue is -1: must be ≥ 0 (0 means 256)"},
		// make(chan, n) would panic on every connection.
		{"huge send queue", func(c *socket.Config) { c.SendQueue = math.MaxInt }, "Config.SendQueue is"},
		{"negative max frame", func(c *socket.Config) { c.MaxFrameBytes = -1 }, "Config.MaxFrameBytes is -1"},
		{"negative write timeout", func(c *socket.Config) { c.WriteTimeout = -time.Second }, "Config.WriteTimeout is -1s"},
		{"negative pong timeout", func(c *socket.Config) { c.PongTimeout = -time.Second }, "Config.PongTimeout is -1s"},
		// The ping period, 9/10 of it, would round to zero: a ticker panics.
		{"pong timeout too short to ping", func(c *socket.Config) { c.PongTimeout = time.Nanosecond }, "at least 1ms"},
		{"negative auth timeout", func(c *socket.Config) { c.AuthTimeout = -1 }, "Config.AuthTimeout is -1ns"},
		{"negative burst", func(c *socket.Config) { c.RateBurst = -1 }, "Config.RateBurst is -1"},
		{"rate is not a number", func(c *socket.Config) { c.RateLimit = math.NaN() }, "Config.RateLimit is NaN"},
		{"negative resume window", func(c *socket.Config) { c.Resume.Window = -time.Minute }, "Config.Resume.Window is -1m0s"},
		{"every problem at once", func(c *socket.Config) { c.SendQueue, c.RateBurst = -1, -1 }, "SendQueue is -1: must be ≥ 0 (0 means 256)\nsocket: Config.RateBurst"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := socket.Config{Secret: secret}
			tc.tweak(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestBadConfigRefused checks NewServer refuses what Validate refuses, so a
// bad value never reaches a connection.
func TestBadConfigRefused(t *testing.T) {
	hub := socket.NewHub(jobs.Catalog(), nil, nil)
	d, err := directmode.New(directmode.Config{Catalog: jobs.Catalog(), Emitter: hub})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Shutdown(context.Background()) }()
	_, err = socket.NewServer(socket.Config{Hub: hub, Dispatcher: d, Secret: secret, SendQueue: -1})
	if err == nil || !strings.Contains(err.Error(), "SendQueue") {
		t.Fatalf("NewServer with SendQueue -1: %v", err)
	}
}
