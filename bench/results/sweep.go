package results

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Sweep is what `chatbench sweep` measured (docs/results.md, "Sweep"): for
// each path variant (and pace), steps of rising offered load, each on
// fresh processes, up to the highest load at which the SLO still held —
// the knee — with the capacity per core and the cost at a volume derived
// from the steps. A sweep document's Run.Paths hold each variant's knee
// step (its lowest step when none held), so that readers that do not know
// sweeps read the paths at their knees.
type Sweep struct {
	// Reference is the workload the steps were built from.
	Reference Reference `json:"reference"`
	// SLO are the rules every step is checked against, in the gate's
	// syntax (docs/results.md, "Gate").
	SLO []string `json:"slo"`
	// LagFraction bounds the driver's schedule lag: a step whose lag p99
	// exceeds LagFraction × the tightest latency threshold of the SLO that
	// applies to its path is not trusted (Step.Trusted).
	LagFraction float64 `json:"lag_fraction"`
	// Factor is the ratio between successive steps before the SLO breaks;
	// Refine is how many geometric bisections follow between the last step
	// that held and the first that did not.
	Factor float64 `json:"factor"`
	Refine int     `json:"refine"`
	// Quick says the sweep ran with --quick (fewer, shorter steps).
	Quick bool `json:"quick,omitempty"`
	// WarmupUS and WindowUS are each step's warm-up and measured window.
	WarmupUS int64 `json:"warmup_us"`
	WindowUS int64 `json:"window_us"`
	// Volume is the volume the verdict and the cost are given for,
	// messages a day (the reference workload's by default).
	Volume float64 `json:"volume_per_day"`
	// Prices are the cost assumptions.
	Prices Prices `json:"prices"`
	// Series are the sweeps, one per path variant and pace, in the order
	// they were given.
	Series []*SweepSeries `json:"series"`
}

// Reference describes the workload a sweep built its steps from: the
// visits of a trace (the shipped day by default), resampled.
type Reference struct {
	TraceName   string `json:"trace_name"`
	TraceDigest string `json:"trace_sha256"`
	Messages    int    `json:"messages"`
	Visits      int    `json:"visits"`
	// DurationSeconds is the span the trace covers (its header's).
	DurationSeconds float64 `json:"duration_seconds"`
	// MeanRate is the trace's messages ÷ its duration, msgs/s; PeakRate
	// its busiest hour's, msgs/s (the rate a deployment must carry).
	MeanRate float64 `json:"mean_rate"`
	PeakRate float64 `json:"peak_rate"`
	// MsgsPerVisit, UsersPerVisit and VisitSeconds are the visits' means:
	// messages, participants and span (first to last message), real time.
	MsgsPerVisit  float64 `json:"msgs_per_visit"`
	UsersPerVisit float64 `json:"users_per_visit"`
	VisitSeconds  float64 `json:"visit_seconds"`
}

// PerDay is the reference workload's messages per day.
func (r Reference) PerDay() float64 { return r.MeanRate * 86400 }

// PeakFactor is the reference's peak-hour rate ÷ its mean rate (1 when
// unknown): how much busier than average its busiest hour is.
func (r Reference) PeakFactor() float64 {
	if r.MeanRate <= 0 || r.PeakRate <= 0 {
		return 1
	}
	return r.PeakRate / r.MeanRate
}

// PeakAt returns the peak-hour rate, msgs/s, of a day of perDay messages
// shaped like the reference.
func (r Reference) PeakAt(perDay float64) float64 { return perDay / 86400 * r.PeakFactor() }

// Prices are the cost assumptions of a sweep (docs/methodology.md,
// "Cost"): SQS request prices per million billed requests, the monthly
// free requests, and the price of one CPU core for an hour.
type Prices struct {
	FIFOPerMillion     float64 `json:"sqs_fifo_per_million"`
	StandardPerMillion float64 `json:"sqs_standard_per_million"`
	FreeRequests       float64 `json:"sqs_free_requests_per_month"`
	CoreHour           float64 `json:"core_hour"`
	// Source says where the figures come from.
	Source string `json:"source"`
}

// Stop reasons of a series (SweepSeries.Stop).
const (
	StopSLO         = "slo"         // the SLO broke: the knee is below the first step that failed
	StopLag         = "lag"         // the driver's schedule lag made a step untrustworthy
	StopConnections = "connections" // the next step needs more connections than this process may open
	StopLimit       = "limit"       // the sweep reached its highest load (--to) with the SLO holding
	StopError       = "error"       // a step failed to run
	StopCanceled    = "canceled"    // the sweep was interrupted
)

