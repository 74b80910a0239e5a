package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/chatbench/chatbench/internal/obs"
)

// envPrefix prefixes the environment variable of every flag:
// --ml-url is also CHATBENCH_ML_URL.
const envPrefix = "CHATBENCH_"

// globals are the flags every command has, and the console the command's
// logs and progress share.
type globals struct {
	logFormat string
	logLevel  string
	console   *obs.Console // the command's stderr, set before it runs
}

// logger returns the command's logger, writing to its stderr above any
// progress bar.
func (g *globals) logger() (*slog.Logger, error) {
	var w io.Writer = os.Stderr
	if g.console != nil {
		w = g.console
	}
	return obs.NewLogger(w, g.logFormat, g.logLevel)
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "chatbench",
		Short: "Measure a telehealth chat backend's SQS job-queue path against its direct path",
		Long: `chatbench implements both architectures of a telehealth chat backend behind one
handler interface and one WebSocket front door:

  queue path:  client → gateway → SQS FIFO → worker → (ML service) → gateway → client
  direct path: client → server → handler inline, or in a background task → client

Start a server:      chatbench serve direct
Mint a client token: chatbench token --user p1 --role patient --conv c1

Every flag can also be set by an environment variable: CHATBENCH_ followed by
the flag name in upper case with dashes as underscores (--ml-url → CHATBENCH_ML_URL).
A flag given on the command line wins over the environment.`,
		// Errors are printed once, by execute, with the exit code's
		// convention (exit.go).
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Logs and progress bars share stderr through one console,
			// which keeps log lines above the bar.
			g.console = obs.NewConsole(cmd.ErrOrStderr())
			cmd.Root().SetErr(g.console)
			return applyEnv(cmd)
		},
	}
	root.SetFlagErrorFunc(parseFlagError)
	pf := root.PersistentFlags()
	addChoiceTo(root, pf, &g.logFormat, "log-format", "text", obs.LogFormats(), "log format: "+orList(obs.LogFormats())+" (logs never contain message bodies)")
	addChoiceTo(root, pf, &g.logLevel, "log-level", "info", obs.LogLevels(), "log level: "+orList(obs.LogLevels()))
	root.AddCommand(
		newCompareCmd(g),
		newSweepCmd(g),
		newChaosCmd(g),
		newServeCmd(g),
		newMLCmd(g),
		newTokenCmd(g),
		newTraceCmd(g),
		newWorkerCmd(g),
		newQueueCmd(g),
		newSQSCmd(g),
		newBenchCmd(g),
		newReportCmd(g),
		newGateCmd(g),
		newSoakCmd(g),
		newVersionCmd(),
		newHealthCmd(),
	)
	documentEnv(root)
	checkTree(root)
	return root
}

// envName returns the environment variable for a flag name.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag of cmd that was not given on the command line
// from its environment variable, if set.
func applyEnv(cmd *cobra.Command) error {
	var errs []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := cmd.Flags().Set(f.Name, v); err != nil {
				var iv *pflag.InvalidValueError
				if errors.As(err, &iv) {
					err = errors.New(want(f, errors.Unwrap(iv))) // what the flag takes, without pflag's wrapping
				}
				errs = append(errs, fmt.Sprintf("%s=%q: %v", envName(f.Name), v, err))
			}
		}
	})
	if len(errs) > 0 {
		return usagef("bad environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

// documentEnv appends each flag's environment variable to its usage text.
func documentEnv(c *cobra.Command) {
	add := func(f *pflag.Flag) {
		if f.Name != "help" && !strings.Contains(f.Usage, envPrefix) {
			f.Usage += " [" + envName(f.Name) + "]"
		}
	}
	c.LocalNonPersistentFlags().VisitAll(add)
	c.PersistentFlags().VisitAll(add)
	for _, sub := range c.Commands() {
		documentEnv(sub)
	}
}
