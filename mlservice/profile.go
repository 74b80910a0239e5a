package mlservice

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatbench/chatbench/chat/jobs"
)

// Profile is the latency and failure behaviour of one model. The zero
// Profile answers at once and never fails.
//
// Latency is drawn from a lognormal fitted to Median and P99
// (sigma = ln(P99/Median)/2.3263). The top TailRate of draws are replaced by
// a Pareto tail (shape TailAlpha) spliced on at the lognormal's own
// (1−TailRate) quantile, so the median and the p99 stay as configured while
// p99.9 and beyond get heavier than a lognormal alone. Outlier draws are
// capped at 100×P99. See docs/ml-profiles.md.
type Profile struct {
	// Median is the median latency of a call. Zero means no latency.
	Median time.Duration
	// P99 is the 99th percentile latency; at least Median. Equal to Median
	// means a constant latency.
	P99 time.Duration
	// TailRate is the fraction of calls (0..0.01) whose latency comes from
	// the Pareto outlier tail. Zero means a pure lognormal.
	TailRate float64
	// TailAlpha is the Pareto shape of the outlier tail; smaller is heavier.
	// Zero means 1.5.
	TailAlpha float64
	// FailureRate is the fraction of calls (0..1) answered with an injected
	// 503 after their drawn latency.
	FailureRate float64
	// Timeout caps a call's latency: a call whose draw exceeds it is
	// answered 504 after Timeout. Zero means no cap.
	Timeout time.Duration
	// CPUWork is real CPU burnt per call (SHA-256 rounds calibrated on this
	// machine at start), counted inside the drawn latency. Zero means none.
	CPUWork time.Duration
}

// DefaultTailAlpha is the Pareto shape used when Profile.TailAlpha is zero.
const DefaultTailAlpha = 1.5

// MaxTailRate is the largest Profile.TailRate: a larger outlier fraction
// would move the p99 away from Profile.P99.
const MaxTailRate = 0.01

// z99 is the standard normal quantile at 0.99.
const z99 = 2.3263478740408408

// Sigma returns the lognormal shape fitted to Median and P99 (0 for a
// constant or zero latency).
func (p Profile) Sigma() float64 {
	if p.Median <= 0 || p.P99 <= p.Median {
		return 0
	}
	return math.Log(float64(p.P99)/float64(p.Median)) / z99
}

// Validate reports the first field out of range, naming the fix.
func (p Profile) Validate() error {
	switch {
	case p.Median < 0:
		return fmt.Errorf("median %v is negative; use 0 or more", p.Median)
	case p.P99 < p.Median:
		return fmt.Errorf("p99 %v is below median %v; set p99 to at least the median", p.P99, p.Median)
	case p.Median == 0 && p.P99 != 0:
		return fmt.Errorf("p99 %v needs a positive median; set median too, or p99:0", p.P99)
	case !(p.TailRate >= 0 && p.TailRate <= MaxTailRate):
		return fmt.Errorf("tail %v is out of range; use a fraction from 0 to %v", p.TailRate, MaxTailRate)
	case !(p.TailAlpha >= 0) || math.IsInf(p.TailAlpha, 0):
		return fmt.Errorf("alpha %v is out of range; use a positive shape such as 1.5 (0 means %v)", p.TailAlpha, DefaultTailAlpha)
	case !(p.FailureRate >= 0 && p.FailureRate <= 1):
		return fmt.Errorf("fail %v is out of range; use a fraction from 0 to 1 (e.g. 0.05 or 5%%)", p.FailureRate)
	case p.Timeout < 0:
		return fmt.Errorf("timeout %v is negative; use 0 (no cap) or more", p.Timeout)
	case p.CPUWork < 0:
		return fmt.Errorf("cpu %v is negative; use 0 (none) or more", p.CPUWork)
	}
	return nil
}

