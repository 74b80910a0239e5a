package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v2"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/buildinfo"
	"github.com/chatbench/chatbench/internal/obs"
	"github.com/chatbench/chatbench/mlservice"
	"github.com/chatbench/chatbench/queuemode"
	"github.com/chatbench/chatbench/queuemode/sqsd"
	"github.com/chatbench/chatbench/socket"
)

// root is the repository root, relative to this package's directory (where
// go test runs).
const root = ".."

const localstackImage = "localstack/localstack:4.14.0"

// compose is the part of docker-compose.yml the checks read.
type compose struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string        `yaml:"image"`
	Profiles    []string      `yaml:"profiles"` // empty: started by a plain docker compose up
	Build       interface{}   `yaml:"build"`    // a context path, or {context, dockerfile}
	Command     interface{}   `yaml:"command"`
	Environment interface{}   `yaml:"environment"` // a map or a list of K=V
	Ports       []interface{} `yaml:"ports"`
	Volumes     []interface{} `yaml:"volumes"`
	DependsOn   interface{}   `yaml:"depends_on"`
	Healthcheck *struct {
		Test interface{} `yaml:"test"`
	} `yaml:"healthcheck"`
}

func (s service) env() map[string]string {
	out := map[string]string{}
	switch e := s.Environment.(type) {
	case map[interface{}]interface{}:
		for k, v := range e {
			out[str(k)] = str(v)
		}
	case []interface{}:
		for _, kv := range e {
			k, v, _ := strings.Cut(str(kv), "=")
			out[k] = v
		}
	}
	return out
}

func str(v interface{}) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	return c
}

// chatbenchServices are the compose services built from the Dockerfile and
// the subcommand each runs (its command starts with it; flags may follow).
var chatbenchServices = map[string]string{
	"ml":      "ml",
	"direct":  "serve direct",
	"gateway": "serve queue",
	"worker":  "worker",
	// The scale profile: two direct instances sharing Redis.
	"direct-1": "serve direct",
	"direct-2": "serve direct",
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"localstack", "ml", "direct", "gateway", "worker", "prometheus", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("docker-compose.yml: no service %q", name)
		}
	}
	if got := c.Services["localstack"].Image; got != localstackImage {
		t.Errorf("localstack image is %q, want exactly %q (the last tag that starts without an auth token)", got, localstackImage)
	}
	ls := c.Services["localstack"]
	if ls.env()["SERVICES"] != "sqs" {
		t.Errorf("localstack: SERVICES=%q, want sqs", ls.env()["SERVICES"])
	}
	if ls.Healthcheck == nil || !strings.Contains(str(ls.Healthcheck.Test), "/_localstack/health") {
		t.Errorf("localstack: want a healthcheck on /_localstack/health")
	}
	for name, s := range c.Services {
		if s.Build == nil {
			// Pulled images must be pinned to a version.
			ref := s.Image
			if ref == "" {
				t.Errorf("service %s: neither image nor build", name)
				continue
			}
			tag := ref[strings.LastIndex(ref, "/")+1:]
			if _, v, ok := strings.Cut(tag, ":"); !ok || v == "latest" || v == "" {
				t.Errorf("service %s: image %q is not pinned to a version", name, ref)
			}
		}
		for _, p := range s.Ports {
			if ps := str(p); !strings.HasPrefix(ps, "127.0.0.1:") {
				t.Errorf("service %s: port %q is not bound to 127.0.0.1", name, ps)
			}
		}
	}
	for name, sub := range chatbenchServices {
		s, ok := c.Services[name]
		if !ok {
			continue
		}
		if cmd := commandString(s.Command); !strings.HasPrefix(cmd+" ", sub+" ") {
			t.Errorf("service %s runs %q, want chatbench %s", name, cmd, sub)
		}
		for k, v := range s.env() {
			if strings.HasPrefix(k, "CHATBENCH_") && strings.HasSuffix(k, "_ADDR") && !strings.HasPrefix(v, "0.0.0.0:") {
				t.Errorf("service %s: %s=%q; in a container it must listen on 0.0.0.0", name, k, v)
			}
		}
	}
	for _, name := range []string{"gateway", "worker"} {
		env := c.Services[name].env()
		if env["AWS_ENDPOINT_URL_SQS"] != "http://localstack:4566" {
			t.Errorf("service %s: AWS_ENDPOINT_URL_SQS=%q, want http://localstack:4566", name, env["AWS_ENDPOINT_URL_SQS"])
		}
		if !strings.Contains(str(c.Services[name].DependsOn), "service_healthy") {
			t.Errorf("service %s: want depends_on localstack with condition service_healthy", name)
		}
	}
	if got := c.Services["worker"].env()["CHATBENCH_CALLBACK_URL"]; !strings.HasPrefix(got, "http://gateway:") {
		t.Errorf("worker: CHATBENCH_CALLBACK_URL=%q, want the gateway service", got)
	}
}

