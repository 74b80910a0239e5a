package deploy_test

import (
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/internal/wstest"
)

// TestComposeScaleProfile checks the compose profile "scale": Redis and at
// least two direct instances, each of the profile alone (a plain docker
// compose up starts none of them), each instance using the profile's Redis
// as its broker and waiting for it to be healthy, on ports of its own.
func TestComposeScaleProfile(t *testing.T) {
	c := loadCompose(t)
	var directs []string
	redis := ""
	for name, s := range c.Services {
		if !slices.Contains(s.Profiles, "scale") {
			continue
		}
		switch {
		case strings.HasPrefix(s.Image, "redis:"):
			redis = name
			test, _ := s.Healthcheck.Test.([]interface{})
			if s.Healthcheck == nil || len(test) < 3 || str(test[1]) != "redis-cli" || str(test[2]) != "ping" {
				t.Errorf("service %s: healthcheck %v; want [CMD, redis-cli, ping]", name, s.Healthcheck)
			}
		case strings.HasPrefix(commandString(s.Command)+" ", "serve direct "):
			directs = append(directs, name)
		default:
			t.Errorf("service %s is in profile scale, which holds Redis and direct instances", name)
		}
	}
	if redis == "" || len(directs) < 2 {
		t.Fatalf("profile scale holds Redis %q and direct instances %v; want Redis and at least two", redis, directs)
	}
	ports := map[string]string{}
	for _, name := range directs {
		s := c.Services[name]
		args := strings.Fields(commandString(s.Command))
		b, _ := flagValue(args, "--broker")
		u, err := url.Parse(b)
		if err != nil || u.Scheme != "redis" || u.Hostname() != redis || u.Port() != "6379" {
			t.Errorf("service %s: --broker %q; want redis://%s:6379/<db>, the profile's Redis", name, b, redis)
		}
		deps, _ := s.DependsOn.(map[interface{}]interface{})
		dep, _ := deps[redis].(map[interface{}]interface{})
		if str(dep["condition"]) != "service_healthy" {
			t.Errorf("service %s: does not wait for %s to be healthy", name, redis)
		}
		for _, p := range s.Ports {
			host := strings.TrimSuffix(str(p), ":8080")
			if other, dup := ports[host]; dup {
				t.Errorf("services %s and %s publish the same port %s", other, name, host)
			}
			ports[host] = name
		}
	}
}

// helpEnv matches the environment variable cobra's help shows for a flag.
var helpEnv = regexp.MustCompile(`\[(CHATBENCH_[A-Z0-9_]+)\]`)

// TestDeployCommandLines runs every chatbench command line of the
// deployments — each compose service's command, each Kubernetes container's
// args after $(VAR) expansion (every index of an Indexed Job: pod i's
// --shard i/n), each exec probe — through the real chatbench binary with
// --help: cobra then parses every flag (an unknown flag, or a value the
// flag refuses, fails) and prints the usage of the command it found, which
// must be the subcommand given. Every CHATBENCH_ variable the deployment
// sets must be one the command reads (its help lists them).
func TestDeployCommandLines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the chatbench binary")
	}
	exe := wstest.BuildChatbench(t)
	lines := k8sCommandLines(t)
	c := loadCompose(t)
	for name := range chatbenchServices {
		s := c.Services[name]
		var env []string
		for k := range s.env() {
			if strings.HasPrefix(k, "CHATBENCH_") {
				env = append(env, k)
			}
		}
		lines = append(lines, commandLine{where: "docker-compose.yml: service " + name, args: strings.Fields(commandString(s.Command)), env: env})
		if s.Healthcheck != nil {
			if test, ok := s.Healthcheck.Test.([]interface{}); ok && len(test) > 1 && str(test[1]) == "chatbench" {
				var args []string
				for _, a := range test[2:] {
					args = append(args, str(a))
				}
				lines = append(lines, commandLine{where: "docker-compose.yml: service " + name + ": healthcheck", args: args})
			}
		}
	}
	for _, l := range lines {
		out, err := exec.Command(exe, append(slices.Clone(l.args), "--help")...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: chatbench %s: %v\n%s", l.where, strings.Join(l.args, " "), err, out)
			continue
		}
		sub := words(l.args)
		if _, usage, _ := strings.Cut(string(out), "Usage:\n  "); sub == "" || !strings.HasPrefix(usage, "chatbench "+sub+" ") {
			t.Errorf("%s: %q is not the subcommand chatbench found; help says:\n%s", l.where, sub, out)
			continue
		}
		reads := map[string]bool{}
		for _, m := range helpEnv.FindAllStringSubmatch(string(out), -1) {
			reads[m[1]] = true
		}
		for _, e := range l.env {
			if !reads[e] {
				t.Errorf("%s: sets %s, which chatbench %s does not read (no such flag)", l.where, e, sub)
			}
		}
	}
	if len(lines) < len(chatbenchServices) {
		t.Fatalf("only %d command lines found", len(lines))
	}
}
