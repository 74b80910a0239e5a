package main

import (
	"io"
	"strings"
	"testing"
)

// TestTLSFlags checks the certificate flags exist on every server command
// and on bench, and that a certificate without its key is refused before
// anything starts.
func TestTLSFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "direct", "--addr", "127.0.0.1:0", "--tls-cert", "cert.pem", "--rate-limit", "50", "--rate-burst", "100", "--max-conns-per-user", "4"},
		{"serve", "queue", "--addr", "127.0.0.1:0", "--tls-cert", "cert.pem"},
		{"serve", "echo", "--addr", "127.0.0.1:0", "--tls-cert", "cert.pem"},
	} {
		root := newRootCmd()
		root.SetArgs(append(args, "--log-level", "error"))
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "--tls-key") {
			t.Errorf("%v: err %v, want one naming --tls-key", args, err)
		}
	}
	root := newRootCmd()
	root.SetArgs([]string{"bench", "--target", "wss://127.0.0.1:1/ws", "--tls-ca", "ca.pem", "--tls-insecure", "--progress", "none", "--log-level", "error"})
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "exclude") {
		t.Errorf("bench --tls-ca with --tls-insecure: err %v", err)
	}
}
