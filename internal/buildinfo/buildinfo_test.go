package buildinfo_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/internal/buildinfo"
)

const module = "github.com/chatbench/chatbench"

// gitRepo makes a git repository of a module in a temporary folder with one
// commit, and returns the folder and the commit.
func gitRepo(t *testing.T, mod string) (dir, commit string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir = t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+mod+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", "go.mod")
	run("commit", "-q", "-m", "start")
	return dir, run("rev-parse", "HEAD")
}

func TestGit(t *testing.T) {
	ctx := context.Background()
	dir, commit := gitRepo(t, module)
	sub := filepath.Join(dir, "cmd", "chatbench")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// A clean checkout, asked from its root and from a folder inside it.
	for _, d := range []string{dir, sub} {
		rev, modified, err := buildinfo.Git(ctx, d, module)
		if err != nil || rev != commit || modified {
			t.Errorf("%s: %s modified=%v %v, want %s clean", d, rev, modified, err, commit)
		}
	}
	// A changed tracked file, then an untracked one, make it modified.
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+module+"\n\ngo 1.26.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rev, modified, err := buildinfo.Git(ctx, dir, module); err != nil || rev != commit || !modified {
		t.Errorf("changed go.mod: %s modified=%v %v", rev, modified, err)
	}
	other, _ := gitRepo(t, module)
	if err := os.WriteFile(filepath.Join(other, "new.go"), []byte("package x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, modified, err := buildinfo.Git(ctx, other, module); err != nil || !modified {
		t.Errorf("untracked file: modified=%v %v", modified, err)
	}
	// A checkout of another module is not asked: its revision is not
	// chatbench's.
	foreign, _ := gitRepo(t, "example.com/other")
	if _, _, err := buildinfo.Git(ctx, foreign, module); err == nil || !strings.Contains(err.Error(), "not "+module) {
		t.Errorf("another module's checkout: %v", err)
	}
}

// TestGitNotACheckout asks in folders that are not git checkouts.
func TestGitNotACheckout(t *testing.T) {
	ctx := context.Background()
	plain := t.TempDir()
	if _, _, err := buildinfo.Git(ctx, plain, module); err == nil || !strings.Contains(err.Error(), "not inside a Go module") {
		t.Errorf("no go.mod: %v", err)
	}
	if err := os.WriteFile(filepath.Join(plain, "go.mod"), []byte("module "+module+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := buildinfo.Git(ctx, plain, module); err == nil || !strings.Contains(err.Error(), "git rev-parse HEAD") {
		t.Errorf("a module that is not a checkout (an unpacked source archive): %v", err)
	}
	// No git at all: an error, not a hang or a panic.
	dir, _ := gitRepo(t, module)
	t.Setenv("PATH", t.TempDir())
	if _, _, err := buildinfo.Git(ctx, dir, module); err == nil {
		t.Error("found a revision without git")
	}
}

// TestRead reads this test binary's build information from inside this
// repository's checkout, where the revision must be the checkout's, and
// from a folder that is not one.
func TestRead(t *testing.T) {
	in := buildinfo.Read()
	if in.Version != buildinfo.Version || in.GoVersion == "" || in.OS == "" {
		t.Fatalf("%+v", in)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("this copy of the source is not a git checkout: %v", err)
	}
	switch in.RevisionSource {
	case buildinfo.FromGit, buildinfo.FromBuild:
		if in.Revision != strings.TrimSpace(string(head)) {
			t.Errorf("revision %s from %s, checkout at %s", in.Revision, in.RevisionSource, head)
		}
	default:
		t.Errorf("no revision in a checkout: %+v", in)
	}
	if in.RevisionSource == buildinfo.FromBuild {
		return // a stamped binary names its build wherever it runs
	}
	out := buildinfo.ReadIn(context.Background(), t.TempDir())
	if out.Revision != "unknown" || out.RevisionSource != "" || out.Modified {
		t.Errorf("outside a checkout: %+v", out)
	}
}
