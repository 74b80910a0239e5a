package stack

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatbench/chatbench/internal/redistest"
	"github.com/chatbench/chatbench/internal/wstest"
)

const testSecret = "stack-test-secret-0123456789"

// TestVariantTables checks every variant's table, built from the table
// itself: its stop order names each component once, and each process's
// command line is one the chatbench binary accepts (a known subcommand
// whose flags all parse: with --help cobra parses the flags, refuses an
// unknown one, and prints the usage of the command it found).
func TestVariantTables(t *testing.T) {
	exe := ""
	if !testing.Short() {
		exe = wstest.BuildChatbench(t)
	}
	one, err := Config{Exe: "chatbench", LogDir: t.TempDir(), Secret: testSecret}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	// Two instances of each, sharing a Redis the stack starts.
	two, err := Config{Exe: "chatbench", LogDir: t.TempDir(), Secret: testSecret, Scale: 2}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Variants() {
		for _, cfg := range []Config{one, two} {
			t.Run(v.Name+"/instances="+strconv.Itoa(cfg.Scale), func(t *testing.T) {
				if cfg.Broker == BrokerRedis {
					redistest.Binary(t)
				}
				checkTable(t, exe, cfg, v)
			})
		}
	}
}

// checkTable checks v's table with cfg's settings (TestVariantTables).
func checkTable(t *testing.T, exe string, cfg Config, v Variant) {
	{
		{
			var names []string
			for _, c := range v.Set.Components {
				names = append(names, c.Name)
			}
			if stops := slices.Clone(v.Set.Stop); stops != nil {
				if slices.Sort(stops); !slices.Equal(stops, slices.Sorted(slices.Values(names))) {
					t.Errorf("stop order %v does not name each of %v once", v.Set.Stop, names)
				}
			}
			if !slices.ContainsFunc(v.Set.Components, func(c Component) bool { return c.Client }) {
				t.Errorf("no client-facing component: the driver has nothing to connect to")
			}
			specs, targets := planned(t, cfg, v)
			if len(targets) == 0 {
				t.Errorf("no targets")
			}
			if exe == "" {
				return
			}
			for _, sp := range specs {
				comp, _ := v.Component(sp.component)
				if comp.Exe != "" {
					continue // not a chatbench subcommand
				}
				out, err := exec.Command(exe, append(slices.Clone(sp.args), "--help")...).CombinedOutput()
				if err != nil {
					t.Errorf("%s: chatbench %s: %v\n%s", sp.name, strings.Join(sp.args, " "), err, out)
					continue
				}
				want := "chatbench " + strings.Join(comp.Command, " ") + " "
				if _, usage, _ := strings.Cut(string(out), "Usage:\n  "); !strings.HasPrefix(usage, want) {
					t.Errorf("%s: %q is not a known subcommand; help says:\n%s", sp.name, comp.Command, out)
				}
			}
		}
	}
}

// TestStopOrder checks that a stop order leaving a component out, or
// naming one twice or one that does not exist, still stops every
// component once.
func TestStopOrder(t *testing.T) {
	s := Set{Components: []Component{{Name: "a"}, {Name: "b"}, {Name: "c"}}, Stop: []string{"b", "x", "b"}}
	if got := s.stopOrder(); !slices.Equal(got, []int{1, 2, 0}) {
		t.Errorf("stop order %v, want b then the rest in reverse start order: [1 2 0]", got)
	}
	if got := (&Set{Components: s.Components}).stopOrder(); !slices.Equal(got, []int{2, 1, 0}) {
		t.Errorf("default stop order %v, want reverse start order", got)
	}
}