// Scale returns p with every duration (Median, P99, Timeout, CPUWork)
// multiplied by factor. It panics if factor is negative, NaN or infinite.
func (p Profile) Scale(factor float64) Profile {
	if !(factor >= 0) || math.IsInf(factor, 0) {
		panic(fmt.Sprintf("mlservice: Scale factor %v must be finite and not negative", factor))
	}
	p.Median = scaleDur(p.Median, factor)
	p.P99 = scaleDur(p.P99, factor)
	p.Timeout = scaleDur(p.Timeout, factor)
	p.CPUWork = scaleDur(p.CPUWork, factor)
	return p
}

func scaleDur(d time.Duration, f float64) time.Duration {
	x := float64(d) * f
	if x >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(math.Round(x))
}

// String formats p in the profile spec syntax, every field present, e.g.
// "median:45ms,p99:200ms,tail:0.001,alpha:1.5,fail:0.005,timeout:2s,cpu:0s".
func (p Profile) String() string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	return "median:" + p.Median.String() + ",p99:" + p.P99.String() +
		",tail:" + f(p.TailRate) + ",alpha:" + f(p.TailAlpha) +
		",fail:" + f(p.FailureRate) + ",timeout:" + p.Timeout.String() +
		",cpu:" + p.CPUWork.String()
}

// Model names of the built-in profile table (docs/ml-profiles.md).
const (
	ModelTriage             = "triage"
	ModelIntent             = "intent"
	ModelEntities           = "entities"
	ModelReplySuggest       = "reply_suggest"
	ModelSafety             = "safety"
	ModelTranslate          = "translate"
	ModelSummary            = "summary"
	ModelDifferential       = "differential"
	ModelAttachmentClassify = "attachment_classify"
)

// classifier builds a profile of the built-in shape: tail 0.1 % with
// DefaultTailAlpha, no CPU work.
func classifier(median, p99 time.Duration, fail float64, timeout time.Duration) Profile {
	return Profile{Median: median, P99: p99, TailRate: 0.001, TailAlpha: DefaultTailAlpha, FailureRate: fail, Timeout: timeout}
}

// builtinProfiles returns a fresh map of the built-in table: hosted small
// classifiers (triage, intent, entities, safety, attachment_classify)
// around 35–80 ms median, generation models (reply_suggest, translate,
// summary, differential) around 350–900 ms median, p99 four to five times
// the median. docs/ml-profiles.md gives the assumptions behind each number;
// the benchmark's figures depend on them.
func builtinProfiles() map[string]Profile {
	ms := time.Millisecond
	return map[string]Profile{
		ModelTriage:             classifier(45*ms, 200*ms, 0.005, 2*time.Second),
		ModelIntent:             classifier(35*ms, 150*ms, 0.005, 2*time.Second),
		ModelEntities:           classifier(60*ms, 300*ms, 0.005, 2*time.Second),
		ModelSafety:             classifier(40*ms, 180*ms, 0.003, 2*time.Second),
		ModelAttachmentClassify: classifier(80*ms, 400*ms, 0.01, 3*time.Second),
		ModelReplySuggest:       classifier(450*ms, 1800*ms, 0.01, 4*time.Second),
		ModelTranslate:          classifier(350*ms, 1500*ms, 0.01, 4*time.Second),
		ModelSummary:            classifier(900*ms, 3500*ms, 0.015, 4500*ms),
		ModelDifferential:       classifier(800*ms, 3000*ms, 0.01, 4500*ms),
	}
}

// DefaultModelProfile returns the profile of a model the built-in table has
// no figures for — a job on a new model: a hosted small classifier, median
// 50 ms, p99 200 ms, tail 0.1 % (alpha 1.5), 0.5 % failures, timeout 2 s.
// docs/ml-profiles.md says why a classifier, and how to give a model its
// own figures.
func DefaultModelProfile() Profile {
	return classifier(50*time.Millisecond, 200*time.Millisecond, 0.005, 2*time.Second)
}

