package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/bench/trace"
)

func newTraceCmd(_ *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trace",
		Short: "Generate, summarise and validate chat traces (see docs/trace.md)",
		Long: `A trace is recorded or synthetic inbound chat traffic that the benchmark
replays at its recorded timing: JSON Lines (gzip accepted), a header line,
then one inbound message per line. docs/trace.md describes the format.`,
	}
	cmd.AddCommand(newTraceGenCmd(), newTraceStatsCmd(), newTraceValidateCmd())
	return cmd
}

func newTraceGenCmd() *cobra.Command {
	var (
		p    trace.Params
		out  string
		gzip string
	)
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate a synthetic telehealth trace (seeded, deterministic)",
		Long: `Generate a synthetic telehealth trace: visits (patient joins, sometimes asks
the wait time and fills a symptom form, a provider joins, they take turns
typing, texting and reading, the provider ends the visit, both leave) spread
over a diurnal curve. The defaults give one day at 14,700 messages, the day
shipped as bench/trace/day.jsonl.gz. Bodies are omitted (sizes only)
unless --bodies adds synthetic lorem-ipsum filler.`,
		Example: `  chatbench trace gen --out day.jsonl.gz
  chatbench trace gen --days 7 --rate 2 --seed 42 --out week.jsonl.gz
  chatbench trace gen --days 0.01 | chatbench trace stats -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkGenFlags(p); err != nil {
				return err
			}
			for _, r := range []*float64{&p.AttachmentRate, &p.FormRate, &p.WaitRate} {
				if *r == 0 {
					*r = -1 // Params reads 0 as "default" and negative as "never"
				}
			}
			h, recs, err := trace.Generate(p)
			if err != nil {
				return err
			}
			compress := strings.HasSuffix(out, ".gz")
			switch gzip {
			case "yes":
				compress = true
			case "no":
				compress = false
			}
			if out == "-" || out == "" {
				return trace.Write(cmd.OutOrStdout(), h, recs, compress)
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			if err := trace.Write(f, h, recs, compress); err != nil {
				f.Close()
				return fmt.Errorf("write %s: %w", out, err)
			}
			if err := f.Close(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d messages, %d conversations\n", out, h.Messages, h.Conversations)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "out", "o", "-", "output file, - for standard output")
	addChoice(cmd, &gzip, "gzip", "auto", []string{"auto", "yes", "no"}, "compress the output: auto (when --out ends in .gz), yes or no")
	completeFiles(cmd, "out", traceExts...)
	f.Float64Var(&p.Days, "days", 1, "days the trace covers, at most 366")
	f.Float64Var(&p.Rate, "rate", 1, "message-rate multiplier (1 = 14,700 messages a day; 0 = 1)")
	f.IntVar(&p.Conversations, "conversations", 0, "number of visits (0 = messages / 25)")
	f.Uint64Var(&p.Seed, "seed", 1, "random seed; the same flags and seed give the same bytes")
	f.BoolVar(&p.Bodies, "bodies", false, "include synthetic filler bodies (lorem ipsum, never real text)")
	f.Float64Var(&p.AttachmentRate, "attachment-rate", 0.04, "chance a turn shares an attachment instead of a text, 0 to 1")
	f.Float64Var(&p.FormRate, "form-rate", 0.6, "chance a patient sends a symptom form, 0 to 1")
	f.Float64Var(&p.WaitRate, "wait-rate", 0.35, "chance a patient asks for the wait time, 0 to 1")
	return cmd
}

// checkGenFlags checks the numbers trace gen was given (before zero
// rates are turned into "never"); each error names its flag.
func checkGenFlags(p trace.Params) error {
	switch {
	case !finite(p.Days) || p.Days < 0 || p.Days > 366:
		return fmt.Errorf("--days %g: must be between 0 and 366 (0 = 1)", p.Days)
	case !finite(p.Rate) || p.Rate < 0:
		return fmt.Errorf("--rate %g: must be ≥ 0 (0 = 1, 14,700 messages a day)", p.Rate)
	case p.Conversations < 0:
		return fmt.Errorf("--conversations %d: must be ≥ 0 (0 = messages / 25)", p.Conversations)
	}
	for _, r := range []struct {
		flag string
		v    float64
	}{{"attachment-rate", p.AttachmentRate}, {"form-rate", p.FormRate}, {"wait-rate", p.WaitRate}} {
		if !finite(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("--%s %g: a chance, must be between 0 (never) and 1", r.flag, r.v)
		}
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// openTrace opens a trace file, or standard input for "-".
func openTrace(cmd *cobra.Command, name string) (io.Reader, func(), error) {
	if name == "-" {
		return bufio.NewReader(cmd.InOrStdin()), func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, usageError{err} // a bad argument: "open x.jsonl: no such file or directory"
	}
	return f, func() { f.Close() }, nil
}

func newTraceStatsCmd() *cobra.Command {
	var (
		bucket time.Duration
		format string
	)
	cmd := &cobra.Command{
		Use:   "stats FILE",
		Short: "Summarise a trace: rates over time, mix by type and role, conversations, sizes",
		Long: `Summarise a trace (FILE, or - for standard input) as tables (--format text)
or one JSON object (json). Lines that fail validation are left out of the
figures; a warning says how many (run trace validate).`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: fileArgs(traceExts...),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, done, err := openTrace(cmd, args[0])
			if err != nil {
				return err
			}
			defer done()
			st, errs := trace.Validate(r)
			if len(errs) > 0 && st.Messages == 0 && st.Header.Version == 0 {
				return errs[0]
			}
			b, err := st.Bucket(bucket)
			if err != nil {
				return fmt.Errorf("--%w", err) // "--bucket 1.5s: must be …"
			}
			if format == formatJSON {
				err = writeJSON(cmd.OutOrStdout(), newTraceSummary(st, b, len(errs)))
			} else {
				err = trace.WriteStats(cmd.OutOrStdout(), st, bucket)
			}
			if err != nil {
				return err
			}
			if len(errs) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: the trace has problems (first: %v); run chatbench trace validate %s\n", errs[0], args[0])
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&bucket, "bucket", 0, "time per row of the messages-over-time table, a whole number of seconds (0 = 20 to 60 rows across the trace: 30m for a day)")
	addFormat(cmd, &format, textOrJSON, "text (tables) or json")
	return cmd
}

func newTraceValidateCmd() *cobra.Command {
	var (
		maxFrame int
		format   string
	)
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a trace and print each problem with its line number and the fix",
		Long: `Check a trace (FILE, or - for standard input): the header, every line on its
own (fields, types, roles, sizes, order by t), each message's client frame
against the server's frame limit (--max-frame-bytes: the driver's frame,
envelope and JSON escaping included, must fit, or the server closes the
connection on it), and across lines (joins before sends, nothing after a
leave, ids unique per user). Prints each problem with its line number and
how to fix it (--format text), or one JSON object (json), and exits with
status 3 if there is any.`,
		Example: `  chatbench trace validate day.jsonl.gz
  chatbench trace validate --max-frame-bytes 1048576 big-bodies.jsonl   # for servers run with --max-frame 1048576
  chatbench trace validate --format json day.jsonl.gz | jq .problems`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: fileArgs(traceExts...),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, done, err := openTrace(cmd, args[0])
			if err != nil {
				return err
			}
			defer done()
			st, errs := trace.Validate(r, trace.MaxFrameBytes(maxFrame))
			out := cmd.OutOrStdout()
			if format == formatJSON {
				if err := writeJSON(out, newTraceValidation(args[0], st, errs)); err != nil {
					return err
				}
				if len(errs) > 0 {
					return exitCodeError{code: exitChecks} // the problems are the report
				}
				return nil
			}
			if len(errs) > 0 {
				for _, e := range errs {
					fmt.Fprintf(out, "%s: %v\n", args[0], e)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: invalid trace (%d problems listed)\n", args[0], len(errs))
				return exitCodeError{code: exitChecks} // the problems are the report
			}
			_, err = fmt.Fprintf(out, "ok: %d messages, %d conversations\n", st.Messages, st.Conversations)
			return err
		},
	}
	addMaxFrameFlag(cmd, &maxFrame)
	addFormat(cmd, &format, textOrJSON, "text (a line per problem) or json")
	return cmd
}

// addMaxFrameFlag registers --max-frame-bytes, the frame limit of the
// server a trace is meant for, which trace.MaxFrameBytes takes.
func addMaxFrameFlag(cmd *cobra.Command, v *int) {
	cmd.Flags().IntVar(v, "max-frame-bytes", trace.DefaultMaxFrameBytes,
		"the server's frame limit (serve --max-frame): messages whose client frame is bigger are refused (0 = 65536; negative = no limit)")
}
