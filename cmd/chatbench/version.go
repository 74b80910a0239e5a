package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/internal/buildinfo"
)

func newVersionCmd() *cobra.Command {
	var (
		format string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print chatbench's version, git revision and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := buildinfo.Read()
			if asJSON || format == formatJSON {
				return writeJSON(cmd.OutOrStdout(), in)
			}
			mod := ""
			if in.Modified {
				mod = " (modified)"
			}
			if in.RevisionSource == buildinfo.FromGit {
				mod += ", from git in the working directory (this build carries no revision stamp)"
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "chatbench %s\nrevision %s%s\n%s %s/%s\n", in.Version, in.Revision, mod, in.GoVersion, in.OS, in.Arch)
			return err
		},
	}
	addFormat(cmd, &format, textOrJSON, "text or json")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	_ = cmd.Flags().MarkDeprecated("json", "use --format json") // kept for scripts that use it
	return cmd
}
