package mlservice

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"unicode/utf8"
)

// mix is a splitmix64 stream seeded from an FNV-1a hash of (model, input):
// the source of every choice in a model's output, so outputs are a pure
// function of model and input.
type mix struct{ state uint64 }

func newMix(model, input string) *mix {
	h := fnv.New64a()
	h.Write([]byte(model))
	h.Write([]byte{0})
	h.Write([]byte(input))
	return &mix{state: h.Sum64()}
}

func (m *mix) next() uint64 {
	m.state += 0x9e3779b97f4a7c15
	z := m.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a value in [0,1).
func (m *mix) float() float64 { return float64(m.next()>>11) / (1 << 53) }

func (m *mix) intn(n int) int { return int(m.next() % uint64(n)) }

func (m *mix) pick(xs []string) string { return xs[m.intn(len(xs))] }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// output computes a model's deterministic answer to input. It never contains
// the input text: only labels from fixed vocabularies, numbers and lengths.
func output(model, input string) json.RawMessage {
	m := newMix(model, input)
	n := utf8.RuneCountInString(input)
	var v any
	switch model {
	case ModelTriage:
		score := round2(m.float())
		urgency := "low"
		switch {
		case score >= 0.97:
			urgency = "emergency"
		case score >= 0.85:
			urgency = "high"
		case score >= 0.55:
			urgency = "medium"
		}
		v = struct {
			Urgency string  `json:"urgency"`
			Score   float64 `json:"score"`
		}{urgency, score}
	case ModelIntent:
		v = struct {
			Intent     string  `json:"intent"`
			Confidence float64 `json:"confidence"`
		}{m.pick(intents), round2(0.5 + m.float()/2)}
	case ModelEntities:
		type entity struct {
			Type  string `json:"type"`
			Label string `json:"label"`
		}
		ents := make([]entity, 0, 3)
		for range m.intn(4) {
			e := entityVocab[m.intn(len(entityVocab))]
			ents = append(ents, entity{Type: e[0], Label: e[1]})
		}
		v = struct {
			Entities []entity `json:"entities"`
		}{ents}
	case ModelReplySuggest:
		sugg := make([]string, 0, 3)
		for len(sugg) < 3 {
			s := m.pick(suggestions)
			if !contains(sugg, s) {
				sugg = append(sugg, s)
			}
		}
		v = struct {
			Suggestions []string `json:"suggestions"`
		}{sugg}
	case ModelSafety:
		r := m.float()
		flagged, category := r < 0.05, "none"
		if flagged {
			category = m.pick(safetyCategories)
		}
		v = struct {
			Flagged  bool    `json:"flagged"`
			Category string  `json:"category"`
			Score    float64 `json:"score"`
		}{flagged, category, round2(r)}
	case ModelTranslate:
		lang := m.pick(languages)
		v = struct {
			Lang    string `json:"lang"`
			TextLen int    `json:"text_len"`
		}{lang, n + n/10 + m.intn(n/10+1)}
	case ModelSummary:
		v = struct {
			SummaryLen int `json:"summary_len"`
		}{min(n, 40+n/4)}
	case ModelDifferential:
		cands := make([]candidate, 0, 3)
		rest := 1.0
		for len(cands) < 3 {
			c := m.pick(conditions)
			if containsCond(cands, c) {
				continue
			}
			p := round2(rest * (0.4 + 0.4*m.float()))
			rest -= p
			cands = append(cands, candidate{c, p})
		}
		v = struct {
			Candidates []candidate `json:"candidates"`
		}{cands}
	case ModelAttachmentClassify:
		v = struct {
			Label      string  `json:"label"`
			Confidence float64 `json:"confidence"`
		}{m.pick(attachmentLabels), round2(0.5 + m.float()/2)}
	default:
		// Models added through Config.Profiles get a generic classifier answer.
		v = struct {
			Label string  `json:"label"`
			Score float64 `json:"score"`
		}{"class_" + string(rune('a'+m.intn(8))), round2(m.float())}
	}
	b, _ := json.Marshal(v) // fixed types: cannot fail
	return b
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

type candidate struct {
	Condition string  `json:"condition"`
	P         float64 `json:"p"`
}

func containsCond(cs []candidate, c string) bool {
	for _, x := range cs {
		if x.Condition == c {
			return true
		}
	}
	return false
}

// Fixed vocabularies of the stand-in models. They are constants in all but
// name: never written after initialisation.
var (
	intents = []string{
		"greeting", "symptom_report", "medication_question", "appointment_request",
		"billing_question", "test_results", "refill_request", "other",
	}
	entityVocab = [][2]string{
		{"symptom", "headache"}, {"symptom", "fever"}, {"symptom", "cough"},
		{"symptom", "rash"}, {"symptom", "nausea"}, {"medication", "ibuprofen"},
		{"medication", "amoxicillin"}, {"medication", "metformin"},
		{"body_part", "chest"}, {"body_part", "abdomen"}, {"duration", "days"},
	}
	suggestions = []string{
		"Thanks for the update. How long have you had these symptoms?",
		"Could you rate the pain on a scale from 1 to 10?",
		"Please upload a photo if you can.",
		"I'll review this and get back to you shortly.",
		"Are you taking any medication for this?",
		"If symptoms get worse, please call emergency services.",
		"Let's book a video visit to look at this together.",
	}
	safetyCategories = []string{"self_harm", "abuse", "medical_emergency", "harassment"}
	languages        = []string{"es", "fr", "zh", "vi", "ar", "pt"}
	conditions       = []string{
		"viral_uri", "influenza", "migraine", "tension_headache", "gastroenteritis",
		"contact_dermatitis", "allergic_rhinitis", "uti", "sinusitis", "covid_19",
	}
	attachmentLabels = []string{
		"photo_skin", "photo_wound", "document_lab_result", "document_insurance",
		"prescription", "other",
	}
)
