package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes, the same on every command (docs/cli.md).
const (
	exitOK      = 0 // the command did what it was asked
	exitFailure = 1 // it could not: a server, a file, the network failed it
	exitUsage   = 2 // the command line is wrong: a bad flag, argument, value or command
	exitChecks  = 3 // it ran, and what it checks failed: a gate rule, a trace line, a conformance check, a soak
)

// exitCodeError makes chatbench exit with code after the command has
// already reported why (its verdict on standard output or a line of its
// own on standard error): nothing more is printed.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit code %d", e.code) }

// usageError is a wrong command line: chatbench prints it with a pointer to
// the command's --help and exits with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// checkError is a failed check whose report is the error itself:
// chatbench prints it and exits with exitChecks.
type checkError struct{ err error }

func (e checkError) Error() string { return e.err.Error() }
func (e checkError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// execute runs chatbench with args, prints the error, if any, once on
// stderr — "chatbench <command>: <error>" — and returns the exit status.
// main is this and os.Exit; tests call it to see what a user sees.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	var ec exitCodeError
	if errors.As(err, &ec) {
		return code // already reported
	}
	name := root.Name()
	if cmd != nil {
		name = cmd.CommandPath()
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	if code == exitUsage {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", name)
	}
	return code
}

// exitCode maps a command's error to its exit status. An error that
// starts with a flag ("--speed -1: must be positive") is a usage error: by
// the house rule, errors about a flag's value name the flag first.
func exitCode(err error) int {
	var ec exitCodeError
	var ue usageError
	var ce checkError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ec):
		return ec.code
	case errors.As(err, &ce):
		return exitChecks
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "--"):
		return exitUsage
	}
	return exitFailure
}

// parseFlagError is every command's FlagErrorFunc: a flag cobra could not
// parse is a usage error, said as "--flag value: what is wanted".
func parseFlagError(_ *cobra.Command, err error) error {
	var iv *pflag.InvalidValueError
	if errors.As(err, &iv) {
		f := iv.GetFlag()
		return usagef("--%s %s: %s", f.Name, iv.GetValue(), want(f, errors.Unwrap(iv)))
	}
	return usageError{err}
}

// want says what a flag of f's type takes, for a value it refused with
// err.
func want(f *pflag.Flag, err error) string {
	switch f.Value.Type() {
	case "duration":
		return "want a duration such as 500ms, 30s or 1h30m"
	case "int", "int64", "uint64":
		return "want a whole number"
	case "float64":
		return "want a number"
	case "bool":
		return "want true or false"
	}
	return err.Error()
}

// checkTree makes the command line's errors usage errors on every command
// under c: argument counts (cobra.ExactArgs and the like) and unknown
// subcommands. A command that only groups others (serve, trace) is given a
// RunE that prints its help, or refuses an unknown subcommand — cobra
// would print the help and exit 0.
func checkTree(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q%s", args[0], cmd.CommandPath(), suggest(cmd, args[0]))
			}
			return cmd.Help()
		}
	}
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error {
			err := args(cmd, a)
			switch {
			case err == nil:
				return nil
			case len(a) > 0 && !cmd.HasSubCommands() && strings.HasPrefix(err.Error(), "unknown command"): // cobra.NoArgs
				return usagef("unexpected argument %q: %s takes no arguments", a[0], cmd.CommandPath())
			}
			return usagef("%v (usage: %s)", err, cmd.UseLine())
		}
	}
	for _, sub := range c.Commands() {
		checkTree(sub)
	}
}

// suggest returns cobra's "Did you mean" lines for a mistyped subcommand.
func suggest(c *cobra.Command, arg string) string {
	s := c.SuggestionsFor(arg)
	if len(s) == 0 {
		return ""
	}
	return "; did you mean " + strings.Join(s, " or ") + "?"
}