// SweepSeries is one path variant swept at one pace.
type SweepSeries struct {
	// Path is the variant (stack.Names); Pace the compression of time
	// within a conversation the steps ran at.
	Path string  `json:"path"`
	Pace float64 `json:"pace"`
	// Steps in the order they ran (offered load rises, then bisects).
	Steps []*Step `json:"steps"`
	// Knee is the index in Steps of the highest offered load at which the
	// SLO held on a trusted step; -1 when none did.
	Knee int `json:"knee"`
	// Stop says why the series ended (Stop* constants) and Detail names
	// the figure: the rule that broke, the lag, the connections needed.
	// StopStep is the index of the step that ended it (-1 when it ended
	// before a step ran, as for connections).
	Stop     string `json:"stop"`
	StopStep int    `json:"stop_step"`
	Detail   string `json:"detail"`
	// Capacity and Cost are derived from the steps; nil without a knee.
	Capacity *Capacity `json:"capacity,omitempty"`
	Cost     *Cost     `json:"cost,omitempty"`
}

// ID names the series in links and messages: "<path>@pace<pace>".
func (s *SweepSeries) ID() string { return s.Path + "@pace" + strconv.FormatFloat(s.Pace, 'g', -1, 64) }

// KneeStep returns the knee step, or nil.
func (s *SweepSeries) KneeStep() *Step {
	if s.Knee < 0 || s.Knee >= len(s.Steps) {
		return nil
	}
	return s.Steps[s.Knee]
}

// KneeExact says the knee is bracketed: a step above it broke the SLO on
// a trusted measurement. Otherwise the knee is a lower bound (the series
// stopped for the driver, the connections or the sweep's limit first).
func (s *SweepSeries) KneeExact() bool { return s.Stop == StopSLO }

// Step is one offered load of a series, on fresh processes.
type Step struct {
	// N numbers the step within its series, from 1 (links name it).
	N int `json:"n"`
	// Target is the offered load asked for, msgs/s; Offered what the
	// step's trace scheduled in the measured window, msgs/s (a Poisson
	// draw of visits around Target).
	Target  float64 `json:"target"`
	Offered float64 `json:"offered"`
	// Open is the mean number of visits open at once; Visits and Users
	// how many the step's trace holds (each user one connection).
	Open   float64 `json:"open"`
	Visits int     `json:"visits"`
	Users  int     `json:"users"`
	// Path is everything the step measured, as compare records a path.
	Path *Path `json:"path,omitempty"`
	// Checks are the SLO's verdicts on the step; Pass says every measured
	// one held (a rule with nothing to measure — no deliveries of its
	// class — does not fail a step).
	Checks []StepCheck `json:"checks"`
	Pass   bool        `json:"pass"`
	// Trusted says the driver kept its schedule: LagP99 (µs) at most
	// LagLimit (µs).
	Trusted  bool  `json:"trusted"`
	LagP99   int64 `json:"lag_p99_us"`
	LagLimit int64 `json:"lag_limit_us"`
	// Decisive says a latency rule broke by more than LagP99: above its
	// bound even with the driver's lag taken off, so the SLO broke on the
	// server's account whether or not the step is Trusted.
	Decisive bool `json:"decisive,omitempty"`
	// SQS counts the step's SQS requests by action and queue kind, as
	// they crossed the wire (empty for paths without SQS).
	SQS []SQSCount `json:"sqs,omitempty"`
	// WallSeconds is the step's wall time, processes started to stopped.
	WallSeconds float64 `json:"wall_seconds"`
	// Error is why the step failed to run, if it did.
	Error string `json:"error,omitempty"`
	// Retry says the step ran the previous step's load again because the
	// driver had not kept to its schedule there (Trusted false): the
	// series goes on from this step's outcome.
	Retry bool `json:"retry,omitempty"`
}

// Held says the step held the SLO on a trustworthy measurement.
func (s *Step) Held() bool { return s.Pass && s.Trusted && s.Error == "" }

// Broke says the step broke the SLO on a measurement that shows it: a
// trusted step, or one whose break the driver's lag cannot explain
// (Decisive).
func (s *Step) Broke() bool { return !s.Pass && (s.Trusted || s.Decisive) && s.Error == "" }

// StepCheck is one SLO rule's verdict on a step.
type StepCheck struct {
	Rule     string  `json:"rule"`
	Pass     bool    `json:"pass"`
	Measured bool    `json:"measured"`
	Value    float64 `json:"value"`
	Message  string  `json:"message"`
}

