package stack

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Hops between components that Config.Via can route through a proxy.
const (
	// HopSQS is the gateway's and the worker's connection to the SQS endpoint.
	HopSQS = "sqs"
	// HopML is the direct server's or the worker's connection to the ML service.
	HopML = "ml"
	// HopServer is the driver's connection to the client-facing server
	// (the direct server, the queue gateway or the echo server).
	HopServer = "server"
	// HopRedis is the front doors' connection to the Redis broker.
	HopRedis = "redis"
)

// Check is how a component's readiness is checked, on the first of its
// listen addresses.
type Check int

const (
	// CheckHTTP waits until GET http://<addr>/healthz answers 200.
	CheckHTTP Check = iota + 1
	// CheckTCP waits until the port accepts a connection (for components
	// without /healthz).
	CheckTCP
)

// Component is one row of a path's table: one kind of process, started
// Instances times.
type Component struct {
	// Name is unique within its set ("sqs", "ml", "server", "gateway",
	// "worker", "echo"). Instance i of component c in variant v runs as the
	// process "<v>-<c>", or "<v>-<c>-<i>" when there are several.
	Name string
	// Command is the chatbench subcommand, e.g. {"serve", "queue"}.
	Command []string
	// Listen are the flags that take a loopback address the stack picks,
	// e.g. {"--addr", "--callback-addr"}. Readiness is checked on the
	// first, which is also what Hop routes.
	Listen []string
	// Ready is how readiness is checked.
	Ready Check
	// Hop, when set, is the hop (HopSQS, HopML, HopServer) through which
	// every client of the first listen address reaches it (Config.Via).
	Hop string
	// Client marks the component drivers connect to: ws://<addr>/ws of
	// each instance (after Via) is one of Stack.Targets.
	Client bool
	// Restartable says Stack.Restart may start it again on the same ports
	// mid-run without invalidating the other components (the embedded
	// SQS endpoint is not: its queues live in its memory).
	Restartable bool
	// Instances is how many copies run by default (zero means 1);
	// Config.Instances overrides it.
	Instances int
	// Scale marks the components Config.Scale sets the instances of (the
	// client-facing servers, and the queue workers beside the gateways).
	Scale bool
	// When, when set, says whether the component runs with a stack's
	// settings (the Redis broker only when one is needed). Nil means always.
	When func(c Config) bool
	// Exe, when set, is a program other than chatbench, looked up on PATH
	// (redis-server): its Listen flags take the port alone, and it gets no
	// --log-level.
	Exe string
	// Args returns the component's flags from the settings and the
	// addresses of the components before it (Env). The stack adds the
	// Listen flags and --log-level warn.
	Args func(e Env) []string
	// Backlog, when set, names the gauge on the component's /metrics (on
	// its first listen address) whose samples, summed, are the work it
	// still holds: read just before it is asked to stop, it says how much
	// an overloaded path left undone (results.Component.Backlog).
	Backlog string
}

// Set is the components of one kind of path, in start order, and the
// order they stop in.
type Set struct {
	Components []Component
	// Stop names the components in stop order; nil means reverse start
	// order.
	Stop []string
}

// Variant is one way to run a path: a name, the set of components it runs
// and extra flags per component. A variant that is a configuration of
// another (the queue with per-job FIFO groups, say) is one more entry with
// the same Set and its own Extra.
type Variant struct {
	// Name labels the path in results ("direct", "queue", "echo").
	Name string
	// Desc says what the variant stands for, for help texts and reports.
	Desc string
	// Claim says which claim of the story the variant tests (results and
	// reports show it beside the figures; docs/results.md has the
	// measurements). Empty for the floor.
	Claim string
	// Set is the components the variant runs.
	Set *Set
	// Extra holds flags appended to a component's Args, by component name.
	Extra map[string][]string
	// Default marks the variants compare runs when no paths are named.
	Default bool
	// Span, when set, is how long compare schedules this path's replay by
	// default (the replay's Duration when it sets neither Duration nor
	// Limit): long enough for stable figures, short enough that the
	// default comparison stays at about five minutes. Zero replays the
	// whole trace.
	Span time.Duration
}

// secretArgs are the front door's token secret.
func secretArgs(e Env) []string { return []string{"--secret", e.Config.Secret} }

