package main

import (
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/queuemode/sqsconform"
)

func newSQSConformanceCmd(g *globals) *cobra.Command {
	var (
		endpoint, format string
		only             []string
	)
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Check an SQS endpoint against the SQS semantics the queue path relies on",
		Long: `Run the conformance checks (FIFO order and one in flight per group,
visibility timeouts, receive counts, redrive to a DLQ, deduplication, batch
calls, errors) against --endpoint and print PASS, FAIL or SKIP per check
(--format text) or one JSON object (json). Exit status: 0 every check passed
or was skipped, 3 a check failed, 1 the endpoint did not answer, 2 a bad
flag.`,
		Example: `  chatbench sqs conformance --endpoint http://127.0.0.1:9324
  chatbench sqs conformance --endpoint http://localhost:4566 --only 'fifo-*' --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if err := checkOnly(only); err != nil {
				return err
			}
			results, err := sqsconform.Run(cmd.Context(), sqsconform.Options{Endpoint: endpoint, Only: only, Logger: log})
			if err != nil && results == nil {
				return err
			}
			if format == formatJSON {
				if werr := writeJSON(cmd.OutOrStdout(), newConformanceReport(endpoint, results)); werr != nil {
					return werr
				}
			} else {
				sqsconform.WriteReport(cmd.OutOrStdout(), results)
			}
			if err != nil {
				return err
			}
			if sqsconform.Failed(results) > 0 {
				return exitCodeError{exitChecks} // the report says which
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", "http://127.0.0.1:9324", "SQS endpoint URL to check")
	cmd.Flags().StringSliceVar(&only, "only", nil, `run only checks matching these globs, e.g. "fifo-*"`)
	completeList(cmd, "only", checkNames())
	addFormat(cmd, &format, textOrJSON, "text (a line per check) or json")
	return cmd
}

// checkNames are the conformance checks' names.
func checkNames() []string {
	var names []string
	for _, c := range sqsconform.Checks() {
		names = append(names, c.Name)
	}
	return names
}

// checkOnly refuses an --only glob that is malformed or matches no check,
// as a usage error, before anything connects.
func checkOnly(only []string) error {
	names := checkNames()
	for _, pat := range only {
		matched := false
		for _, n := range names {
			ok, err := path.Match(pat, n)
			if err != nil {
				return usagef("--only %q: %v (a glob such as \"fifo-*\")", pat, err)
			}
			matched = matched || ok
		}
		if !matched {
			return usagef("--only %q: matches no check; the checks are %s", pat, strings.Join(names, ", "))
		}
	}
	return nil
}