func commandString(c interface{}) string {
	switch c := c.(type) {
	case string:
		return c
	case []interface{}:
		parts := make([]string, len(c))
		for i, p := range c {
			parts[i] = str(p)
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// TestComposeBuilds checks every build context and Dockerfile exists and
// that the Dockerfile builds the chatbench command.
func TestComposeBuilds(t *testing.T) {
	c := loadCompose(t)
	built := 0
	for name, s := range c.Services {
		if s.Build == nil {
			continue
		}
		built++
		ctx, dockerfile := "", "Dockerfile"
		switch b := s.Build.(type) {
		case string:
			ctx = b
		case map[interface{}]interface{}:
			ctx = str(b["context"])
			if d := str(b["dockerfile"]); d != "" {
				dockerfile = d
			}
		}
		if ctx == "" {
			t.Errorf("service %s: build has no context", name)
			continue
		}
		dir := filepath.Join(root, ctx)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Errorf("service %s: build context %q is not a directory", name, ctx)
			continue
		}
		df := filepath.Join(dir, dockerfile)
		b, err := os.ReadFile(df)
		if err != nil {
			t.Errorf("service %s: %v", name, err)
			continue
		}
		for _, want := range []string{"./cmd/chatbench", "CGO_ENABLED=0", `ENTRYPOINT ["chatbench"]`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("service %s: %s does not contain %q", name, dockerfile, want)
			}
		}
		if !regexp.MustCompile(`(?m)^USER\s+\S+`).Match(b) {
			t.Errorf("service %s: %s runs as root (no USER)", name, dockerfile)
		}
		if _, ok := chatbenchServices[name]; !ok {
			t.Errorf("service %s is built but is not a known chatbench service", name)
		}
	}
	if built != len(chatbenchServices) {
		t.Errorf("%d services built from the Dockerfile, want %d", built, len(chatbenchServices))
	}
}

// TestComposeHealthchecks checks every chatbench service checks its own
// health the one way the distroless image allows (exec form: it has no
// shell), with `chatbench health` on the /healthz of the port it serves, and
// that chatbench services wait for the chatbench services they need to be
// healthy, not merely started.
func TestComposeHealthchecks(t *testing.T) {
	if b, err := os.ReadFile(filepath.Join(root, "cmd", "chatbench", "health.go")); err != nil || !strings.Contains(string(b), `Use:   "health"`) {
		t.Fatalf("cmd/chatbench/health.go does not define the health subcommand the healthchecks run (%v)", err)
	}
	c := loadCompose(t)
	for name := range chatbenchServices {
		s := c.Services[name]
		if s.Healthcheck == nil {
			t.Errorf("service %s: no healthcheck", name)
			continue
		}
		test, ok := s.Healthcheck.Test.([]interface{})
		if !ok || len(test) < 3 || str(test[0]) != "CMD" || str(test[1]) != "chatbench" || str(test[2]) != "health" {
			t.Errorf("service %s: healthcheck test %v; want [\"CMD\", \"chatbench\", \"health\", \"--url\", …] (the image has no shell for CMD-SHELL)", name, s.Healthcheck.Test)
			continue
		}
		var target string
		for i := 3; i+1 < len(test); i++ {
			if str(test[i]) == "--url" {
				target = str(test[i+1])
			}
		}
		u, err := url.Parse(target)
		if err != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") || u.Path != "/healthz" {
			t.Errorf("service %s: healthcheck --url %q; want http://127.0.0.1:<port>/healthz", name, target)
			continue
		}
		// /healthz is served beside /metrics: on --metrics-addr where a
		// process has one (the worker), else on --addr.
		env := s.env()
		addr := env["CHATBENCH_METRICS_ADDR"]
		if addr == "" {
			addr = env["CHATBENCH_ADDR"]
		}
		if _, port, _ := net.SplitHostPort(addr); port == "" || port != u.Port() {
			t.Errorf("service %s: healthcheck asks port %q, but the service serves /healthz on %q", name, u.Port(), addr)
		}
		deps, _ := s.DependsOn.(map[interface{}]interface{})
		for dep, v := range deps {
			if _, ours := chatbenchServices[str(dep)]; !ours {
				continue
			}
			cond := ""
			if m, ok := v.(map[interface{}]interface{}); ok {
				cond = str(m["condition"])
			}
			if cond != "service_healthy" {
				t.Errorf("service %s: depends_on %s with condition %q; want service_healthy", name, dep, cond)
			}
		}
	}
}

