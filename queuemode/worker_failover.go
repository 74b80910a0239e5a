package queuemode

import (
	"context"
	"errors"
	"strings"

	"github.com/chatbench/chatbench/chat"
)

// FailoverPoster posts a job's events to the first of several gateways
// that accepts them, in order: a worker's own gateway first, then the
// others. Any gateway will do when the gateways share a broker (the event
// reaches its recipients' gateway through it), so a dead gateway costs a
// refused connection, not a redelivery after the visibility timeout.
type FailoverPoster []Poster

var _ Poster = FailoverPoster(nil)

// Post implements Poster.
func (f FailoverPoster) Post(ctx context.Context, events []*chat.Event) error {
	var errs []error
	for _, p := range f {
		err := p.Post(ctx, events)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// NewCallbackClients returns a CallbackClient for each of the
// comma-separated urls, and the Poster that tries them in order (the
// client itself when there is one).
func NewCallbackClients(urls string, secret []byte, m *Metrics) (Poster, []*CallbackClient, error) {
	var clients []*CallbackClient
	var f FailoverPoster
	for _, u := range strings.Split(urls, ",") {
		c, err := NewCallbackClient(strings.TrimSpace(u), secret, m)
		if err != nil {
			return nil, nil, err
		}
		clients = append(clients, c)
		f = append(f, c)
	}
	if len(f) == 1 {
		return clients[0], clients, nil
	}
	return f, clients, nil
}
