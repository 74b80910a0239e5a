// Package buildinfo reports what build of chatbench is running, for
// `chatbench version` and for run metadata in results.
//
// The git revision comes from the binary's build stamp when it has one (go
// build in a checkout stamps vcs.revision and vcs.modified). `go run` and
// -buildvcs=false stamp nothing; a binary built from source then asks git
// in the working directory, when that directory is a checkout of the
// binary's own module, with a short timeout. Otherwise the revision is
// "unknown". Nothing is cached: each call looks again.
package buildinfo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
)

// Version is chatbench's release version.
const Version = "0.1.0-dev"

// Where a revision came from (Info.RevisionSource).
const (
	// FromBuild: stamped into the binary by the Go toolchain.
	FromBuild = "build"
	// FromGit: asked of git in the working directory at run time.
	FromGit = "git"
)

// GitTimeout bounds each git command Read runs: a hung git (a network
// file system, a lock) must not hold up a benchmark.
const GitTimeout = 2 * time.Second

// Info describes the running binary.
type Info struct {
	Version  string `json:"version"`
	Revision string `json:"revision"` // VCS revision, or "unknown" (see RevisionSource)
	// Modified says whether the tree the revision names had changes not
	// committed (tracked or untracked files, as the Go toolchain counts
	// them); false when the revision is unknown.
	Modified bool `json:"modified"`
	// RevisionSource is FromBuild or FromGit, or "" when the revision is
	// unknown.
	RevisionSource string `json:"revision_source,omitempty"`
	GoVersion      string `json:"go_version"`
	OS             string `json:"os"`
	Arch           string `json:"arch"`
}

// Read returns the running binary's build information; without a build
// stamp it asks git in the working directory (ReadIn).
func Read() Info { return ReadIn(context.Background(), ".") }

// ReadIn returns the running binary's build information; without a build
// stamp, and if the binary was built from source (not a released module
// version), it asks git in dir, provided dir is inside a checkout of the
// binary's main module (the nearest go.mod at or above it names that
// module), so a binary run from some other repository does not report that
// repository's revision. Each git command gets GitTimeout.
func ReadIn(ctx context.Context, dir string) Info {
	bi, _ := debug.ReadBuildInfo()
	in := Info{Version: Version, Revision: "unknown", GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	ver, rev := Stamped()
	if ver != "" {
		in.Version = ver
	}
	if rev != "" { // the image build: the builder said which source it was
		in.Revision, in.RevisionSource = rev, FromBuild
		return in
	}
	if rev, mod, ok := stamped(bi); ok {
		in.Revision, in.Modified, in.RevisionSource = rev, mod, FromBuild
		return in
	}
	if bi == nil || (bi.Main.Version != "" && bi.Main.Version != "(devel)") {
		return in
	}
	if rev, mod, err := Git(ctx, dir, bi.Main.Path); err == nil {
		in.Revision, in.Modified, in.RevisionSource = rev, mod, FromGit
	}
	return in
}

// stamped returns the VCS revision and modified flag the Go toolchain
// stamped into bi, if it did.
func stamped(bi *debug.BuildInfo) (rev string, modified, ok bool) {
	if bi == nil {
		return "", false, false
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return rev, modified, rev != ""
}

// Git returns the revision checked out in dir (git rev-parse HEAD) and
// whether the work tree differs from it (git status --porcelain prints
// anything, untracked files included, as the Go toolchain's vcs.modified
// counts them). When module is not empty, dir must be inside that Go
// module: the nearest go.mod at or above dir must declare it. Each git
// command runs with GitTimeout; a missing git, a directory that is not a
// checkout or a timeout is an error.
func Git(ctx context.Context, dir, module string) (rev string, modified bool, err error) {
	if module != "" {
		got, root, err := modulePath(dir)
		if err != nil {
			return "", false, err
		}
		if got != module {
			return "", false, fmt.Errorf("%s is module %s, not %s", root, got, module)
		}
	}
	out, err := git(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return "", false, err
	}
	rev = strings.TrimSpace(string(out))
	if !isHex(rev) {
		return "", false, fmt.Errorf("git rev-parse HEAD in %s: %q is not a revision", dir, rev)
	}
	// --no-optional-locks: reading the status must not take the index
	// lock that a git command the user is running may hold.
	out, err = git(ctx, dir, "--no-optional-locks", "status", "--porcelain")
	if err != nil {
		return "", false, err
	}
	return rev, len(bytes.TrimSpace(out)) > 0, nil
}

// git runs git with args in dir, bounded by GitTimeout.
func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, GitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s in %s: %w: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// modulePath returns the module path declared by the nearest go.mod at or
// above dir, and the folder it is in.
func modulePath(dir string) (path, root string, err error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			if p := modfile.ModulePath(data); p != "" {
				return p, d, nil
			}
			return "", "", fmt.Errorf("%s: no module line", filepath.Join(d, "go.mod"))
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", "", err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", "", fmt.Errorf("%s is not inside a Go module (no go.mod at or above it)", dir)
		}
		d = parent
	}
}

// isHex reports whether s is a git object name: 40 (SHA-1) or 64
// (SHA-256) hex digits.
func isHex(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
