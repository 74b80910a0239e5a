package trace

import (
	"fmt"
	"strings"

	"github.com/chatbench/chatbench/chat"
	"github.com/chatbench/chatbench/chat/jobs"
)

// DefaultMaxFrameBytes is the largest client frame the front door reads by
// default (`serve --max-frame`; socket.Config.MaxFrameBytes): a bigger
// frame closes the connection with 1009. Validate and Load refuse a
// message whose frame would not fit it, unless told the server's own
// limit (MaxFrameBytes).
const DefaultMaxFrameBytes = 64 << 10

// ReservedIDPrefix starts the ids of the driver's own frames (its re-joins
// after a reconnect, which the ledger leaves out); a trace's ids must not
// start with it.
const ReservedIDPrefix = "~driver-"

// widestSentAt is the widest sent_at the driver writes: Unix microseconds
// have 16 digits until the year 2286.
const widestSentAt = 9_999_999_999_999_999

// Frame returns the client frame that replays r (docs/protocol.md), without
// its sent_at: the join or leave op, or a send whose body is r.Body, or
// when that is empty a filler of r.Size ASCII bytes — except for an
// attachment, whose body is then the description of a file of r.Size
// bytes. The driver sends exactly this frame.
func (r Record) Frame() chat.ClientFrame {
	f := chat.ClientFrame{Op: chat.OpSend, ID: r.ID, Conv: r.Conv, Type: r.Type}
	switch r.Type {
	case chat.OpJoin, chat.OpLeave:
		f.Op, f.Type = r.Type, ""
	default:
		f.Body = r.body()
	}
	return f
}

// FrameSize returns the size in bytes of r's frame as the driver writes it
// (Frame, encoded by chat.AppendClientFrame, with the widest sent_at):
// the size a server's frame limit applies to.
func (r Record) FrameSize() int {
	f := r.Frame()
	f.SentAt = widestSentAt
	// Room for the fields and the envelope; escapes grow it as needed.
	buf := make([]byte, 0, 128+len(f.ID)+len(f.Conv)+len(f.Type)+len(f.Body))
	return len(chat.AppendClientFrame(buf, &f))
}

// filler is the deterministic ASCII text filler bodies are cut from. It is
// never written after it is built.
var filler = func() string {
	const words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua "
	return strings.Repeat(words, MaxSize/len(words)+1)[:MaxSize]
}()

// body returns r's body, or the filler Frame describes.
func (r Record) body() string {
	if r.Body != "" {
		return r.Body
	}
	if r.Type == jobs.TypeAttachment {
		return fmt.Sprintf(`{"name":"file.bin","mime":"application/octet-stream","size":%d}`, r.Size)
	}
	return filler[:min(max(r.Size, 0), len(filler))]
}
