package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/internal/wstest"
)

// TestMain runs the tests, or — when this test binary is started as a
// component by a command under test (compare and chaos start
// os.Executable() with a subcommand, and in a test that is this binary) —
// runs chatbench itself. Without that, such a component would run every
// test again, starting components in turn: a fork bomb.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-test.") {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

// run executes chatbench with args in this process and returns stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(io.Discard)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestTokenAndEnv(t *testing.T) {
	if _, err := run(t, "token"); err == nil || !strings.Contains(err.Error(), "--user") {
		t.Fatalf("token without --user: %v", err)
	}
	if _, err := run(t, "token", "--user", "p1", "--role", "nurse"); err == nil || !strings.Contains(err.Error(), "patient or provider") {
		t.Fatalf("bad role: %v", err)
	}
	t.Setenv("CHATBENCH_USER", "p1")
	out, err := run(t, "token")
	if err != nil || strings.Count(strings.TrimSpace(out), ".") != 1 {
		t.Fatalf("token from env: %q %v", out, err)
	}
	t.Setenv("CHATBENCH_TTL", "soon")
	if _, err := run(t, "token"); err == nil || !strings.Contains(err.Error(), "CHATBENCH_TTL") {
		t.Fatalf("bad env value not named: %v", err)
	}
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "chatbench ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version: %q %v", out, err)
	}
}

func TestCompletion(t *testing.T) {
	out, err := run(t, "completion", "bash")
	if err != nil || !strings.Contains(out, "chatbench") {
		t.Fatalf("completion: %v", err)
	}
}

// startServe runs chatbench with args (a serve command) in this process, as a
// user would, and returns the WebSocket URL it printed, a client
// authenticated as patient p1 allowed in c1 (with a token from `chatbench
// token`), and stop, which ends the command as SIGTERM would and returns its
// error.
func startServe(t *testing.T, args ...string) (url string, c *wstest.Client, stop func() error) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(pw)
	root.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	url = regexp.MustCompile(`ws://\S+/ws`).FindString(line)
	if url == "" {
		t.Fatalf("no URL in %q", line)
	}
	tok, err := run(t, "token", "--user", "p1", "--role", "patient", "--conv", "c1")
	if err != nil {
		t.Fatal(err)
	}
	c = wstest.Dial(t, url, "")
	c.Auth(strings.TrimSpace(tok))
	return url, c, func() error {
		cancel()
		err := <-done
		<-c.Done()
		return err
	}
}

// awaitEvent reads c's frames until the event named name replying to ref.
func awaitEvent(c *wstest.Client, ref, name string) *chat.ServerFrame {
	for {
		f := c.Next()
		if f.Op == chat.OpEvent && f.ReplyTo == ref && f.Event.Name == name {
			return f
		}
	}
}

// TestServeDirect runs `chatbench serve direct` as a user would (embedded
// ML service, default catalog), talks to it over a real WebSocket, and
// stops it as SIGTERM would.
func TestServeDirect(t *testing.T) {
	_, c, stop := startServe(t, "serve", "direct", "--addr", "127.0.0.1:0", "--ml-profile", "zero", "--log-level", "error")
	c.Send(chat.ClientFrame{Op: chat.OpJoin, ID: "j", Conv: "c1"})
	c.Send(chat.ClientFrame{Op: chat.OpSend, ID: "w", Conv: "c1", Type: "wait_time_request"})
	awaitEvent(c, "w", "wait_time")
	if err := stop(); err != nil {
		t.Fatalf("serve direct exited with %v", err)
	}
}

// TestTraceValidate checks the shipped day validates and a broken trace is
// refused with its line number and exit code 3 (a check failed).
func TestTraceValidate(t *testing.T) {
	out, err := run(t, "trace", "validate", "../../bench/trace/day.jsonl.gz")
	if err != nil || !strings.HasPrefix(out, "ok: 14700 messages") {
		t.Fatalf("shipped day: %q %v", out, err)
	}
	dir := t.TempDir()
	broken := dir + "/broken.jsonl"
	data := `{"chatbench_trace":1,"name":"t","start":"2026-01-01T00:00:00Z"}
{"t":0,"conv":"c1","user":"p1","role":"patient","type":"join","id":"p1-1","size":0}
{"t":5,"conv":"c1","user":"p1","role":"patient","type":"telepathy","id":"p1-2","size":0}
`
	if err := os.WriteFile(broken, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "trace", "validate", broken)
	var ec exitCodeError
	if !errors.As(err, &ec) || ec.code != exitChecks || !strings.Contains(out, "line 3") {
		t.Fatalf("broken trace: out %q err %v", out, err)
	}
	// A message whose frame is a byte over the default limit (line 6), and
	// fits a server run with a larger --max-frame.
	out, err = run(t, "trace", "validate", oversizeTrace)
	if !errors.As(err, &ec) || ec.code != exitChecks || !strings.Contains(out, "line 6") || !strings.Contains(out, "--max-frame-bytes") {
		t.Fatalf("oversize frame: out %q err %v", out, err)
	}
	if out, err = run(t, "trace", "validate", "--max-frame-bytes", "70000", oversizeTrace); err != nil || !strings.HasPrefix(out, "ok: 10 messages") {
		t.Fatalf("oversize frame, --max-frame-bytes 70000: out %q err %v", out, err)
	}
}

// Fixtures of package trace, traces of shapes a replay cannot use.
const (
	oversizeTrace    = "../../bench/trace/testdata/oversize-frame.jsonl"
	duplicateIDTrace = "../../bench/trace/testdata/duplicate-id.jsonl"
)

// TestBenchValidatesTraceFirst gives bench traces a replay cannot use: it
// refuses each with its line before connecting to anything (the target
// refuses connections, so an attempt would fail with another error). A
// duplicate id once reached the driver, which failed without a line.
func TestBenchValidatesTraceFirst(t *testing.T) {
	for _, c := range []struct {
		file, want string
		flags      []string
	}{
		{duplicateIDTrace, `trace line 5: field "id"`, nil},
		{oversizeTrace, `trace line 6: field "size"`, nil},
		// Told the server's larger limit, bench gets as far as connecting.
		{oversizeTrace, "connect ws://127.0.0.1:1/ws", []string{"--max-frame-bytes", "70000"}},
	} {
		args := append([]string{"bench", "--target", "ws://127.0.0.1:1/ws", "--trace", c.file, "--progress", "none", "--log-level", "error"}, c.flags...)
		_, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bench %v: %v, want an error containing %q", c.flags, err, c.want)
		}
	}
}
