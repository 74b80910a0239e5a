package sqsconform

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestChecksAreDocumented(t *testing.T) {
	name := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]bool{}
	for _, c := range Checks() {
		if !name.MatchString(c.Name) {
			t.Errorf("check name %q is not lower-case-dashed", c.Name)
		}
		if seen[c.Name] {
			t.Errorf("duplicate check name %q", c.Name)
		}
		seen[c.Name] = true
		if c.Doc == "" || c.run == nil {
			t.Errorf("check %q lacks a Doc or a body", c.Name)
		}
		if !strings.HasPrefix(c.Ref, "SQS ") || !strings.Contains(c.Ref, "https://docs.aws.amazon.com/AWSSimpleQueueService/") {
			t.Errorf("check %q: Ref %q does not cite an SQS documentation page", c.Name, c.Ref)
		}
	}
}

func TestSelectChecks(t *testing.T) {
	all, err := selectChecks(nil)
	if err != nil || len(all) != len(registry) {
		t.Fatalf("selectChecks(nil) = %d checks, %v; want all %d", len(all), err, len(registry))
	}
	fifo, err := selectChecks([]string{"fifo-*", "purge"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range fifo {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "fifo-order,fifo-group-inflight,fifo-groups-interleave,fifo-group-id-required,purge" {
		t.Errorf("selectChecks(fifo-*, purge) = %s", got)
	}
	if _, err := selectChecks([]string{"no-such-check"}); err == nil {
		t.Error("a pattern matching nothing must be an error")
	}
	if _, err := selectChecks([]string{"["}); err == nil {
		t.Error("a malformed pattern must be an error")
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	for _, o := range []Options{
		{},
		{Endpoint: "127.0.0.1:9324"},
		{Endpoint: "http://127.0.0.1:1", Prefix: "bad prefix"},
		{Endpoint: "http://127.0.0.1:1", Only: []string{"nothing-matches"}},
	} {
		if _, err := Run(ctx, o); err == nil {
			t.Errorf("Run(%+v) succeeded; want an error", o)
		}
	}
}

func TestWriteReport(t *testing.T) {
	results := []Result{
		{Name: "fifo-order", Doc: "order", Ref: "SQS Developer Guide: x", Passed: true, Duration: 12 * time.Millisecond},
		{Name: "purge", Doc: "PurgeQueue empties a queue", Ref: "SQS API Reference: PurgeQueue", Detail: "still 3\nmessages", Duration: 1500 * time.Millisecond},
		{Name: "stale-receipt-delete", Skipped: true, Detail: "informational"},
	}
	var buf bytes.Buffer
	WriteReport(&buf, results)
	out := buf.String()
	for _, want := range []string{
		"STATUS  CHECK",
		"PASS    fifo-order            12ms",
		"FAIL    purge                 1.5s  still 3 messages",
		"SKIP    stale-receipt-delete",
		"purge: PurgeQueue empties a queue\n      SQS API Reference: PurgeQueue",
		"conformance: 1 passed, 1 failed, 1 skipped\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if Failed(results) != 1 {
		t.Errorf("Failed = %d, want 1", Failed(results))
	}
}
