package driver_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/chat/jobs"
)

// TestConfigValidate checks that every value Run cannot use is refused
// with a *ConfigError naming its field, by Validate and by Run (which must
// not panic on it), and that zero values, which mean defaults, and the
// documented negative values (Warmup, Quantum) pass.
func TestConfigValidate(t *testing.T) {
	valid := func() driver.Config {
		return driver.Config{Target: "ws://127.0.0.1:1/ws", Secret: secret, Catalog: jobs.Catalog()}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*driver.Config)
		field string // "" = valid
	}{
		{"zero values", func(*driver.Config) {}, ""},
		{"negative warmup means none", func(c *driver.Config) { c.Warmup = -time.Second }, ""},
		{"negative quantum means exact sleeps", func(c *driver.Config) { c.Quantum = -1 }, ""},
		{"echo needs no catalog", func(c *driver.Config) { c.Path, c.Catalog = driver.PathEcho, nil }, ""},
		{"no target", func(c *driver.Config) { c.Target = "" }, "Target"},
		{"http target", func(c *driver.Config) { c.Target = "http://127.0.0.1:1/ws" }, "Target"},
		{"short secret", func(c *driver.Config) { c.Secret = []byte("short") }, "Secret"},
		{"no catalog", func(c *driver.Config) { c.Catalog = nil }, "Catalog"},
		{"negative speed", func(c *driver.Config) { c.Speed = -1 }, "Speed"},
		{"NaN speed", func(c *driver.Config) { c.Speed = math.NaN() }, "Speed"},
		{"infinite speed", func(c *driver.Config) { c.Speed = math.Inf(1) }, "Speed"},
		{"negative pace", func(c *driver.Config) { c.Pace = -20 }, "Pace"},
		{"NaN pace", func(c *driver.Config) { c.Pace = math.NaN() }, "Pace"},
		{"negative drain", func(c *driver.Config) { c.Drain = -time.Second }, "Drain"},
		{"negative duration", func(c *driver.Config) { c.Duration = -time.Second }, "Duration"},
		{"negative limit", func(c *driver.Config) { c.Limit = -1 }, "Limit"},
		{"negative senders", func(c *driver.Config) { c.Senders = -1 }, "Senders"},
		// Each sender holds an OS thread; a billion would exhaust memory.
		{"too many senders", func(c *driver.Config) { c.Senders = 1 << 30 }, "Senders"},
		{"negative connect parallelism", func(c *driver.Config) { c.ConnectParallel = -1 }, "ConnectParallel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ce *driver.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field || ce.Want == "" {
				t.Fatalf("Validate: %v, want a ConfigError for %s", err, tc.field)
			}
			if _, err := driver.Run(context.Background(), cfg); !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("Run: %v, want a ConfigError for %s", err, tc.field)
			}
		})
	}
}

// TestSecretNotInConfigError checks that a refused secret is described by
// its length only.
func TestSecretNotInConfigError(t *testing.T) {
	cfg := driver.Config{Target: "ws://127.0.0.1:1/ws", Secret: []byte("hunter2"), Catalog: jobs.Catalog()}
	if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Validate: %v", err)
	}
}
