package mlservice

import (
	"crypto/sha256"
	"time"
)

// burner burns CPU in SHA-256 rounds over a 1 KiB block. Its rate is
// measured once, on an idle moment at New, so a call's CPUWork is a fixed
// amount of work: under CPU contention it takes longer in wall time, as real
// inference sharing the machine would.
type burner struct {
	roundsPerMs float64
}

const burnChunk = 32 // rounds between checks for cancellation

// calibrate measures the SHA-256 round rate for about d.
func calibrate(d time.Duration) *burner {
	var buf [1024]byte
	rounds := 0
	start := time.Now()
	for time.Since(start) < d {
		for range burnChunk {
			sum := sha256.Sum256(buf[:])
			buf[0] ^= sum[0]
		}
		rounds += burnChunk
	}
	ms := float64(time.Since(start)) / float64(time.Millisecond)
	return &burner{roundsPerMs: float64(rounds) / ms}
}

// burn spends d worth of rounds, stopping early when either done channel
// closes. It reports whether it ran to the end.
func (b *burner) burn(d time.Duration, done1, done2 <-chan struct{}) bool {
	var buf [1024]byte
	rounds := int(b.roundsPerMs * float64(d) / float64(time.Millisecond))
	for i := 0; i < rounds; i += burnChunk {
		select {
		case <-done1:
			return false
		case <-done2:
			return false
		default:
		}
		for range burnChunk {
			sum := sha256.Sum256(buf[:])
			buf[0] ^= sum[0]
		}
	}
	return true
}
