package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chatbench/chatbench/bench/chaos"
	"github.com/chatbench/chatbench/bench/echo"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stack"
)

// runAll executes chatbench with args as main does and returns its exit
// status, standard output and standard error.
func runAll(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// commands returns the path (as arguments) of every command under c.
func commands(c *cobra.Command) [][]string {
	var out [][]string
	var visit func(c *cobra.Command, path []string)
	visit = func(c *cobra.Command, path []string) {
		out = append(out, path)
		for _, sub := range c.Commands() {
			visit(sub, append(slices.Clone(path), sub.Name()))
		}
	}
	visit(c, nil)
	return out
}

// TestUnknownFlagEverywhere gives every command a flag it does not have: each
// exits 2 and says so once, naming the command, and where to read its
// usage. (Cobra used to print "Error: …" and main "chatbench: …", and exit 1.)
func TestUnknownFlagEverywhere(t *testing.T) {
	for _, path := range commands(newRootCmd()) {
		t.Run(strings.Join(append([]string{"chatbench"}, path...), " "), func(t *testing.T) {
			code, out, errOut := runAll(t, append(path, "--no-such-flag")...)
			name := strings.Join(append([]string{"chatbench"}, path...), " ")
			want := name + ": unknown flag: --no-such-flag\nRun '" + name + " --help' for usage.\n"
			if code != exitUsage || errOut != want || out != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit %d and stderr %q", code, errOut, out, exitUsage, want)
			}
		})
	}
}

