package mlservice

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultProfiles(t *testing.T) {
	ps := DefaultProfiles()
	ps["new_model"] = DefaultModelProfile() // checked like the built-in ones
	for m, p := range ps {
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", m, err)
		}
		if p.P99 < 3*p.Median {
			t.Errorf("%s: p99 %v is not several times the median %v", m, p.P99, p.Median)
		}
		if p.Timeout <= p.P99 || p.Timeout >= DefaultClientTimeout {
			t.Errorf("%s: timeout %v should lie between p99 %v and the client's %v", m, p.Timeout, p.P99, DefaultClientTimeout)
		}
	}
	ps[ModelTriage] = Profile{}
	if DefaultProfiles()[ModelTriage] == (Profile{}) {
		t.Fatal("DefaultProfiles returned a shared map")
	}
}

func TestPresets(t *testing.T) {
	def := DefaultProfiles()
	fast, err := Preset(PresetFast)
	if err != nil {
		t.Fatal(err)
	}
	zero, err := Preset(PresetZero)
	if err != nil {
		t.Fatal(err)
	}
	for m, p := range def {
		f := fast[m]
		if f.Median != p.Median/10 || f.P99 != p.P99/10 || f.Timeout != p.Timeout/10 || f.FailureRate != p.FailureRate {
			t.Errorf("fast %s = %v, want default/10 (%v)", m, f, p)
		}
		if zero[m] != (Profile{}) {
			t.Errorf("zero %s = %v, want the zero Profile", m, zero[m])
		}
	}
	// A model of another catalog gets the new-model profile, under each
	// preset's rule.
	for name, want := range map[string]Profile{
		PresetDefault: DefaultModelProfile(),
		PresetFast:    DefaultModelProfile().Scale(0.1),
		PresetZero:    {},
	} {
		ps, err := PresetFor(name, []string{ModelTriage, "new_model"})
		if err != nil {
			t.Fatal(err)
		}
		if ps["new_model"] != want || len(ps) != len(def)+1 {
			t.Errorf("PresetFor(%s): new_model = %v among %d models, want %v among %d", name, ps["new_model"], len(ps), want, len(def)+1)
		}
	}
	// A leading preset keeps base's models.
	base, _ := PresetFor(PresetDefault, []string{"new_model"})
	ps, err := MergeProfiles(base, "zero;new_model=median:10ms")
	if err != nil || ps["new_model"].Median != 10*time.Millisecond {
		t.Errorf("zero;new_model=median:10ms onto a base with new_model: %v, %v", ps["new_model"], err)
	}
	if _, err := Preset("slow"); err == nil || !strings.Contains(err.Error(), `"slow"`) || !strings.Contains(err.Error(), "fast") {
		t.Errorf("Preset(slow) error = %v, want it to name the input and the presets", err)
	}
}

func TestScale(t *testing.T) {
	p := Profile{Median: 40 * time.Millisecond, P99: 200 * time.Millisecond, Timeout: time.Second, CPUWork: 2 * time.Millisecond, FailureRate: 0.1, TailRate: 0.001}
	got := p.Scale(0.5)
	want := Profile{Median: 20 * time.Millisecond, P99: 100 * time.Millisecond, Timeout: 500 * time.Millisecond, CPUWork: time.Millisecond, FailureRate: 0.1, TailRate: 0.001}
	if got != want {
		t.Errorf("Scale(0.5) = %v, want %v", got, want)
	}
	if got := p.Scale(0); got.Median != 0 || got.P99 != 0 || got.Validate() != nil {
		t.Errorf("Scale(0) = %v, want zero latencies and a valid profile", got)
	}
	if got := p.Scale(1e30); got.Median <= 0 || got.P99 <= 0 {
		t.Errorf("Scale(1e30) = %v, want saturated durations, not overflow", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("Scale(-1) did not panic")
		}
	}()
	p.Scale(-1)
}

