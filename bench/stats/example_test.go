package stats_test

import (
	"fmt"

	"github.com/chatbench/chatbench/bench/stats"
)

// Compare five repeats' p50 of a baseline and a current run, µs.
func ExampleCompare() {
	baseline := []float64{47_775, 46_335, 49_215, 48_100, 47_020}
	current := []float64{95_551, 93_631, 97_919, 96_200, 94_870}
	c, err := stats.Compare(baseline, current, stats.DefaultAlpha)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s by %.0f%%, p=%.3f, median %.0f [%.0f, %.0f] at %.4g%%\n",
		c.Outcome, c.Change*100, c.P, c.Current.Median, c.Current.Lo, c.Current.Hi, c.Current.Confidence*100)

	// Three repeats a side cannot reach p ≤ 0.05, however far apart.
	c, _ = stats.Compare(baseline[:3], current[:3], stats.DefaultAlpha)
	fmt.Printf("%s: p ≥ %.3f at best, need %d repeats per side\n", c.Outcome, c.MinP, c.Need)
	// Output:
	// worse by 100%, p=0.008, median 95551 [93631, 97919] at 93.75%
	// unjudged: p ≥ 0.100 at best, need 4 repeats per side
}