// TestPlanInstances checks that N instances are a parameter: each has its
// own ports, its own process name and log, every client-facing one is a
// target, and a worker calls back to a gateway of its own (i mod n) first.
func TestPlanInstances(t *testing.T) {
	v, err := Lookup("queue")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Config{Exe: "chatbench", LogDir: t.TempDir(), Secret: testSecret,
		Instances: map[string]int{"gateway": 2, "worker": 3}}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	specs, targets := planned(t, cfg, v)
	if len(targets) != 2 || targets[0] == targets[1] {
		t.Errorf("targets %v: want one per gateway", targets)
	}
	flag := func(sp *spec, name string) string {
		i := slices.Index(sp.args, name)
		if i < 0 || i+1 >= len(sp.args) {
			t.Fatalf("%s has no %s: %v", sp.name, name, sp.args)
		}
		return sp.args[i+1]
	}
	var gateways, workers []*spec
	addrs := map[string]bool{}
	for _, sp := range specs {
		if addrs[sp.readyAddr] {
			t.Errorf("%s: address %s given twice", sp.name, sp.readyAddr)
		}
		addrs[sp.readyAddr] = true
		switch sp.component {
		case "gateway":
			gateways = append(gateways, sp)
		case "worker":
			workers = append(workers, sp)
		}
	}
	if len(gateways) != 2 || len(workers) != 3 {
		t.Fatalf("%d gateways, %d workers: want 2 and 3", len(gateways), len(workers))
	}
	for i, w := range workers {
		if want := "queue-worker-" + string(rune('0'+i)); w.name != want || filepath.Base(w.logPath) != want+".log" {
			t.Errorf("worker %d is %s (log %s), want %s", i, w.name, w.logPath, want)
		}
		// Its own gateway first, then the other (any gateway sharing the
		// broker can take a job's events).
		want := "http://" + flag(gateways[i%2], "--callback-addr") + ",http://" + flag(gateways[(i+1)%2], "--callback-addr")
		if got := flag(w, "--callback-url"); got != want {
			t.Errorf("%s calls back to %s, want gateway %d's then the other's: %s", w.name, got, i%2, want)
		}
	}
}

// planned plans v with cfg on free ports, released when t ends.
func planned(t *testing.T, cfg Config, v Variant) ([]*spec, []string) {
	t.Helper()
	specs, targets, err := plan(cfg, v, listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, sp := range specs {
			sp.release()
		}
	})
	return specs, targets
}

// TestConfigErrors checks that bad values are refused, each error naming
// the flag (or field) and what to give instead.
func TestConfigErrors(t *testing.T) {
	base := Config{Exe: "chatbench", LogDir: "logs"}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Exe and LogDir are required"},
		{with(base, func(c *Config) { c.Workers = -1 }), "--workers -1: must be ≥ 0 (0 = 4)"},
		{with(base, func(c *Config) { c.MaxTasks = -2 }), "--max-tasks -2"},
		{with(base, func(c *Config) { c.StopGrace = -time.Second }), "StopGrace -1s"},
		{with(base, func(c *Config) { c.Instances = map[string]int{"worker": -1} }), "instances of worker -1"},
		{with(base, func(c *Config) { c.SQSLatency = "regoin" }), `--sqs-latency: latency profile "regoin"`},
		{with(base, func(c *Config) { c.NoiseThreshold = 2 }), "--noise-threshold 2: must be between 0 and 1"},
		{with(base, func(c *Config) { c.DriftThreshold = -0.1 }), "--drift-threshold -0.1: must be ≥ 0"},
		{with(base, func(c *Config) { c.Scale = 2; c.Broker = BrokerMemory }), "--broker memory with --instances 2"},
		{with(base, func(c *Config) { c.Broker = "etcd" }), `--broker "etcd": want memory or redis`},
		{with(base, func(c *Config) { c.Scale = -1 }), "--instances -1: must be ≥ 0"},
	} {
		if _, err := tc.cfg.WithDefaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
	// A component no variant has is refused when the stack is planned.
	if _, err := Start(context.Background(), with(base, func(c *Config) {
		c.LogDir = t.TempDir()
		c.Instances = map[string]int{"wroker": 2}
	}), "queue"); err == nil || !strings.Contains(err.Error(), `"wroker": no such component`) {
		t.Errorf("unknown component: error %v", err)
	}
	if _, err := Start(context.Background(), with(base, func(c *Config) { c.LogDir = t.TempDir() }), "quuee"); err == nil ||
		!strings.Contains(err.Error(), `unknown path "quuee": use echo, direct, queue`) {
		t.Errorf("unknown path: error %v", err)
	}

	rp := Replay{Catalog: nil}
	if _, err := rp.WithDefaults(); err == nil {
		t.Errorf("a replay without a catalog was accepted")
	}
}

