package ledger

import (
	"strings"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

// TestConfigValidate checks that New refuses a configuration it cannot
// account with, naming the field, and accepts the zero values it
// documents.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // in the error; "" = valid
	}{
		{"catalog", Config{Catalog: jobs.Catalog()}, ""},
		{"expect", Config{Expect: EchoExpect}, ""},
		{"roles", Config{Catalog: jobs.Catalog(), Roles: map[string]chat.Role{"p1": chat.RolePatient, "d1": chat.RoleProvider}}, ""},
		// Without either, every message would expect nothing and every
		// event would count as unexpected.
		{"neither catalog nor expect", Config{}, "Config.Catalog or Config.Expect"},
		{"unknown role", Config{Catalog: jobs.Catalog(), Roles: map[string]chat.Role{"n1": "nurse"}}, `Config.Roles["n1"] "nurse"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(tc.cfg)
			switch {
			case tc.want == "" && (err != nil || l == nil):
				t.Fatalf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New: error %v, want one naming %s", err, tc.want)
			}
		})
	}
}