// TestImageStamps checks the image build stamps version and revision into
// the binary: the Dockerfile's -X flags name variables that exist in
// internal/buildinfo (all of them), from build arguments compose passes.
func TestImageStamps(t *testing.T) {
	const pkg = "github.com/chatbench/chatbench/internal/buildinfo"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(root, "internal", "buildinfo", "stamp.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
			for _, sp := range g.Specs {
				for _, n := range sp.(*ast.ValueSpec).Names {
					vars[n.Name] = true
				}
			}
		}
	}
	if len(vars) == 0 {
		t.Fatal("internal/buildinfo/stamp.go declares no variables to stamp")
	}
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	stamped := map[string]bool{}
	for _, m := range regexp.MustCompile(`-X (\S+)\.(\w+)=\$\{(\w+)\}`).FindAllStringSubmatch(df, -1) {
		if m[1] != pkg || !vars[m[2]] {
			t.Errorf("Dockerfile stamps %s.%s, which internal/buildinfo/stamp.go does not declare", m[1], m[2])
		}
		if !regexp.MustCompile(`(?m)^ARG ` + m[3] + `\b`).MatchString(df) {
			t.Errorf("Dockerfile stamps %s from ${%s}, which is not an ARG", m[2], m[3])
		}
		stamped[m[2]] = true
	}
	for v := range vars {
		if !stamped[v] {
			t.Errorf("Dockerfile does not stamp %s.%s (-X %s.%s=${…})", pkg, v, pkg, v)
		}
	}
	c := loadCompose(t)
	for name := range chatbenchServices {
		bm, _ := c.Services[name].Build.(map[interface{}]interface{})
		args, _ := bm["args"].(map[interface{}]interface{})
		for _, a := range []string{"VERSION", "REVISION"} {
			if _, ok := args[a]; !ok {
				t.Errorf("service %s: build passes no %s argument to stamp", name, a)
			}
		}
	}
}

// mounts returns the host paths of a service's bind mounts with the
// container paths they are mounted on.
func mounts(t *testing.T, name string, s service) map[string]string {
	out := map[string]string{}
	for _, v := range s.Volumes {
		switch v := v.(type) {
		case string:
			parts := strings.Split(v, ":")
			if len(parts) < 2 {
				continue // anonymous volume
			}
			host := parts[0]
			if strings.HasPrefix(host, ".") || strings.HasPrefix(host, "/") || strings.HasPrefix(host, "~") {
				out[host] = parts[1]
			}
		case map[interface{}]interface{}:
			if str(v["type"]) == "bind" {
				out[str(v["source"])] = str(v["target"])
			}
		default:
			t.Errorf("service %s: unreadable volume %v", name, v)
		}
	}
	return out
}

