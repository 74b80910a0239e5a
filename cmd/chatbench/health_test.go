package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// runHealth runs `chatbench health` with args and returns its standard
// output, its standard error and its exit code.
func runHealth(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), append([]string{"health"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// TestHealth checks `chatbench health` against real HTTP servers on
// loopback: exit 0 and one line for a 200, exit 1 and one line naming the
// reason otherwise; a bad flag is a usage error (exit 2, and a line
// pointing to --help).
func TestHealth(t *testing.T) {
	stuck := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "draining", http.StatusServiceUnavailable) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/stuck", func(_ http.ResponseWriter, r *http.Request) {
		select { // answers only when the client gives up (or the test ends)
		case <-r.Context().Done():
		case <-stuck:
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(stuck)

	// An address nothing listens on: a listener opened and closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/healthz"
	l.Close()

	cases := []struct {
		name string
		args []string
		code int
		want string // in the one line printed
	}{
		{"healthy", []string{"--url", srv.URL + "/ok"}, 0, "healthy: "},
		{"503", []string{"--url", srv.URL + "/down"}, 1, "answered 503 Service Unavailable, want 200"},
		{"redirect not followed", []string{"--url", srv.URL + "/moved"}, 1, "redirects are not followed"},
		{"no listener", []string{"--url", refused}, 1, "connection refused"},
		{"too slow", []string{"--url", srv.URL + "/stuck", "--timeout", "100ms"}, 1, "no answer within 100ms"},
		{"not a URL", []string{"--url", "127.0.0.1:8080"}, exitUsage, "want an http:// or https:// URL"},
		{"bad timeout", []string{"--url", srv.URL + "/ok", "--timeout", "0s"}, exitUsage, "--timeout 0s: must be > 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runHealth(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, c.code, out, errOut)
			}
			printed := out
			if c.code != 0 {
				printed = strings.TrimSuffix(errOut, "Run 'chatbench health --help' for usage.\n")
			}
			if !strings.Contains(printed, c.want) {
				t.Errorf("printed %q, want %q", printed, c.want)
			}
			if c.code == 0 && errOut != "" {
				t.Errorf("healthy, yet wrote to stderr: %q", errOut)
			}
			if n := strings.Count(strings.TrimSpace(printed), "\n"); n != 0 {
				t.Errorf("%d lines, want one: %q", n+1, printed)
			}
		})
	}
}

// TestHealthOfServe checks the healthcheck against a real `chatbench serve
// direct`, as docker-compose runs it.
func TestHealthOfServe(t *testing.T) {
	ws, c, stop := startServe(t, "serve", "direct", "--addr", "127.0.0.1:0", "--ml-profile", "zero", "--log-level", "error")
	c.Close()
	host := strings.TrimSuffix(strings.TrimPrefix(ws, "ws://"), "/ws")
	out, errOut, code := runHealth(t, "--url", "http://"+host+"/healthz")
	if code != 0 || !strings.HasPrefix(out, "healthy: http://"+host+"/healthz answered 200 in ") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve direct exited with %v", err)
	}
}