// SQSCount is the requests of one SQS action on one kind of queue.
type SQSCount struct {
	Action string `json:"action"`
	// Queue is "fifo" or "standard" (by the queue URL the request named).
	Queue string `json:"queue"`
	// Calls counts requests; Billed the requests SQS bills for them (one
	// per started 64 KiB of payload); Entries the messages they carried
	// (sent, received or deleted); Empty the receives that returned none;
	// Errors the requests answered with an error.
	Calls   int64 `json:"calls"`
	Billed  int64 `json:"billed"`
	Entries int64 `json:"entries"`
	Empty   int64 `json:"empty,omitempty"`
	Errors  int64 `json:"errors,omitempty"`
	// Pollers is the most receives that were waiting at once and WaitUS
	// the longest long-poll wait asked for (ReceiveMessage only): what an
	// idle consumer costs.
	Pollers int   `json:"pollers,omitempty"`
	WaitUS  int64 `json:"wait_us,omitempty"`
	// Polls counts the requests of this action that recur with time, not
	// with messages (GetQueueAttributes: the worker's reading of the
	// dead-letter queue's depth), and PollSeconds the time from the first
	// of them to the last: their rate, without the start-up calls.
	Polls       int64   `json:"polls,omitempty"`
	PollSeconds float64 `json:"poll_seconds,omitempty"`
}

// PollRate is the recurring requests' rate, per second, over a step of
// wall seconds: (Polls − 1) ÷ PollSeconds when two or more were seen
// apart, else Polls ÷ wall.
func (n SQSCount) PollRate(wall float64) float64 {
	switch {
	case n.Polls >= 2 && n.PollSeconds > 0:
		return float64(n.Polls-1) / n.PollSeconds
	case wall > 0:
		return float64(n.Polls) / wall
	}
	return 0
}

// Capacity is a series' capacity at its knee on this machine.
type Capacity struct {
	// Step is the index of the knee step the figures come from.
	Step int `json:"step"`
	// Rate is the knee, msgs/s offered; EventsPerSecond the deliveries
	// per second that step delivered.
	Rate            float64 `json:"rate"`
	EventsPerSecond float64 `json:"events_per_second"`
	// ServerCores is the CPU the path's own servers (all but the driver
	// and the stand-ins: the ML service, the embedded SQS endpoint) used
	// over the step, in cores; DriverCores the driver's; MachineBusy
	// the share of the machine's CPU busy over the step (nil unknown).
	ServerCores float64  `json:"server_cores"`
	DriverCores float64  `json:"driver_cores"`
	MachineBusy *float64 `json:"machine_busy,omitempty"`
	// PerCore is messages per second per core the path's servers
	// consumed: messages sent over the step ÷ their CPU seconds.
	// EventsPerCore the same for delivered events.
	PerCore       float64 `json:"msgs_per_core_second"`
	EventsPerCore float64 `json:"events_per_core_second"`
	// CPUMillisPerMessage is each component's CPU time per message sent,
	// ms, by process name (the driver included).
	CPUMillisPerMessage map[string]float64 `json:"cpu_ms_per_message"`
	// Headroom is the knee ÷ the reference workload's peak-hour rate:
	// the reference day fits Headroom times under the knee.
	Headroom float64 `json:"headroom"`
}

