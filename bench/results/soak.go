package results

// Soak is what `chatbench soak` measured of one server: connections held
// for a while, and whether the server's goroutines and the memory it still
// holds (heap in use plus stacks, SoakSample.Held) came back near their
// baseline once they closed (docs/reliability.md, "Soak"). RSS is
// recorded beside it but not judged: it is what the Go runtime has not yet
// returned to the OS, not what the server still holds.
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
	// GoroutineLimit is baseline + margin.
	GoroutineLimit int `json:"goroutine_limit"`
	// RSSLimit is -1: RSS is recorded, not judged. Documents written
	// before held memory was judged carry the RSS limit (baseline +
	// max(margin, fraction × growth)) their MemoryOK was judged on, and
	// no HeldLimit.
	RSSLimit int64 `json:"rss_limit_bytes"`
	// HeldLimit is the limit on After.Held(): Baseline.Held() +
	// max(margin, fraction × (Peak.Held() − Baseline.Held())); -1 when
	// memory was not checked, 0 in documents that judged RSS instead.
	HeldLimit int64 `json:"held_limit_bytes"`
	// GCsAfterClose is how many collections the server completed between
	// the close of the connections and After. Held memory is an upper
	// bound of what the server still references, exact only after a
	// collection: a MemoryOK of false with no collection after the close
	// is no evidence of a leak (garbage not yet collected still counted).
	GCsAfterClose int64 `json:"gcs_after_close"`
	// GoroutinesOK and MemoryOK say whether the server came back within
	// the limits (MemoryOK: After.Held() ≤ HeldLimit, or RSS within
	// RSSLimit in older documents).
	GoroutinesOK bool `json:"goroutines_ok"`
	MemoryOK     bool `json:"memory_ok"`
}

// SoakSample is one observation of a soaked server.
type SoakSample struct {
	Goroutines int     `json:"goroutines"`
	RSS        int64   `json:"rss_bytes"`   // resident memory (0 = unknown)
	CPUSeconds float64 `json:"cpu_seconds"` // total CPU time so far (0 = unknown)
	// HeapInuse and StackInuse are the Go runtime's heap spans and
	// goroutine stacks in use (go_memstats_heap_inuse_bytes,
	// go_memstats_stack_inuse_bytes; 0 = unknown).
	HeapInuse  int64 `json:"heap_inuse_bytes"`
	StackInuse int64 `json:"stack_inuse_bytes"`
	// GCCycles is how many collections the server has completed so far
	// (go_gc_duration_seconds_count).
	GCCycles int64 `json:"gc_cycles"`
}

// Held is the memory the server holds: heap in use plus stacks. It is
// never less than what the server still references, and equals it, up to
// fragmentation, just after a collection.
func (s SoakSample) Held() int64 { return s.HeapInuse + s.StackInuse }

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

// ServerHeldPerConn is the server's growth of held memory (heap in use
// plus stacks) per connection at the peak.
func (s *Soak) ServerHeldPerConn() float64 {
	if s.Opened == 0 {
		return 0
	}
	return float64(s.Peak.Held()-s.Baseline.Held()) / float64(s.Opened)
}

// ServerGoroutinesPerConn is the server's goroutine growth per connection
// at the peak.
func (s *Soak) ServerGoroutinesPerConn() float64 {
	if s.Opened == 0 {
		return 0
	}
	return float64(s.Peak.Goroutines-s.Baseline.Goroutines) / float64(s.Opened)
}
