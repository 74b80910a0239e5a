package results_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/bench/results"
)

// TestSoakFieldsDocumented checks that every JSON field of a soak and of
// its samples is in the `paths[].soak` table of docs/results.md, the
// field names taken from the types' tags.
func TestSoakFieldsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/results.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### `paths[].soak`")
	if !ok {
		t.Fatal("docs/results.md has no `paths[].soak` section")
	}
	section, _, _ = strings.Cut(section, "\n### ")
	for _, typ := range []reflect.Type{reflect.TypeFor[results.Soak](), reflect.TypeFor[results.SoakSample]()} {
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !strings.Contains(section, "`"+name+"`") {
				t.Errorf("%s.%s (%q) is not in docs/results.md's paths[].soak table", typ.Name(), f.Name, name)
			}
		}
	}
}

// TestSoakHeld checks the held-memory figures, and that a document written
// before they existed reads with none: no held limit, so its verdict stays
// the RSS one it was judged on.
func TestSoakHeld(t *testing.T) {
	s := results.Soak{
		Opened:   4,
		Baseline: results.SoakSample{HeapInuse: 3 << 20, StackInuse: 1 << 20},
		Peak:     results.SoakSample{HeapInuse: 7 << 20, StackInuse: 2 << 20},
	}
	if got := s.Baseline.Held(); got != 4<<20 {
		t.Errorf("held %d, want heap + stacks %d", got, 4<<20)
	}
	if got := s.ServerHeldPerConn(); got != float64(5<<20)/4 {
		t.Errorf("held per connection %v, want (peak − baseline) / opened = %v", got, float64(5<<20)/4)
	}
	old := `{"schema":1,"meta":{},"paths":[{"name":"direct","soak":{"conns":2,"opened":2,
		"baseline":{"goroutines":26,"rss_bytes":20000000},"after":{"goroutines":27,"rss_bytes":90000000},
		"rss_limit_bytes":185000000,"goroutines_ok":true,"memory_ok":true}}]}`
	run, err := results.Read(strings.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	k := run.Paths[0].Soak
	if k.HeldLimit != 0 || k.After.Held() != 0 || k.RSSLimit != 185000000 || !k.OK() {
		t.Errorf("old soak read as %+v", *k)
	}
}
