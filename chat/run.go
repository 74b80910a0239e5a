package chat

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// RunJob runs job j for msg and returns its event, stamping job_start,
// job_end and (when the handler calls the ML service) ml_start and ml_end on
// the event's hops. It is what both paths call to run a job, so a job
// behaves identically in each. msg is not modified. The caller bounds the
// run with ctx.
func RunJob(ctx context.Context, j *Job, msg *Message, deps Deps) *Event {
	m := *msg
	m.Hops.JobStart = NowMicros()
	if deps.ML != nil {
		deps.ML = &stampingML{inner: deps.ML, hops: &m.Hops}
	}
	data, err := j.Handler.Handle(ctx, &m, deps)
	if err == nil && ctx.Err() != nil {
		// A handler that ignored its deadline still failed it.
		err = ctx.Err()
	}
	if sm, ok := deps.ML.(*stampingML); ok {
		sm.mu.Lock()
		defer sm.mu.Unlock()
	}
	m.Hops.JobEnd = NowMicros()
	return j.NewEvent(&m, data, err)
}

// stampingML records when a handler's ML calls started and ended: the first
// start and the last end, so a handler making several calls shows their span.
type stampingML struct {
	inner ML
	mu    sync.Mutex
	hops  *Hops
}

func (s *stampingML) Predict(ctx context.Context, model, input string) (json.RawMessage, error) {
	start := time.Now()
	out, err := s.inner.Predict(ctx, model, input)
	end := time.Now()
	s.mu.Lock()
	if s.hops.MLStart == 0 {
		s.hops.MLStart = Micros(start)
	}
	s.hops.MLEnd = Micros(end)
	s.mu.Unlock()
	return out, err
}
