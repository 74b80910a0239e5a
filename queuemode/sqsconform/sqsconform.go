// Package sqsconform is a conformance suite for the Amazon SQS semantics that
// chatbench's queue-versus-direct comparison depends on: FIFO order and one
// message in flight per message group, visibility timeouts and
// ChangeMessageVisibility, long polls that wake as soon as a message arrives,
// receive counts, redrive to a dead-letter queue, 5-minute deduplication
// (explicit and content-based), batch calls, and AWS-shaped errors.
//
// Every check talks to an endpoint only through
// github.com/aws/aws-sdk-go-v2/service/sqs, so the suite runs unchanged against
// chatbench's embedded endpoint (queuemode/sqsd), an independent emulator
// (fauxqs, see testdata/fauxqs), LocalStack, or real SQS. Each check creates
// its own queues under a per-run name prefix and deletes them afterwards.
//
// Where the AWS documentation states the behaviour, the check follows it and
// its Ref names the page. Where the documentation leaves the behaviour open,
// the check is informational: it records what the endpoint did and reports
// itself as skipped.
//
// The CLI entry point (`chatbench sqs conformance --endpoint URL`) calls Run,
// then WriteReport, and exits non-zero when Failed reports any failure.
package sqsconform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Options configures a conformance run.
type Options struct {
	// Endpoint is the SQS endpoint URL, e.g. "http://127.0.0.1:9324". Required.
	Endpoint string
	// Region is the signing region; "" means "us-east-1".
	Region string
	// Prefix starts every queue name the run creates; "" means "conform".
	// A random per-run tag always follows it ("conform-<random>-…"), so runs
	// never collide and a rerun never meets SQS's 60-second ban on reusing
	// the name of a queue deleted moments ago. Every check creates its own
	// queues and deletes them when it finishes.
	Prefix string
	// Only restricts the run to checks whose names match one of these glob
	// patterns (path.Match syntax, matched against the whole name, e.g.
	// "fifo-*" or "dedup-explicit"); nil or empty runs every check.
	Only []string
	// Logger receives progress (one line per check) and cleanup problems;
	// nil discards them.
	Logger *slog.Logger
}

// Result is the outcome of one check.
type Result struct {
	// Name is the check's name (see Checks).
	Name string
	// Doc says, in one sentence, what the check asserts.
	Doc string
	// Ref cites the AWS SQS documentation page (title and URL) the check follows.
	Ref string
	// Passed is true when every assertion held.
	Passed bool
	// Skipped is true for an informational check (the documentation leaves
	// the behaviour open); Detail then records what the endpoint did.
	Skipped bool
	// Detail explains a failure or skip, or carries observations on a pass.
	Detail string
	// Duration is the check's wall-clock time, queue setup and cleanup included.
	Duration time.Duration
}

// Status is "PASS", "FAIL" or "SKIP".
func (r Result) Status() string {
	switch {
	case r.Skipped:
		return "SKIP"
	case r.Passed:
		return "PASS"
	default:
		return "FAIL"
	}
}

// Check describes one conformance check.
type Check struct {
	// Name is short, unique and stable: use it in Options.Only and in
	// expected-failure lists.
	Name string
	// Doc says, in one sentence, what the check asserts.
	Doc string
	// Ref cites the AWS SQS documentation page (title and URL) the check follows.
	Ref string

	run func(ctx context.Context, e *env) error
}

// Checks lists every check in the order Run executes them.
func Checks() []Check {
	out := make([]Check, len(registry))
	copy(out, registry)
	return out
}

// checkTimeout bounds one check, cleanup excluded. It exceeds
// settleTimeout so that a check polling an eventually-consistent value can
// use the whole of it.
const checkTimeout = 90 * time.Second

// Run executes the selected checks one after another against opts.Endpoint
// and returns one Result per check. A failing check is not an error: Run
// returns an error only for bad options, a pattern in Only that matches no
// check, an endpoint that does not answer at all, or a cancelled ctx (then
// with the results gathered so far).
func Run(ctx context.Context, opts Options) ([]Result, error) {
	selected, err := selectChecks(opts.Only)
	if err != nil {
		return nil, err
	}
	if opts.Endpoint == "" {
		return nil, errors.New("sqsconform: Options.Endpoint is required")
	}
	u, err := url.Parse(opts.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sqsconform: endpoint %q is not an http(s) URL", opts.Endpoint)
	}
	region := opts.Region
	if region == "" {
		region = "us-east-1"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	prefix, err := runPrefix(opts.Prefix)
	if err != nil {
		return nil, err
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	defer transport.CloseIdleConnections()
	client := newClient(opts.Endpoint, region, &http.Client{Transport: transport})

	// One preflight call, so that an endpoint that is not there is reported
	// once as an error instead of as every check failing.
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	_, err = client.ListQueues(pctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(prefix)})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("sqsconform: endpoint %s does not answer ListQueues: %w", opts.Endpoint, err)
	}

	log.Info("sqs conformance run", "endpoint", opts.Endpoint, "region", region, "prefix", prefix, "checks", len(selected))
	results := make([]Result, 0, len(selected))
	for i, c := range selected {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		r := runOne(ctx, client, log, fmt.Sprintf("%s-%02d", prefix, i), c)
		log.Info("sqs conformance check", "check", r.Name, "status", r.Status(), "duration", r.Duration.Round(time.Millisecond), "detail", r.Detail)
		results = append(results, r)
	}
	return results, ctx.Err()
}

