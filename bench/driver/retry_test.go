package driver_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/directmode"
	"github.com/chatbench/chatbench/internal/wstest"
	"github.com/chatbench/chatbench/socket"
)

// TestRetryRefused replays against a direct server whose ML capacity is
// far below the trace's bursts, so messages are refused `overloaded`.
// With the resend protocol every refusal is retried and in the end every
// message is accepted and every delivery made; without it, refusals stand.
func TestRetryRefused(t *testing.T) {
	h, recs, err := trace.Generate(trace.Params{Days: 0.02, Messages: 120, Conversations: 4, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	ml := wstest.StartML(t, "*=median:60ms,p99:60ms")
	for _, noResend := range []bool{false, true} {
		srv, err := directmode.Start(directmode.ServerConfig{
			Addr: "127.0.0.1:0", Front: socket.Config{Secret: secret},
			Dispatcher: directmode.Config{Catalog: jobs.Catalog(), Deps: chat.Deps{ML: ml}, MaxTasks: 2, MaxPending: 6},
		})
		if err != nil {
			t.Fatal(err)
		}
		p, err := driver.Run(context.Background(), driver.Config{
			Target: srv.URL(), Secret: secret, Path: driver.PathDirect, Header: h, Records: recs,
			Speed: 400, Catalog: jobs.Catalog(), Drain: 20 * time.Second, NoResend: noResend,
		})
		_ = srv.Shutdown(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		all := p.Ledger["all"]
		t.Logf("no-resend=%v: messages %+v, ledger %+v", noResend, p.Messages, *all)
		switch {
		case !noResend && (p.Messages.Retried == 0 || p.Messages.Acked != len(recs) || all.Lost != 0 || all.Duplicates != 0):
			t.Errorf("with retries: every message should end acked and delivered once")
		case noResend && (p.Messages.Retried != 0 || p.Messages.Rejected[chat.CodeOverloaded] == 0):
			t.Errorf("without retries: overloaded refusals should stand")
		}
	}
}
