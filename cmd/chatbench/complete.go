package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/bench/stack"
	"github.com/chatbench/chatbench/mlservice"
)

// Shell completion (chatbench completion bash|zsh|fish): every flag that
// takes one of a fixed set of values offers them, taken from the package
// that owns the set; file flags and arguments offer files of the kind they
// read.

// Extensions of the files flags and arguments read.
var (
	traceExts   = []string{"jsonl", "gz"} // a trace: .jsonl or .jsonl.gz
	resultsExts = []string{"json"}        // a results document
)

// completeValues completes cmd's flag name with values.
func completeValues(cmd *cobra.Command, name string, values []string) {
	must(cmd, name, cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)))
}

// completeList completes cmd's flag name, a comma-separated list of
// values (--paths direct,queue), one element at a time: what is typed up
// to its last comma stays, followed by each value not given yet.
func completeList(cmd *cobra.Command, name string, values []string) {
	must(cmd, name, cmd.RegisterFlagCompletionFunc(name, func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		done, given := "", []string(nil)
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			done, given = toComplete[:i+1], strings.Split(toComplete[:i], ",")
		}
		var out []string
		for _, v := range values {
			if !slices.Contains(given, v) {
				out = append(out, done+v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}))
}

// completeFiles completes cmd's flag name with files ending in one of
// exts (none: any file).
func completeFiles(cmd *cobra.Command, name string, exts ...string) {
	must(cmd, name, cmd.MarkFlagFilename(name, exts...))
}

// completeDirs completes cmd's flag name with directories.
func completeDirs(cmd *cobra.Command, name string) {
	must(cmd, name, cmd.MarkFlagDirname(name))
}

// fileArgs completes cmd's arguments with files ending in one of exts.
func fileArgs(exts ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}

// must panics when a completion names a flag cmd does not have: a
// mistake in this package that every test building the commands finds.
func must(cmd *cobra.Command, name string, err error) {
	if err != nil {
		panic(fmt.Sprintf("%s --%s: %v", cmd.CommandPath(), name, err))
	}
}

// completeStackFlags completes the flags compare, chaos and soak share,
// those each of them has: the paths (variants), the trace, the ML profile
// preset and the output folder.
func completeStackFlags(cmd *cobra.Command) {
	has := func(name string) bool { return cmd.Flags().Lookup(name) != nil }
	if has("paths") {
		completeList(cmd, "paths", stack.Names())
	}
	if has("path") {
		completeValues(cmd, "path", stack.Names())
	}
	if has("trace") {
		completeFiles(cmd, "trace", traceExts...)
	}
	completeValues(cmd, "ml-profile", mlservice.PresetNames())
	completeDirs(cmd, "out")
}
