package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/bench/gate"
	"github.com/chatbench/chatbench/bench/report"
	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/stats"
)

// reportFormats are report's renderers by --format, in the order offered.
var reportFormats = []struct {
	name   string
	render func(io.Writer, *results.Run) error
}{
	{formatText, report.Table},
	{formatMarkdown, report.Markdown},
	{formatHTML, report.HTML},
	{formatJSON, results.Write},
}

func newReportCmd(_ *globals) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "report RESULTS.json",
		Short: "Render a results file as a terminal table, Markdown or a self-contained HTML report",
		Long: `Render a results document (docs/results.md) written by chatbench bench or
chatbench compare (RESULTS.json, or - for standard input), by --format:

  text      the side-by-side terminal table (default; "table" is accepted too)
  markdown  the same, compact, for a pull-request comment ("md" too)
  html      a self-contained HTML report with plots (no scripts, no external
            resources: it opens offline)
  json      the results document itself, checked and rewritten

chatbench report merge adds shard results into one document.`,
		Example: `  chatbench report out/results.json
  chatbench report out/results.json --format markdown > comment.md
  chatbench report out/results.json --format html --out report.html`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: fileArgs(resultsExts...),
		RunE: func(cmd *cobra.Command, args []string) error {
			var render func(io.Writer, *results.Run) error
			for _, f := range reportFormats {
				if f.name == format {
					render = f.render
				}
			}
			run, err := readResults(cmd, args[0])
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				return render(cmd.OutOrStdout(), run)
			}
			return writeFile(out, func(w io.Writer) error { return render(w, run) })
		},
	}
	var names []string
	for _, f := range reportFormats {
		names = append(names, f.name)
	}
	addFormat(cmd, &format, names, orList(names)).alias("table", formatText).alias("md", formatMarkdown)
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to this file instead of standard output")
	completeFiles(cmd, "out", "html", "md", "json", "txt")
	cmd.AddCommand(newReportMergeCmd())
	return cmd
}

func newReportMergeCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "merge -o OUT.json SHARD.json...",
		Short: "Add shard results of one trace into one results file, exactly",
		Long: `Add the results of shards that replayed the same trace (same digest) into one
document: histograms are added (percentiles recomputed from the sum, never
averaged), message and ledger counts, per-second series and component CPU and
memory are summed. Shards of different traces or schema versions are refused,
and so are shards (bench --shard i/n) that are not one split of the trace: of
different n, or one shard twice.

What makes the merge suspect is printed on standard error as "warning: …" and
kept in the merged document's meta.warnings: shards that ran on different
machines (their clocks disagree, ~100 ms across hosts), shards missing from
the split, shards that started more than a second apart.`,
		Example:           `  chatbench report merge -o all.json shard1/results.json shard2/results.json`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: fileArgs(resultsExts...),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out (-o) is required: the file to write the merged results to")
			}
			var runs []*results.Run
			for _, name := range args {
				run, err := readResults(cmd, name)
				if err != nil {
					return err
				}
				runs = append(runs, run)
			}
			merged, err := results.MergeRuns(runs...)
			if err != nil {
				return err
			}
			for _, w := range merged.Meta.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			if out == "-" {
				return results.Write(cmd.OutOrStdout(), merged)
			}
			if err := writeFile(out, func(w io.Writer) error { return results.Write(w, merged) }); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d shards%s\n", out, merged.Meta.Shards, warned(len(merged.Meta.Warnings)))
			return err
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "merged results file to write (- for standard output)")
	completeFiles(cmd, "out", resultsExts...)
	return cmd
}

