package sqsconform_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/localstack"

	"github.com/chatbench/chatbench/queuemode/sqsconform"
)

// localstackImage is the last LocalStack tag that starts without an auth
// token; docker-compose.yml pins the same one.
const localstackImage = "localstack/localstack:4.14.0"

// TestConformanceLocalStack runs every check against LocalStack in a
// container. It needs a Docker engine and skips cleanly without one (as on
// chatbench's CI machines). LocalStack's disagreements, if any, would be
// listed here as expected failures like fauxqs's.
func TestConformanceLocalStack(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not starting a LocalStack container")
	}
	testcontainers.SkipIfProviderIsNotHealthy(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := localstack.Run(ctx, localstackImage, testcontainers.WithEnv(map[string]string{"SERVICES": "sqs"}))
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		t.Fatalf("start %s: %v", localstackImage, err)
	}
	host, err := c.Host(ctx)
	if err != nil {
		t.Fatal(err)
	}
	port, err := c.MappedPort(ctx, "4566/tcp")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := fmt.Sprintf("http://%s:%s", host, port.Port())
	results, err := sqsconform.Run(ctx, sqsconform.Options{Endpoint: endpoint, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Run against LocalStack at %s: %v", endpoint, err)
	}
	reportResults(t, "LocalStack "+localstackImage, results, nil)
}
