package results_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/bench/results/resultstest"
)

// TestNewMetaRevision checks a run made from this checkout names its
// revision even though test binaries (like go run) carry no VCS stamp.
func TestNewMetaRevision(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout, or no git: %v", err)
	}
	m := results.NewMeta("day", []byte("trace"), 1, 1440, true, nil)
	if m.Revision != strings.TrimSpace(string(head)) || m.RevisionSource == "" {
		t.Errorf("revision %q from %q, checkout at %s", m.Revision, m.RevisionSource, head)
	}
}

func TestMergeModified(t *testing.T) {
	a, b := resultstest.Run(1), resultstest.Run(1)
	b.Meta.Modified = true
	m, err := results.MergeRuns(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Meta.Modified {
		t.Error("merged a modified shard into an unmodified run")
	}
}