// DefaultProfiles returns a fresh map of the default profiles: the
// built-in table, plus DefaultModelProfile for every model a job of the
// telehealth catalog (chat/jobs) calls that the table lacks. So every
// job's model is served, with no edit here when a job names a new model.
func DefaultProfiles() map[string]Profile {
	ps := builtinProfiles()
	addModels(ps, jobs.Catalog().Models())
	return ps
}

// addModels gives each of models that ps lacks DefaultModelProfile.
func addModels(ps map[string]Profile, models []string) {
	for _, m := range models {
		if _, ok := ps[m]; !ok {
			ps[m] = DefaultModelProfile()
		}
	}
}

// Preset names accepted by Preset and at the start of a profile spec.
const (
	PresetDefault = "default" // DefaultProfiles
	PresetFast    = "fast"    // DefaultProfiles with every duration divided by 10
	PresetZero    = "zero"    // same models, no latency, no failures: for tests
)

// PresetNames returns the preset names in a stable order.
func PresetNames() []string { return []string{PresetDefault, PresetFast, PresetZero} }

// Preset returns a fresh map of the named preset's profiles, for the models
// of DefaultProfiles.
func Preset(name string) (map[string]Profile, error) { return PresetFor(name, nil) }

// PresetFor is Preset for the models of DefaultProfiles and models: each of
// models without a default profile gets DefaultModelProfile, transformed
// like the rest (durations divided by 10 for fast, zeroed for zero). It
// serves a catalog other than the telehealth one, e.g. a test's:
// PresetFor(PresetZero, cat.Models()).
func PresetFor(name string, models []string) (map[string]Profile, error) {
	ps := DefaultProfiles()
	addModels(ps, models)
	switch name {
	case PresetDefault:
		return ps, nil
	case PresetFast:
		return ScaleProfiles(ps, 0.1), nil
	case PresetZero:
		for m := range ps {
			ps[m] = Profile{}
		}
		return ps, nil
	}
	return nil, fmt.Errorf("unknown ml profile preset %q; use one of %s", clip(name), strings.Join(PresetNames(), ", "))
}

// ScaleProfiles returns a new map with Profile.Scale(factor) applied to every
// profile of ps. It panics if factor is negative, NaN or infinite.
func ScaleProfiles(ps map[string]Profile, factor float64) map[string]Profile {
	out := make(map[string]Profile, len(ps))
	for m, p := range ps {
		out[m] = p.Scale(factor)
	}
	return out
}

// ParseProfiles parses a profile spec (see MergeProfiles) onto
// DefaultProfiles, e.g.
//
//	ParseProfiles("triage=median:40ms,p99:200ms,fail:0.05;summary=timeout:3s")
//	ParseProfiles("fast;*=fail:0.1")
func ParseProfiles(spec string) (map[string]Profile, error) {
	return MergeProfiles(DefaultProfiles(), spec)
}

// MergeProfiles returns a copy of base with the overrides of spec applied;
// base is not modified. The spec syntax, made for one command-line flag:
//
//	spec  = [preset] { ";" entry }        (empty segments are ignored)
//	entry = model "=" key ":" value { "," key ":" value }
//
// A leading preset ("default", "fast" or "zero") replaces base with the
// preset's profiles, for the preset's models and base's (see PresetFor).
// model is a model of the base, or "*" for all of them; entries apply left
// to right.
// Keys: median, p99, timeout, cpu (Go durations such as 40ms or 1.5s);
// fail (fraction 0..1, or a percentage such as 5%); tail (outlier fraction
// 0..0.01); alpha (Pareto shape). Setting median without p99 moves p99 in
// proportion, keeping the shape (from a zero median, p99 becomes 4×median).
// Errors name the offending entry and the fix.
func MergeProfiles(base map[string]Profile, spec string) (map[string]Profile, error) {
	out := make(map[string]Profile, len(base))
	for m, p := range base {
		out[m] = p
	}
	for i, seg := range strings.Split(spec, ";") {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			continue
		}
		model, kvs, ok := strings.Cut(seg, "=")
		if !ok {
			if i != 0 {
				return nil, fmt.Errorf("ml profile spec: %q is not model=key:value; a preset (%s) may only come first", clip(seg), strings.Join(PresetNames(), ", "))
			}
			ps, err := PresetFor(seg, sortedNames(out))
			if err != nil {
				return nil, fmt.Errorf("ml profile spec: %q is neither a preset nor model=key:value; use a preset (%s) or e.g. triage=median:40ms", clip(seg), strings.Join(PresetNames(), ", "))
			}
			out = ps
			continue
		}
		model = strings.TrimSpace(model)
		targets := []string{model}
		if model == "*" {
			targets = sortedNames(out)
		} else if _, known := out[model]; !known {
			return nil, fmt.Errorf("ml profile spec %q: unknown model %q; known models: %s", clip(seg), clip(model), strings.Join(sortedNames(out), ", "))
		}
		for _, m := range targets {
			p, err := applyEntry(out[m], kvs)
			if err == nil {
				err = p.Validate()
			}
			if err != nil {
				return nil, fmt.Errorf("ml profile spec %q: model %s: %w", clip(seg), m, err)
			}
			out[m] = p
		}
	}
	return out, nil
}