func newGateCmd(_ *globals) *cobra.Command {
	var (
		current, baseline, rulesFile, format string
		ruleTexts                            []string
		alpha                                float64
		refuseNoisy                          bool
	)
	cmd := &cobra.Command{
		Use:   "gate --current RUN.json [--baseline BASE.json] --rule RULE...",
		Short: "Check a run against thresholds and a baseline run; exit 3 if any rule fails",
		Long: `Check a results file against rules, for CI. A rule is

  METRIC[{path=P,class=C|job=J}] [regression] OP VALUE [significant]

METRIC: p50 p90 p99 p999 max (latency from the scheduled send), lost,
duplicates, reordered, errored, unexpected, delivered_ratio. OP: < <= == != >= >.
Without path a rule applies to every path except the echo floor; without class
or job to all deliveries. A regression rule compares with the same path and
group of --baseline: (current - baseline) / baseline, as a percentage.
Rules come from --rule (repeatable) and --rules FILE (one per line, # comments).
docs/results.md has the grammar.

Runs with repeats (compare --repeat N) are judged on them: a latency is the
median of the repeats', and each regression says "no significant change",
"better by X%" or "worse by X% (p=..., n=...)" from a Mann-Whitney U test at
--alpha. A regression rule ending in "significant" fails only on a significant
change. At α=0.05 that takes at least 4 repeats per side (3 against 3 can never
give p below 0.1); with fewer, or single runs, the gate says it cannot judge
significance and checks the medians.

--refuse-noisy adds the check "not noisy" for each run: it fails when a path
of the run (or of the baseline) was flagged noisy, because other processes
took more of the machine's CPU than compare's --noise-threshold while it ran
(docs/results.md, "Noise"). It fails like a rule (exit 3), so every format
says which path was noisy and why.

Prints PASS or FAIL per rule and path (--format text), one JSON object
(json) or a Markdown table for a pull-request comment (markdown). Exit status:
0 every rule passed, 2 usage or input error (bad flag, rule or file), 3 a rule
(or --refuse-noisy's check) failed.`,
		Example: `  chatbench gate --current out/results.json --rule 'p99{class=ml} < 2s' --rule 'lost == 0'
  chatbench gate --current out/results.json --baseline base/results.json \
    --rule 'p50 regression < 10%' --rule 'p99{class=sync} regression < 20%'
  chatbench gate --current out/results.json --rules ci/gate.rules --refuse-noisy
  chatbench gate --current out/results.json --baseline base/results.json \
    --rule 'p50{class=ml} regression < 10% significant' --format markdown > comment.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Bad rules and unreadable results files are usage errors too
			// (docs/results.md): the command line needs fixing.
			usage := func(err error) error { return usageError{err} }
			if current == "" {
				return usage(errors.New("--current is required: the results file to check"))
			}
			if !(alpha > 0 && alpha < 1) {
				return usage(fmt.Errorf("--alpha %v: must be between 0 and 1 (0.05 is benchstat's; 0.1 lets 3 repeats per side show a change)", alpha))
			}
			var rules []gate.Rule
			var errs []error
			for _, t := range ruleTexts {
				r, err := gate.Parse(t)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				rules = append(rules, r)
			}
			if rulesFile != "" {
				f, err := os.Open(rulesFile)
				if err != nil {
					return usage(err)
				}
				rs, err := gate.ParseAll(f, rulesFile)
				f.Close()
				if err != nil {
					errs = append(errs, err)
				}
				rules = append(rules, rs...)
			}
			if err := errors.Join(errs...); err != nil {
				return usage(err)
			}
			if len(rules) == 0 {
				return usage(errors.New("no rules: give --rule 'p99{class=ml} < 2s' (repeatable) or --rules FILE"))
			}
			cur, err := readResults(cmd, current)
			if err != nil {
				return usage(err)
			}
			var base *results.Run
			if baseline != "" {
				if base, err = readResults(cmd, baseline); err != nil {
					return usage(err)
				}
			}
			opts := []gate.Option{gate.Alpha(alpha)}
			if refuseNoisy {
				opts = append(opts, gate.RefuseNoisy())
			}
			verdicts := gate.Check(cur, base, rules, opts...)
			if err := gate.Write(cmd.OutOrStdout(), format, verdicts); err != nil {
				return err
			}
			if gate.Failed(verdicts) {
				return exitCodeError{code: exitChecks} // the verdicts are the report
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&current, "current", "", "results file of the run to check (required)")
	cmd.Flags().StringVar(&baseline, "baseline", "", "results file of the baseline run, for regression rules")
	cmd.Flags().StringArrayVar(&ruleTexts, "rule", nil, "a rule such as 'p99{class=ml} < 2s' (repeatable)")
	cmd.Flags().StringVar(&rulesFile, "rules", "", "file of rules, one per line, # comments")
	addFormat(cmd, &format, gate.Formats(), "text (a line per check), json or markdown (a pull-request comment)")
	completeFiles(cmd, "current", resultsExts...)
	completeFiles(cmd, "baseline", resultsExts...)
	completeFiles(cmd, "rules")
	cmd.Flags().BoolVar(&refuseNoisy, "refuse-noisy", false, "fail when a path of either run was flagged noisy (other processes took the machine's CPU while it ran)")
	cmd.Flags().Float64Var(&alpha, "alpha", stats.DefaultAlpha, "significance level of regressions across repeats (a change counts when p ≤ alpha)")
	return cmd
}

// warned says how many warnings a merge printed, after its summary line.
func warned(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return " (1 warning above)"
	}
	return fmt.Sprintf(" (%d warnings above)", n)
}

// readResults reads and validates a results file, or standard input for
// "-". A file that cannot be opened or is not a results document is a bad
// argument: a usage error.
func readResults(cmd *cobra.Command, name string) (*results.Run, error) {
	var r io.Reader = cmd.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, usageError{err}
		}
		defer f.Close()
		r = f
	}
	run, err := results.Read(r)
	if err != nil {
		return nil, usagef("%s: %w", name, err)
	}
	if err := run.Validate(); err != nil {
		return nil, usagef("%s: %w", name, err)
	}
	return run, nil
}

// writeFile creates name, writes it with write and closes it.
func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}
