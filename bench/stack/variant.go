package stack

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
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
	// Desc says what the variant stands for, for help texts.
	Desc string
	// Set is the components the variant runs.
	Set *Set
	// Extra holds flags appended to a component's Args, by component name.
	Extra map[string][]string
}

// secretArgs are the front door's token secret.
func secretArgs(e Env) []string { return []string{"--secret", e.Config.Secret} }

// callbackSecret is the secret the queue path's worker signs callbacks
// with, derived from the driver's so one Secret configures a stack.
func callbackSecret(e Env) string { return e.Config.Secret + "-callback" }

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
		Hop: HopServer, Client: true, Restartable: true, Scale: true,
		Args: func(e Env) []string {
			args := append([]string{"--ml-url", e.URL("ml", 0)}, secretArgs(e)...)
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
				Hop: HopServer, Client: true, Restartable: true, Scale: true,
				Args: func(e Env) []string {
					args := append([]string{"--sqs-endpoint", e.URL("sqs", 0), "--embedded-worker", "0",
						"--callback-secret", callbackSecret(e)}, secretArgs(e)...)
					return append(args, brokerArgs(e)...)
				},
			},
			{
				// The worker has no --addr: it serves /healthz and /metrics on
				// --metrics-addr.
				Name: "worker", Command: []string{"worker"}, Listen: []string{"--metrics-addr"}, Ready: CheckHTTP, Restartable: true,
				Scale: true,
				Args: func(e Env) []string {
					// Its own gateway first, then the others: any gateway
					// sharing the broker can take a job's events.
					return []string{"--sqs-endpoint", e.URL("sqs", 0), "--callback-url", strings.Join(e.URLs("gateway", 1), ","),
						"--callback-secret", callbackSecret(e), "--ml-url", e.URL("ml", 0),
						"--workers", strconv.Itoa(e.Config.Workers)}
				},
			},
		},
		// The gateway stops first: it drains with the worker still
		// delivering the events of the jobs it accepted, through the broker.
		Stop: []string{"gateway", "worker", "ml", "sqs", "redis"},
	}
)

// variants are the known variants, in the order compare runs them.
var variants = []Variant{
	{Name: "echo", Desc: "a bare WebSocket echo server: the floor of what the harness measures", Set: &echoSet},
	{Name: "direct", Desc: "jobs on the WebSocket server, ML jobs as background tasks", Set: &directSet},
	{Name: "queue", Desc: "every job through one SQS FIFO group per conversation (the legacy design)", Set: &queueSet},
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
