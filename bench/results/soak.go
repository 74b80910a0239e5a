package results

// Soak is what `chatbench soak` measured of one server: connections held
// for a while, and whether the server's goroutines and memory came back
// near their baseline once they closed (docs/reliability.md, "Soak").
type Soak struct {
	// Conns is the connections asked for (even: pairs share a
	// conversation), Active how many of them sent, Opened how many were
	// established and joined.
	Conns  int `json:"conns"`
	Active int `json:"active"`
	Opened int `json:"opened"`
	// HeldUS is how long all connections were held, µs.
	HeldUS int64 `json:"held_us"`
	// Baseline is the server before connecting, Peak the largest values
	// while held (per field), After the last sample of the settle.
	Baseline SoakSample `json:"baseline"`
	Peak     SoakSample `json:"peak"`
	After    SoakSample `json:"after"`
	// SettleUS is how long after the close the server took to come back
	// (or the settle deadline, when it did not), µs.
	SettleUS int64 `json:"settle_us"`
	// Sent, Received and Errors count frames: sent by the active
	// connections, received by all, and error frames or failed writes.
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	Errors   int64 `json:"errors"`
	// Disconnects counts connections that ended before the driver closed
	// them.
	Disconnects int64 `json:"disconnects"`
	// SampleErrors counts failed samples while connections were held.
	SampleErrors int `json:"sample_errors"`
	// DriverBytesPerConn is the driver's heap in use plus stacks per
	// connection while held.
	DriverBytesPerConn float64 `json:"driver_bytes_per_conn"`
	// ServerCPUSeconds is the server's CPU time between Baseline and
	// After, from its own metrics (0 = unknown).
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	// GoroutineLimit is baseline + margin; RSSLimit is baseline +
	// max(margin, fraction × growth), -1 when memory was not checked.
	GoroutineLimit int   `json:"goroutine_limit"`
	RSSLimit       int64 `json:"rss_limit_bytes"`
	// GoroutinesOK and MemoryOK say whether the server came back within
	// the limits.
	GoroutinesOK bool `json:"goroutines_ok"`
	MemoryOK     bool `json:"memory_ok"`
}

// SoakSample is one observation of a soaked server.
type SoakSample struct {
	Goroutines int     `json:"goroutines"`
	RSS        int64   `json:"rss_bytes"`   // resident memory (0 = unknown)
	CPUSeconds float64 `json:"cpu_seconds"` // total CPU time so far (0 = unknown)
}

// OK reports whether goroutines and memory came back and no connection
// was lost.
func (s *Soak) OK() bool { return s.GoroutinesOK && s.MemoryOK && s.Disconnects == 0 }

// ServerBytesPerConn is the server's resident memory growth per
// connection at the peak.
func (s *Soak) ServerBytesPerConn() float64 {
	if s.Opened == 0 {
		return 0
	}
	return float64(s.Peak.RSS-s.Baseline.RSS) / float64(s.Opened)
}

// ServerGoroutinesPerConn is the server's goroutine growth per connection
// at the peak.
func (s *Soak) ServerGoroutinesPerConn() float64 {
	if s.Opened == 0 {
		return 0
	}
	return float64(s.Peak.Goroutines-s.Baseline.Goroutines) / float64(s.Opened)
}
