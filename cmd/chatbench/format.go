package main

import (
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/queuemode/sqsconform"
)

// --format is the one flag of every command that prints results, with the
// same names for the same kinds of output where they apply: text (the
// default, for a person), json (for a program), markdown (a pull-request
// comment), html (a report file).
const (
	formatText     = "text"
	formatJSON     = "json"
	formatMarkdown = "markdown"
	formatHTML     = "html"
)

// textOrJSON are the formats of commands whose results are one summary.
var textOrJSON = []string{formatText, formatJSON}

// addFormat registers --format on cmd, taking one of formats (the first
// is the default), stored in *p.
func addFormat(cmd *cobra.Command, p *string, formats []string, usage string) *choice {
	return addChoice(cmd, p, "format", formats[0], formats, "output: "+usage)
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// traceProblem is one problem of a trace, as trace validate --format json
// writes it.
type traceProblem struct {
	Line    int    `json:"line,omitempty"`  // 1-based; the header is line 1
	Field   string `json:"field,omitempty"` // the JSON field at fault
	Message string `json:"message"`         // what is wrong and how to fix it
}

// traceValidation is trace validate's result in JSON.
type traceValidation struct {
	File          string         `json:"file"`
	OK            bool           `json:"ok"`
	Messages      int            `json:"messages"`
	Conversations int            `json:"conversations"`
	Problems      []traceProblem `json:"problems"`
}

func newTraceValidation(file string, st trace.Stats, errs []error) traceValidation {
	v := traceValidation{File: file, OK: len(errs) == 0, Messages: st.Messages, Conversations: st.Conversations, Problems: []traceProblem{}}
	for _, err := range errs {
		var le *trace.LineError
		if errors.As(err, &le) {
			v.Problems = append(v.Problems, traceProblem{Line: le.Line, Field: le.Field, Message: le.Msg})
		} else {
			v.Problems = append(v.Problems, traceProblem{Message: err.Error()})
		}
	}
	return v
}

// traceSummary is trace stats's result in JSON: the figures of the text
// table, counts per bucket from the start.
type traceSummary struct {
	Header          trace.Header                 `json:"header"`
	Messages        int                          `json:"messages"`
	Conversations   int                          `json:"conversations"`
	Participants    int                          `json:"participants"`
	Patients        int                          `json:"patients"`
	Providers       int                          `json:"providers"`
	DurationSeconds float64                      `json:"duration_seconds"` // offset of the last message
	ByType          map[string]int               `json:"by_type"`
	ByRole          map[chat.Role]int            `json:"by_role"`
	ByTypeRole      map[string]map[chat.Role]int `json:"by_type_role"`
	SizeBytes       struct {
		P50 int `json:"p50"`
		P99 int `json:"p99"`
		Max int `json:"max"`
	} `json:"size_bytes"`
	BucketSeconds float64 `json:"bucket_seconds"` // --bucket, or the one chosen
	PerBucket     []int   `json:"per_bucket"`     // messages per bucket, from the trace's start
	Problems      int     `json:"problems"`       // lines left out: run trace validate
}

func newTraceSummary(st trace.Stats, bucket time.Duration, problems int) traceSummary {
	s := traceSummary{
		Header: st.Header, Messages: st.Messages, Conversations: st.Conversations,
		Participants: st.Participants, Patients: st.Patients, Providers: st.Providers,
		DurationSeconds: st.Duration.Seconds(), ByType: st.ByType, ByRole: st.ByRole, ByTypeRole: st.ByTypeRole,
		BucketSeconds: bucket.Seconds(), PerBucket: st.Buckets(bucket), Problems: problems,
	}
	s.SizeBytes.P50, s.SizeBytes.P99, s.SizeBytes.Max = st.SizeP50, st.SizeP99, st.SizeMax
	return s
}

// conformanceCheck is one check of sqs conformance --format json.
type conformanceCheck struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"` // PASS, FAIL or SKIP
	Doc     string  `json:"doc"`
	Ref     string  `json:"ref"`
	Detail  string  `json:"detail,omitempty"`
	Seconds float64 `json:"seconds"`
}

// conformanceReport is sqs conformance's result in JSON.
type conformanceReport struct {
	Endpoint string             `json:"endpoint"`
	Passed   int                `json:"passed"`
	Failed   int                `json:"failed"`
	Skipped  int                `json:"skipped"`
	Checks   []conformanceCheck `json:"checks"`
}

func newConformanceReport(endpoint string, rs []sqsconform.Result) conformanceReport {
	r := conformanceReport{Endpoint: endpoint, Checks: []conformanceCheck{}}
	for _, x := range rs {
		st := x.Status()
		switch st {
		case "PASS":
			r.Passed++
		case "FAIL":
			r.Failed++
		default:
			r.Skipped++
		}
		r.Checks = append(r.Checks, conformanceCheck{Name: x.Name, Status: st, Doc: x.Doc, Ref: x.Ref, Detail: x.Detail, Seconds: x.Duration.Seconds()})
	}
	return r
}
