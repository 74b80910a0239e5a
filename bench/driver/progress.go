package driver

import (
	"context"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/chatbench/chatbench/bench/ledger"
)

// progress reports the replay's progress to cfg.Progress until ctx ends:
// a progress bar on a terminal, else a plain line every 5 s.
func progress(ctx context.Context, cfg *Config, s *scheduler, led *ledger.Ledger, total int) {
	line := func() string {
		st := led.Stats()
		return fmt.Sprintf("sent %d/%d acked %d delivered %d lost %d dup %d lag p99 %s",
			s.sent.Load(), total, st.Acked, st.Delivered, st.Lost, st.Duplicates, s.lagP99())
	}
	if !cfg.TTY {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				fmt.Fprintf(cfg.Progress, "%s: %s\n", cfg.Path, line())
				return
			case <-t.C:
				fmt.Fprintf(cfg.Progress, "%s: %s\n", cfg.Path, line())
			}
		}
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(cfg.Progress),
		progressbar.OptionSetDescription(cfg.Path),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(cfg.Progress) }),
	)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = bar.Set(int(s.sent.Load()))
			_ = bar.Finish()
			fmt.Fprintf(cfg.Progress, "%s: %s\n", cfg.Path, line())
			return
		case <-t.C:
			st := led.Stats()
			bar.Describe(fmt.Sprintf("%s ack %d dlv %d lost %d lag p99 %s", cfg.Path, st.Acked, st.Delivered, st.Lost, s.lagP99()))
			_ = bar.Set(int(s.sent.Load()))
		}
	}
}
