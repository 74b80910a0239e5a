package ledger

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/chatbench/chatbench/bench/results"
	"github.com/chatbench/chatbench/chat"
)

// hopHists holds one class's hop histograms (µs), by hop name.
type hopHists map[string]*hdrhistogram.Histogram

// record records d µs for hop name.
func (hm hopHists) record(name string, d int64) {
	x := hm[name]
	if x == nil {
		x = results.NewHDR()
		hm[name] = x
	}
	_ = x.RecordValue(clamp(d))
}

// recordHops records each hop of h that happened, per class: the span
// between two stamps both set. A hop whose start depends on the path
// (dispatch after the dequeue or the gateway; emit after the callback, the
// job or the gateway) starts at the first of those stamps that is set.
func (sh *shard) recordHops(class string, h *chat.Hops, received time.Time) {
	hm := sh.hops[class]
	if hm == nil {
		hm = hopHists{}
		sh.hops[class] = hm
	}
	both := func(a, b int64) bool { return a != 0 && b != 0 }
	if both(h.ClientSent, h.GatewayIn) {
		hm.record("ingress", h.GatewayIn-h.ClientSent)
	}
	if both(h.GatewayIn, h.Enqueued) {
		hm.record("queue_send", h.Enqueued-h.GatewayIn)
	}
	if both(h.Enqueued, h.Dequeued) {
		hm.record("queue_wait", h.Dequeued-h.Enqueued)
	}
	if from := firstSet(h.Dequeued, h.GatewayIn); both(h.JobStart, from) {
		hm.record("dispatch", h.JobStart-from)
	}
	var ml int64
	if both(h.MLStart, h.MLEnd) {
		ml = h.MLEnd - h.MLStart
		hm.record("ml", ml)
	}
	if both(h.JobStart, h.JobEnd) {
		hm.record("handler", h.JobEnd-h.JobStart-ml)
	}
	if both(h.JobEnd, h.CallbackIn) {
		hm.record("callback", h.CallbackIn-h.JobEnd)
	}
	if h.Emitted != 0 {
		if from := firstSet(h.CallbackIn, firstSet(h.JobEnd, h.GatewayIn)); from != 0 {
			hm.record("emit", h.Emitted-from)
		}
		hm.record("egress", received.UnixMicro()-h.Emitted)
	}
}

// firstSet returns a, or b when a is not set (0).
func firstSet(a, b int64) int64 {
	if a != 0 {
		return a
	}
	return b
}

func micros(d time.Duration) int64 { return clamp(int64(d / time.Microsecond)) }

// clamp keeps a µs value inside the histograms' range (negative values come
// from clocks that disagree; they count as 0).
func clamp(v int64) int64 {
	const hi = int64(time.Hour / time.Microsecond)
	return max(0, min(v, hi))
}