// callbackSecret is the secret the queue path's workers sign callbacks
// with: the stack's own, random per run (Config.CallbackSecret). It is
// passed on the command line, so a process of the same user can read it
// (ps); the gateway still emits only events of messages it accepted.
func callbackSecret(e Env) string { return e.Config.CallbackSecret }

// brokerArgs are a front door's --broker: the Redis component's, when the
// stack runs one.
func brokerArgs(e Env) []string {
	if !usesRedis(e.Config) {
		return nil
	}
	return []string{"--broker", "redis://" + e.Addr("redis", 0) + "/0"}
}

// usesRedis reports whether a stack's front doors share a Redis broker.
func usesRedis(c Config) bool { return c.Broker == BrokerRedis }

// redis is the Redis broker, started before the front doors that share it
// when the stack needs one: Debian's redis-server, without persistence (a
// restart loses what it held, which the redis-restart fault relies on).
var redis = Component{
	Name: "redis", Exe: "redis-server", Listen: []string{"--port"}, Ready: CheckTCP, Hop: HopRedis, Restartable: true,
	When: usesRedis,
	Args: func(e Env) []string {
		return []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", e.Config.LogDir, "--loglevel", "warning"}
	},
}

// ml is the ML service, shared by the direct and queue sets.
var ml = Component{
	Name: "ml", Command: []string{"ml"}, Listen: []string{"--addr"}, Ready: CheckHTTP, Hop: HopML, Restartable: true,
	Args: func(e Env) []string {
		return []string{"--profile", e.Config.MLProfile, "--seed", strconv.FormatInt(e.Config.MLSeed, 10)}
	},
}

// The component sets of today's variants.
var (
	echoSet = Set{Components: []Component{{
		Name: "echo", Command: []string{"serve", "echo"}, Listen: []string{"--addr"}, Ready: CheckTCP,
		Hop: HopServer, Client: true, Restartable: true,
		Args: func(Env) []string { return nil },
	}}}

	directSet = Set{Components: []Component{redis, ml, {
		Name: "server", Command: []string{"serve", "direct"}, Listen: []string{"--addr"}, Ready: CheckHTTP,
		Hop: HopServer, Client: true, Restartable: true, Scale: true, Backlog: "chatbench_background_tasks_in_flight",
		Args: func(e Env) []string {
			args := append([]string{"--ml-url", e.URL("ml", 0), "--drain-timeout", drainTimeout(e)}, secretArgs(e)...)
			args = append(args, brokerArgs(e)...)
			if e.Config.MaxTasks > 0 {
				args = append(args, "--max-tasks", strconv.Itoa(e.Config.MaxTasks))
			}
			return args
		},
	}}}

	queueSet = Set{
		Components: []Component{
			{
				Name: "sqs", Command: []string{"sqs"}, Listen: []string{"--addr"}, Ready: CheckTCP, Hop: HopSQS,
				Args: func(e Env) []string { return []string{"--latency", e.Config.SQSLatency} },
			},
			redis,
			ml,
			{
				Name: "gateway", Command: []string{"serve", "queue"}, Listen: []string{"--addr", "--callback-addr"}, Ready: CheckHTTP,
				Hop: HopServer, Client: true, Restartable: true, Scale: true, Backlog: "chatbench_queue_depth",
				Args: func(e Env) []string {
					args := append([]string{"--sqs-endpoint", e.URL("sqs", 0), "--embedded-worker", "0",
						"--callback-secret", callbackSecret(e), "--drain-timeout", drainTimeout(e)}, secretArgs(e)...)
					return append(args, brokerArgs(e)...)
				},
			},
			{
				// The worker has no --addr: it serves /healthz and /metrics on
				// --metrics-addr.
				Name: "worker", Command: []string{"worker"}, Listen: []string{"--metrics-addr"}, Ready: CheckHTTP, Restartable: true,
				Scale: true, Backlog: "chatbench_queue_jobs_in_flight",
				Args: func(e Env) []string {
					// Its own gateway first, then the others: any gateway
					// sharing the broker can take a job's events.
					return []string{"--sqs-endpoint", e.URL("sqs", 0), "--callback-url", strings.Join(e.URLs("gateway", 1), ","),
						"--callback-secret", callbackSecret(e), "--ml-url", e.URL("ml", 0),
						"--workers", strconv.Itoa(e.Config.Workers), "--drain-timeout", drainTimeout(e)}
				},
			},
		},
		// The gateway stops first: it drains with the worker still
		// delivering the events of the jobs it accepted, through the broker.
		Stop: []string{"gateway", "worker", "ml", "sqs", "redis"},
	}
)

