package sqsconform_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatbench/chatbench/queuemode/sqsconform"
	"github.com/chatbench/chatbench/queuemode/sqsd"
)

// TestConformanceEmbedded runs every check against chatbench's own embedded
// SQS endpoint. Every check must pass: there is no expected-failure list for
// our own server (informational checks still report as skipped).
func TestConformanceEmbedded(t *testing.T) {
	t.Parallel()
	srv := sqsd.New(sqsd.Config{})
	endpoint, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting sqsd: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("closing sqsd: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	results, err := sqsconform.Run(ctx, sqsconform.Options{Endpoint: endpoint, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Run against sqsd at %s: %v", endpoint, err)
	}
	reportResults(t, "sqsd (embedded)", results, nil)
}
