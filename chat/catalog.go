package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Role is a participant's role, named in their token.
type Role string

// Roles.
const (
	RolePatient  Role = "patient"
	RoleProvider Role = "provider"
)

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool { return r == RolePatient || r == RoleProvider }

// Class says how a job is run on the direct path and groups results.
type Class string

// Classes.
const (
	// ClassSync jobs are quick and local: the direct path runs them on the
	// server, in arrival order per conversation.
	ClassSync Class = "sync"
	// ClassML jobs call the ML service: the direct path runs them as
	// background tasks.
	ClassML Class = "ml"
	// ClassRelay is the front door's relay of a message to the others in the
	// conversation; it is identical in both paths (the control group).
	ClassRelay Class = "relay"
)

// Audience says which participants of a conversation receive a job's event.
type Audience string

// Audiences. Every connection of a matching user that has joined the
// conversation receives the event.
const (
	AudienceSender    Audience = "sender"    // the user who sent the message
	AudienceOthers    Audience = "others"    // everyone in the conversation but the sender
	AudienceAll       Audience = "all"       // everyone in the conversation
	AudienceProviders Audience = "providers" // providers in the conversation (sender included if a provider)
	AudiencePatients  Audience = "patients"  // patients in the conversation (sender included if a patient)
)

// Includes reports whether a member (user, role) of the conversation is in
// the audience of a message sent by sender.
func (a Audience) Includes(sender, user string, role Role) bool {
	switch a {
	case AudienceSender:
		return user == sender
	case AudienceOthers:
		return user != sender
	case AudienceAll:
		return true
	case AudienceProviders:
		return role == RoleProvider
	case AudiencePatients:
		return role == RolePatient
	}
	return false
}

// Message is one accepted inbound message, as handlers see it. It is also
// what the queue path puts on the queue. Body is never logged.
type Message struct {
	ID     string `json:"id"`
	Conv   string `json:"conv"`
	From   string `json:"from"`
	Role   Role   `json:"role"`
	Type   string `json:"type"`
	Body   string `json:"body,omitempty"`
	SentAt int64  `json:"sent_at,omitempty"`
	Hops   Hops   `json:"hops"`
	// Members are the users in the conversation when the front door accepted
	// the message. Events about the message go only to these users (those
	// still connected to the conversation), so who receives what follows from
	// the order of accepted messages, not from how fast a path runs its jobs.
	Members []string `json:"members,omitempty"`
}

// ML is the ML service as handlers see it: call a model with an input and
// get its JSON output. mlservice.Client implements it. Implementations must
// be safe for concurrent use and honour ctx.
type ML interface {
	Predict(ctx context.Context, model string, input string) (json.RawMessage, error)
}

// Deps are what handlers may use besides the message.
type Deps struct {
	ML ML
}