func with(c Config, f func(*Config)) Config {
	f(&c)
	return c
}

// TestProcesses starts variants as real processes.
func TestProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds chatbench and starts processes")
	}
	exe := wstest.BuildChatbench(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	newCfg := func(t *testing.T) Config {
		return Config{Exe: exe, LogDir: t.TempDir(), Secret: testSecret, MLProfile: "zero"}
	}

	// The queue path's components start, are ready, stop in the table's
	// order (the gateway before the worker) and report their usage.
	t.Run("queue", func(t *testing.T) {
		st, err := Start(ctx, newCfg(t), "queue")
		if err != nil {
			t.Fatal(err)
		}
		get(t, healthz(t, st.Target()), http.StatusOK)
		comps, err := st.Stop()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		v, _ := Lookup("queue")
		for _, c := range comps {
			names = append(names, c.Name)
			if c.CPUSeconds <= 0 || c.PeakRSS <= 0 || c.Killed {
				t.Errorf("component %+v: want CPU time and peak memory, not killed", c)
			}
			// Each component whose row names a backlog gauge had it read
			// before the stop: an idle stack holds nothing.
			comp, _ := v.Component(strings.TrimPrefix(c.Name, "queue-"))
			if got := c.Backlog; (comp.Backlog != "") != (got != nil) || (got != nil && *got != 0) {
				t.Errorf("component %s (backlog gauge %q): backlog %v, want 0 read exactly when the row names a gauge", c.Name, comp.Backlog, got)
			}
		}
		if want := []string{"queue-sqs", "queue-ml", "queue-gateway", "queue-worker"}; !slices.Equal(names, want) {
			t.Errorf("components %v, want %v (start order)", names, want)
		}
		exited := map[string]time.Time{}
		for _, p := range st.procs {
			exited[p.spec.component] = p.exited
			// Linux: the peak is the process's own (VmHWM read before the
			// stop), not wait4's, which includes this process's memory.
			if runtime.GOOS == "linux" && p.peak <= 0 {
				t.Errorf("%s: peak memory not read from /proc before the stop", p.spec.name)
			}
		}
		for _, pair := range [][2]string{{"gateway", "worker"}, {"worker", "ml"}, {"ml", "sqs"}} {
			if !exited[pair[0]].Before(exited[pair[1]]) {
				t.Errorf("%s exited at %s, not before %s at %s", pair[0], exited[pair[0]], pair[1], exited[pair[1]])
			}
		}
		if comps, err := st.Stop(); comps != nil || err != nil {
			t.Errorf("second Stop: %v, %v; want nothing", comps, err)
		}
	})

	// A restarted component comes back on the same port, its log appended,
	// and both processes are accounted for.
	t.Run("restart", func(t *testing.T) {
		cfg := newCfg(t)
		st, err := Start(ctx, cfg, "direct")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Stop()
		health := healthz(t, st.Target())
		if err := st.Restart(ctx, "server", 0); err == nil {
			t.Errorf("Restart of a running server succeeded")
		}
		if err := st.Signal("server", 0, syscall.SIGKILL, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := http.Get(health); err == nil {
			t.Fatalf("%s still answers after SIGKILL", health)
		}
		if err := st.Restart(ctx, "server", 0); err != nil {
			t.Fatal(err)
		}
		if got := healthz(t, st.Target()); got != health {
			t.Errorf("after restart the target is %s, was %s", got, health)
		}
		get(t, health, http.StatusOK)
		comps, err := st.Stop()
		if err != nil {
			t.Fatal(err)
		}
		servers := 0
		for _, c := range comps {
			if c.Name == "direct-server" {
				servers++
				if c.Killed {
					t.Errorf("%+v: a deliberate SIGKILL is not a kill after the grace", c)
				}
			}
		}
		if servers != 2 {
			t.Errorf("%d server processes in %+v, want 2 (killed and restarted)", servers, comps)
		}
		log, err := os.ReadFile(filepath.Join(cfg.LogDir, "direct-server.log"))
		if err != nil || len(log) == 0 {
			t.Errorf("server log: %v, %d bytes", err, len(log))
		}
	})

	// A component that will not start is named, with its log.
	t.Run("start-failure", func(t *testing.T) {
		cfg := newCfg(t)
		cfg.MLProfile = "no-such-profile"
		_, err := Start(ctx, cfg, "direct")
		logPath := filepath.Join(cfg.LogDir, "direct-ml.log")
		if err == nil || !strings.Contains(err.Error(), "direct-ml exited before it was ready") || !strings.Contains(err.Error(), logPath) {
			t.Fatalf("error %v: want one naming direct-ml and %s", err, logPath)
		}
		if log, _ := os.ReadFile(logPath); !strings.Contains(string(log), "no-such-profile") {
			t.Errorf("the log does not say why: %s", log)
		}
	})

	// --instances 2 of the direct path: a redis-server first, then two
	// servers sharing it, each a target; the topology says so.
	t.Run("instances-on-redis", func(t *testing.T) {
		redistest.Binary(t)
		cfg := newCfg(t)
		cfg.Scale = 2
		st, err := Start(ctx, cfg, "direct")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Stop()
		if topo := st.Topology(); topo["redis"] != 1 || topo["server"] != 2 || st.Broker() != BrokerRedis {
			t.Errorf("topology %v, broker %s: want one redis, two servers", topo, st.Broker())
		}
		targets := st.Targets()
		if len(targets) != 2 {
			t.Fatalf("targets %v, want two", targets)
		}
		for _, target := range targets {
			get(t, healthz(t, target), http.StatusOK)
		}
		if _, err := st.Stop(); err != nil {
			t.Error(err)
		}
	})

	// Several instances are several processes, each a target; a process
	// that outlives its stop grace is killed and marked so.
	t.Run("instances-and-kill", func(t *testing.T) {
		cfg := newCfg(t)
		cfg.Instances = map[string]int{"echo": 2}
		cfg.StopGrace = time.Nanosecond
		st, err := Start(ctx, cfg, "echo")
		if err != nil {
			t.Fatal(err)
		}
		targets := st.Targets()
		if len(targets) != 2 || targets[0] == targets[1] {
			t.Fatalf("targets %v, want two", targets)
		}
		for _, target := range targets {
			u, _ := url.Parse(target)
			c, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Errorf("%s: %v", target, err)
				continue
			}
			c.Close()
		}
		// Stopped processes cannot act on SIGTERM within the grace, however
		// short: the kill after it is certain, not a race with echo's exit.
		for _, p := range st.procs {
			if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
		}
		comps, err := st.Stop()
		if err == nil || !strings.Contains(err.Error(), "echo-echo-0 did not stop within 1ns of SIGTERM; killed") {
			t.Errorf("stop error %v: want the kill after the grace named", err)
		}
		for _, c := range comps {
			if !c.Killed {
				t.Errorf("%+v: not marked killed", c)
			}
		}
	})
}

// healthz turns a ws://host/ws target into its /healthz URL.
func healthz(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + u.Host + "/healthz"
}

func get(t *testing.T, url string, status int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != status {
		t.Errorf("GET %s: %d, want %d", url, resp.StatusCode, status)
	}
}
