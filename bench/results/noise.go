package results

// Noise is what the machine did besides the run while a path ran: the CPU
// time other processes took and steal time (CPU), and, for a run with
// repeats that includes the echo floor, how far the floor moved between
// repeats (FloorDrift); whether that makes the path's figures suspect
// (Noisy, with the Reason). docs/results.md, "Noise". What cannot be known
// is absent, never 0: CPU is nil off Linux.
type Noise struct {
	// CPU is the machine's CPU accounting over the path's span (summed
	// over the repeats of a pooled path); nil where /proc/stat does not
	// exist (not Linux).
	CPU *CPUNoise `json:"cpu,omitempty"`
	// FloorDrift is how far the echo floor moved across the run's
	// repeats: (largest − smallest) ÷ median of the echo path's repeats'
	// p50 (group all). Only on the pooled paths of a run with at least two
	// repeats of the echo path; the same figure on each of its paths.
	FloorDrift *float64 `json:"floor_drift,omitempty"`
	// DriftThreshold is the FloorDrift above which the paths are noisy
	// (present with FloorDrift).
	DriftThreshold float64 `json:"drift_threshold,omitempty"`
	// Repeats and NoisyRepeats count a pooled path's repeats and those
	// among them whose CPU noise flagged them (absent for a single run).
	Repeats      int `json:"repeats,omitempty"`
	NoisyRepeats int `json:"noisy_repeats,omitempty"`
	// Noisy flags the path: its CPU Share above its Threshold (for a
	// pooled path: at least half of its repeats noisy, so that the median
	// may be a noisy repeat's figure), or FloorDrift above DriftThreshold.
	// Reason says which, with the figure.
	Noisy  bool   `json:"noisy"`
	Reason string `json:"reason,omitempty"`
}

// CPUNoise is the machine's CPU time over a path's span, from /proc/stat,
// set against the CPU time of the run's own processes.
type CPUNoise struct {
	// SpanSeconds is the wall time measured over: from just before the
	// path's first process started until its last one was reaped.
	SpanSeconds float64 `json:"span_seconds"`
	// Cores is the CPUs /proc/stat counts; the machine's capacity over the
	// span is SpanSeconds × Cores.
	Cores int `json:"cores"`
	// BusySeconds is the CPU time of every CPU outside idle, iowait and
	// steal: user, nice, system, irq and softirq.
	BusySeconds float64 `json:"busy_cpu_seconds"`
	// OwnSeconds is the CPU time of the run's own processes over the span:
	// the path's components (their rusage) and the driver process.
	OwnSeconds float64 `json:"own_cpu_seconds"`
	// OtherSeconds is BusySeconds − OwnSeconds, not below 0: what other
	// processes and the kernel's own threads took.
	OtherSeconds float64 `json:"other_cpu_seconds"`
	// IRQSeconds is the irq and softirq part of BusySeconds. A kernel
	// that accounts interrupt time apart (CONFIG_IRQ_TIME_ACCOUNTING)
	// charges the run's own loopback traffic there rather than to its
	// processes, so some of OtherSeconds may be the run's own.
	IRQSeconds float64 `json:"irq_cpu_seconds"`
	// StealSeconds is the time a hypervisor gave this machine's CPUs to
	// something else while they had work; nil when the kernel does not
	// report it.
	StealSeconds *float64 `json:"steal_cpu_seconds,omitempty"`
	// Share is the noise figure: (OtherSeconds + StealSeconds) ÷
	// (SpanSeconds × Cores), the share of the machine's CPU the run did
	// not have.
	Share float64 `json:"share"`
	// Threshold is the Share above which the path (or repeat) is noisy.
	Threshold float64 `json:"threshold"`
}
