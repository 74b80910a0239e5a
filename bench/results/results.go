// Package results is the schema of one benchmark run: the JSON document
// `chatbench bench`, `compare`, `chaos` and `soak` write and `chatbench
// report` and `chatbench gate` read (docs/results.md). Raw HdrHistograms
// travel in it so runs and shards merge exactly.
package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// SchemaVersion is the version of the results document. Readers refuse
// other versions.
const SchemaVersion = 1

// Run is one results document: one or more paths measured on one trace.
type Run struct {
	Schema int     `json:"schema"`
	Meta   Meta    `json:"meta"`
	Paths  []*Path `json:"paths"`
	// Sweep is what `chatbench sweep` measured; nil for other runs.
	Sweep *Sweep `json:"sweep,omitempty"`
}

// Meta describes how and where a run was made.
type Meta struct {
	Version   string    `json:"chatbench_version"`
	Revision  string    `json:"git_revision"`
	GoVersion string    `json:"go_version"`
	OS        string    `json:"os"`
	Arch      string    `json:"arch"`
	CPUModel  string    `json:"cpu_model"`
	Cores     int       `json:"cores"`
	Hostname  string    `json:"hostname"`
	Started   time.Time `json:"started"`
	// Modified says whether the source tree had changes not committed at
	// Revision; RevisionSource where both came from: "build" (stamped by
	// the Go toolchain), "git" (asked of git in the working directory, as
	// for go run), or "" when the revision is unknown (docs/results.md).
	Modified       bool   `json:"git_modified"`
	RevisionSource string `json:"git_revision_source,omitempty"`
	// Trace names the replayed trace: its name, the SHA-256 of its bytes,
	// and how many messages it holds.
	TraceName   string `json:"trace_name"`
	TraceDigest string `json:"trace_sha256"`
	TraceMsgs   int    `json:"trace_messages"`
	// Speed is the time compression: 1440 replays a day in a minute.
	Speed float64 `json:"speed"`
	// Clock says whether the driver and the servers shared a clock (one
	// machine), which hop durations between them depend on.
	Clock string `json:"clock"`
	// ClockID identifies the clock the run's driver read (meta.go,
	// ClockID): runs with the same one ran on one machine.
	ClockID string `json:"clock_id,omitempty"`
	// Shard is the slice of the trace the run replayed (bench --shard
	// i/n); nil for the whole trace, and for a merge.
	Shard *Shard `json:"shard,omitempty"`
	// Sources lists, in a merge, where each merged run ran (MergeRuns);
	// empty for a single run.
	Sources []Source `json:"sources,omitempty"`
	// Warnings are what a merge found that makes its figures suspect
	// (shards on different machines, shards missing, shards started
	// apart); empty when there is nothing to say.
	Warnings []string `json:"warnings,omitempty"`
	// Config holds the settings that shaped the run (ML profile, SQS
	// latency profile, workers, warm-up, drain…), as flag=value.
	Config map[string]string `json:"config,omitempty"`
	// Shards counts the runs merged into this one (1 for a single run).
	Shards int `json:"shards"`
}

