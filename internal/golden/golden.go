// Package golden compares a test's output with a golden file in the test
// package's testdata folder, or rewrites the file when the test runs with
// -update (STYLE.md). Each test package declares its own -update flag and
// passes its value, so importing this package registers no flag.
package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Check compares got with testdata/name, or writes got there if update is
// set. A difference fails the test, showing got and how to accept it
// (go test PKG -update).
func Check(t testing.TB, name string, got []byte, update bool) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended run go test with -update\n--- got:\n%s", path, got)
	}
}