// Cost is what a series costs at a volume (docs/methodology.md, "Cost"):
// SQS requests and CPU, from per-message figures measured at its steps,
// priced by Sweep.Prices. At re-evaluates it at another volume.
type Cost struct {
	// Volume is the messages a day the figures at the end are for.
	Volume float64 `json:"volume_per_day"`
	// SQSStep and CPUStep are the indexes of the steps the per-message
	// figures come from: for SQS the step that held nearest the volume's
	// peak-hour rate (batches fill with load), for CPU the knee step,
	// where the fixed costs of a step (start-up, connecting) are spread
	// thinnest.
	SQSStep int `json:"sqs_step"`
	CPUStep int `json:"cpu_step"`
	// RequestsPerMessage is billed SQS requests per message, by action,
	// receives that returned nothing left out (IdlePolls stands for them).
	RequestsPerMessage map[string]float64 `json:"sqs_requests_per_message,omitempty"`
	// FIFO says the FIFO price applies (most requests named a FIFO queue).
	FIFO bool `json:"fifo,omitempty"`
	// IdlePolls is the empty long polls a month of an idle consumer
	// (pollers × a month ÷ the long-poll wait): an upper bound of the
	// empty receives, reached when the queue is empty all month.
	// Periodic is the other recurring requests a month (the worker's
	// reading of the dead-letter queue's depth), at their rate in the
	// step (SQSCount.PollRate).
	IdlePolls float64 `json:"sqs_idle_polls_per_month"`
	Periodic  float64 `json:"sqs_periodic_per_month"`
	// CPUMillisPerMessage is CPU time per message by component ("server",
	// "gateway", "worker", "ml", "sqs": the process name without the
	// variant), ms; the driver is left out. With CPUMarginal it is the
	// marginal cost between step CPUBaseStep (the one that sent the fewest
	// messages) and the knee step — (CPU − base CPU) ÷ (messages − base
	// messages) — which leaves out each step's start-up and connecting;
	// otherwise the knee step's CPU ÷ its messages.
	CPUMillisPerMessage map[string]float64 `json:"cpu_ms_per_message"`
	CPUMarginal         bool               `json:"cpu_marginal,omitempty"`
	CPUBaseStep         int                `json:"cpu_base_step,omitempty"`

	// Requests is billed SQS requests a month at Volume, and SQSDollars
	// their price after the free requests.
	Requests   float64 `json:"sqs_requests_per_month"`
	SQSDollars float64 `json:"sqs_dollars_per_month"`
	// CoreHours is CPU a month by component at Volume; CPUDollars prices
	// it at Prices.CoreHour, all but the embedded SQS endpoint's (SQS is
	// paid per request) and the ML stand-in's (the hosted models cost the
	// same whichever design calls them).
	CoreHours  map[string]float64 `json:"core_hours_per_month"`
	CPUDollars float64            `json:"cpu_dollars_per_month"`
	// Total is SQSDollars + CPUDollars.
	Total float64 `json:"total_dollars_per_month"`
}

// MonthSeconds is the month the cost is given for: 30 days.
const MonthSeconds = 30 * 86400

// unpriced are the components whose CPU Cost does not price.
var unpriced = []string{"sqs", "ml"}

// At returns c with its figures at perDay messages a day and prices p.
func (c Cost) At(perDay float64, p Prices) Cost {
	c.Volume = perDay
	msgs := perDay * 30
	c.Requests = c.IdlePolls + c.Periodic
	for _, n := range c.RequestsPerMessage {
		c.Requests += n * msgs
	}
	price := p.StandardPerMillion
	if c.FIFO {
		price = p.FIFOPerMillion
	}
	c.SQSDollars = 0
	if len(c.RequestsPerMessage) > 0 {
		c.SQSDollars = max(c.Requests-p.FreeRequests, 0) / 1e6 * price
	}
	c.CoreHours = map[string]float64{}
	c.CPUDollars = 0
	for name, ms := range c.CPUMillisPerMessage {
		h := ms / 1000 * msgs / 3600
		c.CoreHours[name] = h
		if !slices.Contains(unpriced, name) {
			c.CPUDollars += h * p.CoreHour
		}
	}
	c.Total = c.SQSDollars + c.CPUDollars
	return c
}

// Steady says whether a path reached a steady state over its replay
// (docs/results.md, "Steady state"): whether its latency kept rising and
// deliveries kept coming after the sends had ended — a queue still
// backing up — or held. A figure measured on a path still backing up
// measures queueing, not the design: `chatbench sweep` finds the load at
// which it stops.
type Steady struct {
	// Steady is false when the path was still backing up.
	Steady bool `json:"steady"`
	// FirstP50 and LastP50 are the median of the per-second p50 latency
	// (from the scheduled send) over the first and the last third of the
	// seconds in which messages were sent, µs.
	FirstP50 int64 `json:"first_p50_us"`
	LastP50  int64 `json:"last_p50_us"`
	// Growth is LastP50 ÷ FirstP50.
	Growth float64 `json:"growth"`
	// DrainShare is the share of the deliveries that arrived after the
	// last second in which messages were sent.
	DrainShare float64 `json:"drain_share"`
	// QueueWaitP50 and QueueWaitP99 are the queue_wait hop's median and
	// p99 over the path's classes (the largest), µs; absent for paths
	// without a queue.
	QueueWaitP50 int64 `json:"queue_wait_p50_us,omitempty"`
	QueueWaitP99 int64 `json:"queue_wait_p99_us,omitempty"`
	// Reason says why the path counts as backing up (empty when steady).
	Reason string `json:"reason,omitempty"`
}

// CPUSplit returns the CPU seconds of p's own processes and of the
// driver ("driver" in Components).
func (p *Path) CPUSplit() (own, driver float64) {
	for _, c := range p.Components {
		if c.Name == "driver" {
			driver += c.CPUSeconds
		} else {
			own += c.CPUSeconds
		}
	}
	return own, driver
}

