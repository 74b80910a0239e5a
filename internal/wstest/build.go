package wstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildChatbench builds the chatbench binary into a temporary directory of
// tb's and returns its path, for tests that run the components as real
// processes.
func BuildChatbench(tb testing.TB) string {
	tb.Helper()
	exe := filepath.Join(tb.TempDir(), "chatbench")
	build := exec.Command("go", "build", "-o", exe, "github.com/chatbench/chatbench/cmd/chatbench")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}