// newClient builds an SQS client that signs with static credentials: the
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN environment
// variables when set (real SQS), else dummy ones that emulators accept. It
// deliberately does not load the default credential chain, which would probe
// the EC2 instance metadata service on machines that have none.
func newClient(endpoint, region string, hc *http.Client) *sqs.Client {
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	token := os.Getenv("AWS_SESSION_TOKEN")
	if key == "" || secret == "" {
		key, secret, token = "test", "test", ""
	}
	return sqs.New(sqs.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret, token)),
		HTTPClient:   hc,
	})
}

func runOne(ctx context.Context, client *sqs.Client, log *slog.Logger, queuePrefix string, c Check) Result {
	start := time.Now()
	e := &env{client: client, log: log.With("check", c.Name), prefix: queuePrefix}
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	err := runGuarded(cctx, e, c)
	cancel()
	e.cleanup(ctx)

	r := Result{Name: c.Name, Doc: c.Doc, Ref: c.Ref, Duration: time.Since(start)}
	var info *infoError
	switch {
	case err == nil:
		r.Passed = true
		r.Detail = strings.Join(e.notes, "; ")
	case errors.As(err, &info):
		r.Skipped = true
		r.Detail = info.msg
	default:
		r.Detail = err.Error()
		if len(e.notes) > 0 {
			r.Detail += " [" + strings.Join(e.notes, "; ") + "]"
		}
	}
	return r
}

// runGuarded runs one check, turning a panic into a failure so one broken
// check cannot take down a whole report.
func runGuarded(ctx context.Context, e *env, c Check) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check panicked: %v", p)
		}
	}()
	return c.run(ctx, e)
}

func selectChecks(only []string) ([]Check, error) {
	if len(only) == 0 {
		return Checks(), nil
	}
	var out []Check
	used := make([]bool, len(only))
	for _, c := range registry {
		keep := false
		for i, pat := range only {
			ok, err := path.Match(pat, c.Name)
			if err != nil {
				return nil, fmt.Errorf("sqsconform: bad check pattern %q: %w", pat, err)
			}
			if ok {
				keep, used[i] = true, true
			}
		}
		if keep {
			out = append(out, c)
		}
	}
	for i, pat := range only {
		if !used[i] {
			return nil, fmt.Errorf("sqsconform: pattern %q matches no check (see Checks)", pat)
		}
	}
	return out, nil
}

func runPrefix(p string) (string, error) {
	if p == "" {
		p = "conform"
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", fmt.Errorf("sqsconform: prefix %q: queue names allow only letters, digits, '-' and '_'", p)
		}
	}
	// Queue names are at most 80 characters; leave room for the run tag,
	// the check number, a suffix and ".fifo".
	if len(p) > 40 {
		return "", fmt.Errorf("sqsconform: prefix %q is longer than 40 characters", p)
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return p + "-" + hex.EncodeToString(b[:]), nil
}

// Failed counts the results that failed (skips are not failures). The CLI
// exits non-zero when it is above zero.
func Failed(results []Result) int {
	n := 0
	for _, r := range results {
		if !r.Passed && !r.Skipped {
			n++
		}
	}
	return n
}

// WriteReport writes results as an aligned table (status, check, time,
// detail), then the documentation reference of each failed check, then a
// closing "N passed, N failed, N skipped" line.
func WriteReport(w io.Writer, results []Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tTIME\tDETAIL")
	var passed, failed, skipped int
	for _, r := range results {
		switch r.Status() {
		case "PASS":
			passed++
		case "FAIL":
			failed++
		default:
			skipped++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Status(), r.Name, fmtDuration(r.Duration), oneLine(r.Detail))
	}
	tw.Flush()
	if failed > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Failed checks, and the documentation each follows:")
		for _, r := range results {
			if r.Status() == "FAIL" {
				fmt.Fprintf(w, "  %s: %s\n      %s\n", r.Name, r.Doc, r.Ref)
			}
		}
	}
	fmt.Fprintf(w, "\nconformance: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
}

func fmtDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "\t", " ")
	if s == "" {
		return "-"
	}
	return s
}