func TestParseProfiles(t *testing.T) {
	def := DefaultProfiles()
	ms := time.Millisecond
	with := func(base map[string]Profile, model string, f func(*Profile)) map[string]Profile {
		out := make(map[string]Profile, len(base))
		for m, p := range base {
			out[m] = p
		}
		p := out[model]
		f(&p)
		out[model] = p
		return out
	}
	zero, _ := Preset(PresetZero)
	fast, _ := Preset(PresetFast)
	good := []struct {
		name, spec string
		want       map[string]Profile
	}{
		{"empty spec is the defaults", "", def},
		{"only separators", " ; ;", def},
		{"the brief's example", "triage=median:40ms,p99:200ms,fail:0.05",
			with(def, "triage", func(p *Profile) { p.Median, p.P99, p.FailureRate = 40*ms, 200*ms, 0.05 })},
		{"two models, spaces, percent", " intent = fail: 5% ; summary=timeout:3s,cpu:2ms ",
			with(with(def, "intent", func(p *Profile) { p.FailureRate = 0.05 }), "summary", func(p *Profile) { p.Timeout, p.CPUWork = 3*time.Second, 2*ms })},
		// median alone keeps the shape: default triage is 45ms/200ms.
		{"median alone scales p99", "triage=median:90ms",
			with(def, "triage", func(p *Profile) { p.Median, p.P99 = 90*ms, 400*ms })},
		{"p99 alone keeps the median", "triage=p99:1s",
			with(def, "triage", func(p *Profile) { p.P99 = time.Second })},
		{"tail and alpha", "triage=tail:0.005,alpha:2",
			with(def, "triage", func(p *Profile) { p.TailRate, p.TailAlpha = 0.005, 2 })},
		{"preset", "zero", zero},
		{"preset then override", "fast;triage=fail:1",
			with(fast, "triage", func(p *Profile) { p.FailureRate = 1 })},
		// from a zero median, p99 defaults to 4×median.
		{"median onto zero", "zero;triage=median:10ms",
			with(zero, "triage", func(p *Profile) { p.Median, p.P99 = 10*ms, 40*ms })},
		{"star applies to every model", "zero;*=fail:0.5", func() map[string]Profile {
			out := map[string]Profile{}
			for m := range zero {
				out[m] = Profile{FailureRate: 0.5}
			}
			return out
		}()},
		{"later entries win", "triage=fail:0.1;triage=fail:0.2",
			with(def, "triage", func(p *Profile) { p.FailureRate = 0.2 })},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProfiles(tc.spec)
			if err != nil {
				t.Fatalf("ParseProfiles(%q): %v", tc.spec, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseProfiles(%q):\n got %s\nwant %s", tc.spec, FormatProfiles(got), FormatProfiles(tc.want))
			}
		})
	}

	bad := []struct {
		name, spec string
		want       []string // substrings of the error: the input and the fix
	}{
		{"unknown model", "triag=median:40ms", []string{`"triag"`, "known models", "triage"}},
		{"unknown key", "triage=mean:40ms", []string{`"mean"`, "median"}},
		{"not a duration", "triage=median:40", []string{`"40"`, "40ms"}},
		{"not a number", "triage=fail:lots", []string{`"lots"`, "0.05"}},
		{"bad percent", "triage=fail:x%", []string{`"x%"`, "5%"}},
		{"fail above 1", "triage=fail:1.5", []string{"1.5", "from 0 to 1"}},
		{"NaN fail", "triage=fail:NaN", []string{"NaN"}},
		{"p99 below median", "triage=median:40ms,p99:10ms", []string{"below median", "at least the median"}},
		{"negative median", "triage=median:-1ms", []string{"negative"}},
		{"tail too large", "triage=tail:0.5", []string{"tail", "0.01"}},
		{"negative alpha", "triage=alpha:-1", []string{"alpha"}},
		{"missing colon", "triage=median", []string{`"median"`, "key:value"}},
		{"nothing after =", "triage=", []string{"no settings"}},
		{"preset not first", "triage=fail:0.1;fast", []string{`"fast"`, "only come first"}},
		{"unknown preset", "slow", []string{`"slow"`, "default, fast, zero"}},
		// p99 given without a median on the zero preset.
		{"p99 without median", "zero;triage=p99:1s", []string{"needs a positive median"}},
	}
	for _, tc := range bad {
		t.Run("bad/"+tc.name, func(t *testing.T) {
			_, err := ParseProfiles(tc.spec)
			if err == nil {
				t.Fatalf("ParseProfiles(%q) succeeded, want an error", tc.spec)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseProfiles(%q) error %q does not mention %q", tc.spec, err, w)
				}
			}
		})
	}
}

func TestMergeProfilesLeavesBase(t *testing.T) {
	base := DefaultProfiles()
	if _, err := MergeProfiles(base, "triage=fail:1"); err != nil {
		t.Fatal(err)
	}
	if base[ModelTriage].FailureRate == 1 {
		t.Fatal("MergeProfiles modified its base")
	}
}

func TestFormatProfilesRoundTrip(t *testing.T) {
	for _, name := range PresetNames() {
		ps, _ := Preset(name)
		spec := FormatProfiles(ps)
		got, err := MergeProfiles(DefaultProfiles(), spec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, ps) {
			t.Errorf("%s: round trip through %q changed the profiles", name, spec)
		}
	}
}

func FuzzParseProfiles(f *testing.F) {
	for _, s := range []string{"", "fast", "zero;*=fail:0.5", "triage=median:40ms,p99:200ms,fail:0.05;summary=cpu:1ms", "triage=tail:0.01,alpha:0.5", "triage=median:1h", "x=y:z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ps, err := ParseProfiles(spec)
		if err != nil {
			return
		}
		for m, p := range ps {
			if err := p.Validate(); err != nil {
				t.Fatalf("%q parsed to an invalid profile %s: %v", spec, m, err)
			}
			newShape(p).latency(0.999999)
		}
		again, err := MergeProfiles(DefaultProfiles(), FormatProfiles(ps))
		if err != nil || !reflect.DeepEqual(again, ps) {
			t.Fatalf("%q: format/parse round trip failed: %v", spec, err)
		}
	})
}
