package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"
)

// TestLiveDeployment runs the deployment the way docker-compose.yml lays
// it out, without Docker: the chatbench binary, built from this checkout,
// as the ML service, the direct server, the queue gateway and a separate
// worker (against chatbench's own SQS endpoint, standing in for
// LocalStack), each a process on loopback, and a real Prometheus scraping
// them with deploy/prometheus.yml's jobs and labels. After a short replay
// through each path it checks what an SRE would: every process's /metrics
// passes `promtool check metrics` and carries chatbench_build_info, and
// every PromQL query of the Grafana dashboard returns data — a series
// with a number, so no panel says "No data" on a healthy system (error
// counters included, which exist at 0 before the first error).
//
// It needs Debian's prometheus package (prometheus and promtool): skipped
// without it, unless CHATBENCH_REQUIRE_PROMETHEUS is set (CI sets it).
func TestLiveDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes and Prometheus; not with -short")
	}
	for _, tool := range []string{"prometheus", "promtool"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CHATBENCH_REQUIRE_PROMETHEUS") != "" {
				t.Fatalf("%s not found, and CHATBENCH_REQUIRE_PROMETHEUS is set: apt-get install prometheus", tool)
			}
			t.Skipf("%s not found (Debian's prometheus package provides it); skipping the live check of metrics and dashboard", tool)
		}
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "chatbench")
	if out, err := exec.Command("go", "build", "-o", exe, "../cmd/chatbench").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/chatbench: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func(name string, args ...string) {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		log, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = 10 * time.Second
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cancel()
			_ = cmd.Wait()
			log.Close()
			if t.Failed() {
				b, _ := os.ReadFile(log.Name())
				t.Logf("%s's output:\n%s", name, b)
			}
		})
	}
	addr := map[string]string{} // role → host:port
	for _, role := range []string{"ml", "direct", "gateway", "callback", "sqs", "worker", "prometheus"} {
		addr[role] = freeAddr(t)
	}
	const secret, cbSecret = "live-test-secret-0123456789", "live-test-callback-secret-0123456789"
	start("sqs", exe, "sqs", "--addr", addr["sqs"])
	start("ml", exe, "ml", "--addr", addr["ml"], "--profile", "fast")
	mlURL, sqsURL := "http://"+addr["ml"], "http://"+addr["sqs"]
	start("direct", exe, "serve", "direct", "--addr", addr["direct"], "--ml-url", mlURL, "--secret", secret)
	waitHealthy(t, "http://"+addr["sqs"]+"/", 0) // the SQS endpoint answers on any path
	start("gateway", exe, "serve", "queue", "--addr", addr["gateway"], "--callback-addr", addr["callback"],
		"--embedded-worker", "0", "--sqs-endpoint", sqsURL, "--secret", secret, "--callback-secret", cbSecret)
	start("worker", exe, "worker", "--sqs-endpoint", sqsURL, "--callback-url", "http://"+addr["callback"],
		"--ml-url", mlURL, "--metrics-addr", addr["worker"], "--callback-secret", cbSecret)
	// The scrape jobs of deploy/prometheus.yml, each pointed at its process.
	scraped := map[string]string{"ml": addr["ml"], "direct": addr["direct"], "gateway": addr["gateway"], "worker": addr["worker"]}
	for job, a := range scraped {
		waitHealthy(t, "http://"+a+"/healthz", http.StatusOK)
		checkExposition(t, job, "http://"+a+"/metrics")
	}
	start("prometheus", "prometheus", "--config.file="+prometheusConfig(t, dir, scraped),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+addr["prometheus"])
	waitHealthy(t, "http://"+addr["prometheus"]+"/-/ready", http.StatusOK)
	// Every target scraped once before the replay: a rate needs a sample
	// from before the counters rose.
	waitFor(t, "every target scraped", func() bool {
		return hasData(t, addr["prometheus"], fmt.Sprintf("count(up == 1) == %d", len(scraped)))
	})

	// A short replay through each path, so that latency panels have
	// observations; error panels must show data without any error.
	trace := filepath.Join(dir, "t.jsonl")
	run(t, exe, "trace", "gen", "--days", "0.01", "--out", trace)
	for path, a := range map[string]string{"direct": addr["direct"], "queue": addr["gateway"]} {
		run(t, exe, "bench", "--target", "ws://"+a+"/ws", "--path", path, "--trace", trace, "--secret", secret,
			"--speed", "2880", "--pace", "2880", "--drain", "5s", "--progress", "off", "--log-level", "warn")
	}

	exprs := dashboardExprs(t)
	var empty []string
	waitFor(t, "every dashboard query to return data", func() bool {
		empty = empty[:0]
		for _, e := range exprs {
			if !hasData(t, addr["prometheus"], e) {
				empty = append(empty, e)
			}
		}
		return len(empty) == 0
	}, func() {
		t.Errorf("%d of %d dashboard queries return no data (\"No data\" in Grafana):\n%s", len(empty), len(exprs), strings.Join(empty, "\n"))
	})
}

// waitFor polls ok, as Prometheus scrapes every second, until it holds;
// after 30 s it runs explain (if any) and fails the test.
func waitFor(t *testing.T, what string, ok func() bool, explain ...func()) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			for _, e := range explain {
				e()
			}
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHealthy polls u until it answers (with status want, when not 0).
func waitHealthy(t *testing.T, u string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if want == 0 || resp.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v", u, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run runs a chatbench command to completion.
func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args[1:], " "), err, out)
	}
}

// checkExposition runs promtool check metrics on the process's /metrics
// and checks it states its build.
func checkExposition(t *testing.T, job, u string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: promtool check metrics on %s: %v\n%s", job, u, err, out)
	}
	if !strings.Contains(string(body), "\nchatbench_build_info{") {
		t.Errorf("%s: %s has no chatbench_build_info", job, u)
	}
}

// prometheusConfig writes deploy/prometheus.yml with each job's targets
// replaced by the address of its process here, and a 1 s scrape interval,
// and returns the file's name.
func prometheusConfig(t *testing.T, dir string, targets map[string]string) string {
	t.Helper()
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]interface{}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["global"] = map[string]string{"scrape_interval": "1s", "evaluation_interval": "1s"}
	jobs, _ := cfg["scrape_configs"].([]interface{})
	for _, j := range jobs {
		sc := j.(map[interface{}]interface{})
		name := str(sc["job_name"])
		a, ok := targets[name]
		if !ok {
			t.Fatalf("prometheus.yml scrapes job %q, which this test does not start", name)
		}
		for _, st := range sc["static_configs"].([]interface{}) {
			st.(map[interface{}]interface{})["targets"] = []string{a}
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// dashboardExprs returns the PromQL of every panel, with Grafana's
// $__rate_interval as a minute: long enough to span the replay.
func dashboardExprs(t *testing.T) []string {
	var exprs []string
	walk(loadDashboard(t), func(k string, v interface{}) {
		if k == "expr" {
			exprs = append(exprs, strings.ReplaceAll(str(v), "$__rate_interval", "1m"))
		}
	})
	return exprs
}

// hasData reports whether expr, queried now, returns a series with a
// number (NaN, as histogram_quantile gives without observations, is a
// gap on a graph).
func hasData(t *testing.T, prom, expr string) bool {
	t.Helper()
	resp, err := http.Get("http://" + prom + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]interface{} `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s %s", expr, r.Status, r.Error)
	}
	for _, s := range r.Data.Result {
		if v, err := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64); err == nil && !math.IsNaN(v) {
			return true
		}
	}
	return false
}