// Handler runs one job for one message and returns the data of the job's
// event. A returned error makes the event go out with status "error" to the
// same audience (so every expected delivery still arrives). Handlers must be
// safe for concurrent use and must not keep msg after returning.
type Handler interface {
	Handle(ctx context.Context, msg *Message, deps Deps) (json.RawMessage, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, msg *Message, deps Deps) (json.RawMessage, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, msg *Message, deps Deps) (json.RawMessage, error) {
	return f(ctx, msg, deps)
}

// Trigger selects the messages a job runs for: a message type and,
// optionally, the sender's role ("" = any role).
type Trigger struct {
	Type string
	Role Role
}

// Job is one entry of the catalog.
type Job struct {
	Name     string    // unique, lower_snake
	Class    Class     // ClassSync or ClassML
	Event    string    // name of the event it emits
	Audience Audience  // who receives the event
	Triggers []Trigger // which messages run it
	Model    string    // ML model it calls (ClassML only)
	Doc      string    // one line for docs and --help
	Handler  Handler
}

// MessageType describes one inbound message type.
type MessageType struct {
	Name string
	// Relay makes the front door forward the message to the others in the
	// conversation as event Name (job "relay"), in both paths.
	Relay bool
	// Roles that may send it; empty means any role.
	Roles []Role
	// Op is the client op that produces it: OpSend, or OpJoin/OpLeave for the
	// membership types (which must then be named "join" and "leave").
	Op  string
	Doc string
	// Example is a body a client would send, valid for every job the type
	// triggers ("" = an empty body). Tests and the shared end-to-end visit
	// send it, so a new type is exercised without being listed anywhere
	// else. It is public (docs/catalog.md shows it): never real patient data.
	Example string
}

// RelayJob is the pseudo-job name of relay events.
const RelayJob = "relay"

// ValidName reports whether name can name a message type, job, event or
// model: lower_snake (a-z, 0-9, _), starting with a letter, at most
// MaxTypeLen bytes — safe as a wire field, a URL path segment and a metric
// label.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxTypeLen || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Catalog is the registry of message types and jobs. It is immutable after
// NewCatalog and safe for concurrent use.
type Catalog struct {
	types  map[string]*MessageType
	jobs   map[string]*Job
	order  []*Job
	byType map[string][]*Job
}

// NewCatalog checks and indexes types and jobs; it keeps copies, so the
// caller's slices may be reused. Its errors name the type or job at fault
// and the fix. It fails on names that are not lower_snake (ValidName) or are
// duplicated, membership types not named for their op, unknown roles,
// triggers naming unknown types or a role that may not send the type, ML
// jobs without a model, sync jobs with one, unknown classes and audiences,
// and jobs without a handler, an event or a trigger.
func NewCatalog(types []MessageType, jobs []Job) (*Catalog, error) {
	types = append([]MessageType(nil), types...)
	jobs = append([]Job(nil), jobs...)
	c := &Catalog{
		types:  make(map[string]*MessageType, len(types)),
		jobs:   make(map[string]*Job, len(jobs)),
		byType: make(map[string][]*Job),
	}
	for i := range types {
		t := &types[i]
		if err := c.checkType(t); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		c.types[t.Name] = t
	}
	for i := range jobs {
		j := &jobs[i]
		if err := c.checkJob(j); err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		c.jobs[j.Name] = j
		c.order = append(c.order, j)
	}
	for _, j := range c.order {
		seen := map[string]bool{}
		for _, tr := range j.Triggers {
			if !seen[tr.Type] {
				c.byType[tr.Type] = append(c.byType[tr.Type], j)
				seen[tr.Type] = true
			}
		}
	}
	return c, nil
}

// nameRule is the fix quoted by errors about names.
const nameRule = "use lower_snake (a-z, 0-9, _), starting with a letter, at most 64 bytes"

// checkType checks t (defaulting its Op) against the types indexed so far.
func (c *Catalog) checkType(t *MessageType) error {
	switch {
	case !ValidName(t.Name):
		return fmt.Errorf("message type %q: %s", clipName(t.Name), nameRule)
	case c.types[t.Name] != nil:
		return fmt.Errorf("message type %s is declared twice; declare each type once", t.Name)
	}
	if t.Op == "" {
		t.Op = OpSend
	}
	switch t.Op {
	case OpSend:
		if t.Name == OpJoin || t.Name == OpLeave {
			return fmt.Errorf("message type %s: the name is the %s op's; set Op: chat.Op%s%s or rename the type", t.Name, t.Name, strings.ToUpper(t.Name[:1]), t.Name[1:])
		}
	case OpJoin, OpLeave:
		// The front door produces membership messages with the op as their
		// type; a type of another name would never fire.
		if t.Name != t.Op {
			return fmt.Errorf("message type %s: op %s produces messages of type %q; name the type %q or use op send", t.Name, t.Op, t.Op, t.Op)
		}
	default:
		return fmt.Errorf("message type %s: op %q is not send, join or leave; leave Op empty for send", t.Name, t.Op)
	}
	for _, r := range t.Roles {
		if !ValidRole(r) {
			return fmt.Errorf("message type %s: role %q is unknown; use %s or %s (or no Roles for any role)", t.Name, r, RolePatient, RoleProvider)
		}
	}
	return nil
}

// checkJob checks j against the types and the jobs indexed so far.
func (c *Catalog) checkJob(j *Job) error {
	switch {
	case j.Name == RelayJob:
		return fmt.Errorf("job name %q is the front door's relay; pick another name", j.Name)
	case !ValidName(j.Name):
		return fmt.Errorf("job name %q: %s", clipName(j.Name), nameRule)
	case c.jobs[j.Name] != nil:
		return fmt.Errorf("job %s is registered twice; register each job once, under a unique name", j.Name)
	case j.Class != ClassSync && j.Class != ClassML:
		return fmt.Errorf("job %s: class %q is not sync or ml; set Class to chat.ClassSync or chat.ClassML", j.Name, j.Class)
	case j.Class == ClassML && j.Model == "":
		return fmt.Errorf("job %s: an ml job must name the model it calls; set Model", j.Name)
	case j.Class == ClassML && !ValidName(j.Model):
		return fmt.Errorf("job %s: model %q: %s", j.Name, clipName(j.Model), nameRule)
	case j.Class == ClassSync && j.Model != "":
		return fmt.Errorf("job %s: a sync job calls no model but names %q; drop Model or make the job chat.ClassML", j.Name, clipName(j.Model))
	case isNilHandler(j.Handler):
		return fmt.Errorf("job %s has no handler; set Handler", j.Name)
	case j.Event == "":
		return fmt.Errorf("job %s names no event; set Event to the name of the event it emits", j.Name)
	case !ValidName(j.Event):
		return fmt.Errorf("job %s: event %q: %s", j.Name, clipName(j.Event), nameRule)
	case len(j.Triggers) == 0:
		return fmt.Errorf("job %s has no trigger, so it would never run; add Triggers", j.Name)
	}
	switch j.Audience {
	case AudienceSender, AudienceOthers, AudienceAll, AudienceProviders, AudiencePatients:
	default:
		return fmt.Errorf("job %s: audience %q is unknown; use sender, others, all, providers or patients", j.Name, j.Audience)
	}
	for _, tr := range j.Triggers {
		t := c.types[tr.Type]
		switch {
		case t == nil:
			return fmt.Errorf("job %s: trigger names type %q, which is not declared; declare it or use one of %s", j.Name, clipName(tr.Type), strings.Join(c.typeNames(), ", "))
		case tr.Role != "" && !ValidRole(tr.Role):
			return fmt.Errorf("job %s: trigger %s: role %q is unknown; use %s, %s or \"\" (any)", j.Name, tr.Type, tr.Role, RolePatient, RoleProvider)
		case tr.Role != "" && !t.CanSend(tr.Role):
			return fmt.Errorf("job %s: trigger %s:%s can never fire, since a %s may not send %s; change the role or the type's Roles", j.Name, tr.Type, tr.Role, tr.Role, tr.Type)
		}
	}
	return nil
}

// isNilHandler reports whether h is nil or a nil HandlerFunc (which would
// panic when the job runs).
func isNilHandler(h Handler) bool {
	if h == nil {
		return true
	}
	f, ok := h.(HandlerFunc)
	return ok && f == nil
}

// typeNames returns the names of the types indexed so far, sorted.
func (c *Catalog) typeNames() []string {
	names := make([]string, 0, len(c.types))
	for n := range c.types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// clipName shortens a name quoted back in an error.
func clipName(s string) string {
	if len(s) <= 2*MaxTypeLen {
		return s
	}
	return s[:2*MaxTypeLen] + "…"
}

// Type returns the message type named name, or nil. Do not modify it.
func (c *Catalog) Type(name string) *MessageType { return c.types[name] }

// Types returns all message types sorted by name.
func (c *Catalog) Types() []*MessageType {
	out := make([]*MessageType, 0, len(c.types))
	for _, t := range c.types {
		out = append(out, t)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out
}

// Job returns the job named name, or nil. Do not modify it.
func (c *Catalog) Job(name string) *Job { return c.jobs[name] }

// Jobs returns all jobs in registration order.
func (c *Catalog) Jobs() []*Job { return append([]*Job(nil), c.order...) }

// Models returns the models the catalog's ML jobs call, sorted, each once.
func (c *Catalog) Models() []string {
	seen := map[string]bool{}
	var out []string
	for _, j := range c.order {
		if j.Class == ClassML && !seen[j.Model] {
			seen[j.Model] = true
			out = append(out, j.Model)
		}
	}
	sort.Strings(out)
	return out
}

// JobsFor returns the jobs a message of type typ sent by a user with role
// runs, in registration order.
func (c *Catalog) JobsFor(typ string, role Role) []*Job {
	var out []*Job
	for _, j := range c.byType[typ] {
		for _, tr := range j.Triggers {
			if tr.Type == typ && (tr.Role == "" || tr.Role == role) {
				out = append(out, j)
				break
			}
		}
	}
	return out
}

// CanSend reports whether role may send messages of type typ.
func (t *MessageType) CanSend(role Role) bool {
	if len(t.Roles) == 0 {
		return true
	}
	for _, r := range t.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Member is one participant present in a conversation.
type Member struct {
	User string
	Role Role
}

// Delivery is one event a message must cause for one user.
type Delivery struct {
	Job   string // job name, or RelayJob
	Class Class
	Event string
	User  string
}

// Deliveries lists every delivery a message of type typ from sender (with
// role) causes, given the users present in the conversation when the
// message was accepted (the sender included, if present; see
// Message.Members). Each user in an audience receives the event once
// per connection joined to the conversation; Deliveries lists users, so a
// client with several connections multiplies accordingly. The result is
// computed from the catalog alone.
func (c *Catalog) Deliveries(typ, sender string, role Role, members []Member) []Delivery {
	t := c.types[typ]
	if t == nil || !t.CanSend(role) {
		return nil // the front door rejects such a message
	}
	var out []Delivery
	add := func(job string, class Class, event string, aud Audience) {
		for _, m := range members {
			if aud.Includes(sender, m.User, m.Role) {
				out = append(out, Delivery{Job: job, Class: class, Event: event, User: m.User})
			}
		}
	}
	if t.Relay {
		add(RelayJob, ClassRelay, t.Name, AudienceOthers)
	}
	for _, j := range c.JobsFor(typ, role) {
		add(j.Name, j.Class, j.Event, j.Audience)
	}
	return out
}

// NewEvent builds job j's event about msg from the handler's result. A
// non-nil err gives an event with status "error" and the code from
// ErrorCode(err).
func (j *Job) NewEvent(msg *Message, data json.RawMessage, err error) *Event {
	ev := &Event{
		Name: j.Event, Job: j.Name, Conv: msg.Conv, From: msg.From, Type: msg.Type,
		Status: StatusOK, Data: data, Hops: msg.Hops, ReplyTo: msg.ID, Audience: j.Audience,
		Members: msg.Members,
	}
	if err != nil {
		ev.Status, ev.ErrCode, ev.Data = StatusError, ErrorCode(err), nil
	}
	return ev
}

// RelayEvent builds the front door's relay of msg to the others in the
// conversation. Body travels in Data as {"body": ...}.
func RelayEvent(msg *Message) *Event {
	data, _ := json.Marshal(struct {
		Body string `json:"body"`
	}{msg.Body})
	return &Event{
		Name: msg.Type, Job: RelayJob, Conv: msg.Conv, From: msg.From, Type: msg.Type,
		Status: StatusOK, Data: data, Hops: msg.Hops, ReplyTo: msg.ID, Audience: AudienceOthers,
		Members: msg.Members,
	}
}

// ErrMLUnavailable is returned (wrapped) by ML clients when the ML service
// failed or could not be reached.
var ErrMLUnavailable = errors.New("ml service unavailable")

// ErrorCode maps a handler error to the event's error code.
func ErrorCode(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return CodeJobTimeout
	case errors.Is(err, context.Canceled):
		return CodeJobCancelled
	case errors.Is(err, ErrMLUnavailable):
		return CodeMLUnavailable
	default:
		return CodeJobFailed
	}
}