// Path is what one path (direct, queue, or the echo floor) did with the
// trace.
type Path struct {
	Name   string `json:"name"`   // the variant: "direct", "queue", "hybrid", "echo"…
	Target string `json:"target"` // WebSocket URL driven (the first, with several instances)
	// Instances is how many client-facing instances the driver spread its
	// connections over (0 in documents from before it was recorded: 1),
	// and Broker what they shared ("memory", "redis"; empty: memory).
	Instances int    `json:"instances,omitempty"`
	Broker    string `json:"broker,omitempty"`
	// Desc says what the path's variant stands for, and Claim which claim
	// of the story it tests (bench/stack's table; docs/methodology.md).
	Desc  string `json:"desc,omitempty"`
	Claim string `json:"claim,omitempty"`
	// Start and End bound the measured part of the replay (after warm-up).
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Messages Messages  `json:"messages"`
	// Latency of deliveries, µs, by group: "all", "class:<class>" and
	// "job:<job>". From the scheduled send instant (coordinated-omission
	// corrected) and from the actual send.
	FromScheduled map[string]*Histogram `json:"latency_from_scheduled"`
	FromSent      map[string]*Histogram `json:"latency_from_sent"`
	// ScheduleLag is actual send − scheduled send, µs, per message.
	ScheduleLag *Histogram `json:"schedule_lag"`
	// SenderNice is the nice value the driver's sender threads ran at:
	// -10 when the driver could raise their priority (root or
	// CAP_SYS_NICE), else 0 (docs/performance.md).
	SenderNice int `json:"sender_nice"`
	// Driver is what the driver measured of itself (DriverSelf): its
	// senders' time, and the groups whose latency its schedule lag could
	// account for. nil in documents from before it was recorded.
	Driver *DriverSelf `json:"driver,omitempty"`
	// Connect is the time to open and authenticate each connection, µs.
	Connect *Histogram `json:"connect"`
	// Ledger counts every expected delivery by outcome, by group (as the
	// latency maps).
	Ledger map[string]*Counts `json:"ledger"`
	// Hops holds, per class, each hop's duration, µs (see HopNames).
	Hops map[string]map[string]*Histogram `json:"hops"`
	// Series is one entry per second of the measured replay.
	Series []Second `json:"series"`
	// Components lists each process's CPU time and peak memory.
	Components []Component `json:"components"`
	// Fault names the fault scenario injected during this replay
	// (`chatbench chaos`, docs/reliability.md); empty for a clean run.
	Fault string `json:"fault,omitempty"`
	// FaultWindow is when the fault was in effect (nil without a fault, or
	// for a fault lasting the whole run).
	FaultWindow *FaultWindow `json:"fault_window,omitempty"`
	// RecoverySeconds is the time from the fault's end until the path was
	// back to its pre-fault behaviour (docs/reliability.md); -1 if it never
	// was before the replay ended.
	RecoverySeconds float64 `json:"recovery_seconds,omitempty"`
	// FaultLatency is the latency from scheduled send during and after the
	// fault window, from the per-second series.
	FaultLatency *FaultLatency `json:"fault_latency,omitempty"`
	// Soak is what a soak of this path's server measured (`chatbench
	// soak`); nil for a replay.
	Soak *Soak `json:"soak,omitempty"`
	// Noise is what the machine did besides the run while the path ran
	// (docs/results.md, "Noise"); nil where it cannot be known (not
	// Linux, or a file written before the field existed): unknown, not
	// quiet.
	Noise *Noise `json:"noise,omitempty"`
	// Repeat numbers this path among its siblings in Repeats (1..N); 0
	// for a single run or for the pooled path that holds the repeats.
	Repeat int `json:"repeat,omitempty"`
	// Repeats holds every repeat of the path in full (`compare --repeat
	// N`, docs/results.md "Repeats"); the path's own fields are then all
	// repeats pooled (PoolRepeats), which is what readers that do not know
	// repeats see. Empty for a single run.
	Repeats []*Path `json:"repeats,omitempty"`
	// Steady says whether the path reached a steady state or was still
	// backing up (compare; each step of a sweep); nil when not judged.
	Steady *Steady `json:"steady,omitempty"`
}

// FaultWindow bounds the time a fault was in effect.
type FaultWindow struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// FaultLatency summarises latency from scheduled send, µs, of deliveries
// arriving during the fault window and after it. P50s are the delivery-
// weighted median of the per-second medians; P99s the highest per-second
// p99 (an upper bound of the window's p99).
type FaultLatency struct {
	DuringP50 int64 `json:"during_p50_us"`
	DuringP99 int64 `json:"during_p99_us"`
	AfterP50  int64 `json:"after_p50_us"`
	AfterP99  int64 `json:"after_p99_us"`
}