// drainTimeout is the --drain-timeout of a server or worker: its graceful
// drain gives up a little before the stack's stop grace runs out, so an
// overloaded path exits on its own, reporting what it left, rather than
// being killed.
func drainTimeout(e Env) string {
	g := e.Config.StopGrace
	return (g - max(min(5*time.Second, g/5), 1)).String()
}

// Settings of the well-built queue variants (docs/methodology.md, "Queue
// variants"): a 5 s visibility timeout, kept by the worker's heartbeat
// while it holds a job, so a dead worker's jobs return in seconds, not 30;
// 30 receives before the DLQ, so a job still has the legacy design's 150 s
// (5 × 30 s) of failed attempts before it is given up; and the worker's
// deletes batched (queueExtra), as SQS advises for throughput.
var shortVisibility = []string{"--visibility-timeout", "5s", "--max-receive-count", "30"}

// queueExtra returns the queue set's Extra: the gateway's flags (after
// the shared ones) and the flags gateway and worker share.
func queueExtra(gateway []string, both ...string) map[string][]string {
	return map[string][]string{
		"gateway": append(append(slices.Clone(gateway), both...), shortVisibility...),
		"worker":  append(append(slices.Clone(both), shortVisibility...), "--batch-deletes"),
	}
}

// groupConcurrency lets queue-job's worker run a group's messages that one
// receive returns side by side, their events still posted in order: with
// one group per conversation and job, a model slower than the
// conversation's pace would otherwise back up its own group — one call at
// a time — however idle the worker (docs/methodology.md, "Queue variants").
var groupConcurrency = []string{"--group-concurrency", "10"}

// jobBacklog is queue-job's bound on a conversation's outstanding
// messages. The default, 32, is what the legacy design drains in under 20 s
// (a conversation's jobs one after another, about 0.55 s a text); queue-job's
// slowest group — reply_suggest, its received messages run ten at a time —
// drained about 7 texts a second on the busy conversation (docs/results.md),
// so the same 20 s is about 128. With 32 it refused a fast writer's texts,
// their sync jobs with them, while only that one group was behind.
var jobBacklog = []string{"--max-conv-outstanding", "128"}

// withWorker adds flags to a queue set's worker.
func withWorker(extra map[string][]string, flags ...string) map[string][]string {
	extra["worker"] = append(extra["worker"], flags...)
	return extra
}

// variants are the known variants, in the order compare runs them.
var variants = []Variant{
	{Name: "echo", Desc: "a bare WebSocket echo server: the floor of what the harness measures", Set: &echoSet,
		Default: true, Span: 30 * time.Second},
	{Name: "direct", Desc: "jobs on the WebSocket server, ML jobs as background tasks (the story's new design)",
		Claim: "the story's direct path: simpler, faster, more reliable", Set: &directSet, Default: true, Span: 60 * time.Second},
	{Name: "queue", Desc: "every job through one SQS FIFO group per conversation, 30 s visibility (the legacy design)",
		Claim: "the story's backlog: a conversation's jobs, sync ones too, wait behind its ML calls",
		Set:   &queueSet, Default: true, Span: 60 * time.Second},
	{Name: "queue-job", Desc: "every job through SQS FIFO, one group per conversation and job; 5 s visibility kept by a heartbeat",
		Claim: "a queue built to avoid the backlog: no job waits behind another job's ML call; a dead worker's jobs back in seconds",
		Set:   &queueSet, Extra: withWorker(queueExtra(append([]string{"--group-by", "job"}, jobBacklog...)), groupConcurrency...), Default: true, Span: 60 * time.Second},
	{Name: "hybrid", Desc: "sync jobs on the gateway as on the direct path, only ML jobs through SQS FIFO (a group per message and job); 5 s visibility",
		Claim: "the queue kept for ML work only: sync latency as direct, whatever SQS's latency",
		Set:   &queueSet, Extra: queueExtra([]string{"--inline-sync", "--group-by", "message"}), Default: true, Span: 60 * time.Second},
	{Name: "queue-std", Desc: "every job through an SQS standard queue (at-least-once, unordered; 0.1 % duplicate deliveries assumed); the gateway's event dedup on",
		Claim: "at-least-once delivery: the gateway's event dedup is all that keeps SQS's duplicates from clients",
		Set:   &queueSet, Extra: withSQS(queueExtra(nil, "--queue-type", "standard"), standardDuplicates...)},
	{Name: "queue-std-nodedup", Desc: "queue-std with the gateway's event dedup off",
		Claim: "the story's duplicate sends: what SQS delivers twice reaches clients twice",
		Set:   &queueSet, Extra: withSQS(queueExtra([]string{"--no-event-dedup"}, "--queue-type", "standard"), standardDuplicates...)},
}