func TestComposeMountsExist(t *testing.T) {
	c := loadCompose(t)
	n := 0
	for name, s := range c.Services {
		for host, target := range mounts(t, name, s) {
			n++
			if filepath.IsAbs(host) || strings.HasPrefix(host, "~") {
				t.Errorf("service %s: bind mount %q is not relative to the repository", name, host)
				continue
			}
			if _, err := os.Stat(filepath.Join(root, host)); err != nil {
				t.Errorf("service %s: bind-mounted %s (on %s): %v", name, host, target, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no bind mounts found; the parser is probably wrong")
	}
	// The LocalStack init script is where LocalStack runs ready hooks, and
	// is executable.
	m := mounts(t, "localstack", c.Services["localstack"])
	const script = "./deploy/localstack/init-sqs.sh"
	if tgt, ok := m[script]; !ok || !strings.HasPrefix(tgt, "/etc/localstack/init/ready.d/") {
		t.Errorf("localstack: %s not mounted into /etc/localstack/init/ready.d/ (mounts: %v)", script, m)
	}
	st, err := os.Stat(filepath.Join(root, script))
	if err == nil && st.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable", script)
	}
	b, _ := os.ReadFile(filepath.Join(root, script))
	for _, want := range []string{"awslocal sqs create-queue", `"${QUEUE}.fifo"`, `"${QUEUE}-dlq.fifo"`, "RedrivePolicy", "maxReceiveCount", "chatbench-jobs"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s does not contain %q", script, want)
		}
	}
}

// TestPrometheusTargets checks deploy/prometheus.yml parses, is mounted
// into the prometheus service, and scrapes exactly the chatbench services,
// each on a port it listens on.
func TestPrometheusTargets(t *testing.T) {
	c := loadCompose(t)
	if tgt := mounts(t, "prometheus", c.Services["prometheus"])["./deploy/prometheus.yml"]; tgt != "/etc/prometheus/prometheus.yml" {
		t.Errorf("prometheus: deploy/prometheus.yml mounted on %q, want /etc/prometheus/prometheus.yml", tgt)
	}
	b, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string          `yaml:"targets"`
				Labels  map[string]string `yaml:"labels"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		// Strict would reject fields this struct does not name; fall back.
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			t.Fatalf("prometheus.yml: %v", err)
		}
	}
	scraped := map[string]bool{}
	for _, sc := range cfg.ScrapeConfigs {
		if sc.MetricsPath != "" && sc.MetricsPath != "/metrics" {
			t.Errorf("job %s: metrics_path %q; chatbench serves /metrics", sc.JobName, sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			if st.Labels["path"] == "" {
				t.Errorf("job %s: no path label (the dashboard groups by it)", sc.JobName)
			}
			for _, target := range st.Targets {
				host, port, err := net.SplitHostPort(target)
				if err != nil {
					t.Errorf("job %s: target %q: %v", sc.JobName, target, err)
					continue
				}
				s, ok := c.Services[host]
				if !ok {
					t.Errorf("job %s: target %q is not a compose service", sc.JobName, target)
					continue
				}
				scraped[host] = true
				listens := false
				for k, v := range s.env() {
					if strings.HasPrefix(k, "CHATBENCH_") && strings.HasSuffix(k, "_ADDR") && strings.HasSuffix(v, ":"+port) {
						listens = true
					}
				}
				if !listens {
					t.Errorf("job %s: service %s sets no CHATBENCH_*_ADDR on port %s", sc.JobName, host, port)
				}
			}
		}
	}
	for name := range chatbenchServices {
		// A service of a profile is down unless its profile is up:
		// Prometheus would show it as a failing target.
		if !scraped[name] && len(c.Services[name].Profiles) == 0 {
			t.Errorf("prometheus.yml does not scrape service %s", name)
		}
		if scraped[name] && len(c.Services[name].Profiles) != 0 {
			t.Errorf("prometheus.yml scrapes service %s, which runs only in profile %v", name, c.Services[name].Profiles)
		}
	}
}

// TestGrafanaProvisioning checks the provisioning files parse and point at
// the mounted dashboards and the Prometheus service.
func TestGrafanaProvisioning(t *testing.T) {
	c := loadCompose(t)
	m := mounts(t, "grafana", c.Services["grafana"])
	dashDir := m["./deploy/grafana/dashboards"]
	if m["./deploy/grafana/provisioning"] != "/etc/grafana/provisioning" || dashDir == "" {
		t.Fatalf("grafana: mounts %v; want provisioning on /etc/grafana/provisioning and the dashboards folder", m)
	}
	var ds struct {
		Datasources []struct {
			UID, Type, URL string
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("datasources: %+v; want one prometheus at http://prometheus:9090", ds.Datasources)
	}
	var dp struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "grafana/provisioning/dashboards/chatbench.yml", &dp)
	if len(dp.Providers) != 1 || dp.Providers[0].Options.Path != dashDir {
		t.Errorf("dashboard provider: %+v; want options.path %s", dp.Providers, dashDir)
	}
	d := loadDashboard(t)
	var uids []string
	walk(d, func(k string, v interface{}) {
		if k == "datasource" {
			if m, ok := v.(map[string]interface{}); ok {
				uids = append(uids, str(m["uid"]))
			}
		}
	})
	for _, u := range uids {
		if len(ds.Datasources) > 0 && u != ds.Datasources[0].UID {
			t.Errorf("dashboard uses datasource uid %q, provisioned is %q", u, ds.Datasources[0].UID)
			break
		}
	}
}

func readYAML(t *testing.T, path string, v interface{}) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func loadDashboard(t *testing.T) map[string]interface{} {
	t.Helper()
	b, err := os.ReadFile("grafana/dashboards/chatbench.json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]interface{}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("chatbench.json: %v", err)
	}
	return d
}

// walk calls fn for every key/value pair in a decoded JSON document.
func walk(v interface{}, fn func(k string, v interface{})) {
	switch v := v.(type) {
	case map[string]interface{}:
		for k, x := range v {
			fn(k, x)
			walk(x, fn)
		}
	case []interface{}:
		for _, x := range v {
			walk(x, fn)
		}
	}
}

var (
	metricRe   = regexp.MustCompile(`chatbench_[a-z_]+`)
	byRe       = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	fqNameRe   = regexp.MustCompile(`fqName: "([^"]+)"`)
	varLblRe   = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	constLblRe = regexp.MustCompile(`constLabels: \{([^}]*)\}`)
)