func applyEntry(p Profile, kvs string) (Profile, error) {
	if strings.TrimSpace(kvs) == "" {
		return p, errors.New("no settings after '='; write e.g. median:40ms,p99:200ms")
	}
	oldMedian, oldP99 := p.Median, p.P99
	var setMedian, setP99 bool
	for _, kv := range strings.Split(kvs, ",") {
		k, v, ok := strings.Cut(kv, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return p, fmt.Errorf("%q is not key:value; write e.g. median:40ms (keys: %s)", clip(kv), specKeys)
		}
		var err error
		switch k {
		case "median":
			p.Median, err = parseDur(k, v)
			setMedian = true
		case "p99":
			p.P99, err = parseDur(k, v)
			setP99 = true
		case "timeout":
			p.Timeout, err = parseDur(k, v)
		case "cpu":
			p.CPUWork, err = parseDur(k, v)
		case "fail":
			p.FailureRate, err = parseFrac(k, v)
		case "tail":
			p.TailRate, err = parseFrac(k, v)
		case "alpha":
			p.TailAlpha, err = parseFloat(k, v)
		default:
			err = fmt.Errorf("unknown key %q; use one of %s", clip(k), specKeys)
		}
		if err != nil {
			return p, err
		}
	}
	if setMedian && !setP99 {
		if oldMedian > 0 {
			p.P99 = scaleDur(oldP99, float64(p.Median)/float64(oldMedian))
		} else {
			p.P99 = 4 * p.Median
		}
	}
	return p, nil
}

const specKeys = "median, p99, timeout, cpu, fail, tail, alpha"

func parseDur(k, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a duration; write it like 40ms or 1.5s", k, clip(v))
	}
	return d, nil
}

func parseFloat(k, v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s %q is not a number; write it like 0.05", k, clip(v))
	}
	return f, nil
}

func parseFrac(k, v string) (float64, error) {
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		f, err := parseFloat(k, pct)
		if err != nil {
			return 0, fmt.Errorf("%s %q is not a percentage; write it like 5%% or 0.05", k, clip(v))
		}
		return f / 100, nil
	}
	return parseFloat(k, v)
}

// FormatProfiles formats ps as a spec that MergeProfiles parses back to ps
// (given a base with the same models), models in name order.
func FormatProfiles(ps map[string]Profile) string {
	var b strings.Builder
	for i, m := range sortedNames(ps) {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(m)
		b.WriteByte('=')
		b.WriteString(ps[m].String())
	}
	return b.String()
}

func sortedNames(ps map[string]Profile) []string {
	names := make([]string, 0, len(ps))
	for m := range ps {
		names = append(names, m)
	}
	slices.Sort(names)
	return names
}

// clip shortens user input quoted back in an error.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	return s[:80] + "…"
}
