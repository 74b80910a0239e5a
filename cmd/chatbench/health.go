package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// newHealthCmd is `chatbench health`: the healthcheck of a container built
// from the distroless image, which has no shell and no curl.
func newHealthCmd() *cobra.Command {
	var (
		target  string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check a chatbench process's /healthz: exit 0 if it answers 200 in time, 1 otherwise",
		Long: `Ask a chatbench process's /healthz and exit 0 if it answers 200 within
--timeout, 1 otherwise, printing one line either way ("healthy: …" on
standard output, "unhealthy: <reason>" on standard error); a bad flag exits
2, as on every command. Redirects are not followed: /healthz answers itself.

It is the healthcheck for the distroless image, which has no shell or curl
(see deploy/README.md): every server serves /healthz beside /metrics — serve
direct and serve queue on --addr, ml on --addr, worker on --metrics-addr.`,
		Example: `  chatbench health --url http://127.0.0.1:8080/healthz
  # docker-compose.yml
  healthcheck:
    test: ["CMD", "chatbench", "health", "--url", "http://127.0.0.1:8080/healthz"]
  # Kubernetes
  livenessProbe:
    exec: {command: ["chatbench", "health", "--url", "http://127.0.0.1:8080/healthz"]}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := url.Parse(target)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("--url %q: want an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080/healthz", target)
			}
			if timeout <= 0 {
				return fmt.Errorf("--timeout %s: must be > 0, e.g. 2s", timeout)
			}
			took, err := probe(cmd.Context(), u.String(), timeout)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "unhealthy: %s: %v\n", u, err)
				// 1, not exitChecks: container healthchecks read any status
				// but 0 and 1 as reserved (Docker's HEALTHCHECK).
				return exitCodeError{code: exitFailure} // the line above is the report
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "healthy: %s answered 200 in %s\n", u, took.Round(time.Millisecond))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "url", "http://127.0.0.1:8080/healthz", "the /healthz to ask")
	f.DurationVar(&timeout, "timeout", 2*time.Second, "how long to wait for the whole answer")
	return cmd
}

// probe GETs target once and returns how long the answer took, or why it
// was not a 200 within timeout.
func probe(ctx context.Context, target string, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		// A transport of its own: no proxy from the environment (the check
		// is of this container) and no connection left open after it.
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return 0, fmt.Errorf("no answer within %s", timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is already on the line
		}
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		reason := resp.Status
		if loc := resp.Header.Get("Location"); loc != "" {
			reason += " to " + loc + " (redirects are not followed)"
		}
		return 0, fmt.Errorf("answered %s, want 200", reason)
	}
	return time.Since(start), nil
}
