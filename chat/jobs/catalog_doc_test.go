package jobs_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/mlservice"
)

var update = flag.Bool("update", false, "rewrite docs/catalog.md from the catalog")

// catalogDocPath is docs/catalog.md, relative to this package.
const catalogDocPath = "../../docs/catalog.md"

// TestCatalogDoc keeps docs/catalog.md equal to the catalog. After changing
// a type or job, run: go test ./chat/jobs -run TestCatalogDoc -update
func TestCatalogDoc(t *testing.T) {
	want := catalogDoc(jobs.Catalog())
	if *update {
		if err := os.WriteFile(catalogDocPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(catalogDocPath)
	if err != nil {
		t.Fatalf("%v; create it with: go test ./chat/jobs -run TestCatalogDoc -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/catalog.md is out of date with the catalog; regenerate it with: go test ./chat/jobs -run TestCatalogDoc -update\n--- want\n%s", want)
	}
}

// catalogDoc renders the catalog as Markdown.
func catalogDoc(c *chat.Catalog) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	code := func(s string) string { return "`" + s + "`" }
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	orDash := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}

	p("# Message catalog\n\n")
	p("<!-- Generated from package chat/jobs by `go test ./chat/jobs -run TestCatalogDoc -update`. Do not edit. -->\n\n")
	p("Adding a job, a message type or a model: [CONTRIBUTING.md](../CONTRIBUTING.md). After any change to\n")
	p("`chat/jobs`, regenerate this page with `go test ./chat/jobs -run TestCatalogDoc -update`.\n\n")
	p("The telehealth message types and the jobs they trigger, run identically by the direct and the queue path.\n")
	p("A message causes its relay to the others in the conversation (if the type relays) and one event per\n")
	p("triggered job to every member of the job's audience who was in the conversation when the message was\n")
	p("accepted (and is still there when the event is emitted). Events of different jobs may arrive in any order;\n")
	p("see docs/protocol.md for the ordering each path guarantees.\n")
	p("A job that fails still sends its event, with status `error`, to the same audience.\n\n")
	p("Audiences: `sender`; `others` (everyone but the sender); `all`; `providers` and `patients` (by role, sender included).\n\n")

	p("## Message types\n\n")
	p("The example body is what the tests and the shared end-to-end visit send.\n\n")
	p("| type | op | relay | roles | doc | example body |\n|---|---|---|---|---|---|\n")
	for _, t := range c.Types() {
		relay, roles := "no", "any"
		if t.Relay {
			relay = "yes"
		}
		if len(t.Roles) > 0 {
			rs := make([]string, len(t.Roles))
			for i, r := range t.Roles {
				rs[i] = string(r)
			}
			roles = strings.Join(rs, ", ")
		}
		p("| %s | %s | %s | %s | %s | %s |\n", code(t.Name), t.Op, relay, roles, cell(t.Doc), orDash(codeOrEmpty(t.Example)))
	}

	p("\n## Jobs\n\n")
	p("Triggers are `type` or `type:role` (only messages from senders with that role).\n\n")
	p("| job | class | event | audience | triggers | model | doc |\n|---|---|---|---|---|---|---|\n")
	for _, j := range c.Jobs() {
		trs := make([]string, len(j.Triggers))
		for i, tr := range j.Triggers {
			trs[i] = tr.Type
			if tr.Role != "" {
				trs[i] += ":" + string(tr.Role)
			}
			trs[i] = code(trs[i])
		}
		model := "—"
		if j.Model != "" {
			model = code(j.Model)
		}
		p("| %s | %s | %s | %s | %s | %s | %s |\n", code(j.Name), j.Class, code(j.Event), j.Audience,
			strings.Join(trs, ", "), model, cell(j.Doc))
	}

	p("\n## Jobs by message\n\n")
	p("| type | sender | relay | sync jobs | ml jobs |\n|---|---|---|---|---|\n")
	for _, t := range c.Types() {
		for _, role := range []chat.Role{chat.RolePatient, chat.RoleProvider} {
			if !t.CanSend(role) {
				continue
			}
			var sync, ml []string
			for _, j := range c.JobsFor(t.Name, role) {
				if j.Class == chat.ClassML {
					ml = append(ml, code(j.Name))
				} else {
					sync = append(sync, code(j.Name))
				}
			}
			relay := "—"
			if t.Relay {
				relay = "others"
			}
			p("| %s | %s | %s | %s | %s |\n", code(t.Name), role, relay,
				orDash(strings.Join(sync, ", ")), orDash(strings.Join(ml, ", ")))
		}
	}

	p("\n## Models\n\n")
	p("The models the ML jobs call, and the profile the ML service gives each by default\n")
	p("([ML profiles](ml-profiles.md); `--ml-profile` overrides it for a run).\n\n")
	p("| model | called by | default profile |\n|---|---|---|\n")
	defaults := mlservice.DefaultProfiles()
	for _, m := range c.Models() {
		var callers []string
		for _, j := range c.Jobs() {
			if j.Model == m {
				callers = append(callers, code(j.Name))
			}
		}
		// mlservice's tests check every model of the catalog has one.
		prof := defaults[m]
		figures := fmt.Sprintf("median %v, p99 %v, fail %s %%, timeout %v", prof.Median, prof.P99,
			strconv.FormatFloat(prof.FailureRate*100, 'g', 3, 64), prof.Timeout)
		if prof == mlservice.DefaultModelProfile() {
			figures += " (the new-model profile)"
		}
		p("| %s | %s | %s |\n", code(m), strings.Join(callers, ", "), figures)
	}
	return b.Bytes()
}

// codeOrEmpty formats s as inline code, or "" for "".
func codeOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}