// FormatRate formats msgs/s with three significant digits, for messages
// about steps and knees.
func FormatRate(f float64) string {
	switch {
	case f >= 100:
		return strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	case f >= 1:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', 3, 64)
}

// Lookup returns the series of path at pace (0: the first series' pace),
// or nil.
func (s *Sweep) Lookup(path string, pace float64) *SweepSeries {
	if s == nil {
		return nil
	}
	for _, ser := range s.Series {
		if ser.Path == path && (ser.Pace == pace || pace == 0 && ser.Pace == s.Series[0].Pace) {
			return ser
		}
	}
	return nil
}

// problems checks a sweep's fields (Run.Validate).
func (s *Sweep) problems() []error {
	if s == nil {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Factor != 0 && !(s.Factor > 1) {
		bad("sweep: factor %v: must be > 1", s.Factor)
	}
	seen := map[string]bool{}
	for i, ser := range s.Series {
		if ser == nil {
			bad("sweep: series[%d]: null", i)
			continue
		}
		where := fmt.Sprintf("sweep: series[%d] (%s)", i, ser.ID())
		if ser.Path == "" || !(ser.Pace > 0) {
			bad("%s: needs a path and a pace > 0", where)
		}
		if seen[ser.ID()] {
			bad("%s: duplicate path and pace", where)
		}
		seen[ser.ID()] = true
		if ser.Knee < -1 || ser.Knee >= len(ser.Steps) {
			bad("%s: knee %d: no such step (it has %d)", where, ser.Knee, len(ser.Steps))
		} else if k := ser.KneeStep(); k != nil && !k.Held() {
			bad("%s: knee step %d did not hold the SLO on a trusted measurement", where, k.N)
		}
		for j, st := range ser.Steps {
			if st == nil {
				bad("%s: steps[%d]: null", where, j)
				continue
			}
			if st.N != j+1 {
				bad("%s: steps[%d]: n %d, want %d", where, j, st.N, j+1)
			}
			if math.IsNaN(st.Offered) || st.Offered < 0 || math.IsNaN(st.Target) || st.Target < 0 {
				bad("%s: step %d: offered and target must be non-negative numbers", where, st.N)
			}
			if st.Path != nil {
				if st.Path.Name != ser.Path {
					bad("%s: step %d: path %q, want %q", where, st.N, st.Path.Name, ser.Path)
				}
				errs = append(errs, st.Path.problems(fmt.Sprintf("%s: step %d", where, st.N))...)
			}
		}
	}
	return errs
}

// MergeSweeps combines sweep documents of disjoint series — `sweep --paths
// direct` and `sweep --paths queue` run one after the other — into one:
// the series of each in order, the paths of each, and the first run's
// Meta and settings. Sweeps of other references, SLOs, prices or volumes,
// and sweeps sharing a series, are refused: their steps do not add up.
func MergeSweeps(runs ...*Run) (*Run, error) {
	if len(runs) == 0 {
		return nil, errors.New("results: merge: no runs")
	}
	first := runs[0].Sweep
	out := &Run{Schema: SchemaVersion, Meta: runs[0].Meta}
	sw := *first
	sw.Series = nil
	out.Sweep = &sw
	for i, r := range runs {
		s := r.Sweep
		switch {
		case s == nil:
			return nil, fmt.Errorf("results: merge: run %d is not a sweep, run 1 is: a sweep merges only with sweeps of other paths", i+1)
		case s.Reference.TraceDigest != first.Reference.TraceDigest:
			return nil, fmt.Errorf("results: merge: sweep %d was built from trace %s, sweep 1 from %s: only sweeps of one reference workload combine", i+1, s.Reference.TraceName, first.Reference.TraceName)
		case !slices.Equal(s.SLO, first.SLO) || s.Prices != first.Prices || s.Volume != first.Volume || s.LagFraction != first.LagFraction:
			return nil, fmt.Errorf("results: merge: sweep %d has another SLO, lag fraction, volume or prices than sweep 1: re-run it with the same flags", i+1)
		}
		for _, ser := range s.Series {
			if out.Sweep.Lookup(ser.Path, ser.Pace) != nil {
				return nil, fmt.Errorf("results: merge: path %s at pace %g is in more than one sweep: steps of two sweeps of one path do not add up", ser.Path, ser.Pace)
			}
			out.Sweep.Series = append(out.Sweep.Series, ser)
		}
		for _, p := range r.Paths {
			if out.Path(p.Name) == nil {
				out.Paths = append(out.Paths, p)
			}
		}
		out.Meta.Modified = out.Meta.Modified || r.Meta.Modified
	}
	return out, nil
}
