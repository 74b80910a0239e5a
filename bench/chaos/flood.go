package chaos

// The noisy neighbour's flood: a few users each sending from as many
// connections as the front door lets one user open, every connection under
// its rate limit, beside the replayed trace — whose users, the neighbours,
// are what the scenario measures.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbench/chatbench/bench/driver"
	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
	"github.com/chatbench/chatbench/socket"
)

// Defaults of Flood's zero values.
const (
	// DefaultFloodUsers is how many users flood.
	DefaultFloodUsers = 2
	// DefaultFloodConns is each flooding user's connections: as many as
	// the front door lets one user open.
	DefaultFloodConns = socket.DefaultMaxConnsPerUser
	// DefaultFloodRate is each connection's texts per second: a twentieth
	// of the front door's per-connection rate limit, so no frame is
	// refused for its rate — only for the load it causes.
	DefaultFloodRate = socket.DefaultRateLimit / 20
	// floodBody is the size of each flood text's body.
	floodBody = 80
)

// Flood configures the noisy-neighbour scenario's flood: Users patients,
// each on Conns connections, each connection in a conversation of its own
// sending a text (each triggering the catalog's ML jobs) every 1/Rate s for
// the whole replay. Zero values mean the defaults above.
type Flood struct {
	Users int
	Conns int
	Rate  float64
}

// withDefaults fills in f's zero values and refuses negative ones, naming
// the flag that sets each.
func (f Flood) withDefaults() (Flood, error) {
	if f.Users < 0 || f.Conns < 0 || f.Rate < 0 || f.Rate != f.Rate {
		return f, fmt.Errorf("--flood-users %d, --flood-conns %d, --flood-rate %v: must be ≥ 0 (0 = %d, %d, %d)",
			f.Users, f.Conns, f.Rate, DefaultFloodUsers, DefaultFloodConns, DefaultFloodRate)
	}
	f.Users, f.Conns, f.Rate = cmp.Or(f.Users, DefaultFloodUsers), cmp.Or(f.Conns, DefaultFloodConns), cmp.Or(f.Rate, DefaultFloodRate)
	return f, nil
}

// String describes f for the results' settings.
func (f Flood) String() string {
	return fmt.Sprintf("%d users × %d connections × %g texts/s", f.Users, f.Conns, f.Rate)
}

// FloodTrace generates the flood f makes over span as a trace: one
// conversation per connection (flood-<user>-<conn>), each joined by its
// flooding patient at offset 0 and then sent a text every 1/Rate s, the
// connections' sends spread evenly over each interval. Deterministic, and a
// valid trace (trace.Validate) — ids unique per user — so it can be
// replayed, inspected with `chatbench trace stats`, or kept as a fixture.
func FloodTrace(f Flood, span time.Duration) (trace.Header, []trace.Record, error) {
	f, err := f.withDefaults()
	if err != nil {
		return trace.Header{}, nil, err
	}
	every := time.Duration(float64(time.Second) / f.Rate)
	n := f.Users * f.Conns
	var recs []trace.Record
	for u := range f.Users {
		user := fmt.Sprintf("flood-%d", u+1)
		seq := 0
		id := func() string { seq++; return fmt.Sprintf("%s-%d", user, seq) }
		for c := range f.Conns {
			conv := fmt.Sprintf("%s-%02d", user, c+1)
			recs = append(recs, trace.Record{Conv: conv, User: user, Role: chat.RolePatient, Type: jobs.TypeJoin, ID: id()})
			phase := every * time.Duration(u*f.Conns+c) / time.Duration(n)
			for t := phase + time.Millisecond; t < span; t += every {
				recs = append(recs, trace.Record{T: t.Microseconds(), Conv: conv, User: user, Role: chat.RolePatient,
					Type: jobs.TypeText, ID: id(), Size: floodBody})
			}
		}
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].T < recs[j].T })
	convs := n
	h := trace.Header{Version: trace.Version, Name: "noisy-neighbour flood: " + f.String(), Generator: "chatbench chaos",
		Start: time.Date(2019, time.June, 3, 0, 0, 0, 0, time.UTC), DurationS: span.Seconds(), Messages: len(recs), Conversations: convs}
	return h, recs, nil
}

// FloodStats is what the flood's connections were told.
type FloodStats struct {
	Sent    int
	Acked   int
	Refused map[string]int // by error code
	Events  int
	// Dropped counts connections that ended before the flood did.
	Dropped int
}