// Messages counts the inbound messages of a path's replay.
type Messages struct {
	Scheduled int            `json:"scheduled"`
	Sent      int            `json:"sent"`
	Acked     int            `json:"acked"`
	Rejected  map[string]int `json:"rejected,omitempty"` // by error code
	Unacked   int            `json:"unacked"`            // neither ack nor error by the drain deadline
	Warmup    int            `json:"warmup"`             // sent during warm-up, excluded from latency
	// HeldLeaves counts leaves the driver held back until their users had
	// received what they were owed (a leave's events are otherwise lost
	// to the user by the protocol); held leaves are left out of the
	// schedule lag, and those still held at the end are not sent.
	// Retried counts retryable refusals (overloaded, unavailable,
	// shutting_down, rate_limited) answered by sending the frame again
	// with the same id after a backoff.
	Retried    int `json:"retried"`
	HeldLeaves int `json:"held_leaves"`
	// Resent counts frames the driver resent with their original ids after
	// reconnecting a dropped connection (the resend protocol; 0 with
	// --no-resend).
	Resent int `json:"resent"`
	// Reconnects counts connections the driver re-established after a drop.
	Reconnects int `json:"reconnects"`
	// Replayed counts events the server sent again to re-established
	// connections that joined with since (docs/protocol.md, "Resuming"),
	// as its join acks reported; ResumeGaps counts such joins whose ack
	// said some missed events were no longer buffered.
	Replayed   int `json:"replayed"`
	ResumeGaps int `json:"resume_gaps"`
	// PerSecond is Sent divided by the measured duration.
	PerSecond float64 `json:"per_second"`
}

// Counts are the ledger's outcomes for a group of expected deliveries. Every
// expected delivery ends in exactly one of Delivered, Errored, Lost or
// Excused; Duplicates, Reordered and Unexpected count extra observations.
type Counts struct {
	Expected  int `json:"expected"`
	Delivered int `json:"delivered"` // arrived once with status ok
	Errored   int `json:"errored"`   // arrived with status error
	Lost      int `json:"lost"`      // not arrived by the drain deadline
	// Excused deliveries were due to a user who left the conversation
	// before the event was emitted (it may not come, by the protocol).
	Excused    int `json:"excused"`
	Duplicates int `json:"duplicates"` // further copies of a delivered event
	Reordered  int `json:"reordered"`  // arrived after a later message's event of the same job, same recipient and conversation
	Unexpected int `json:"unexpected"` // events the catalog did not call for
}

// Add adds o to c.
func (c *Counts) Add(o *Counts) {
	c.Expected += o.Expected
	c.Delivered += o.Delivered
	c.Errored += o.Errored
	c.Lost += o.Lost
	c.Excused += o.Excused
	c.Duplicates += o.Duplicates
	c.Reordered += o.Reordered
	c.Unexpected += o.Unexpected
}

// Second is one second of a replay's time series (T seconds after Start).
type Second struct {
	T         int   `json:"t"`
	Sent      int   `json:"sent"`
	Delivered int   `json:"delivered"`
	Lost      int   `json:"lost"`
	P50       int64 `json:"p50_us"` // latency from scheduled, of deliveries arriving in this second
	P99       int64 `json:"p99_us"`
	Max       int64 `json:"max_us"`
}

// Component is one process of a path (server, worker, ML service, SQS
// endpoint, driver).
type Component struct {
	Name       string  `json:"name"`
	CPUSeconds float64 `json:"cpu_seconds"` // user + system
	PeakRSS    int64   `json:"peak_rss_bytes"`
	// Killed says the process did not exit within its grace after being
	// asked to stop (SIGTERM) and was killed (SIGKILL): a finding about
	// its shutdown, not only an error of the run. A deliberate SIGKILL (a
	// chaos scenario's) does not set it.
	Killed bool `json:"killed,omitempty"`
	// Backlog is the work the process still held when it was asked to
	// stop, read from its /metrics just before SIGTERM: for a queue gateway
	// the job queue's messages (visible and in flight), for a direct server
	// its ML background tasks, for a queue worker the jobs in its hands.
	// Nil when not read (a component without such a gauge, or one that did
	// not answer). With Killed, it is the finding of an overloaded path:
	// which component had to be killed, and what it left undone.
	Backlog *int64 `json:"backlog,omitempty"`
}

