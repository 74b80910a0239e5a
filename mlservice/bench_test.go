package mlservice

import (
	"strings"
	"testing"
)

// BenchmarkPredict measures the harness's own cost per ML call: parallel
// client calls over loopback to a zero-latency server, so what remains is
// HTTP, JSON and the sampler.
func BenchmarkPredict(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"input=64B", 64}, {"input=4KiB", 4096}} {
		size := bc.size
		b.Run(bc.name, func(b *testing.B) {
			env := newEnv(b, Config{Profiles: profilesWith(b, "")}, ClientConfig{}, nil)
			input := strings.Repeat("a", size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := env.client.Predict(b.Context(), ModelTriage, input); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkOutput measures the deterministic output generation alone.
func BenchmarkOutput(b *testing.B) {
	input := strings.Repeat("a", 256)
	for _, m := range []string{ModelTriage, ModelDifferential, ModelReplySuggest} {
		b.Run(m, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				output(m, input)
			}
		})
	}
}