// String summarises s on one line (results.Meta.Config, the neighbour
// table).
func (s *FloodStats) String() string {
	var codes []string
	for c := range s.Refused {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	refused := "none"
	if len(codes) > 0 {
		var parts []string
		for _, c := range codes {
			parts = append(parts, fmt.Sprintf("%s %d", c, s.Refused[c]))
		}
		refused = strings.Join(parts, ", ")
	}
	return fmt.Sprintf("sent %d, acked %d, refused: %s; events %d; connections dropped %d", s.Sent, s.Acked, refused, s.Events, s.Dropped)
}

// flooder plays a flood trace: one connection per conversation, frames
// sent at their offsets from the start, every server frame read and
// counted. It does not resend: a flood does not care what is refused.
type flooder struct {
	mu    sync.Mutex
	stats FloodStats
	wg    sync.WaitGroup
	stop  context.CancelFunc
}

// startFlood connects the flood's connections (spread over targets) and
// starts sending recs, timed from now. Stop it with stop, which waits for
// every goroutine and returns the counts.
func startFlood(ctx context.Context, targets []string, secret []byte, recs []trace.Record) (*flooder, error) {
	byConv := map[string][]trace.Record{}
	var convs []string
	for _, r := range recs {
		if byConv[r.Conv] == nil {
			convs = append(convs, r.Conv)
		}
		byConv[r.Conv] = append(byConv[r.Conv], r)
	}
	ctx, cancel := context.WithCancel(ctx)
	fl := &flooder{stats: FloodStats{Refused: map[string]int{}}, stop: cancel}
	d := driver.NewDialer()
	conns := make([]*websocket.Conn, len(convs))
	for i, conv := range convs {
		r := byConv[conv][0]
		ws, err := driver.Dial(ctx, d, targets[i%len(targets)], secret, r.User, r.Role)
		if err != nil {
			cancel()
			for _, c := range conns[:i] {
				_ = c.Close()
			}
			return nil, fmt.Errorf("flood: %w", err)
		}
		conns[i] = ws
	}
	start := time.Now()
	for i, conv := range convs {
		ws := conns[i]
		fl.wg.Go(func() { fl.read(ctx, ws) })
		fl.wg.Go(func() { fl.send(ctx, ws, byConv[conv], start) })
	}
	return fl, nil
}

// send writes recs on ws at their offsets from start, then closes ws when
// ctx ends (which ends its reader).
func (fl *flooder) send(ctx context.Context, ws *websocket.Conn, recs []trace.Record, start time.Time) {
	defer func() {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = ws.Close()
	}()
	body := strings.Repeat("x", floodBody)
	t := time.NewTimer(0)
	defer t.Stop()
	for _, r := range recs {
		t.Reset(time.Until(start.Add(r.Offset())))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f := chat.ClientFrame{V: chat.ProtocolVersion, Op: chat.OpSend, ID: r.ID, Conv: r.Conv, Type: r.Type, SentAt: chat.NowMicros()}
		if r.Type == jobs.TypeJoin {
			f.Op, f.Type = chat.OpJoin, ""
		} else {
			f.Body = body[:min(r.Size, len(body))]
		}
		b, _ := json.Marshal(f) // cannot fail
		if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
			return // the reader counts the drop
		}
		fl.mu.Lock()
		fl.stats.Sent++
		fl.mu.Unlock()
	}
	<-ctx.Done()
}

// read counts ws's frames until the connection ends; an end before ctx's
// (the flood's stop) is a dropped connection.
func (fl *flooder) read(ctx context.Context, ws *websocket.Conn) {
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			if ctx.Err() == nil {
				fl.mu.Lock()
				fl.stats.Dropped++
				fl.mu.Unlock()
			}
			return
		}
		var f struct {
			Op   string `json:"op"`
			Code string `json:"code"`
		}
		_ = json.Unmarshal(data, &f)
		fl.mu.Lock()
		switch f.Op {
		case chat.OpAck:
			fl.stats.Acked++
		case chat.OpError:
			fl.stats.Refused[f.Code]++
		case chat.OpEvent:
			fl.stats.Events++
		}
		fl.mu.Unlock()
	}
}

// finish stops the flood, waits for its goroutines and returns its counts.
func (fl *flooder) finish() FloodStats {
	fl.stop()
	fl.wg.Wait()
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.stats
}