// TestDashboardMetricsExist checks every metric the dashboard queries is
// exported by chatbench, and every label it groups by is one of those
// metrics' labels or a label Prometheus adds.
func TestDashboardMetricsExist(t *testing.T) {
	exported := exportedMetrics(t)
	d := loadDashboard(t)
	var exprs []string
	walk(d, func(k string, v interface{}) {
		if k == "expr" {
			exprs = append(exprs, str(v))
		}
	})
	if len(exprs) == 0 {
		t.Fatal("the dashboard has no PromQL expressions")
	}
	used := map[string]bool{}
	for _, e := range exprs {
		names := metricRe.FindAllString(e, -1)
		if len(names) == 0 {
			t.Errorf("expression names no chatbench metric: %s", e)
		}
		labels := map[string]bool{"path": true, "job": true, "instance": true}
		for _, n := range names {
			base := n
			lbls, ok := exported[base]
			if !ok {
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b := strings.TrimSuffix(n, suf); b != n {
						if l, ok2 := exported[b]; ok2 {
							base, lbls, ok = b, l, true
							if suf == "_bucket" {
								labels["le"] = true
							}
						}
					}
				}
			}
			if !ok {
				t.Errorf("dashboard queries %s, which chatbench does not export (expression: %s)", n, e)
				continue
			}
			used[base] = true
			for _, l := range lbls {
				labels[l] = true
			}
		}
		for _, m := range byRe.FindAllStringSubmatch(e, -1) {
			for _, l := range strings.Split(m[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !labels[l] {
					t.Errorf("expression groups by %q, not a label of its metrics: %s", l, e)
				}
			}
		}
	}
	// The brief of the dashboard: both paths' key figures are on it.
	for _, want := range []string{
		"chatbench_ws_connections", "chatbench_messages_in_total", "chatbench_events_out_total",
		"chatbench_job_duration_seconds", "chatbench_background_tasks_in_flight", "chatbench_queue_jobs_in_flight",
		"chatbench_sqs_call_duration_seconds", "chatbench_queue_redeliveries_total", "chatbench_queue_dlq_depth",
		"chatbench_ml_calls_total", "chatbench_send_queue_drops_total", "chatbench_protocol_errors_total",
	} {
		if !used[want] {
			t.Errorf("the dashboard has no panel on %s", want)
		}
	}
}

