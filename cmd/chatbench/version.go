package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/internal/buildinfo"
)

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print chatbench's version, git revision and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := buildinfo.Read()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(in)
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
