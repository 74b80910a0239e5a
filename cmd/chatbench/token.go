package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/socket"
)

// devSecret is the token secret used when none is configured, so a
// development setup works with no configuration. Servers warn when they use
// it; set --secret / CHATBENCH_SECRET anywhere else.
const devSecret = "chatbench-dev-secret-do-not-deploy"

func newTokenCmd(g *globals) *cobra.Command {
	var (
		user, role, secret string
		convs              []string
		ttl                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a bearer token for a development client",
		Long: `Mint an HMAC-signed bearer token naming a user, their role and the
conversations they may join. Clients send it in an auth frame
({"op":"auth","token":"..."}) or in an "Authorization: Bearer ..." header.
The server and this command must use the same --secret.`,
		Example: `  chatbench token --user p1 --role patient --conv c1
  chatbench token --user d1 --role provider --conv '*' --ttl 1h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return fmt.Errorf("--user is required: the user id the token names")
			}
			if !chat.ValidRole(chat.Role(role)) {
				return fmt.Errorf("--role %q: use patient or provider", role)
			}
			if ttl <= 0 {
				return fmt.Errorf("--ttl %v: must be > 0 (e.g. 1h), or the token is born expired", ttl)
			}
			if len(secret) < socket.MinSecretLen {
				return fmt.Errorf("--secret: %d bytes; use at least %d, the same as the server's", len(secret), socket.MinSecretLen)
			}
			tok, err := socket.MintToken([]byte(secret), socket.Claims{
				User: user, Role: chat.Role(role), Convs: convs, Exp: time.Now().Add(ttl).Unix(),
			})
			if err != nil {
				return fmt.Errorf("mint token: %w", err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "user id the token names (required)")
	f.StringVar(&role, "role", "patient", "role: patient or provider")
	completeValues(cmd, "role", []string{string(chat.RolePatient), string(chat.RoleProvider)})
	f.StringSliceVar(&convs, "conv", []string{"*"}, "conversations the holder may join, comma-separated or repeated; * = any")
	f.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
	f.StringVar(&secret, "secret", devSecret, "HMAC secret shared with the server (at least 16 bytes)")
	return cmd
}
