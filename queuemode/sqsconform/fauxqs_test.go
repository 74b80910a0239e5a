package sqsconform_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatbench/chatbench/queuemode/sqsconform"
)

// fauxqsDir holds package.json/package-lock.json pinning fauxqs 1.9.2 and
// start.mjs, which starts it on 127.0.0.1.
const fauxqsDir = "testdata/fauxqs"

// fauxqsExpectedFailures lists the checks fauxqs 1.9.2 fails because it
// disagrees with the AWS SQS documentation, which is what the suite
// follows (each check's Ref names the page). They are reported (as skipped
// subtests, with the check's detail) but do not fail the test. A listed
// check that starts passing does fail it, so the list stays true.
var fauxqsExpectedFailures = map[string]string{
	"message-body-unicode": "fauxqs rejects characters above U+FFFF (emoji) as InvalidMessageContents; " +
		"the SendMessage reference allows #x10000 to #x10FFFF",
	"fifo-group-id-required": "fauxqs answers code AWS.SimpleQueueService.MissingParameter; " +
		"SQS's code is MissingParameter (API Reference: Common Errors)",
	"dedup-id-required": "fauxqs answers code AWS.SimpleQueueService.InvalidParameterValue; " +
		"SQS's code is InvalidParameterValue (API Reference: Common Errors)",
	"message-size-limit": "fauxqs refuses a body over MaximumMessageSize with code AWS.SimpleQueueService.InvalidParameterValue; " +
		"SQS's code is InvalidParameterValue (API Reference: Common Errors)",
	"batch-delete-partial": "fauxqs reports an invalid receipt handle in DeleteMessageBatch as a successful delete; " +
		"SQS reports it as a failed entry with ReceiptHandleIsInvalid (API Reference: DeleteMessageBatch)",
	"delete-invalid-receipt": "fauxqs accepts DeleteMessage with a made-up receipt handle; " +
		"SQS fails with ReceiptHandleIsInvalid (API Reference: DeleteMessage)",
}

// TestConformanceFauxqs runs every check against fauxqs, an independent SQS
// emulator on Node, started from testdata/fauxqs.
func TestConformanceFauxqs(t *testing.T) {
	t.Parallel()
	// CI sets CHATBENCH_REQUIRE_FAUXQS=1 so a missing fauxqs fails instead
	// of skipping.
	skip := t.Skip
	if os.Getenv("CHATBENCH_REQUIRE_FAUXQS") == "1" {
		skip = t.Fatal
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node is not on PATH; install Node 20+ and run `npm ci --prefix queuemode/sqsconform/testdata/fauxqs` to run the conformance suite against fauxqs")
	}
	if _, err := os.Stat(filepath.Join(fauxqsDir, "node_modules", "fauxqs", "package.json")); err != nil {
		skip("fauxqs is not installed; run `npm ci --prefix queuemode/sqsconform/testdata/fauxqs` (from the repository root) to run the conformance suite against fauxqs")
	}
	endpoint := startFauxqs(t, node)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	results, err := sqsconform.Run(ctx, sqsconform.Options{Endpoint: endpoint, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Run against fauxqs at %s: %v", endpoint, err)
	}
	reportResults(t, "fauxqs 1.9.2", results, fauxqsExpectedFailures)
}

// startFauxqs starts `node start.mjs 0 --exit-on-stdin-eof` and returns the
// URL it prints. Cleanup closes its stdin, signals it and waits for it.
func startFauxqs(t *testing.T, node string) string {
	t.Helper()
	cmd := exec.Command(node, "start.mjs", "0", "--exit-on-stdin-eof")
	cmd.Dir = fauxqsDir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &firstLine{ready: make(chan struct{})}
	var stderr lockedBuffer
	cmd.Stdout = out
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting fauxqs: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = stdin.Close() // start.mjs exits on stdin EOF
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	select {
	case <-out.ready:
	case err := <-exited:
		t.Fatalf("fauxqs exited before listening (%v); stderr:\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("fauxqs printed no URL within 30s; stderr:\n%s", stderr.String())
	}
	line := out.line()
	endpoint, ok := strings.CutPrefix(line, "FAUXQS_URL=")
	if !ok || !strings.HasPrefix(endpoint, "http://127.0.0.1:") {
		t.Fatalf("start.mjs printed %q, want FAUXQS_URL=http://127.0.0.1:<port>", line)
	}
	t.Logf("fauxqs listening at %s", endpoint)
	return endpoint
}

// firstLine is a stdout sink that captures the first line written to it
// and discards the rest.
type firstLine struct {
	mu    sync.Mutex
	buf   []byte
	done  bool
	ready chan struct{}
}

func (f *firstLine) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.done {
		f.buf = append(f.buf, p...)
		if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
			f.buf = f.buf[:i]
			f.done = true
			close(f.ready)
		}
	}
	return len(p), nil
}

func (f *firstLine) line() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.TrimSpace(string(f.buf))
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
