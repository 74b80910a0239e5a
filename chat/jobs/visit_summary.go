package jobs

import "github.com/chatbench/chatbench/chat"

// VisitSummary returns the visit_summary job: when the provider ends the
// visit, it asks model "summary" for a draft visit summary and gives it to
// the providers.
func VisitSummary() chat.Job {
	const model = "summary"
	return chat.Job{
		Name:     "visit_summary",
		Class:    chat.ClassML,
		Event:    "visit_summary",
		Audience: chat.AudienceProviders,
		Triggers: []chat.Trigger{{Type: TypeEndVisit, Role: chat.RoleProvider}},
		Model:    model,
		Doc:      "drafts the visit summary for the providers when the visit ends",
		Handler:  predictBody(model),
	}
}
