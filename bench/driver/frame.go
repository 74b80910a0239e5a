package driver

import (
	"fmt"
	"strings"

	"github.com/chatbench/chatbench/bench/trace"
	"github.com/chatbench/chatbench/chat"
)

// frameOf returns r's client frame, without its sent_at.
func frameOf(r trace.Record) chat.ClientFrame {
	f := chat.ClientFrame{Op: chat.OpSend, ID: r.ID, Conv: r.Conv, Type: r.Type}
	switch r.Type {
	case chat.OpJoin, chat.OpLeave:
		f.Op, f.Type = r.Type, ""
	default:
		f.Body = body(r)
	}
	return f
}

// filler is the deterministic ASCII text bodies are cut from.
var filler = func() string {
	const words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua "
	return strings.Repeat(words, trace.MaxSize/len(words)+1)[:trace.MaxSize]
}()

// body returns r's body, or a filler of r.Size bytes. Attachments get a
// valid attachment description instead (its size says the file's size).
func body(r trace.Record) string {
	if r.Body != "" {
		return r.Body
	}
	if r.Type == "attachment" {
		return fmt.Sprintf(`{"name":"file.bin","mime":"application/octet-stream","size":%d}`, r.Size)
	}
	return filler[:min(r.Size, len(filler))]
}
