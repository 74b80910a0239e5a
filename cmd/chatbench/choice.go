package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// choice is the value of a flag that takes one of a fixed set of values,
// each list taken from the package that owns it (obs.LogLevels,
// gate.Formats, …). Set refuses any other value while the command line is
// parsed, naming the ones it takes, and the flag's shell completion offers
// them. Aliases are old names still accepted, but not offered.
type choice struct {
	value   *string
	values  []string
	aliases map[string]string
}

func (c *choice) String() string { return *c.value }
func (c *choice) Type() string   { return "string" }

// Set accepts one of the values or an alias, in any case.
func (c *choice) Set(s string) error {
	for _, v := range c.values {
		if strings.EqualFold(s, v) {
			*c.value = v
			return nil
		}
	}
	for old, v := range c.aliases {
		if strings.EqualFold(s, old) {
			*c.value = v
			return nil
		}
	}
	return fmt.Errorf("use %s", orList(c.values))
}

// addChoice registers on cmd the flag name taking one of values, default
// def, its value stored in *p, and completes it with values.
func addChoice(cmd *cobra.Command, p *string, name, def string, values []string, usage string) *choice {
	return addChoiceTo(cmd, cmd.Flags(), p, name, def, values, usage)
}

// addChoiceTo is addChoice on one of cmd's flag sets (its persistent
// flags, say).
func addChoiceTo(cmd *cobra.Command, fs *pflag.FlagSet, p *string, name, def string, values []string, usage string) *choice {
	if !slices.Contains(values, def) {
		panic(fmt.Sprintf("flag --%s: default %q is not one of %v", name, def, values)) // a programming error, caught by any test
	}
	*p = def
	c := &choice{value: p, values: values}
	fs.Var(c, name, usage)
	completeValues(cmd, name, values)
	return c
}

// alias makes old an accepted name of value.
func (c *choice) alias(old, value string) *choice {
	if c.aliases == nil {
		c.aliases = map[string]string{}
	}
	c.aliases[old] = value
	return c
}

// orList joins values as "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}
