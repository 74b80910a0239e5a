package chat

import "time"

// Hops are the time stamps an event collects on its way, in Unix
// microseconds (0 = the hop did not happen on this path). Field names are
// shared by both paths where the hops coincide, so reports can line them up:
//
//	direct: client_sent → gateway_in → job_start → [ml_start → ml_end] → job_end → emitted
//	queue:  client_sent → gateway_in → enqueued → dequeued → job_start → [ml_start → ml_end]
//	        → job_end → callback_in → emitted
//
// Relay events carry only client_sent, gateway_in and emitted. All stamps are
// taken from the wall clock of the process that records them.
type Hops struct {
	ClientSent int64 `json:"client_sent,omitempty"`
	GatewayIn  int64 `json:"gateway_in,omitempty"`
	Enqueued   int64 `json:"enqueued,omitempty"`
	Dequeued   int64 `json:"dequeued,omitempty"`
	JobStart   int64 `json:"job_start,omitempty"`
	MLStart    int64 `json:"ml_start,omitempty"`
	MLEnd      int64 `json:"ml_end,omitempty"`
	JobEnd     int64 `json:"job_end,omitempty"`
	CallbackIn int64 `json:"callback_in,omitempty"`
	Emitted    int64 `json:"emitted,omitempty"`
}

// Micros returns t as Unix microseconds, the unit of every hop stamp.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// NowMicros returns the current wall clock in Unix microseconds.
func NowMicros() int64 { return time.Now().UnixMicro() }