// recorder is a Registerer that records the name and variable labels of
// every metric registered through it, whether or not it has been observed
// yet (a vector with no children is absent from Gather).
type recorder struct {
	prometheus.Registerer
	mu    sync.Mutex
	names map[string][]string
}

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	r.mu.Lock()
	for d := range ch {
		s := d.String()
		m := fqNameRe.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		var lbls []string
		if v := varLblRe.FindStringSubmatch(s); v != nil && v[1] != "" {
			for _, l := range strings.Split(v[1], ",") {
				lbls = append(lbls, strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"))
			}
		}
		if v := constLblRe.FindStringSubmatch(s); v != nil && v[1] != "" {
			for _, l := range strings.Split(v[1], ",") {
				name, _, _ := strings.Cut(l, "=")
				lbls = append(lbls, name)
			}
		}
		r.names[m[1]] = lbls
	}
	r.mu.Unlock()
	return r.Registerer.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// exportedMetrics builds the real components, as the chatbench commands
// do, on a fresh registry, and returns every metric name they register with
// its variable labels.
func exportedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	reg := prometheus.NewRegistry()
	rec := &recorder{Registerer: reg, names: map[string][]string{}}

	// What obs.NewRegistry adds to every server process's registry.
	rec.MustRegister(obs.NewBuildInfo(buildinfo.Read()))

	// ML service and its client (`chatbench ml`, and every --ml-url user).
	if _, err := mlservice.New(mlservice.Config{Registerer: rec}); err != nil {
		t.Fatal(err)
	}
	client, err := mlservice.NewClient(mlservice.ClientConfig{BaseURL: "http://127.0.0.1:9", Registerer: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	// The direct path: front door, hub, dispatcher (`chatbench serve direct`).
	srv, err := directmode.Start(directmode.ServerConfig{
		Addr: "127.0.0.1:0", Front: socket.Config{Secret: []byte("deploy-test-secret-0123456789"), Registerer: rec},
		Dispatcher: directmode.Config{Catalog: jobs.Catalog(), Deps: chat.Deps{ML: client}, Registerer: rec},
		Gatherer:   reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer func() {
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()

	// The embedded SQS endpoint (`chatbench sqs`).
	sq := sqsd.New(sqsd.Config{Registerer: rec})
	defer sq.Close()

	// The queue path (`chatbench serve queue`, `chatbench worker`): the
	// gateway and the worker register their queue metrics through
	// queuemode.NewMetrics, and the worker its job metrics as the direct
	// path does (obs.NewJobMetrics, registered above).
	queuemode.NewMetrics(rec)

	out := map[string][]string{}
	rec.mu.Lock()
	for n, l := range rec.names {
		out[n] = l
	}
	rec.mu.Unlock()
	if len(out) < 10 {
		t.Fatalf("only %d metrics recorded; is the recorder wired in? %v", len(out), out)
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("exported metrics: %s", strings.Join(names, " "))
	return out
}