// HopNames are the hop durations reported, in path order. Each is the
// time between two stamps of chat.Hops (or the driver's receive time):
// ingress = gateway_in − client_sent, queue_send = enqueued − gateway_in,
// queue_wait = dequeued − enqueued, dispatch = job_start − (dequeued, else
// gateway_in), ml = ml_end − ml_start, handler = job_end − job_start − ml,
// callback = callback_in − job_end, emit = emitted − (callback_in, else
// job_end, else gateway_in), egress = received − emitted.
var HopNames = []string{"ingress", "queue_send", "queue_wait", "dispatch", "ml", "handler", "callback", "emit", "egress"}

// Histogram is an HdrHistogram of µs values with its summary. Hist is the
// histogram in the HdrHistogram V2 compressed encoding, base64: the source
// of truth, which Merge adds exactly. The summary fields are derived from it.
type Histogram struct {
	Count int64  `json:"count"`
	Min   int64  `json:"min"`
	P50   int64  `json:"p50"`
	P90   int64  `json:"p90"`
	P99   int64  `json:"p99"`
	P999  int64  `json:"p999"`
	Max   int64  `json:"max"`
	Mean  int64  `json:"mean"`
	Hist  string `json:"hdr"`
}

// Histogram range: 1 µs to 1 hour, 3 significant digits.
const (
	histMin = 1
	histMax = int64(time.Hour / time.Microsecond)
	histSig = 3
)

// NewHDR returns an empty HdrHistogram with chatbench's range (1 µs to 1 h,
// 3 significant digits). It is not safe for concurrent use.
func NewHDR() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSig) }

// FromHDR summarises and encodes h.
func FromHDR(h *hdrhistogram.Histogram) (*Histogram, error) {
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encode histogram: %w", err)
	}
	return &Histogram{
		Count: h.TotalCount(), Min: h.Min(), Max: h.Max(), Mean: int64(h.Mean()),
		P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90), P99: h.ValueAtQuantile(99), P999: h.ValueAtQuantile(99.9),
		Hist: string(enc),
	}, nil
}

// HDR decodes the histogram.
func (x *Histogram) HDR() (*hdrhistogram.Histogram, error) {
	if x == nil || x.Hist == "" {
		return NewHDR(), nil
	}
	h, err := hdrhistogram.Decode([]byte(x.Hist))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return h, nil
}

// Merge returns the exact sum of a and b (either may be nil).
func Merge(a, b *Histogram) (*Histogram, error) {
	ha, err := a.HDR()
	if err != nil {
		return nil, err
	}
	hb, err := b.HDR()
	if err != nil {
		return nil, err
	}
	if dropped := ha.Merge(hb); dropped != 0 {
		return nil, fmt.Errorf("merge histograms: %d values out of range", dropped)
	}
	return FromHDR(ha)
}

// Write encodes r as indented JSON.
func Write(w io.Writer, r *Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Read decodes a results document and checks its schema version.
func Read(r io.Reader) (*Run, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var run Run
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&run); err != nil {
		return nil, fmt.Errorf("results: not a chatbench results document: %w", err)
	}
	if run.Schema != SchemaVersion {
		return nil, fmt.Errorf("results: schema version %d, this chatbench reads %d; re-run or use a matching chatbench", run.Schema, SchemaVersion)
	}
	return &run, nil
}

// Path returns the path named name, or nil.
func (r *Run) Path(name string) *Path {
	for _, p := range r.Paths {
		if p.Name == name {
			return p
		}
	}
	return nil
}