// standardDuplicates is the embedded SQS endpoint's duplicate rate for the
// standard-queue variants: SQS says duplicates occur "occasionally" and
// states no rate, so this is an assumption, one copy in a thousand
// receives, stated in the variant's description and in the results.
var standardDuplicates = []string{"--duplicates", "0.1%"}

// withSQS adds flags for the sqs component to extra.
func withSQS(extra map[string][]string, flags ...string) map[string][]string {
	extra["sqs"] = flags
	return extra
}

// DefaultPaths returns the variants compare runs when no paths are named,
// in order.
func DefaultPaths() []string {
	var out []string
	for _, v := range variants {
		if v.Default {
			out = append(out, v.Name)
		}
	}
	return out
}

// Variants returns the known variants, in the order compare runs them.
func Variants() []Variant { return slices.Clone(variants) }

// Names returns the names of the known variants, in order.
func Names() []string {
	var out []string
	for _, v := range variants {
		out = append(out, v.Name)
	}
	return out
}

// Lookup returns the variant named name.
func Lookup(name string) (Variant, error) {
	for _, v := range variants {
		if v.Name == name {
			return v, nil
		}
	}
	return Variant{}, fmt.Errorf("unknown path %q: use %s", name, strings.Join(Names(), ", "))
}

// Component returns the variant's component named name.
func (v Variant) Component(name string) (Component, bool) {
	i := slices.IndexFunc(v.Set.Components, func(c Component) bool { return c.Name == name })
	if i < 0 {
		return Component{}, false
	}
	return v.Set.Components[i], true
}

// ByHop returns the variant's component reached through hop, if any.
func (v Variant) ByHop(hop string) (Component, bool) {
	i := slices.IndexFunc(v.Set.Components, func(c Component) bool { return c.Hop == hop })
	if i < 0 {
		return Component{}, false
	}
	return v.Set.Components[i], true
}

// stopOrder returns the indexes of the set's components in stop order:
// those Stop names, in its order, then any it leaves out in reverse start
// order (so a slip in the table can never leave a process running).
func (s *Set) stopOrder() []int {
	var out []int
	for _, name := range s.Stop {
		if i := slices.IndexFunc(s.Components, func(c Component) bool { return c.Name == name }); i >= 0 && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	for i := len(s.Components) - 1; i >= 0; i-- {
		if !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out
}

// Env is what a component's flags are built from: the stack's settings
// and the addresses of the components started before it.
type Env struct {
	// Config is the stack's configuration, with defaults filled in.
	Config Config
	// Instance is the index of the instance being started.
	Instance int

	addrs   map[string][][]string // component → instance → listen addresses, as its clients reach them
	missing *[]string             // references to components not started before this one
}

// URL returns http://<address> of the listen-th listen address of
// component, as its clients reach it (through a proxy when its hop is
// routed). With several instances of component, instance i of the caller
// is given instance i mod n.
func (e Env) URL(component string, listen int) string {
	inst := e.addrs[component]
	if len(inst) == 0 || listen >= len(inst[0]) {
		*e.missing = append(*e.missing, fmt.Sprintf("%s listen address %d", component, listen))
		return ""
	}
	return "http://" + inst[e.Instance%len(inst)][listen]
}

// Addr is URL's host:port alone.
func (e Env) Addr(component string, listen int) string {
	return strings.TrimPrefix(e.URL(component, listen), "http://")
}

// URLs returns the URL of the listen-th listen address of every instance
// of component, starting with the one URL gives (i mod n) and going round.
func (e Env) URLs(component string, listen int) []string {
	first := e.URL(component, listen)
	if first == "" {
		return nil
	}
	inst := e.addrs[component]
	out := make([]string, 0, len(inst))
	for k := range inst {
		out = append(out, "http://"+inst[(e.Instance+k)%len(inst)][listen])
	}
	return out
}