// TestExitCodes checks each kind of failure exits with its code (docs/cli.md)
// and prints its error exactly once.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.jsonl")
	if err := os.WriteFile(broken, []byte(`{"chatbench_trace":1,"name":"t","start":"2026-01-01T00:00:00Z"}
{"t":0,"conv":"c1","user":"p1","role":"patient","type":"telepathy","id":"p1-1","size":0}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := writeRun(t, dir, "run.json", 1)
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		once string // printed exactly once on stderr ("" = stderr empty)
	}{
		{"ok", nil, []string{"version"}, exitOK, ""},
		{"unknown command", nil, []string{"benhc"}, exitUsage, `chatbench: unknown command "benhc" for "chatbench"`},
		{"unknown subcommand", nil, []string{"trace", "genn"}, exitUsage, `chatbench trace: unknown command "genn" for "chatbench trace"`},
		{"unexpected argument", nil, []string{"bench", "direct"}, exitUsage, `chatbench bench: unexpected argument "direct"`},
		{"missing argument", nil, []string{"trace", "stats"}, exitUsage, "chatbench trace stats: accepts 1 arg(s), received 0 (usage: chatbench trace stats FILE [flags])"},
		{"bad value", nil, []string{"bench", "--speed", "-1"}, exitUsage, "chatbench bench: --speed -1: must be positive"},
		{"unparsable value", nil, []string{"bench", "--drain", "soon"}, exitUsage, "chatbench bench: --drain soon: want a duration"},
		{"value not offered", nil, []string{"report", run, "--format", "pdf"}, exitUsage, "chatbench report: --format pdf: use text, markdown, html or json"},
		{"bad environment", map[string]string{"CHATBENCH_LOG_LEVEL": "loud"}, []string{"version"}, exitUsage, `chatbench version: bad environment: CHATBENCH_LOG_LEVEL="loud": use debug, info, warn or error`},
		{"missing file", nil, []string{"trace", "stats", filepath.Join(dir, "none.jsonl")}, exitUsage, "no such file or directory"},
		{"required flag", nil, []string{"token"}, exitUsage, "chatbench token: --user is required"},
		{"gate usage", nil, []string{"gate", "--current", run}, exitUsage, "chatbench gate: no rules"},
		// A check that failed: its report is on standard output.
		{"gate failed", nil, []string{"gate", "--current", run, "--rule", "lost == 0"}, exitChecks, ""},
		{"invalid trace", nil, []string{"trace", "validate", broken}, exitChecks, "invalid trace (1 problems listed)"},
		// Nothing listens on port 1: the command line is fine, the run fails.
		{"runtime failure", nil, []string{"bench", "--target", "ws://127.0.0.1:1/ws", "--trace", oversizeTrace, "--max-frame-bytes", "70000", "--progress", "off", "--log-level", "error"}, exitFailure, "chatbench bench: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, _, errOut := runAll(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, errOut)
			}
			switch {
			case c.once == "" && errOut != "":
				t.Errorf("stderr %q, want nothing", errOut)
			case c.once != "" && strings.Count(errOut, c.once) != 1:
				t.Errorf("stderr %q, want %q exactly once", errOut, c.once)
			}
			if strings.Contains(errOut, "Error:") {
				t.Errorf("cobra's own error line in %q", errOut)
			}
		})
	}
}

// TestExitCodesOfBinary runs chatbench as its own process (this test
// binary runs main when given a subcommand, see TestMain) for one failure
// of each kind: the exit status and standard error are what a shell sees.
func TestExitCodesOfBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := writeRun(t, dir, "run.json", 1)
	for _, c := range []struct {
		args   []string
		code   int
		stderr string // exactly
	}{
		{[]string{"version", "--format", "json"}, exitOK, ""},
		{[]string{"bench", "--bogus"}, exitUsage, "chatbench bench: unknown flag: --bogus\nRun 'chatbench bench --help' for usage.\n"},
		{[]string{"gate", "--current", run, "--rule", "lost == 0"}, exitChecks, ""},
		{[]string{"report", filepath.Join(dir, "none.json")}, exitUsage, "chatbench report: open " + filepath.Join(dir, "none.json") + ": no such file or directory\nRun 'chatbench report --help' for usage.\n"},
		{[]string{"health", "--url", "http://127.0.0.1:1/healthz", "--timeout", "1s"}, exitFailure, "unhealthy: http://127.0.0.1:1/healthz: dial tcp 127.0.0.1:1: connect: connection refused\n"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			cmd := exec.Command(exe, c.args...)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.code || errb.String() != c.stderr {
				t.Errorf("exit %d, stderr %q; want exit %d, stderr %q", code, errb.String(), c.code, c.stderr)
			}
		})
	}
}

// complete runs cobra's __complete for args and returns the candidates
// (without descriptions) and the directive line.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	code, out, errOut := runAll(t, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d %s", args, code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var cands []string
	for _, l := range lines[:len(lines)-1] {
		cand, _, _ := strings.Cut(l, "\t")
		cands = append(cands, cand)
	}
	return cands, lines[len(lines)-1]
}

// TestCompletionOfValues checks, on every command, that each flag taking
// one of a set of values completes exactly those values; and that list
// flags, file flags and file arguments complete as their sources say.
func TestCompletionOfValues(t *testing.T) {
	root := newRootCmd()
	n := 0
	for _, path := range commands(root) {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			ch, ok := f.Value.(*choice)
			if !ok {
				return
			}
			n++
			got, dir := complete(t, append(slices.Clone(path), "--"+f.Name, "")...)
			if !slices.Equal(got, ch.values) || dir != fmt.Sprintf(":%d", cobra.ShellCompDirectiveNoFileComp) {
				t.Errorf("%v --%s completes %q (%s), want %q", path, f.Name, got, dir, ch.values)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d choice flags found", n)
	}
	// A list completes its next element, from what the package lists.
	var want []string
	for _, p := range stack.Names() {
		if p != "direct" {
			want = append(want, "direct,"+p)
		}
	}
	if got, _ := complete(t, "compare", "--paths", "direct,"); !slices.Equal(got, want) {
		t.Errorf("compare --paths direct, completes %q, want %q", got, want)
	}
	if got, _ := complete(t, "chaos", "--scenarios", ""); !slices.Equal(got, chaos.ScenarioNames()) {
		t.Errorf("chaos --scenarios completes %q, want %q", got, chaos.ScenarioNames())
	}
	fileExt := fmt.Sprintf(":%d", cobra.ShellCompDirectiveFilterFileExt)
	for _, c := range []struct {
		args []string
		exts []string
	}{
		{[]string{"report", ""}, resultsExts},
		{[]string{"report", "merge", "x.json", ""}, resultsExts},
		{[]string{"gate", "--current", ""}, resultsExts},
		{[]string{"gate", "--baseline", ""}, resultsExts},
		{[]string{"trace", "stats", ""}, traceExts},
		{[]string{"bench", "--trace", ""}, traceExts},
		{[]string{"compare", "--trace", ""}, traceExts},
	} {
		got, dir := complete(t, c.args...)
		got = slices.DeleteFunc(got, func(s string) bool { return s == "merge" }) // report's subcommand
		if dir != fileExt || !slices.Equal(got, c.exts) {
			t.Errorf("%q completes %q (%s), want files ending in %q", c.args, got, dir, c.exts)
		}
	}
}

// TestFormatJSON checks the commands that print results print JSON a
// program can read with --format json: trace stats and validate, version,
// and bench (the results document, nothing else on standard output).
func TestFormatJSON(t *testing.T) {
	day := "../../bench/trace/day.jsonl.gz"
	var stats traceSummary
	decode(t, &stats, "trace", "stats", "--format", "json", day)
	if stats.Messages != 14700 || stats.ByType["text"] == 0 || len(stats.PerBucket) == 0 || stats.BucketSeconds <= 0 {
		t.Errorf("trace stats: %+v", stats)
	}
	var v traceValidation
	code, out, _ := runAll(t, "trace", "validate", "--format", "json", duplicateIDTrace)
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != exitChecks || v.OK || len(v.Problems) != 1 || v.Problems[0].Line != 5 || v.Problems[0].Field != "id" {
		t.Errorf("trace validate: exit %d %+v %v", code, v, err)
	}
	var ver struct{ Version, Revision string }
	decode(t, &ver, "version", "--format", "json")
	if ver.Version == "" || ver.Revision == "" {
		t.Errorf("version: %+v", ver)
	}

	srv, err := echo.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(context.Background()) }()
	code, out, errOut := runAll(t, "bench", "--target", srv.URL(), "--path", "echo", "--trace", oversizeTrace,
		"--max-frame-bytes", "70000", "--speed", "2880", "--format", "json", "--progress", "off", "--log-level", "error", "--out", filepath.Join(t.TempDir(), "r.json"))
	run, err := results.Read(strings.NewReader(out))
	if code != exitOK || err != nil || len(run.Paths) != 1 || run.Paths[0].Name != "echo" {
		t.Fatalf("bench --format json: exit %d, %v; stdout %q, stderr %q", code, err, out, errOut)
	}
	if !strings.Contains(errOut, "results: ") {
		t.Errorf("bench --format json --out: the file's name belongs on stderr, got %q", errOut)
	}
}

// decode runs chatbench and decodes its standard output as JSON into v.
func decode(t *testing.T, v any, args ...string) {
	t.Helper()
	code, out, errOut := runAll(t, args...)
	if code != exitOK {
		t.Fatalf("%q: exit %d %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%q: %v\n%s", args, err, out)
	}
}
